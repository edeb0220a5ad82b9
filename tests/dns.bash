# tests/dns.bash: a real DNS server from Debian (unbound) in a network
# namespace of the test's own, serving zone data the test gives, for the
# code that asks DNS (direct delivery's MX lookups); loaded after
# helpers.bash (wait_for, fail_or_skip).
#
# dns_start LINE...: a namespace $DNS_NS with lo up, unbound on its
# 127.0.0.1:53 answering from the unbound.conf server: lines given (the
# "local-zone:" and "local-data:" of the test's zone), and
# /etc/netns/$DNS_NS/resolv.conf pointing there, so that a command run
# with "dns_exec COMMAND..." asks it and nothing else.  The server asks
# nobody outside: it has no root hints to reach and no forwarder.
# dns_stop (in teardown) stops unbound by its pid and removes the
# namespace and its resolv.conf.  Needs root (ip netns).

DNS_DIR=${DNS_DIR:-$BATS_TEST_TMPDIR/dns}

dns_start() {
	local line
	command -v unbound >/dev/null || { fail_or_skip "unbound is not installed"; return; }
	[ "$(id -u)" -eq 0 ] || { fail_or_skip "network namespaces need root"; return; }
	mkdir -p "$DNS_DIR"
	# One name per test process: suites may run side by side.
	DNS_NS=smtpq-dns-$$
	ip netns add "$DNS_NS" || return 1
	ip netns exec "$DNS_NS" ip link set lo up || return 1
	mkdir -p "/etc/netns/$DNS_NS" || return 1
	# No "options" line: Perl's Net::DNS (Mail::DKIM's resolver) takes
	# its words for server names and hangs.
	printf 'nameserver 127.0.0.1\n' >"/etc/netns/$DNS_NS/resolv.conf" ||
	    return 1
	{
		printf 'server:\n'
		printf '  interface: 127.0.0.1\n  port: 53\n'
		printf '  do-daemonize: no\n  username: ""\n  chroot: ""\n'
		printf '  directory: "%s"\n  pidfile: ""\n' "$DNS_DIR"
		printf '  use-syslog: no\n  logfile: "%s/unbound.log"\n' "$DNS_DIR"
		printf '  verbosity: 1\n  module-config: "%s"\n' \
		    "${DNS_MODULES:-iterator}"
		printf '  do-not-query-localhost: no\n  do-ip6: no\n'
		printf '  access-control: 127.0.0.0/8 allow\n'
		printf '  num-threads: 1\n  so-reuseport: no\n'
		# Nothing outside the namespace can be reached, and nothing is
		# asked of the root: every name the test does not serve fails.
		printf '  local-zone: "." refuse\n'
		for line in "$@"; do
			printf '  %s\n' "$line"
		done
	} >"$DNS_DIR/unbound.conf"
	unbound-checkconf "$DNS_DIR/unbound.conf" >"$DNS_DIR/checkconf.out" 2>&1 ||
	    { cat "$DNS_DIR/checkconf.out" >&2; return 1; }
	ip netns exec "$DNS_NS" setsid unbound -d -c "$DNS_DIR/unbound.conf" \
	    >>"$DNS_DIR/unbound.out" 2>&1 </dev/null 3>&- &
	DNS_PID=$!
	wait_for dns_listening || { cat "$DNS_DIR/unbound.out" >&2; return 1; }
}

# Succeeds once unbound ($DNS_PID) listens on UDP 53 in $DNS_NS.
dns_listening() {
	kill -0 "$DNS_PID" 2>/dev/null || return 1
	ip netns exec "$DNS_NS" ss -Hlunp 'sport = :53' | grep -q "pid=$DNS_PID,"
}

# Runs a command in the namespace, as the resolver's client.
dns_exec() {
	ip netns exec "$DNS_NS" "$@"
}

dns_stop() {
	if [ -n "${NSD_PID:-}" ]; then
		kill "$NSD_PID" 2>/dev/null
		wait "$NSD_PID" 2>/dev/null
		NSD_PID=
	fi
	if [ -n "${DNS_PID:-}" ]; then
		kill "$DNS_PID" 2>/dev/null
		wait "$DNS_PID" 2>/dev/null
		DNS_PID=
	fi
	if [ -n "${DNS_NS:-}" ]; then
		ip netns del "$DNS_NS" 2>/dev/null
		rm -rf "/etc/netns/$DNS_NS"
		DNS_NS=
	fi
}

# DNSSEC (the DANE suite): zones signed by ldns-signzone, served by nsd on
# 127.0.0.2 in $DNS_NS, validated by unbound with their keys as trust
# anchors.
#
# dnssec_sign DIR ZONE: signs DIR/ZONE.zone with a new key into
# DIR/ZONE.signed and adds the key's DS record to DIR/anchors.
dnssec_sign() {
	local dir=$1 zone=$2 key
	command -v ldns-signzone >/dev/null ||
	    { fail_or_skip "ldnsutils is not installed"; return; }
	key=$(cd "$dir" && ldns-keygen -a ECDSAP256SHA256 -k "$zone") ||
	    return 1
	(cd "$dir" && ldns-signzone -f "$zone.signed" "$zone.zone" "$key") ||
	    return 1
	cat "$dir/$key.ds" >>"$dir/anchors"
}

