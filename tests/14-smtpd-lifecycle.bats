#!/usr/bin/env bats
# smtpd: how a session ends and what it leaves behind (smtpd(8):
# SIGTERM, EOF, queue failures; Common: flags, usage, log).  Signals are
# sent to a session reading a FIFO (helpers.bash smtpd_start), after its
# last reply has been seen.

load helpers

# SIGTERM

@test "SIGTERM between commands is 421 4.3.2 Service shutting down, and exit 0" {
	smtpd_start
	smtpd_send 'EHLO client.example\r\n'
	wait_for smtpd_replied '^250 HELP$'
	kill -TERM "$SMTPD_PID"
	smtpd_wait_exit
	assert_status 0
	assert_replies '220 ' '250-' '250-' '250-' '250-' '250-' '250-' '250 HELP' \
	    '421 4.3.2 mx.test Service shutting down'
	grep -q 'result=shutting down' "$LOG"
}

@test "SIGTERM during DATA is 421 4.3.2, the message is dropped, tmp/ is empty" {
	smtpd_start
	smtpd_send 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: cut\r\n\r\nhalf\r\n'
	wait_for smtpd_replied '^354 '
	[ "$(count_files "$Q/tmp")" -eq 1 ]
	kill -TERM "$SMTPD_PID"
	smtpd_wait_exit
	assert_status 0
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '421 4.3.2'
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
	grep -q 'result=dropped: shutting down in DATA' "$LOG"
}

@test "a message queued before SIGTERM stays queued" {
	smtpd_start
	smtpd_send 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nkept\r\n.\r\n'
	wait_for smtpd_replied '^250 2.0.0 Ok: queued'
	kill -TERM "$SMTPD_PID"
	smtpd_wait_exit
	assert_status 0
	assert_reply 7 '421 4.3.2'
	grep -qx $'kept\r' "$(queued_file)"
	assert_empty "$Q/tmp"
}

# End of input

@test "end of input in DATA drops the message, logs it and exits 0" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	@ data <a@example.org> <b@example.net>
	> Subject: cut
	>
	>| half a line
	END
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
	grep -q 'result=dropped: connection lost in DATA' "$LOG"
}

@test "end of input right after a complete line in DATA queues nothing" {
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nline\r\n'
	assert_status 0
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
}

@test "end of input between commands is logged and exits 0" {
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\n'
	assert_status 0
	grep -q 'result=lost connection after MAIL' "$LOG"
}

# Queue failures: our trouble is always 4xx, never 250 nor 5xx.

@test "a queue that cannot be opened is 421 4.3.0 at connect" {
	touch "$BATS_TEST_TMPDIR/file"
	SMTPD_FLAGS=(-q "$BATS_TEST_TMPDIR/file/queue")
	transcript <<-'END'
	< 421 4.3.0 mx.test
	> HELO client.example
	> QUIT
	= 75
	END
	grep -q 'result=refused: unable to open queue' "$LOG"
}

@test "a log file that cannot be opened is 421 4.3.0 at connect, and nothing else" {
	touch "$BATS_TEST_TMPDIR/file"
	SMTPD_FLAGS=(-l "$BATS_TEST_TMPDIR/file/log")
	transcript <<-'END'
	< 421 4.3.0 mx.test Service not available: local error
	> HELO client.example
	> MAIL FROM:<a@b.test>
	> QUIT
	= 75
	END
	[ ! -e "$Q/new" ] || [ "$(count_files "$Q/new")" -eq 0 ]
}

@test "a queue file that cannot be created is 451 4.3.0 at DATA, and the session goes on" {
	mkdir -p "$Q/new" "$Q/failed"
	touch "$Q/tmp"		# not a directory: no file can be made in it
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> DATA
	< 451 4.3.0
	> RSET
	< 250 2.0.0
	> NOOP
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_empty "$Q/new"
	grep -q 'result=deferred: unable to create queue file' "$LOG"
}

@test "a 451 at DATA ends the transaction: a pipelined next MAIL starts afresh" {
	mkdir -p "$Q/new" "$Q/failed"
	touch "$Q/tmp"		# not a directory: no file can be made in it
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<one@example.net>
	< 250 2.1.5
	> DATA
	< 451 4.3.0
	> MAIL FROM:<b@example.org>
	< 250 2.1.0
	> RCPT TO:<two@example.net>
	< 250 2.1.5
	> QUIT
	< 221 2.0.0
	END
}

@test "a queue file that cannot be written is 451 4.3.0 after the dot, nothing left behind" {
	local in=$BATS_TEST_TMPDIR/session
	{ printf 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
	  yes 'a line of a message bigger than the file size limit' |
	      head -n 3000 | sed 's/$/\r/'
	  printf '.\r\nQUIT\r\n'; } >"$in"
	# RLIMIT_FSIZE 16 KiB, SIGXFSZ ignored: write(2) fails with EFBIG.
	run bash -c 'trap "" XFSZ; ulimit -f 16; "$2" -q "$3" -n mx.test -l "$4" <"$1"' \
	    _ "$in" "$SMTPD" "$Q" "$LOG"
	assert_status 0
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '451 4.3.0' '221 2.0.0'
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
	grep -q 'result=deferred: unable to write queue file' "$LOG"
}

