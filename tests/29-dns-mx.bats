#!/usr/bin/env bats
# The MX lookup of direct delivery (smtpsend(8) ROUTES; RFC 5321 5.1, RFC
# 7505): common/resolve.c's resolve_query() asks the resolver of
# /etc/resolv.conf in a child bounded in time, common/dns.c reads the
# answer strictly; common/mx.c's mx_lookup() makes the choice (addresses
# in order, our own host pruned, the reply for a domain with none).
# tests/dns/mxq runs exactly that code against a real DNS server
# (unbound, tests/dns.bash) in a network namespace.  Addresses in the
# zone are documentation ones (RFC 5737, RFC 3849), nobody's, unless a
# test says one is ours (-a) or uses the namespace's loopback.

load helpers
load dns

MXQ=${MXQ:-$BATS_TEST_DIRNAME/dns/mxq}

# One server for the suite (its zones are read-only); each test gets the
# namespace's resolv.conf back as dns_start wrote it.
setup_file() {
	DNS_DIR=$BATS_FILE_TMPDIR/dns
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
	    'local-data: "alias.test. CNAME example.test."' \
	    'rrset-roundrobin: no' \
	    'local-zone: "full.test." static' \
	    'local-data: "full.test. MX 20 mx2.full.test."' \
	    'local-data: "full.test. MX 10 mx1.full.test."' \
	    'local-data: "mx1.full.test. A 192.0.2.1"' \
	    'local-data: "mx1.full.test. A 192.0.2.2"' \
	    'local-data: "mx1.full.test. AAAA 2001:db8::1"' \
	    'local-data: "mx2.full.test. A 192.0.2.3"' \
	    'local-data: "mx2.full.test. AAAA 2001:db8::3"' \
	    'local-zone: "many.test." static' \
	    'local-data: "many.test. MX 10 big.many.test."' \
	    'local-data: "many.test. MX 20 spare.many.test."' \
	    'local-data: "big.many.test. A 192.0.2.41"' \
	    'local-data: "big.many.test. A 192.0.2.42"' \
	    'local-data: "big.many.test. A 192.0.2.43"' \
	    'local-data: "big.many.test. A 192.0.2.44"' \
	    'local-data: "big.many.test. AAAA 2001:db8::41"' \
	    'local-data: "big.many.test. AAAA 2001:db8::42"' \
	    'local-data: "big.many.test. AAAA 2001:db8::43"' \
	    'local-data: "spare.many.test. A 192.0.2.49"' \
	    'local-zone: "cn.test." static' \
	    'local-data: "cn.test. MX 10 alias.cn.test."' \
	    'local-data: "alias.cn.test. CNAME real.cn.test."' \
	    'local-data: "real.cn.test. A 192.0.2.7"' \
	    'local-zone: "implicit.test." static' \
	    'local-data: "implicit.test. A 192.0.2.12"' \
	    'local-data: "implicit.test. AAAA 2001:db8::12"' \
	    'local-zone: "bare.test." static' \
	    'local-data: "bare.test. TXT hello"' \
	    'local-zone: "dangling.test." static' \
	    'local-data: "dangling.test. MX 10 gone.nx.test."' \
	    'local-zone: "fallback.test." static' \
	    'local-data: "fallback.test. MX 10 gone.nx.test."' \
	    'local-data: "fallback.test. MX 20 mx.fallback.test."' \
	    'local-data: "mx.fallback.test. A 192.0.2.8"' \
	    'local-zone: "hostsilent.test." static' \
	    'local-data: "hostsilent.test. MX 10 mx.silent.test."' \
	    'local-zone: "self.test." static' \
	    'local-data: "self.test. MX 10 a.self.test."' \
	    'local-data: "self.test. MX 20 us.self.test."' \
	    'local-data: "self.test. MX 20 b.self.test."' \
	    'local-data: "self.test. MX 30 c.self.test."' \
	    'local-data: "a.self.test. A 192.0.2.21"' \
	    'local-data: "us.self.test. A 192.0.2.99"' \
	    'local-data: "b.self.test. A 192.0.2.22"' \
	    'local-data: "c.self.test. A 192.0.2.23"' \
	    'local-zone: "selfbest.test." static' \
	    'local-data: "selfbest.test. MX 10 us.self.test."' \
	    'local-data: "selfbest.test. MX 20 c.self.test."' \
	    'local-zone: "loopback.test." static' \
	    'local-data: "loopback.test. MX 10 lo.loopback.test."' \
	    'local-data: "loopback.test. MX 20 c.self.test."' \
	    'local-data: "lo.loopback.test. A 127.0.0.1"' \
	    'local-zone: "servfail.test." transparent' \
	    'forward-zone:' \
	    '  name: "servfail.test."' \
	    '  forward-addr: 192.0.2.53' || return
	export DNS_DIR DNS_NS DNS_PID
	cp "/etc/netns/$DNS_NS/resolv.conf" "$DNS_DIR/resolv.conf"
}

