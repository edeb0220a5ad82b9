#!/usr/bin/env bats
# Real MTAs' batching into smtpd: Postfix's connection
# reuse and Exim's two-pass queue run (-qq) send more than 100 messages
# over one connection, and smtpd takes them all.  Its old cap of 100
# messages a session answered the 101st "421 4.7.0 too many messages in
# one session", which made these backlogs wait 10 to 24 minutes for the
# peer's next queue run.  The cap is now 1000 for a client that is neither
# trusted nor authenticated, none for the others (smtpd(8) LIMITS).
#
# The peers are untrusted clients of an MX, as in the report: each test
# makes a network namespace whose loopback holds 192.0.2.1 (smtpd, on
# port 2525, taking mail for dst.test: -d) and 192.0.2.2 (the address
# Postfix and Exim send from, neither loopback nor -R), and runs smtpd,
# the peer and its clients in it.  Postfix is tests/postfix-instance with
# the relay held (defer_transports) while 300 messages come in, then
# released and flushed with one connection at a time
# (smtp_destination_concurrency_limit=1), which its connection cache then
# reuses (kept 30 s idle, not 2: a busy machine's pauses must not close
# it); Exim is tests/exim-instance (Debian's exim4-daemon-light,
# unpacked into /opt/exim4 by .ci/install) with queue_only, 105
# messages (the old cap was 100), then exim -qq.  In CI a missing peer fails the test.
# tests/run: once novalgrind (smtpd's session cap runs under valgrind in
# tests/13; here the time goes to the peers, so it runs with one build)

load helpers

EXIM=${EXIM:-/opt/exim4/usr/sbin/exim4}

setup() {
	local tool
	for tool in postfix smtp-source systemd-socket-activate ip; do
		command -v "$tool" >/dev/null ||
		    fail_or_skip "$tool is not installed"
	done
	[ "$(id -u)" -eq 0 ] || fail_or_skip "namespaces and Postfix need root"
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	NS=smtpq-batch-$$
	ip netns add "$NS"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$NS" ip addr add 192.0.2.1/32 dev lo
	ip netns exec "$NS" ip addr add 192.0.2.2/32 dev lo
	mx_start
}

teardown() {
	if [ -n "${PF_DIR:-}" ]; then
		ip netns exec "$NS" "$BATS_TEST_DIRNAME/postfix-instance" stop \
		    "$PF_DIR"
		rm -rf "$PF_DIR"
	fi
	if [ -n "${EX_DIR:-}" ]; then
		"$BATS_TEST_DIRNAME/exim-instance" stop "$EX_DIR"
		rm -rf "$EX_DIR"
	fi
	if [ -n "${MX_PID:-}" ]; then
		kill "$MX_PID" 2>/dev/null
		wait "$MX_PID" 2>/dev/null || true
	fi
	[ -z "${NS:-}" ] || ip netns del "$NS" 2>/dev/null || true
	! grep -E 'Sanitizer|runtime error:' "$BATS_TEST_TMPDIR/mx.err" >&2
}

# smtpd on 192.0.2.1:2525 in the namespace, as an MX for dst.test.
mx_start() {
	local env=() name
	for name in ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -z "${!name:-}" ] || env+=(-E "$name")
	done
	ip netns exec "$NS" systemd-socket-activate -l 192.0.2.1:2525 -a \
	    --inetd "${env[@]}" "$SMTPD" -q "$Q" -n mx.test -l "$LOG" \
	    -d dst.test 2>"$BATS_TEST_TMPDIR/mx.err" 3>&- &
	MX_PID=$!
	wait_for grep -q '^Listening on' "$BATS_TEST_TMPDIR/mx.err"
}

# Every session smtpd logged was the untrusted peer's; prints the
# messages each queued (by smtpd's pid: one process a connection), one
# number a line, in order.  A session Postfix keeps cached may not have
# ended yet.
sessions() {
	grep -q 'peer=192.0.2.2 trusted=no result=connect' "$LOG"
	! grep 'result=connect' "$LOG" | grep -v 'peer=192.0.2.2 trusted=no' >&2
	grep 'result=queued$' "$LOG" |
	    sed 's/.* smtpd\[\([0-9]*\)\]: .*/\1/' | uniq -c |
	    awk '{ print $1 }'
}

