#!/usr/bin/env bats
# Direct delivery (smtpsend(8) ROUTES): a remote
# recipient with no relay goes to its domain's MX hosts.  A real DNS
# server (unbound, tests/dns.bash) in smtpsend's network namespace serves
# the test zones; the receiving MTAs (tests/fakerelay on port 25) live on
# 10.25.0.x in a second namespace, joined to the first by a veth pair, so
# that none of their addresses is one of smtpsend's own (mx.c takes an
# address it can bind for itself, and mail to it for a loop).
# tests/run: novalgrind (mx.c and smtp.c run under valgrind in tests/29-dns-mx and tests/20; this one drives namespaces and peers)
# tests/run: noasan (for the same reason: 29-dns-mx and 20 run them under ASan)

load helpers
load dns
load tls

setup_file() {
	tls_make_ca >/dev/null 2>&1
}

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	MXR_PIDS=()
	dns_start \
	    'local-zone: "a.test." static' \
	    'local-data: "a.test. MX 10 mx1.a.test."' \
	    'local-data: "a.test. MX 20 mx2.a.test."' \
	    'local-data: "mx1.a.test. A 10.25.0.1"' \
	    'local-data: "mx2.a.test. A 10.25.0.2"' \
	    'local-zone: "down.test." static' \
	    'local-data: "down.test. MX 10 mx.down.test."' \
	    'local-data: "down.test. MX 20 mx2.a.test."' \
	    'local-data: "mx.down.test. A 10.25.0.3"' \
	    'local-zone: "stall.test." static' \
	    'local-data: "stall.test. MX 10 mx.stall.test."' \
	    'local-data: "mx.stall.test. A 10.25.0.4"' \
	    'local-zone: "nullmx.test." static' \
	    'local-data: "nullmx.test. MX 0 ."' \
	    'local-zone: "self.test." static' \
	    'local-data: "self.test. MX 10 mx.self.test."' \
	    'local-data: "mx.self.test. A 10.25.0.254"' \
	    'local-zone: "nx.test." always_nxdomain' \
	    'local-zone: "silent.test." deny' || return 1
	# The receivers' namespace, 10.25.0.0/24, smtpsend's side .254.
	MXR_NS=smtpq-mxr-$$
	ip netns add "$MXR_NS" || return 1
	ip -n "$MXR_NS" link set lo up
	ip link add "sqa$$" netns "$DNS_NS" type veth peer name "sqb$$" \
	    netns "$MXR_NS" || return 1
	ip -n "$DNS_NS" addr add 10.25.0.254/24 dev "sqa$$"
	ip -n "$DNS_NS" link set "sqa$$" up
	ip -n "$MXR_NS" addr add 10.25.0.1/24 dev "sqb$$"
	ip -n "$MXR_NS" addr add 10.25.0.2/24 dev "sqb$$"
	ip -n "$MXR_NS" addr add 10.25.0.3/24 dev "sqb$$"
	ip -n "$MXR_NS" addr add 10.25.0.4/24 dev "sqb$$"
	ip -n "$MXR_NS" link set "sqb$$" up
}

teardown() {
	local pid
	for pid in "${MXR_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	[ -z "${MXR_NS:-}" ] || ip netns del "$MXR_NS" 2>/dev/null || true
	dns_stop
}

# mx_start N OPTIONS...: a fake MTA on 10.25.0.N:25, transcript and
# messages in $BATS_TEST_TMPDIR/mxN.
mx_start() {
	local n=$1 d=$BATS_TEST_TMPDIR/mx$1
	shift
	ip netns exec "$MXR_NS" "$BATS_TEST_DIRNAME/fakerelay" \
	    --bind "10.25.0.$n" --port 25 --port-file "$d.port" --dir "$d" \
	    "$@" 3>&- &
	MXR_PIDS+=($!)
	wait_for test -s "$d.port"
}

send() {
	run dns_exec "$SMTPSEND" -q "$Q" -n sender.test -l "$LOG" \
	    -m "$MAILDIR" -t 3s "$@"
}

