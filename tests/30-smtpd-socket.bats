#!/usr/bin/env bats
# smtpd over real TCP connections, handed over by systemd's socket
# activation launcher exactly as systemd does it with Accept=yes: one
# process per connection, the socket as fd 0 and 1.  Addresses 127.0.0.1
# and ::1 only, on free high ports.

load helpers

setup() {
	SMTPD_FLAGS=()
	LAUNCHER_FLAGS=()
	sanitizer_env_flags
}

teardown() {
	launch_stop
	if [ -n "${OTHER_PID:-}" ]; then
		LAUNCHER_PID=$OTHER_PID
		launch_stop
	fi
}

# Launches a second listener (SMTPD_FLAGS, LAUNCHER_FLAGS) on the same
# queue, as another socket unit would; its port is OTHER_PORT.
launch_other() {
	local first_pid=$LAUNCHER_PID first_port=$PORT

	launch 127.0.0.1 socket_activate 127.0.0.1 || return 1
	OTHER_PID=$LAUNCHER_PID OTHER_PORT=$PORT
	LAUNCHER_PID=$first_pid PORT=$first_port
}

# Holds $2 sessions greeted on port $1; their descriptors in HELD.
hold_sessions() {
	local i

	HELD=()
	for ((i = 0; i < $2; i++)); do
		sock_open 127.0.0.1 "$1" || return 1
		sock_expect "$SOCK" "220 mx.test" || return 1
		HELD+=("$SOCK")
	done
}

# The queue file $1 with the date of its Received: header replaced by
# DATE, so that it can be compared byte for byte.
undated() {
	sed -E 's/; [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\r$/; DATE\r/' "$1"
}

# Fails, showing both, unless file $1 holds exactly the bytes of file $2.
same_bytes() {
	if ! cmp "$1" "$2"; then
		echo "--- got" >&2
		od -c "$1" >&2
		echo "--- expected" >&2
		od -c "$2" >&2
		return 1
	fi
}

# One client of the concurrency test: connects, waits greeted until all
# are, then sends message $1 (its token in the subject and body).
concurrent_client() {
	local i=$1 s WAIT_SECONDS=$((10 * SLOWDOWN))	# valgrind: 20 slow starts

	sock_open 127.0.0.1 "$PORT" || return 1
	s=$SOCK
	sock_expect "$s" "220 " || return 1
	: >"$BATS_TEST_TMPDIR/greeted.$i"
	wait_for test -e "$BATS_TEST_TMPDIR/go" || return 1
	sock_say "$s" "EHLO client$i.test\r\n" "250 " &&
	sock_say "$s" "MAIL FROM:<sender$i@example.org>\r\n" "250 2.1.0" &&
	sock_say "$s" "RCPT TO:<rcpt$i@example.net>\r\n" "250 2.1.5" &&
	sock_say "$s" "DATA\r\n" "354 " &&
	sock_say "$s" "Subject: token-$i\r\n\r\nbody of token-$i\r\n.\r\n" \
	    "250 2.0.0 Ok: queued as " &&
	sock_say "$s" "QUIT\r\n" "221 " &&
	sock_expect_eof "$s"
}

greeted_count() {
	[ "$(find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'greeted.*' |
	    wc -l)" -eq "$1" ]
}

