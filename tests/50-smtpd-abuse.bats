#!/usr/bin/env bats
# smtpd against hostile and broken clients (hardening): a client
# that drips or stalls, thousands of commands in one session, a gigabyte
# of garbage as commands and as a message, lines without end, NUL bytes.
# What must hold (smtpd(8): its limits; every buffer bounded):
# every reply is the one the contract names, the session ends by the error
# limit or the timeout in bounded time, nothing is queued that should not
# be, and nothing grows with the input (peak RSS is measured for the
# report with ABUSE_RSS_LOG, see helpers.bash, not asserted here).
#
# Timeouts are deadlines (smtpd/limits.c): a command line must
# be complete within -t of the wait for it, however it trickles in; DATA
# must keep up -r bytes a second.  tests/51-smtpd-hostile.bats has those.

#
# Under valgrind (tests/run valgrind:, which sets SMTPQ_VALGRIND) a "GiB"
# is 64 MiB and every time bound is SLOWDOWN times longer: memcheck runs
# some 30 times slower, and its checks need the buffers to cycle, not the
# whole gigabyte.

load helpers

GIB=1073741824
[ -z "${SMTPQ_VALGRIND:-}" ] || GIB=$((64 * 1048576))
MIB=1048576

TXN='EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'

# The replies to TXN, as prefixes, one a line.
txn_replies() {
	printf '%s\n' '220 ' '250-mx.test' '250-PIPELINING' '250-SIZE' \
	    '250-8BITMIME' '250-ENHANCEDSTATUSCODES' '250-SMTPUTF8' '250 HELP' '250 2.1.0' \
	    '250 2.1.5' '354 '
}

# Generators for abuse_feed (run in a subshell of the test, so they see
# its functions and variables).

# n NOOPs, then QUIT.
noops() {
	yes 'NOOP' | head -n "$1" | sed 's/$/\r/'
	printf 'QUIT\r\n'
}

# HELO, then n rounds of MAIL RCPT HELO MAIL HELO, then QUIT (no NOOP,
# RSET or HELP: past JUNK_MAX those count as errors).
mixed() {
	local i
	printf 'HELO client.example\r\n'
	for ((i = 0; i < $1; i++)); do
		printf 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nHELO client.example\r\nMAIL FROM:<a@example.org>\r\nHELO client.example\r\n'
	done
	printf 'QUIT\r\n'
}

# n octets "x" (no newline).
xs() {
	head -c "$1" /dev/zero | tr '\0' x
}

# TXN, n octets of garbage as the message, the final dot, NOOP, QUIT.
garbage_message() {
	printf -- "$TXN"
	abuse_garbage "$1"
	printf '\r\n.\r\nNOOP\r\nQUIT\r\n'
}

# A command line of "NOOP " and n octets, CRLF, then more commands.
long_command() {
	printf 'NOOP '
	xs "$1"
	printf '\r\nNOOP\r\nHELO client.example\r\nQUIT\r\n'
}

# Slow and stalled clients ------------------------------------------------

@test "a command sent a byte at a time within -t 3 still gets its reply" {
	local c
	SMTPD_FLAGS=(-t 3)
	smtpd_start
	# "NOOP" CRLF takes 1.5 s in all, within the deadline
	for c in N O O P '\r' '\n'; do
		smtpd_send "$c"
		[ "$c" = '\n' ] || sleep 0.3
	done
	wait_for smtpd_replied '^250 2\.0\.0'
	smtpd_send 'QUIT\r\n'
	smtpd_wait_exit
	assert_status 0
	assert_replies '220 ' '250 2.0.0' '221 2.0.0'
}

@test "a client that stalls in the middle of a line gets 421 4.4.2 after -t, not before, not much later" {
	local t0 t1 ms
	SMTPD_FLAGS=(-t 1)
	smtpd_start
	# t0 before the send: smtpd's second starts as it sends the 250, which
	# a busy machine may show us late
	t0=${EPOCHREALTIME/[.,]/}
	smtpd_send 'NOOP\r\nNO'
	wait_for smtpd_replied '^250 2\.0\.0'
	smtpd_wait_exit
	t1=${EPOCHREALTIME/[.,]/}
	ms=$(( (t1 - t0) / 1000 ))
	assert_status 0
	assert_replies '220 ' '250 2.0.0' '421 4.4.2 mx.test'
	# -t 1 from the last byte: not at once, and within a few seconds
	[ "$ms" -ge 500 ] || { echo "421 after $ms ms" >&2; false; }
	[ "$ms" -lt 4000 ] || { echo "421 after $ms ms" >&2; false; }
	grep -q 'result=timeout after NOOP' "$LOG"
}

# Many commands in one session ------------------------------------------

@test "10,000 pipelined NOOPs: 120 get 250 2.0.0 (JUNK_MAX free, then 20 errors), then 421 4.7.0" {
	local want=$BATS_TEST_TMPDIR/want
	abuse_feed 60 noops 10000
	assert_status 0
	{ echo '220 '; yes '250 2.0.0 Ok' | head -n 120
	  echo '421 4.7.0 mx.test Error: too many errors'; } >"$want"
	assert_replies_file "$want"
	assert_crlf_replies
}

@test "10,000 mixed valid commands (MAIL RCPT HELO MAIL HELO) get 10,000 right replies in order" {
	local want=$BATS_TEST_TMPDIR/want
	# After HELO, 2,000 rounds of five commands; each round leaves the
	# session where it began, and none is an error.
	abuse_feed 60 mixed 2000
	assert_status 0
	{
		printf '%s\n' '220 ' '250 mx.test'
		for ((i = 0; i < 2000; i++)); do
			printf '%s\n' '250 2.1.0 Ok' '250 2.1.5 Ok' \
			    '250 mx.test' '250 2.1.0 Ok' '250 mx.test'
		done
		echo '221 2.0.0'
	} >"$want"
	[ "$(wc -l <"$want")" -eq 10003 ]
	assert_replies_file "$want"
	assert_empty "$Q/new"
}