# dnssec_start DIR ZONE...: dns_start with unbound validating (DIR/anchors
# its trust anchors) and asking nsd, started here, for each ZONE, served
# from DIR/ZONE.signed, or DIR/ZONE.zone when unsigned.  Extra unbound
# lines in the array DNSSEC_LINES.
dnssec_start() {
	local dir=$1 zone file lines=()
	shift
	command -v nsd >/dev/null || { fail_or_skip "nsd is not installed"; return; }
	touch "$dir/anchors"
	lines+=("trust-anchor-file: \"$dir/anchors\"" 'val-log-level: 2'
	    'ip-freebind: yes' ${DNSSEC_LINES+"${DNSSEC_LINES[@]}"})
	for zone in "$@"; do
		lines+=("local-zone: \"$zone.\" transparent")
	done
	for zone in "$@"; do
		lines+=('stub-zone:' "name: \"$zone.\"" 'stub-addr: 127.0.0.2')
	done
	DNS_MODULES="validator iterator" dns_start "${lines[@]}" || return 1
	{
		printf 'server:\n  ip-address: 127.0.0.2\n  port: 53\n'
		printf '  username: ""\n  chroot: ""\n  database: ""\n'
		printf '  zonesdir: "%s"\n  pidfile: "%s/nsd.pid"\n' "$dir" "$DNS_DIR"
		printf '  xfrdfile: "%s/xfrd.state"\n' "$DNS_DIR"
		printf '  zonelistfile: "%s/zone.list"\n' "$DNS_DIR"
		printf '  logfile: "%s/nsd.log"\n  server-count: 1\n' "$DNS_DIR"
		printf 'remote-control:\n  control-enable: no\n'
		for zone in "$@"; do
			file=$zone.zone
			[ -e "$dir/$zone.signed" ] && file=$zone.signed
			printf 'zone:\n  name: "%s."\n  zonefile: "%s"\n' "$zone" "$file"
		done
	} >"$DNS_DIR/nsd.conf"
	ip netns exec "$DNS_NS" setsid nsd -d -c "$DNS_DIR/nsd.conf" \
	    >>"$DNS_DIR/nsd.out" 2>&1 </dev/null 3>&- &
	NSD_PID=$!
	wait_for nsd_listening || { cat "$DNS_DIR/nsd.out" "$DNS_DIR/nsd.log" >&2; return 1; }
}

# Succeeds once nsd ($NSD_PID) answers on 127.0.0.2:53 in $DNS_NS.
nsd_listening() {
	kill -0 "$NSD_PID" 2>/dev/null || return 1
	ip netns exec "$DNS_NS" ss -Hlun 'src 127.0.0.2:53' | grep -q .
}

# tlsrpt_check QUEUE JSON: "smtpqctl tlsrpt" of today (UTC) for QUEUE,
# read by Python's json, has the policies JSON lists (each {"type",
# "domain", "ok", "failed", "details": sorted [result, mx host, count]}),
# in any order.
tlsrpt_check() {
	local out
	out=$("$SMTPQCTL" -q "$1" -l - tlsrpt "$(date -u +%Y-%m-%d)") ||
	    { printf '%s\n' "$out" >&2; return 1; }
	printf '%s' "$out" | "$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)
want = sorted(json.loads(sys.argv[1]), key=lambda p: (p["type"], p["domain"]))
got = sorted(({"type": p["policy"]["policy-type"], "domain": p["policy"]["policy-domain"],
        "ok": p["summary"]["total-successful-session-count"],
        "failed": p["summary"]["total-failure-session-count"],
        "details": sorted([d["result-type"], d.get("receiving-mx-hostname", "-"),
                           d["failed-session-count"]] for d in p["failure-details"])}
       for p in r["policies"]), key=lambda p: (p["type"], p["domain"]))
if got != want:
    sys.exit("got  %s\nwant %s" % (got, want))
' "$2"
}

# mitm_start NS MODE ADDR TO_PORT: tests/dns/mitm.py in namespace NS on
# ADDR:25, passing connections on to ADDR:TO_PORT and attacking their
# STARTTLS (MODE strip: removed from the EHLO reply and refused with 502;
# 454: refused with 454).  mitm_stop stops it by its pid.
mitm_start() {
	local pf=$BATS_TEST_TMPDIR/mitm.port
	rm -f "$pf"
	ip netns exec "$1" "$PYTHON" "$BATS_TEST_DIRNAME/dns/mitm.py" "$2" \
	    "$3" 25 "$3" "$4" "$pf" 3>&- &
	MITM_PID=$!
	wait_for test -s "$pf"
}

mitm_stop() {
	if [ -n "${MITM_PID:-}" ]; then
		kill "$MITM_PID" 2>/dev/null || true
		wait "$MITM_PID" 2>/dev/null || true
		MITM_PID=
	fi
}