@test "a session over TCP queues the message byte for byte; peer 127.0.0.1 is trusted and may relay" {
	launch 127.0.0.1 socket_activate 127.0.0.1
	sock_open 127.0.0.1 "$PORT"
	s=$SOCK
	sock_expect "$s" "220 mx.test ESMTP"
	sock_say "$s" 'EHLO client.test\r\n' "250 HELP"
	[[ "$REPLY_LINES" == *"250-PIPELINING"* ]]
	sock_say "$s" 'MAIL FROM:<alice@example.org>\r\n' "250 2.1.0"
	# Not a domain of ours (no -d, no -R): only trust lets it through.
	sock_say "$s" 'RCPT TO:<bob@example.net>\r\n' "250 2.1.5"
	sock_say "$s" 'DATA\r\n' "354 "
	sock_say "$s" 'Subject: over TCP\r\n\r\nline one\r\n..dot\r\n.\r\n' \
	    "250 2.0.0 Ok: queued as "
	id=${REPLY_LAST##* }
	sock_say "$s" 'QUIT\r\n' "221 2.0.0"
	sock_expect_eof "$s"

	file=$(queued_file)
	# the id is the file name as an Atom, its dots written _
	[ "$(basename "$file" | tr . _)" = "$id" ]
	printf 'From: <alice@example.org>\nOrigin: trusted\nTo: <bob@example.net>\n\n'\
'Received: from client.test ([127.0.0.1])\r\n'\
'\tby mx.test (smtpd) with ESMTP id %s\r\n'\
'\tfor <bob@example.net>; DATE\r\n'\
'Subject: over TCP\r\n\r\nline one\r\n.dot\r\n' "$id" \
	    >"$BATS_TEST_TMPDIR/expected"
	undated "$file" >"$BATS_TEST_TMPDIR/got"
	same_bytes "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/expected"
	grep -q "peer=127.0.0.1 trusted=yes result=connect" "$LOG"
	grep -q "peer=127.0.0.1 id=${id//_/.} from=<alice@example.org> rcpts=1 .*result=queued" "$LOG"
}

@test "REMOTE_ADDR and TCPREMOTEIP do not override the socket's real peer" {
	LAUNCHER_FLAGS=(-E REMOTE_ADDR=192.0.2.1 -E TCPREMOTEIP=192.0.2.1)
	launch 127.0.0.1 socket_activate 127.0.0.1
	sock_open 127.0.0.1 "$PORT"
	s=$SOCK
	sock_expect "$s" "220 "
	sock_say "$s" 'HELO client.test\r\n' "250 "
	sock_say "$s" 'MAIL FROM:<alice@example.org>\r\n' "250 2.1.0"
	# 192.0.2.1 would be untrusted: relaying proves getpeername() won.
	sock_say "$s" 'RCPT TO:<bob@example.net>\r\n' "250 2.1.5"
	sock_say "$s" 'DATA\r\n' "354 "
	sock_say "$s" 'Subject: env\r\n\r\nhi\r\n.\r\n' "250 2.0.0"
	sock_say "$s" 'QUIT\r\n' "221 "
	sock_expect_eof "$s"
	file=$(queued_file)
	grep -q '^Received: from client.test (\[127.0.0.1\])' "$file"
	grep -q "peer=127.0.0.1 trusted=yes result=connect" "$LOG"
	! grep -q 192.0.2.1 "$LOG" "$file" || false

	# The same variable on a pipe is believed, and 192.0.2.1 may not
	# relay: the test above would have seen the difference.
	Q="$BATS_TEST_TMPDIR/queue2"
	REMOTE_ADDR=192.0.2.1 smtpd_session 'HELO c.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.net>\r\nQUIT\r\n'
	assert_reply 4 "554 5.7.1 <bob@example.net>: Relay access denied"
	grep -q "peer=192.0.2.1 trusted=no result=connect" "$LOG"
}

@test "over IPv6 the peer is ::1 ([IPv6:::1] in Received:), trusted, and may relay" {
	# Probed, not assumed: only where loopback has ::1.
	if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
		skip "no ::1 on lo"
	fi
	launch ::1 socket_activate ::1
	sock_open ::1 "$PORT"
	s=$SOCK
	sock_expect "$s" "220 "
	sock_say "$s" 'EHLO six.test\r\n' "250 "
	sock_say "$s" 'MAIL FROM:<alice@example.org>\r\n' "250 2.1.0"
	sock_say "$s" 'RCPT TO:<bob@example.net>\r\n' "250 2.1.5"
	sock_say "$s" 'DATA\r\n' "354 "
	sock_say "$s" 'Subject: six\r\n\r\nhi\r\n.\r\n' "250 2.0.0"
	sock_say "$s" 'QUIT\r\n' "221 "
	sock_expect_eof "$s"
	file=$(queued_file)
	grep -q '^Received: from six.test (\[IPv6:::1\])' "$file"
	grep -q "peer=::1 trusted=yes result=connect" "$LOG"
}

@test "20 concurrent sessions (-c 25) each queue their own message intact" {
	SMTPD_FLAGS=(-c 25)
	launch 127.0.0.1 socket_activate 127.0.0.1
	pids=()
	for i in $(seq 1 20); do
		concurrent_client "$i" >"$BATS_TEST_TMPDIR/client.$i" 2>&1 &
		pids+=($!)
	done
	# All 20 greeted at once before any sends: 20 sessions truly open.
	WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for greeted_count 20
	: >"$BATS_TEST_TMPDIR/go"
	for i in $(seq 1 20); do
		if ! wait "${pids[$((i - 1))]}"; then
			cat "$BATS_TEST_TMPDIR/client.$i" >&2
			false
		fi
	done

	[ "$(count_files "$Q/new")" -eq 20 ]
	for i in $(seq 1 20); do
		files=($(grep -l "^Subject: token-$i"$'\r'"\$" "$Q"/new/*))
		[ "${#files[@]}" -eq 1 ]
		printf 'From: <sender%d@example.org>\nOrigin: trusted\nTo: <rcpt%d@example.net>\n' \
		    "$i" "$i" >"$BATS_TEST_TMPDIR/expected"
		head -n 3 "${files[0]}" | cmp - "$BATS_TEST_TMPDIR/expected"
		printf 'Subject: token-%d\r\n\r\nbody of token-%d\r\n' "$i" "$i" \
		    >"$BATS_TEST_TMPDIR/expected"
		sed -n '/^Subject:/,$p' "${files[0]}" |
		    cmp - "$BATS_TEST_TMPDIR/expected"
	done
	[ "$(grep -c 'result=queued' "$LOG")" -eq 20 ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "with -c 2 a third session gets 421 4.3.2 and is closed; a freed slot is reused" {
	SMTPD_FLAGS=(-c 2)
	launch 127.0.0.1 socket_activate 127.0.0.1
	sock_open 127.0.0.1 "$PORT"
	a=$SOCK
	sock_expect "$a" "220 mx.test"
	sock_open 127.0.0.1 "$PORT"
	b=$SOCK
	sock_expect "$b" "220 mx.test"
	sock_say "$b" 'EHLO idle.test\r\n' "250 "

	sock_open 127.0.0.1 "$PORT"
	c=$SOCK
	sock_expect "$c" "421 4.3.2 mx.test Service not available"
	sock_expect_eof "$c"
	grep -q "result=refused: too many sessions" "$LOG"

	# The held sessions were not disturbed.
	sock_say "$b" 'NOOP\r\n' "250 2.0.0"
	# One leaves; its end of input means its process (and lock) is gone.
	sock_say "$a" 'QUIT\r\n' "221 "
	sock_expect_eof "$a"
	sock_open 127.0.0.1 "$PORT"
	d=$SOCK
	sock_expect "$d" "220 mx.test"
	# b and d hold the two slots: the cap still counts right.
	sock_open 127.0.0.1 "$PORT"
	e=$SOCK
	sock_expect "$e" "421 4.3.2"
	sock_expect_eof "$e"
	sock_say "$b" 'QUIT\r\n' "221 "
	sock_say "$d" 'QUIT\r\n' "221 "
}

@test "each listener has its own pool: -c sessions held on submission (-S) leave port 25 free, and the reverse" {
	SMTPD_FLAGS=(-c 2)
	launch 127.0.0.1 socket_activate 127.0.0.1
	SMTPD_FLAGS=(-c 2 -S -A /bin/false)
	launch_other
	# One address fills port 587's pool (its per-source cap allows it).
	hold_sessions "$OTHER_PORT" 2
	sock_open 127.0.0.1 "$OTHER_PORT"
	sock_expect "$SOCK" "421 4.3.2"
	grep -q "pool=smtpd-submission.lock result=refused: too many sessions" "$LOG"
	# Port 25 still greets, and takes mail.
	sock_open 127.0.0.1 "$PORT"
	mx=$SOCK
	sock_expect "$mx" "220 mx.test"
	sock_say "$mx" 'EHLO mx.test\r\n' "250 "
	sock_say "$mx" 'MAIL FROM:<a@example.org>\r\n' "250 2.1.0"
	# The reverse: port 25 full, submission has its own slots.
	sock_open 127.0.0.1 "$PORT"
	sock_expect "$SOCK" "220 mx.test"
	sock_open 127.0.0.1 "$PORT"
	sock_expect "$SOCK" "421 4.3.2"
	for s in "${HELD[@]}"; do sock_say "$s" 'QUIT\r\n' "221 "; done
	sock_open 127.0.0.1 "$OTHER_PORT"
	sock_expect "$SOCK" "220 mx.test"
	[ -e "$Q/smtpd.lock" ]
	[ -e "$Q/smtpd-submission.lock" ]
}

@test "implicit TLS submission (-E -S, port 465) has a pool apart from 587's; a session after STARTTLS counts in its listener's" {
	# 465: stunnel's smtpd -E -S, the client in REMOTE_HOST.
	SMTPD_FLAGS=(-c 2 -E -S -A /bin/false)
	LAUNCHER_FLAGS=(-E REMOTE_HOST=127.0.0.1)
	launch 127.0.0.1 socket_activate 127.0.0.1
	# 587 after STARTTLS: smtpd -E -S, the client in SMTPD_STARTTLS.
	LAUNCHER_FLAGS=(-E SMTPD_STARTTLS=127.0.0.1)
	launch_other
	hold_sessions "$PORT" 2
	sock_open 127.0.0.1 "$PORT"
	sock_expect "$SOCK" "421 4.3.2"
	grep -q "pool=smtpd-submissions.lock result=refused" "$LOG"
	# After STARTTLS the client speaks first: EHLO, in 587's pool.
	sock_open 127.0.0.1 "$OTHER_PORT"
	sock_say "$SOCK" 'EHLO c.test\r\n' "250 "
	sock_open 127.0.0.1 "$OTHER_PORT"
	sock_say "$SOCK" 'EHLO c.test\r\n' "250 "
	sock_open 127.0.0.1 "$OTHER_PORT"
	sock_expect "$SOCK" "421 4.3.2"
	grep -q "pool=smtpd-submission.lock result=refused" "$LOG"
	for s in "${HELD[@]}"; do sock_say "$s" 'QUIT\r\n' "221 "; done
}

@test "pipelining over TCP: two transactions in one write are answered in order" {
	launch 127.0.0.1 socket_activate 127.0.0.1
	run tcp_pipelined 127.0.0.1 "$PORT" 'EHLO pipe.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nSubject: one\r\n\r\nfirst\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<d@example.net>\r\nDATA\r\nSubject: two\r\n\r\nsecond\r\n.\r\nQUIT\r\n'
	[ "$status" -eq 0 ]
	assert_reply 1 "220 mx.test"
	assert_reply 2 "250-mx.test"
	assert_reply 8 "250 HELP"
	assert_reply 9 "250 2.1.0"
	assert_reply 10 "250 2.1.5"
	assert_reply 11 "250 2.1.5"
	assert_reply 12 "354 "
	assert_reply 13 "250 2.0.0 Ok: queued as "
	assert_reply 14 "250 2.1.0"
	assert_reply 15 "250 2.1.5"
	assert_reply 16 "354 "
	assert_reply 17 "250 2.0.0 Ok: queued as "
	assert_reply 18 "221 2.0.0"
	[ "$(replies | wc -l)" -eq 18 ]

	first=$(replies | sed -n 13p)
	first=${first##* }
	first=${first//_/.}	# the id is the file name as an Atom
	second=$(replies | sed -n 17p)
	second=${second##* }
	second=${second//_/.}
	[ "$first" != "$second" ]
	[ "$(count_files "$Q/new")" -eq 2 ]
	printf 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\nTo: <c@example.net>\n\n' \
	    >"$BATS_TEST_TMPDIR/expected"
	head -n 5 "$Q/new/$first" | cmp - "$BATS_TEST_TMPDIR/expected"
	printf 'Subject: one\r\n\r\nfirst\r\n' >"$BATS_TEST_TMPDIR/expected"
	sed -n '/^Subject:/,$p' "$Q/new/$first" |
	    cmp - "$BATS_TEST_TMPDIR/expected"
	printf 'From: <>\nOrigin: trusted\nTo: <d@example.net>\n\n' >"$BATS_TEST_TMPDIR/expected"
	head -n 4 "$Q/new/$second" | cmp - "$BATS_TEST_TMPDIR/expected"
	printf 'Subject: two\r\n\r\nsecond\r\n' >"$BATS_TEST_TMPDIR/expected"
	sed -n '/^Subject:/,$p' "$Q/new/$second" |
	    cmp - "$BATS_TEST_TMPDIR/expected"
}

@test "idle over TCP for -t 1: 421 4.4.2, then the server closes" {
	SMTPD_FLAGS=(-t 1)
	launch 127.0.0.1 socket_activate 127.0.0.1
	sock_open 127.0.0.1 "$PORT"
	s=$SOCK
	sock_expect "$s" "220 "
	# Before EHLO: smtpd's second starts after its 250, which a busy
	# machine may hand us late.
	start=$EPOCHREALTIME
	sock_say "$s" 'EHLO idle.test\r\n' "250 "
	sock_expect "$s" "421 4.4.2 mx.test"
	end=$EPOCHREALTIME
	sock_expect_eof "$s"
	# Not before the second has passed (microseconds).
	[ $(( ${end/./} - ${start/./} )) -ge 900000 ]
	wait_for log_has "$LOG" 'result=timeout after EHLO'
}

@test "a client that disconnects in the middle of DATA leaves nothing in new/ or tmp/" {
	launch 127.0.0.1 socket_activate 127.0.0.1
	sock_open 127.0.0.1 "$PORT"
	s=$SOCK
	sock_expect "$s" "220 "
	sock_say "$s" 'EHLO cut.test\r\n' "250 "
	sock_say "$s" 'MAIL FROM:<a@example.org>\r\n' "250 2.1.0"
	sock_say "$s" 'RCPT TO:<b@example.net>\r\n' "250 2.1.5"
	sock_say "$s" 'DATA\r\n' "354 "
	printf 'Subject: cut short\r\n\r\nhalf a mess' >&"$s"
	sock_close "$s"
	wait_for log_has "$LOG" 'result=dropped: connection lost in DATA'
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
	! grep -q "result=queued" "$LOG" || false
}
