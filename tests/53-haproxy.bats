#!/usr/bin/env bats
# Past one machine: a real HAProxy (Debian's haproxy) on
# 127.0.0.1 and ::1 high ports, in TCP mode with the PROXY protocol (v1 to
# host 1, v2 to hosts 2 and 3) and option smtpchk health checks, in front
# of three smtpd hosts, each with its own launcher, queue and smtpsend
# relaying to one private Postfix (tests/haproxy.bash has the
# arrangement).  What a client got 250 for must reach Postfix's Maildir
# exactly once, by Message-ID, while a host crashes and comes back; a
# duplicate is reported, a loss fails.  Relay control sees the client
# HAProxy saw, never HAProxy.  In CI a missing peer fails the test.
# A long suite: tests/run starts it first.  Only with the plain build
# ("once"): under ASan it took 50 s of CPU, mostly HAProxy's and
# Postfix's, while smtpd's -P paths run under ASan (and valgrind) in
# tests/52's 27 tests, and smtpsend's relaying in 20 and 41.
# tests/run: novalgrind early once

load helpers
load haproxy

setup_file() {
	command -v postfix >/dev/null || return 0	# setup says so
	[ "$(id -u)" -eq 0 ] || return 0
	# Postfix takes what the hosts relay as fast as they do.
	postfix_start default_process_limit=200 smtpd_client_connection_count_limit=0
	export PF_DIR PF_PORT
}

teardown_file() {
	postfix_stop
}

setup() {
	local tool
	for tool in haproxy postfix tcpserver; do
		command -v "$tool" >/dev/null ||
		    fail_or_skip "$tool is not installed"
	done
	[ "$(id -u)" -eq 0 ] || fail_or_skip "Postfix needs root"
	[ -n "${PF_PORT:-}" ] || fail_or_skip "the private Postfix did not start"
	rm -rf "$PF_DIR"/mail/*/new/* "$PF_DIR"/mail/*/cur/*
	mkdir -p "$HX_DIR"
	# valgrind starts each smtpd in about a second: fewer checks
	# and greets a check seconds later than HAProxy's default waits
	if [ "$SLOWDOWN" -gt 1 ]; then
		HX_CHECK_MS=3000 HX_TIMEOUT=20s
	fi
	hx_backend_start 1 && hx_backend_start 2 && hx_backend_start 3 &&
	hx_haproxy_start 3
}

teardown() {
	# The load's clients, if the test ended before they did: $! is the
	# subshell running hx_clients, python its child.
	if [ -n "${HX_CLIENTS_PID:-}" ]; then
		pkill -P "$HX_CLIENTS_PID" 2>/dev/null || true
		kill "$HX_CLIENTS_PID" 2>/dev/null || true
		wait "$HX_CLIENTS_PID" 2>/dev/null || true
	fi
	hx_stop_all
}

# session HOST PORT FORMAT...: one client session, each FORMAT sent and
# answered in turn (sock_say); the last reply must be 221.
say_all() {
	local s
	sock_open "$1" "$2" || return 1
	s=$SOCK
	shift 2
	sock_expect "$s" "220 " || return 1
	while [ $# -gt 1 ]; do
		sock_say "$s" "$1" "$2" || return 1
		shift 2
	done
	sock_close "$s"
}

# The sessions a host's log shows, "pid how-it-began how-it-ended".
sessions() {
	awk '/ smtpd\[[0-9]+\]: .*result=connect/ { p = $2; sub(/.*\[/, "", p); sub(/\].*/, "", p);
		start[p] = $3 " " $4; order[++n] = p; next }
	    / smtpd\[/ { p = $2; sub(/.*\[/, "", p); sub(/\].*/, "", p);
		if (p in start) { e = $0; sub(/.*result=/, "", e); end[p] = e } }
	    END { for (i = 1; i <= n; i++)
		print order[i], start[order[i]], end[order[i]] }' "$1"
}

# For wait_for, which runs its command again and again: at least $2 lines
# in file $1; at least $2 sessions in log $1; queue $1 drained.
lines_at_least() {
	[ "$(wc -l <"$1")" -ge "$2" ]
}

sessions_at_least() {
	[ "$(sessions "$1" | wc -l)" -ge "$2" ]
}

drained() {
	[ "$(count_files "$1/new")" -eq 0 ]
}