# Flags and usage (exit 64, one line on stderr, nothing on stdout).

# Runs smtpd with the given arguments, stdin empty; stdout in $output,
# stderr in $stderr_text.
smtpd_args() {
	local err=$BATS_TEST_TMPDIR/stderr
	run bash -c '"$0" "$@" </dev/null 2>"'"$err"'"' "$SMTPD" "$@"
	stderr_text=$(cat "$err")
}

assert_usage_error() {
	smtpd_args "$@"
	if [ "$status" -ne 64 ] || [ -n "$output" ] ||
	    [ "$(printf '%s\n' "$stderr_text" | wc -l)" -ne 1 ] ||
	    [[ "$stderr_text" != smtpd:* ]]; then
		echo "smtpd $*: status $status, stdout '$output'," \
		    "stderr '$stderr_text'" >&2
		return 1
	fi
}

@test "-h prints the usage on stdout and exits 0" {
	smtpd_args -h
	assert_status 0
	[[ "${lines[0]}" == "usage: smtpd "* ]]
	[[ "$output" == *"-q dir"* ]]
	[ -z "$stderr_text" ]
}

@test "an unknown flag exits 64 with one line on stderr" {
	assert_usage_error -x
	assert_usage_error -Z -q "$Q"
}

@test "a flag without its value exits 64 with one line on stderr" {
	assert_usage_error -q
	assert_usage_error -t
}

@test "-t x (not a duration) exits 64 with one line on stderr" {
	assert_usage_error -q "$Q" -t x
	assert_usage_error -q "$Q" -t 0
	assert_usage_error -q "$Q" -t 5y
	assert_usage_error -q "$Q" -t -5
	assert_usage_error -q "$Q" -t ''
}

@test "-s 0 (not a size) exits 64 with one line on stderr" {
	assert_usage_error -q "$Q" -s 0
	assert_usage_error -q "$Q" -s 10X
	assert_usage_error -q "$Q" -s ten
}

@test "-c 0 (not a session count) exits 64 with one line on stderr" {
	assert_usage_error -q "$Q" -c 0
	assert_usage_error -q "$Q" -c 10001
	assert_usage_error -q "$Q" -c 2x
}

@test "-d 'bad domain' exits 64 with one line on stderr" {
	assert_usage_error -q "$Q" -d 'bad domain'
	assert_usage_error -q "$Q" -d 'example..org'
	assert_usage_error -q "$Q" -d ''
}

@test "-R 300.1.1.1/8 (not a network) exits 64 with one line on stderr" {
	assert_usage_error -q "$Q" -R 300.1.1.1/8
	assert_usage_error -q "$Q" -R 10.0.0.0/33
	assert_usage_error -q "$Q" -R 2001:db8::/129
	assert_usage_error -q "$Q" -R example.org
}

@test "-n with a bad host name exits 64 with one line on stderr" {
	assert_usage_error -q "$Q" -n 'mx test'
}

@test "an extra argument exits 64 with one line on stderr" {
	assert_usage_error -q "$Q" extra
}

@test "durations and sizes take suffixes: -t 5m -s 10M -c 1" {
	SMTPD_FLAGS=(-t 5m -s 10M -c 1)
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> QUIT
	< 221 2.0.0
	END
}

# Logging (-l): one line per event, key=value.

@test "-l FILE gets one line per event, and result=queued with id, from, rcpts, size" {
	local id ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n'
	id=$(basename "$(queued_file)")
	[ "$(wc -l <"$LOG")" -eq 3 ]
	sed -n 1p "$LOG" |
	    grep -Eqx "$ts smtpd\[[0-9]+\]: peer=stdin trusted=yes result=connect"
	sed -n 2p "$LOG" |
	    grep -Eqx "$ts smtpd\[[0-9]+\]: peer=stdin id=${id//./\\.} from=<a@example\.org> rcpts=2 size=7 result=queued"
	sed -n 3p "$LOG" |
	    grep -Eqx "$ts smtpd\[[0-9]+\]: peer=stdin messages=1 result=quit"
	# one process, one pid
	[ "$(sed 's/.*smtpd\[\([0-9]*\)\].*/\1/' "$LOG" | sort -u | wc -l)" -eq 1 ]
}

@test "a relay refusal is logged with the client, sender and recipient" {
	REMOTE_ADDR=192.0.2.1 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	grep -q 'peer=192.0.2.1 from=<a@example.org> to=<b@elsewhere.example> result=rejected: 554 5.7.1' "$LOG"
}

@test "-l - logs to stderr, and stdout carries nothing but replies" {
	local err=$BATS_TEST_TMPDIR/stderr
	run bash -c 'printf "HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n" | "$1" -q "$2" -n mx.test -l - 2>"$3"' \
	    _ "$SMTPD" "$Q" "$err"
	assert_status 0
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '250 2.0.0' '221 2.0.0'
	grep -q 'result=connect' "$err"
	grep -q 'result=queued' "$err"
	grep -q 'result=quit' "$err"
}