# A gigabyte of garbage -------------------------------------------------

# After abuse_feed: the greeting, 20 x 500 5.5.2, 421 4.7.0, exit 0; and it
# stopped there: it was offered a few pipe buffers, not the GiB, and took
# no time to speak of.
assert_stopped_at_error_limit() {
	local want=$BATS_TEST_TMPDIR/want
	assert_status 0
	{ echo '220 '; yes '500 5.5.2' | head -n 20; echo '421 4.7.0 mx.test'; } \
	    >"$want"
	assert_replies_file "$want"
	[ "$FED" -lt $((4 * MIB)) ] || { echo "offered $FED bytes" >&2; false; }
	assert_faster_than 5000
}

@test "1 GiB of random garbage as commands: 20 x 500 5.5.2, 421 4.7.0, exit 0, without reading the GiB" {
	abuse_feed 30 abuse_garbage "$GIB"
	assert_stopped_at_error_limit
	grep -q 'result=disconnect: too many errors' "$LOG"
}

@test "1 GiB of text garbage lines as commands: the same, stopped after 20 lines" {
	abuse_feed 30 eval 'yes "GARBAGE in, garbage out" | head -c $GIB'
	assert_stopped_at_error_limit
}

# The whole GiB goes through the DATA machine: ~5 s plain, ~10 s under
# ASan on a 2-core machine.  ABUSE_DATA_BYTES makes it smaller.
@test "1 GiB of garbage inside DATA with -s 10M: read to the end, 552 5.3.4, nothing queued, tmp/ empty" {
	local want=$BATS_TEST_TMPDIR/want bytes=${ABUSE_DATA_BYTES:-$GIB} size
	SMTPD_FLAGS=(-s 10M)
	abuse_feed 60 garbage_message "$bytes"
	assert_status 0
	{ txn_replies; printf '%s\n' '552 5.3.4' '250 2.0.0' '221 2.0.0'; } \
	    >"$want"
	assert_replies_file "$want"
	# All of it was read (and the session went on after the dot).
	[ "$FED" -gt "$bytes" ] || { echo "offered $FED bytes" >&2; false; }
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
	# and counted past the limit, not stopped at it
	size=$(sed -n 's/.* size=\([0-9]*\) result=rejected: 552 5\.3\.4.*/\1/p' "$LOG")
	[ "${size:-0}" -gt $((10 * MIB)) ] || { echo "logged size '$size'" >&2; false; }
}

@test "1 GiB in one line without LF: read and dropped to EOF, only the greeting, exit 0" {
	abuse_feed 60 head -c "$GIB" /dev/zero
	assert_status 0
	assert_replies '220 '
	[ "$FED" -eq "$GIB" ]
	grep -q 'result=lost connection after CONNECT' "$LOG"
}

# Lines without end -----------------------------------------------------

@test "a 1 MiB line without a newline, then EOF: only the greeting, exit 0" {
	abuse_feed 30 eval 'printf NOOP; xs $MIB'
	assert_status 0
	assert_replies '220 '
	grep -q 'result=lost connection after CONNECT' "$LOG"
}

@test "a 1 MiB command line with CRLF: exactly one 500 5.5.2, and the session goes on" {
	abuse_feed 30 long_command "$MIB"
	assert_status 0
	assert_replies '220 ' '500 5.5.2' '250 2.0.0' '250 mx.test' '221 2.0.0'
}

@test "1 MiB of CRLF-ended 600-octet lines: one 500 5.5.2 each up to the limit, then 421 4.7.0" {
	local want=$BATS_TEST_TMPDIR/want
	abuse_feed 30 eval 'xs $MIB | fold -w 598 | sed "s/\$/\r/"'
	assert_status 0
	{ echo '220 '; yes '500 5.5.2' | head -n 20; echo '421 4.7.0'; } \
	    >"$want"
	assert_replies_file "$want"
}

# NUL bytes -------------------------------------------------------------

@test "NUL bytes in commands are 500 5.5.2 and the session goes on" {
	abuse_feed 30 printf 'NO\0OP\r\n\0\r\nNOOP\0\r\n\0NOOP\r\nNOOP\r\nHELO a\0b\r\nMAIL FROM:<a@example.org>\r\nHELO client.example\r\nQUIT\r\n'
	assert_status 0
	# HELO with a NUL did not greet: MAIL is still out of sequence.
	assert_replies '220 ' '500 5.5.2' '500 5.5.2' '500 5.5.2' '500 5.5.2' \
	    '250 2.0.0' '500 5.5.2' '503 5.5.1' '250 mx.test' '221 2.0.0'
}

@test "a NUL inside an address is rejected and changes nothing" {
	abuse_feed 30 printf 'HELO client.example\r\nMAIL FROM:<a\0b@example.org>\r\nRCPT TO:<c@example.net>\r\nMAIL FROM:<a@exa\0mple.org>\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<c\0@example.net>\r\nRCPT TO:<c@example.net\0>\r\nDATA\r\nQUIT\r\n'
	assert_status 0
	# Neither MAIL with a NUL began a transaction (RCPT: 503), neither
	# RCPT with one added a recipient (DATA: 503).
	assert_replies '220 ' '250 mx.test' '500 5.5.2' '503 5.5.1' \
	    '500 5.5.2' '250 2.1.0' '500 5.5.2' '500 5.5.2' '503 5.5.1' \
	    '221 2.0.0'
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
}