pf_held() {
	[ "$(grep -c 'status=deferred (deferred transport)' \
	    "$PF_DIR/maillog")" -ge "$1" ]
}

queued_n() {
	[ "$(count_files "$Q/new")" -ge "$1" ]
}

@test "Postfix's connection reuse: 300 held messages released into smtpd over one connection, none deferred with 421" {
	local t0 t1 pf_port most
	PF_DIR=$(mktemp -d /tmp/smtpq-pfb.XXXXXX)
	pf_port=$(ip netns exec "$NS" "$BATS_TEST_DIRNAME/postfix-instance" \
	    start "$PF_DIR" smtp_bind_address=192.0.2.2 \
	    'relayhost=[192.0.2.1]:2525' defer_transports=smtp \
	    smtp_destination_concurrency_limit=1 \
	    smtp_connection_cache_time_limit=30s)
	[ -n "$pf_port" ]
	ip netns exec "$NS" timeout 120 smtp-source -d -m 300 -s 1 \
	    -f a@src.test -t b@dst.test "127.0.0.1:$pf_port"
	# all 300 held: Postfix logged each one deferred
	WAIT_SECONDS=60 wait_for pf_held 300
	t0=$(date +%s)
	postconf -c "$PF_DIR/etc" -e defer_transports=
	ip netns exec "$NS" postfix -c "$PF_DIR/etc" reload >/dev/null 2>&1
	ip netns exec "$NS" postqueue -c "$PF_DIR/etc" -f
	WAIT_SECONDS=240 wait_for queued_n 300
	t1=$(date +%s)
	[ "$(count_files "$Q/new")" -eq 300 ]
	! grep -q 'result=.*421\|too many messages' "$LOG" || { grep 421 "$LOG" >&2; false; }
	# the most messages one connection carried, over the old cap
	most=$(sessions | sort -n | tail -n 1)
	echo "postfix: 300 messages in $((t1 - t0)) s; per connection: $(sessions | tr '\n' ' ')" >&3
	[ "$most" -gt 100 ]
	[ "$(sessions | awk '{ n += $1 } END { print n }')" -eq 300 ]
	! grep -E 'status=deferred .*421' "$PF_DIR/maillog" >&2
}

@test "Exim's -qq: 105 queued messages go into smtpd over one connection, none deferred with 421" {
	local t0 t1 ex_port
	[ -x "$EXIM" ] ||
	    fail_or_skip "Exim is not unpacked in /opt/exim4 (.ci/install)"
	EX_DIR=$(mktemp -d /tmp/smtpq-exim.XXXXXX)
	ex_port=2526
	EXIM_SMARTHOST=192.0.2.1 EXIM_BIND=192.0.2.2 ip netns exec "$NS" \
	    "$BATS_TEST_DIRNAME/exim-instance" start "$EX_DIR" "$ex_port" 2525 \
	    queue_only=true
	ip netns exec "$NS" timeout 105 smtp-source -d -m 105 -s 1 \
	    -f a@src.test -t b@dst.test "127.0.0.1:$ex_port"
	[ "$("$BATS_TEST_DIRNAME/exim-instance" exec "$EX_DIR" -bpc)" -eq 105 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	t0=$(date +%s)
	timeout 300 "$BATS_TEST_DIRNAME/exim-instance" exec "$EX_DIR" -qq
	t1=$(date +%s)
	echo "exim: 105 messages in $((t1 - t0)) s; per connection: $(sessions | tr '\n' ' ')" >&3
	[ "$(count_files "$Q/new")" -eq 105 ]
	[ "$("$BATS_TEST_DIRNAME/exim-instance" exec "$EX_DIR" -bpc)" -eq 0 ]
	! grep -q 'result=.*421\|too many messages' "$LOG" || { grep 421 "$LOG" >&2; false; }
	[ "$(sessions)" = 105 ]
}
