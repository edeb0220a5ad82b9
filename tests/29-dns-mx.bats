#!/usr/bin/env bats
# The MX lookup of direct delivery (DESIGN.md "Routes"; RFC 5321 5.1, RFC
# 7505): common/resolve.c's resolve_query() asks the resolver of
# /etc/resolv.conf in a child bounded in time, common/dns.c reads the
# answer strictly.  tests/dns/mxq runs exactly that code against a real
# DNS server (unbound, tests/dns.bash) in a network namespace.

load helpers
load dns

MXQ=${MXQ:-$BATS_TEST_DIRNAME/dns/mxq}

setup() {
	dns_start \
	    'local-zone: "example.test." static' \
	    'local-data: "example.test. MX 20 mx2.example.test."' \
	    'local-data: "example.test. MX 10 mx1.example.test."' \
	    'local-data: "mx1.example.test. A 127.0.0.11"' \
	    'local-zone: "equal.test." static' \
	    'local-data: "equal.test. MX 10 a.equal.test."' \
	    'local-data: "equal.test. MX 10 b.equal.test."' \
	    'local-data: "equal.test. MX 10 c.equal.test."' \
	    'local-zone: "nullmx.test." static' \
	    'local-data: "nullmx.test. MX 0 ."' \
	    'local-zone: "nomx.test." static' \
	    'local-data: "nomx.test. A 127.0.0.12"' \
	    'local-zone: "nx.test." always_nxdomain' \
	    'local-zone: "refused.test." always_refuse' \
	    'local-zone: "silent.test." deny' \
	    'local-zone: "alias.test." static' \
	    'local-data: "alias.test. CNAME example.test."'
}

teardown() {
	dns_stop
}

@test "MX hosts come in order of preference" {
	run dns_exec "$MXQ" example.test
	[ "$status" -eq 0 ]
	[ "$output" = "status=ok ad=0
10 mx1.example.test
20 mx2.example.test" ]
}

@test "hosts of equal preference are tried in more than one order" {
	local seed firsts=""
	for seed in 1 2 3 4 5 6 7 8 9 10 11 12; do
		run dns_exec "$MXQ" -s "$seed" equal.test
		[ "$status" -eq 0 ]
		[ "${lines[0]}" = "status=ok ad=0" ]
		[ "${#lines[@]}" -eq 4 ]
		firsts+="${lines[1]}"$'\n'
	done
	[ "$(printf '%s' "$firsts" | sort -u | wc -l)" -ge 2 ]
}

@test "RFC 7505: a null MX says the domain takes no mail" {
	run dns_exec "$MXQ" nullmx.test
	[ "$output" = "status=nullmx ad=0" ]
}

@test "a domain with no MX record: nodata (its own address is the implicit MX)" {
	run dns_exec "$MXQ" nomx.test
	[ "$output" = "status=nodata ad=0" ]
}

@test "a domain that does not exist: nxdomain" {
	run dns_exec "$MXQ" nx.test
	[ "$output" = "status=nxdomain ad=0" ]
}

@test "a refusing server: a temporary failure, never a bounce" {
	run dns_exec "$MXQ" refused.test
	[ "${lines[0]}" = "status=temp ad=0" ]
	[ "${lines[1]}" = "why: refused.test: no usable answer from the resolver (refused, or no server reachable)" ]
}

@test "a server that never answers: temporary, within the lookup's deadline" {
	local start
	# Wide enough that the child's own wait, not resolv.conf's one
	# second, would be the bound if the resolver retried forever.
	echo 'options timeout:30 attempts:5' >>"/etc/netns/$DNS_NS/resolv.conf"
	start=$SECONDS
	run dns_exec "$MXQ" -t 2 silent.test
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "status=temp ad=0" ]
	[ "${lines[1]}" = "why: silent.test: no answer from the resolver (timeout)" ]
	# 2 s and the start of two processes; under valgrind those starts
	# take seconds, still far from resolv.conf's 30 s.
	local limit=6
	[ "$SLOWDOWN" -eq 1 ] || limit=15
	[ $((SECONDS - start)) -le "$limit" ]
}

@test "an MX behind a CNAME the resolver did not follow is asked for" {
	run dns_exec "$MXQ" alias.test
	[ "$output" = "status=ok ad=0
10 mx1.example.test
20 mx2.example.test" ]
}