@test "20 clients, 3,000 messages through HAProxy to three hosts, one crashing and back: each 250 in Postfix once" {
	local total=3000 accepted=$HX_DIR/accepted pid n dups i
	[ "$SLOWDOWN" -gt 1 ] && total=300	# under valgrind
	: >"$accepted"
	hx_clients 127.0.0.1 "$HX_FRONT" 20 "$total" "$accepted" \
	    >"$HX_DIR/clients.out" 2>&1 &
	pid=$!
	HX_CLIENTS_PID=$pid
	# a quarter of the way: host 2 crashes (launcher, sessions, smtpsend)
	WAIT_SECONDS=$((60 * SLOWDOWN)) wait_for \
	    lines_at_least "$accepted" $((total / 4))
	hx_backend_kill 2
	WAIT_SECONDS=$((20 * SLOWDOWN)) wait_for \
	    grep -q 'Server hosts/mx2 is DOWN' "$HX_DIR/haproxy.out"
	# the other two take the load for a while; then host 2 comes back,
	# with what its queue still held, early enough to take its share
	WAIT_SECONDS=$((60 * SLOWDOWN)) wait_for \
	    lines_at_least "$accepted" $(($(wc -l <"$accepted") + total / 10))
	# (grep -c exits 1 on a count of 0: host 2 may have taken none yet)
	n=$(grep -c 'result=queued' "$HX_DIR/b2/log" || true)
	hx_backend_start 2
	WAIT_SECONDS=$((20 * SLOWDOWN)) wait_for \
	    grep -q 'Server hosts/mx2 is UP' "$HX_DIR/haproxy.out"
	wait "$pid" || { cat "$HX_DIR/clients.out" >&2; return 1; }
	echo "# clients: $(cat "$HX_DIR/clients.out")" >&3
	[ "$(sort -u "$accepted" | wc -l)" -eq "$total" ]
	# every 250 reaches Postfix; each queue drains
	if ! hx_wait_delivered "$accepted" alice $((120 * SLOWDOWN)); then
		echo "lost: $(comm -23 <(sort -u "$accepted") \
		    <(hx_delivered alice | uniq) | wc -l) of $total" >&2
		return 1
	fi
	for i in 1 2 3; do
		WAIT_SECONDS=$((30 * SLOWDOWN)) wait_for \
		    drained "$HX_DIR/b$i/queue"
		assert_empty "$HX_DIR/b$i/queue/failed"
	done
	dups=$(hx_delivered alice | uniq -d | wc -l)
	echo "# delivered $(hx_delivered alice | wc -l), duplicates $dups" >&3
	# every host took its share, host 2 after it came back too
	for i in 1 2 3; do
		[ "$(grep -c 'result=queued' "$HX_DIR/b$i/log")" -gt 0 ]
	done
	[ "$(grep -c 'result=queued' "$HX_DIR/b2/log")" -gt "$n" ]
	# the hosts saw the clients through the header, never a bad one
	grep -q 'peer=127.0.0.1 proxy=127.0.0.1 trusted=yes' "$HX_DIR/b1/log"
	grep -q 'peer=127.0.0.1 proxy=127.0.0.1 trusted=yes' "$HX_DIR/b3/log"
	refute grep -h 'PROXY header' "$HX_DIR"/b*/log
}

@test "behind HAProxy relay control sees the client: an untrusted one cannot relay, a trusted network can" {
	say_all 127.0.0.1 "$HX_UNTRUSTED" 'EHLO client.test\r\n' '250 ' \
	    'MAIL FROM:<c@clients.test>\r\n' '250 2.1.0' \
	    'RCPT TO:<alice@pf.test>\r\n' '554 5.7.1 <alice@pf.test>: Relay access denied' \
	    'QUIT\r\n' '221 '
	say_all 127.0.0.1 "$HX_TRUSTED" 'EHLO client.test\r\n' '250 ' \
	    'MAIL FROM:<c@clients.test>\r\n' '250 2.1.0' \
	    'RCPT TO:<bob@pf.test>\r\n' '250 2.1.5' 'DATA\r\n' '354 ' \
	    'Subject: trusted\r\nMessage-ID: <trusted@clients.test>\r\n\r\nhi\r\n.\r\n' '250 2.0.0' \
	    'QUIT\r\n' '221 '
	grep -q 'peer=192.0.2.7 proxy=127.0.0.1 trusted=no result=connect' "$HX_DIR"/b*/log
	grep -q 'peer=192.0.2.7 .*to=<alice@pf.test> result=rejected: 554' "$HX_DIR"/b*/log
	grep -q 'peer=198.51.100.7 proxy=127.0.0.1 trusted=yes result=connect' "$HX_DIR"/b*/log
	WAIT_SECONDS=$((30 * SLOWDOWN)) maildir_wait "$PF_DIR/mail/bob" 1
	grep -q '^Received: from client.test (\[198.51.100.7\])' "$PF_DIR"/mail/bob/new/*
	[ -z "$(ls "$PF_DIR/mail/alice/new")" ]
}

@test "IPv6: a client on ::1 through HAProxy is the ::1 client, in the log and in Received:" {
	say_all ::1 "$HX_FRONT6" 'EHLO client6.test\r\n' '250 ' \
	    'MAIL FROM:<c@clients.test>\r\n' '250 2.1.0' \
	    'RCPT TO:<carol@pf.test>\r\n' '250 2.1.5' 'DATA\r\n' '354 ' \
	    'Subject: six\r\n\r\nhi\r\n.\r\n' '250 2.0.0' 'QUIT\r\n' '221 '
	grep -q 'peer=::1 proxy=127.0.0.1 trusted=yes result=connect' "$HX_DIR"/b*/log
	WAIT_SECONDS=$((30 * SLOWDOWN)) maildir_wait "$PF_DIR/mail/carol" 1
	grep -q '^Received: from client6.test (\[IPv6:::1\])' "$PF_DIR"/mail/carol/new/*
}

@test "option smtpchk health checks reach every host (v1 and v2 LOCAL) and end with QUIT, never logged as lost" {
	local i
	for i in 1 2 3; do
		WAIT_SECONDS=$((30 * SLOWDOWN)) wait_for \
		    sessions_at_least "$HX_DIR/b$i/log" 3
	done
	# v1 health checks carry the check's own loopback addresses; v2 LOCAL
	sessions "$HX_DIR/b1/log" | grep -q ' peer=127.0.0.1 proxy=127.0.0.1 '
	for i in 2 3; do
		sessions "$HX_DIR/b$i/log" | awk '$3 != "proxy=local" { exit 1 }'
	done
	for i in 1 2 3; do
		# each one over, with QUIT (the last may still be running)
		sessions "$HX_DIR/b$i/log" | sed '$d' |
		    awk '$4 != "quit" { print; bad = 1 } END { exit bad }'
		refute grep -E 'lost|refused|rejected' "$HX_DIR/b$i/log"
	done
	refute grep -E 'is DOWN' "$HX_DIR/haproxy.out"
}
