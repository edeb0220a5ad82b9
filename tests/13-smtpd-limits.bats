#!/usr/bin/env bats
# smtpd: every limit at the limit and one past it (smtpd(8):
# Limits; common.h): command line length, recipients, message size, idle
# timeout, the hard error limit and sessions at once.

load helpers

# n times the letter x.
xs() {
	head -c "$1" /dev/zero | tr '\0' x
}

# Command line: RFC 5321 4.5.3.1.4, 512 octets including CRLF.

@test "a 512-octet command line (with CRLF) is accepted, 513 octets are 500 5.5.2" {
	local x505 x506
	x505=$(xs 505)
	x506=$(xs 506)
	# "NOOP " + 505 + CRLF = 512; one more is 513
	[ $(( 5 + ${#x505} + 2 )) -eq 512 ]
	smtpd_session "NOOP $x505\r\nNOOP $x506\r\nNOOP\r\nQUIT\r\n"
	assert_status 0
	assert_replies '220 ' '250 2.0.0' '500 5.5.2' '250 2.0.0' '221 2.0.0'
}

@test "a 512-octet command line ending in a bare LF is accepted, 513 are 500 5.5.2" {
	local x506 x507
	x506=$(xs 506)
	x507=$(xs 507)
	smtpd_session "NOOP $x506\nNOOP $x507\nNOOP\nQUIT\n"
	assert_replies '220 ' '250 2.0.0' '500 5.5.2' '250 2.0.0' '221 2.0.0'
}

@test "a 512-octet MAIL line is used whole (its last parameter counts), 513 octets are 500 5.5.2" {
	local l64 pad
	l64=$(xs 64)
	# "MAIL FROM:<" 11 + 64 + "@example.org>" 13 + " SIZE=" 6 + digits + CRLF 2
	pad=$(printf '%0416d' 1)
	smtpd_session "EHLO client.example\r\nMAIL FROM:<$l64@example.org> SIZE=$pad\r\nRCPT TO:<b@example.net>\r\nQUIT\r\n"
	assert_replies '220 ' '250-' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' '221 2.0.0'
	smtpd_session "EHLO client.example\r\nMAIL FROM:<$l64@example.org> SIZE=0$pad\r\nRCPT TO:<b@example.net>\r\nQUIT\r\n"
	assert_replies '220 ' '250-' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '500 5.5.2' '503 5.5.1' '221 2.0.0'
}

@test "the rest of an over-long line is discarded, not run as a command" {
	smtpd_session "NOOP $(xs 600)QUIT\r\nNOOP\r\n"
	assert_status 0
	assert_replies '220 ' '500 5.5.2' '250 2.0.0'
}

@test "a 200 kB command line is one 500 5.5.2 and the session goes on" {
	local in=$BATS_TEST_TMPDIR/session
	{ printf 'HELO client.example\r\nNOOP '; xs 200000
	  printf '\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n'; } >"$in"
	smtpd_session_file "$in"
	assert_status 0
	assert_replies '220 ' '250 mx.test' '500 5.5.2' '250 2.1.0' '221 2.0.0'
}

# Recipients: RFC 5321 4.5.3.1.8, at least 100; then 452 4.5.3.

@test "100 recipients are accepted, the 101st is 452 4.5.3, and 100 are queued" {
	local want=() i
	smtpd_session "HELO client.example\r\nMAIL FROM:<a@example.org>\r\n$(printf 'RCPT TO:<r%d@example.net>\\r\\n' $(seq 1 101))RCPT TO:<r1@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
	want=('220 ' '250 mx.test' '250 2.1.0')
	for ((i = 1; i <= 100; i++)); do want+=('250 2.1.5'); done
	want+=('452 4.5.3' '250 2.1.5' '354 ' '250 2.0.0' '221 2.0.0')
	assert_replies "${want[@]}"
	[ "$(grep -c '^To: ' "$(queued_file)")" -eq 100 ]
	grep -qx 'To: <r100@example.net>' "$(queued_file)"
	! grep -q 'r101@' "$(queued_file)" || false
}

# Message size (-s): the message as stored, without our Received: header.

@test "a message exactly at the -s limit is queued" {
	# "Subject: x" CRLF CRLF = 14, 84 x + CRLF = 86: 100 octets
	SMTPD_FLAGS=(-s 100)
	smtpd_session "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: x\r\n\r\n$(xs 84)\r\n.\r\nQUIT\r\n"
	assert_reply 12 '250 2.0.0'
	assert_queued "From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\n\nReceived: from client.example (stdin)\r\n\tby mx.test (smtpd) with ESMTP id ID\r\n\tfor <b@example.net>; DATE\r\nSubject: x\r\n\r\n$(xs 84)\r\n"
	grep -q 'size=100 result=queued' "$LOG"
}

@test "a message one byte over the -s limit is 552 5.3.4 after the final dot, nothing queued" {
	SMTPD_FLAGS=(-s 100)
	smtpd_session "EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: x\r\n\r\n$(xs 85)\r\n.\r\nQUIT\r\n"
	assert_status 0
	assert_replies '220 ' '250-' '250-' '250-SIZE 100' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' '354 ' '552 5.3.4' '221 2.0.0'
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
	grep -q 'result=rejected: 552 5.3.4' "$LOG"
}

@test "after 552 5.3.4 the session goes back to the greeted state and goes on" {
	SMTPD_FLAGS=(-s 1000)
	smtpd_session "HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n$(xs 2000)\r\n.\r\nRCPT TO:<b@example.net>\r\nMAIL FROM:<c@example.org>\r\nRCPT TO:<d@example.net>\r\nDATA\r\nsmall\r\n.\r\nQUIT\r\n"
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '552 5.3.4' '503 5.5.1' '250 2.1.0' '250 2.1.5' '354 ' '250 2.0.0' \
	    '221 2.0.0'
	grep -qx 'From: <c@example.org>' "$(queued_file)"
	assert_empty "$Q/tmp"
}

@test "a message far over the limit is read to its end and refused" {
	local in=$BATS_TEST_TMPDIR/session
	SMTPD_FLAGS=(-s 1k)
	{ printf 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
	  yes 'a line of text in a message that is far too big' | head -n 50000 |
	      sed 's/$/\r/'
	  printf '.\r\nNOOP\r\nQUIT\r\n'; } >"$in"
	smtpd_session_file "$in"
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '552 5.3.4' '250 2.0.0' '221 2.0.0'
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
}

# Idle timeout (-t): 421 4.4.2 and exit.

@test "an idle client is cut off after -t with 421 4.4.2 and exit 0" {
	SMTPD_FLAGS=(-t 1)
	smtpd_start
	smtpd_send 'EHLO client.example\r\n'
	smtpd_wait_exit
	assert_status 0
	assert_replies '220 ' '250-' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '421 4.4.2 mx.test'
	grep -q 'result=timeout after EHLO' "$LOG"
}

@test "the idle timeout counts from the last input, not from the start" {
	local i
	SMTPD_FLAGS=(-t 3)
	smtpd_start
	# 8 x 0.5 s: longer than the timeout in all, never idle for it.  Each
	# gap is 0.5 s plus the wait for the reply, which on a busy machine
	# (other suites beside this one) took over a second: -t 1 was too
	# close.
	for i in 1 2 3 4 5 6 7 8; do
		sleep 0.5
		smtpd_send 'NOOP\r\n'
		wait_for eval '[ "$(grep -c "^250 " "$BATS_TEST_TMPDIR/out")" -eq $i ]'
	done
	smtpd_send 'QUIT\r\n'
	smtpd_wait_exit
	assert_replies '220 ' '250 2.0.0' '250 2.0.0' '250 2.0.0' '250 2.0.0' \
	    '250 2.0.0' '250 2.0.0' '250 2.0.0' '250 2.0.0' '221 2.0.0'
}

@test "a client idle in DATA gets 421 4.4.2 and nothing is queued" {
	SMTPD_FLAGS=(-t 1)
	smtpd_start
	smtpd_send 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: half\r\n\r\nhalf a mess'
	smtpd_wait_exit
	assert_status 0
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '421 4.4.2'
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
	grep -q 'result=dropped: timeout in DATA' "$LOG"
}

# Hard error limit (common.h SMTP_ERRORS_MAX, 20): 421 4.7.0 and exit.

@test "19 errors are answered and the session goes on" {
	smtpd_session "$(printf 'BOGUS\\r\\n%.0s' {1..19})NOOP\r\nQUIT\r\n"
	assert_status 0
	[ "$(replies | grep -c '^500 5.5.2')" -eq 19 ]
	assert_reply 21 '250 2.0.0'
	assert_reply 22 '221 2.0.0'
}

@test "the 20th error is answered, then 421 4.7.0 and exit 0" {
	smtpd_session "$(printf 'BOGUS\\r\\n%.0s' {1..20})NOOP\r\nQUIT\r\n"
	assert_status 0
	[ "$(replies | grep -c '^500 5.5.2')" -eq 20 ]
	[ "$(replies | wc -l)" -eq 22 ]
	assert_reply 22 '421 4.7.0 mx.test'
	grep -q 'result=disconnect: too many errors' "$LOG"
}

@test "syntax, sequence and length errors all count toward the limit" {
	local five
	five="MAIL FROM:<a@example.org>\r\nHELO\r\nRCPT TO:<b@example.net>\r\nNOOP $(xs 600)\r\nBOGUS\r\n"
	smtpd_session "${five}${five}${five}${five}NOOP\r\n"
	[ "$(replies | grep -c '^503 5.5.1')" -eq 8 ]
	[ "$(replies | grep -c '^501 5.5.4')" -eq 4 ]
	assert_status 0
	assert_reply 21 '500 5.5.2'
	assert_reply 22 '421 4.7.0'
	[ "$(replies | wc -l)" -eq 22 ]
}

# Sessions at once per queue (-c): the one over gets 421 4.3.2.

@test "with -c 1 and one session open, the next gets 421 4.3.2 and exits 0" {
	SMTPD_FLAGS=(-c 1)
	smtpd_start
	wait_for smtpd_replied '^220 '
	transcript <<-'END'
	< 421 4.3.2 mx.test Service not available
	> HELO client.example
	> QUIT
	END
	grep -q 'result=refused: too many sessions' "$LOG"
	# the first session is untouched
	smtpd_send 'NOOP\r\nQUIT\r\n'
	smtpd_wait_exit
	assert_replies '220 ' '250 2.0.0' '221 2.0.0'
}

@test "with -c 2 and one session open, the next is served" {
	SMTPD_FLAGS=(-c 2)
	smtpd_start
	wait_for smtpd_replied '^220 '
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> QUIT
	< 221 2.0.0
	END
}

@test "a session slot is free again once its session has ended" {
	SMTPD_FLAGS=(-c 1)
	smtpd_start
	wait_for smtpd_replied '^220 '
	smtpd_send 'QUIT\r\n'
	smtpd_wait_exit
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> QUIT
	< 221 2.0.0
	END
}

# Messages in one session (common.h MESSAGES_MAX): 1000
# for an untrusted client (tests/51), none for a trusted or authenticated
# one, whose batching (Postfix's connection reuse, Exim's -qq) must never
# be cut off and wait for the next queue run.

# n messages from a@example.org to b@example.net, as one transcript.
messages() {
	local i
	for ((i = 0; i < $1; i++)); do
		printf 'MAIL FROM:<a@example.org>\\r\\nRCPT TO:<b@example.net>\\r\\nDATA\\r\\nhi\\r\\n.\\r\\n'
	done
}

@test "a trusted client queues 1001 messages in one session, no 421" {
	smtpd_session "HELO c.example\r\n$(messages 1001)QUIT\r\n"
	[ "$(count_files "$Q/new")" -eq 1001 ]
	! replies | grep -q '^421' || false
	replies | tail -n 1 | grep -q '^221 2.0.0'
	grep -q 'messages=1001 result=quit' "$LOG"
}

@test "an authenticated client queues 1001 messages in one session, no 421" {
	load tls
	passwd_make
	export REMOTE_HOST=192.0.2.7
	SMTPD_FLAGS=(-E -A "$CHECKPASSWORD,$PASSWD")
	smtpd_session "EHLO c\r\nAUTH PLAIN $(printf '\0alice\0s3cret' | base64 -w0)\r\n$(messages 1001)QUIT\r\n"
	replies | grep -q '^235 2.7.0'
	[ "$(count_files "$Q/new")" -eq 1001 ]
	! replies | grep -q '^421' || false
	grep -q 'messages=1001 result=quit' "$LOG"
}