@test "recipients routed mx go to their domain's best MX, grouped in one transaction, over STARTTLS unverified; the log line says so" {
	mx_start 1 --tls "$TLS_DIR/cert.pem:$TLS_DIR/key.pem"
	mx_start 2
	qmsg "$(qname)" s@src.test x@a.test y@a.test
	send
	assert_status 0
	# one transaction with both recipients, to mx1 (preference 10)
	[ "$(grep -c ' C: MAIL FROM:<s@src.test>' "$BATS_TEST_TMPDIR/mx1/transcript")" -eq 1 ]
	grep -q ' C: RCPT TO:<x@a.test>' "$BATS_TEST_TMPDIR/mx1/transcript"
	grep -q ' C: RCPT TO:<y@a.test>' "$BATS_TEST_TMPDIR/mx1/transcript"
	grep -q ' C: STARTTLS' "$BATS_TEST_TMPDIR/mx1/transcript" ||
	    grep -qi 'tls' "$BATS_TEST_TMPDIR/mx1/transcript"
	[ ! -e "$BATS_TEST_TMPDIR/mx2/transcript" ] ||
	    refute grep -q 'RCPT' "$BATS_TEST_TMPDIR/mx2/transcript"
	grep -q 'to=<x@a.test> route=mx relay=mx1.a.test\[10.25.0.1\]:25 tls=unverified delay=[0-9a-z]* dsn=2.0.0 result=sent: 250' "$LOG"
	grep -q 'to=<y@a.test> route=mx relay=mx1.a.test\[10.25.0.1\]:25 tls=unverified .*result=sent' "$LOG"
	[ ! -e "$MAILDIR/x" ]
	assert_empty "$Q/new"
}

@test "an MX host that is down: the next address is tried" {
	mx_start 2
	qmsg "$(qname)" s@src.test x@down.test
	send
	assert_status 0
	grep -q ' C: RCPT TO:<x@down.test>' "$BATS_TEST_TMPDIR/mx2/transcript"
	grep -q 'relay=mx.down.test\[10.25.0.3\]:25 result=unreachable' "$LOG"
	grep -q 'to=<x@down.test> route=mx relay=mx2.a.test\[10.25.0.2\]:25 tls=none .*result=sent' "$LOG"
}

@test "a TLS handshake that fails: the same host once more in plaintext, tls=none" {
	mx_start 4 --tls "$TLS_DIR/cert.pem:$TLS_DIR/key.pem" --tls-stall
	qmsg "$(qname)" s@src.test x@stall.test
	send
	assert_status 0
	grep -q 'relay=mx.stall.test\[10.25.0.4\]:25 result=retrying without TLS' "$LOG"
	grep -q 'to=<x@stall.test> route=mx relay=mx.stall.test\[10.25.0.4\]:25 tls=none .*result=sent' "$LOG"
	[ "$(grep -c 'retrying without TLS' "$LOG")" -eq 1 ]
}

@test "null MX bounces 556 5.1.10, NXDOMAIN 550 5.1.2, our own address as best MX 5.4.6, a DNS server that never answers defers 4.4.3" {
	local name
	name=$(qname 0 1)
	qmsg "$name" s@src.test n@nullmx.test x@nx.test q@silent.test \
	    l@self.test
	send
	assert_status 75
	grep -q 'to=<l@self.test> route=mx .*dsn=5.4.6 result=bounced: 554 5.4.6' "$LOG"
	grep -q 'to=<n@nullmx.test> route=mx .*dsn=5.1.10 result=bounced: 556 5.1.10' "$LOG"
	grep -q 'to=<x@nx.test> route=mx .*dsn=5.1.2 result=bounced: 550 5.1.2' "$LOG"
	grep -q 'to=<q@silent.test> route=mx .*dsn=4.4.3 result=deferred: 451 4.4.3' "$LOG"
	# still queued for q@silent.test alone; nothing in a Maildir
	grep -qx 'To: <q@silent.test>' "$Q/new/$name"
	refute grep -q 'nullmx' "$Q/new/$name"
	[ ! -e "$MAILDIR/q" ]
	[ ! -e "$MAILDIR/n" ]
}

@test "a route that requires TLS is never sent in plaintext, even to an MX host that offers none" {
	mx_start 1
	qmsg "$(qname)" s@src.test x@a.test
	send -R 'a.test smtp+tls://mx1.a.test:25'
	assert_status 75
	refute grep -q 'MAIL FROM' "$BATS_TEST_TMPDIR/mx1/transcript"
	grep -q 'to=<x@a.test> route=relay .*result=deferred' "$LOG"
}