teardown() {
	cp "$DNS_DIR/resolv.conf" "/etc/netns/$DNS_NS/resolv.conf"
}

teardown_file() {
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
	[ "${lines[1]}" = "why: refused.test: no usable answer from the resolver (a server failure or refusal, or no server reachable)" ]
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

# mx_lookup(), all of the choice ------------------------------------------

@test "mx_lookup: MX hosts by preference, each one's IPv6 and IPv4 addresses interleaved" {
	run dns_exec "$MXQ" -l full.test
	[ "$status" -eq 0 ]
	[ "$output" = "full.test status=ok implicit=0 pruned=0
10 mx1.full.test 2001:db8::1
10 mx1.full.test 192.0.2.1
10 mx1.full.test 192.0.2.2
20 mx2.full.test 2001:db8::3
20 mx2.full.test 192.0.2.3" ]
}

@test "mx_lookup: at most 5 addresses, IPv6 first, alternating" {
	run dns_exec "$MXQ" -l many.test
	[ "$status" -eq 0 ]
	[ "$output" = "many.test status=ok implicit=0 pruned=0
10 big.many.test 2001:db8::41
10 big.many.test 192.0.2.41
10 big.many.test 2001:db8::42
10 big.many.test 192.0.2.42
10 big.many.test 2001:db8::43" ]
}

@test "mx_lookup: hosts of equal preference come first in more than one order" {
	local seed firsts=""
	for seed in 1 2 3 4; do
		run dns_exec "$MXQ" -l -s "$seed" self.test
		[ "$status" -eq 0 ]
		firsts+="${lines[2]}"$'\n'
	done
	# Preference 20 holds us.self.test and b.self.test: with no
	# address of ours given, both are others, drawn in either order.
	[ "$(printf '%s' "$firsts" | sort -u | wc -l)" -eq 2 ]
}

@test "mx_lookup: an MX host that is a CNAME is followed to its address" {
	run dns_exec "$MXQ" -l cn.test
	[ "$output" = "cn.test status=ok implicit=0 pruned=0
10 alias.cn.test 192.0.2.7" ]
}

@test "mx_lookup: no MX record: the domain's own addresses (implicit MX)" {
	run dns_exec "$MXQ" -l implicit.test
	[ "$output" = "implicit.test status=ok implicit=1 pruned=0
0 implicit.test 2001:db8::12
0 implicit.test 192.0.2.12" ]
}

@test "mx_lookup: no MX and no address: 554 5.4.4, a bounce" {
	run dns_exec "$MXQ" -l bare.test
	[ "$output" = "bare.test status=nohost implicit=1 pruned=0
reply: 554 5.4.4 bare.test: no MX record and no address" ]
}

@test "mx_lookup: RFC 7505 null MX: 556 5.1.10, no implicit MX after it" {
	run dns_exec "$MXQ" -l nullmx.test
	[ "$output" = "nullmx.test status=null implicit=0 pruned=0
reply: 556 5.1.10 nullmx.test: the domain accepts no mail (null MX, RFC 7505)" ]
}

@test "mx_lookup: a domain that does not exist: 550 5.1.2" {
	run dns_exec "$MXQ" -l nx.test
	[ "$output" = "nx.test status=nxdomain implicit=0 pruned=0
reply: 550 5.1.2 nx.test: no such domain" ]
}

@test "mx_lookup: a server failure (SERVFAIL) is 451 4.4.3, never a bounce" {
	run dns_exec "$MXQ" -l servfail.test
	[ "${lines[0]}" = "servfail.test status=temp implicit=0 pruned=0" ]
	[ "${lines[1]}" = "reply: 451 4.4.3 MX lookup: servfail.test: no usable answer from the resolver (a server failure or refusal, or no server reachable)" ]
}

@test "mx_lookup: a server that never answers is 451 4.4.3 within the deadline, and asked once a run" {
	local start limit=7
	echo 'options timeout:30 attempts:5' >>"/etc/netns/$DNS_NS/resolv.conf"
	start=$SECONDS
	run dns_exec "$MXQ" -l -t 3 silent.test SILENT.test. silent.test \
	    silent.test silent.test
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "silent.test status=temp implicit=0 pruned=0" ]
	[ "${lines[1]}" = "reply: 451 4.4.3 MX lookup: silent.test: no answer from the resolver (timeout)" ]
	[ "${lines[2]}" = "SILENT.test. status=temp implicit=0 pruned=0" ]
	[ "${lines[8]}" = "silent.test status=temp implicit=0 pruned=0" ]
	[ "${lines[9]}" = "${lines[1]}" ]
	# Five lookups, one timeout of 3 s, not five: the later four come
	# from the cache (under valgrind only the deadline is checked).
	[ "$SLOWDOWN" -eq 1 ] || limit=30
	[ $((SECONDS - start)) -le "$limit" ]
}

@test "mx_lookup: an MX host whose addresses never come: 451 4.4.3" {
	run dns_exec "$MXQ" -l -t 2 hostsilent.test
	[ "$output" = "hostsilent.test status=temp implicit=0 pruned=0
reply: 451 4.4.3 hostsilent.test: no answer for the address of its MX host mx.silent.test" ]
}

@test "mx_lookup: an MX host that does not exist is skipped for the next one" {
	run dns_exec "$MXQ" -l fallback.test
	[ "$output" = "fallback.test status=ok implicit=0 pruned=0
20 mx.fallback.test 192.0.2.8" ]
}

@test "mx_lookup: MX hosts none of which exists: 554 5.4.4" {
	run dns_exec "$MXQ" -l dangling.test
	[ "$output" = "dangling.test status=nohost implicit=0 pruned=0
reply: 554 5.4.4 dangling.test: no MX host has an address" ]
}

@test "mx_lookup: an address of ours among the MX hosts: only the better ones are kept" {
	local seed
	# us.self.test and b.self.test share preference 20: whatever the
	# order drawn, both go, and c.self.test (30) too.
	for seed in 1 2 3; do
		run dns_exec "$MXQ" -l -s "$seed" -a 192.0.2.99 self.test
		[ "$output" = "self.test status=ok implicit=0 pruned=1
10 a.self.test 192.0.2.21" ]
	done
}

@test "mx_lookup: our host name among the MX hosts: the same, without asking its address" {
	run dns_exec "$MXQ" -l -n US.self.test. self.test
	[ "$output" = "self.test status=ok implicit=0 pruned=1
10 a.self.test 192.0.2.21" ]
}

@test "mx_lookup: we are the best MX: 554 5.4.6, the mail would loop" {
	run dns_exec "$MXQ" -l -a 192.0.2.99 selfbest.test
	[ "$output" = "selfbest.test status=loop implicit=0 pruned=1
reply: 554 5.4.6 mail for selfbest.test loops back to myself" ]
}

@test "mx_lookup: an address bound to one of our interfaces is ours (bind() probe)" {
	run dns_exec "$MXQ" -l loopback.test
	[ "$output" = "loopback.test status=loop implicit=0 pruned=1
reply: 554 5.4.6 mail for loopback.test loops back to myself" ]
	# Without the probe, 127.0.0.1 is just an address.
	run dns_exec "$MXQ" -l -B loopback.test
	[ "${lines[0]}" = "loopback.test status=ok implicit=0 pruned=0" ]
	[ "${lines[1]}" = "10 lo.loopback.test 127.0.0.1" ]
}

@test "mx_lookup: an address literal needs no DNS; one of ours loops" {
	run dns_exec "$MXQ" -l '[192.0.2.5]' '[IPv6:2001:DB8::5]' '[127.0.0.1]' '[300.1.1.1]'
	[ "$output" = "[192.0.2.5] status=ok implicit=1 pruned=0
0 [192.0.2.5] 192.0.2.5
[IPv6:2001:DB8::5] status=ok implicit=1 pruned=0
0 [IPv6:2001:DB8::5] 2001:db8::5
[127.0.0.1] status=loop implicit=1 pruned=1
reply: 554 5.4.6 mail for [127.0.0.1] loops back to myself
[300.1.1.1] status=nxdomain implicit=0 pruned=0
reply: 550 5.1.2 [300.1.1.1]: not an address literal" ]
}
