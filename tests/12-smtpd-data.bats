#!/usr/bin/env bats
# smtpd: DATA and the queue file, byte for byte (smtpd(8): DATA,
# Received:, Queue: file content), SMTP smuggling, and pipelining.  The
# Received: header's id and date are checked for shape and written as ID
# and DATE (helpers.bash queue_normalised); everything else is compared
# with cmp.

load helpers

# A transaction up to DATA, and the queue file's start that goes with it.
START='EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
HEAD='From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\n\nReceived: from client.example (stdin)\r\n\tby mx.test (smtpd) with ESMTP id ID\r\n\tfor <b@example.net>; DATE\r\n'

# The replies to START, the message's end and QUIT.
START_REPLIES=('220 ' '250-mx.test' '250-PIPELINING' '250-SIZE' '250-8BITMIME'
    '250-ENHANCEDSTATUSCODES' '250-SMTPUTF8' '250 HELP' '250 2.1.0' '250 2.1.5' '354 ')

@test "a message is queued byte for byte: LF envelope, blank line, Received: first, CRLF message" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> Subject: test
	> To: b@example.net
	>
	> Hello,
	>   world.
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD}Subject: test\r\nTo: b@example.net\r\n\r\nHello,\r\n  world.\r\n"
	assert_empty "$Q/tmp"
}

@test "the 250 after DATA and Received: name the queue id, the file name as an Atom (RFC 5321 4.4)" {
	local name id
	smtpd_session "${START}hi\r\n.\r\nQUIT\r\n"
	name=$(basename "$(queued_file)")
	# <epoch>.M<usec>P<pid>.<host>; the id has _ for each dot
	[[ "$name" =~ ^[0-9]+\.M[0-9]{6}P[0-9]+\.mx\.test$ ]]
	id=${name//./_}
	assert_reply 12 "250 2.0.0 Ok: queued as $id"
	grep -qx $'\tby mx.test (smtpd) with ESMTP id '"$id"$'\r' "$(queued_file)"
	# an operator finds the file from the id, and the log names it
	[ -f "$Q/new/$(printf %s "$id" | tr _ .)" ]
	grep -q "id=$name .*result=queued" "$LOG"
}

@test "with an address literal as our name the id is still an Atom" {
	local id
	SMTPD_FLAGS=(-n '[192.0.2.9]')
	smtpd_session "HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
	id=$(replies | sed -n 's/^250 2.0.0 Ok: queued as //p')
	echo "id: $id" >&2
	[[ "$id" =~ ^[0-9]+_M[0-9]{6}P[0-9]+__192_0_2_9_$ ]]
	grep -qx $'\tby \\[192.0.2.9\\] (smtpd) with SMTP id '"$id"$'\r' "$(queued_file)"
}

@test "Received: says SMTP after HELO and has no for clause with two recipients" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> RCPT TO:<c@example.net>
	< 250 2.1.5
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\nTo: <c@example.net>\n\nReceived: from client.example (stdin)\r\n\tby mx.test (smtpd) with SMTP id ID; DATE\r\nhi\r\n'
}

@test "Received: names a network client by its address literal" {
	SMTPD_FLAGS=(-R 192.0.2.0/24)
	REMOTE_ADDR=192.0.2.1 smtpd_session "${START}hi\r\n.\r\nQUIT\r\n"
	assert_queued 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\n\nReceived: from client.example ([192.0.2.1])\r\n\tby mx.test (smtpd) with ESMTP id ID\r\n\tfor <b@example.net>; DATE\r\nhi\r\n'
}

@test "Received: writes an IPv6 client as an IPv6: address literal" {
	# RFC 5321 4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr
	SMTPD_FLAGS=(-R 2001:db8::/32)
	REMOTE_ADDR=2001:db8::25 smtpd_session "${START}hi\r\n.\r\nQUIT\r\n"
	assert_queued 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\n\nReceived: from client.example ([IPv6:2001:db8::25])\r\n\tby mx.test (smtpd) with ESMTP id ID\r\n\tfor <b@example.net>; DATE\r\nhi\r\n'
}

@test "leading dots are unstuffed" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> ..
	> ...
	> ..leading
	> .single
	> mid.dle..
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD}.\r\n..\r\n.leading\r\nsingle\r\nmid.dle..\r\n"
}

@test "a bare LF inside a CRLF message is stored as CRLF" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	>| one\n
	> two
	>| three\n
	>| \n
	> four
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD}one\r\ntwo\r\nthree\r\n\r\nfour\r\n"
}

# SMTP smuggling (CVE-2023-51764 and kin): only CRLF . CRLF ends DATA.  The
# smuggled transaction must end up as text of the one real message.

SMUGGLED='MAIL FROM:<evil@example.com>\r\nRCPT TO:<victim@example.com>\r\nDATA\r\nFrom: ceo@example.org\r\n\r\nsmuggled\r\n'

# smuggle STORED LINE...: a message "Subject: one", a blank line, the
# transcript LINEs (a body and a would-be end of data), then a smuggled
# transaction and the one real end.  Asserts the one reply to it all and
# the one message queued: STORED (printf format) and the smuggled lines.
smuggle() {
	local stored=$1 lines
	shift
	lines=$(printf '%s\n' "$@")
	transcript <<-END
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> Subject: one
	>
	$lines
	> MAIL FROM:<evil@example.com>
	> RCPT TO:<victim@example.com>
	> DATA
	> From: ceo@example.org
	>
	> smuggled
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD}Subject: one\r\n\r\n$stored${SMUGGLED}"
}

@test "smuggling: <LF>.<LF> does not end the message" {
	smuggle 'body\r\n.\r\n' '>| body\n' '>| .\n'
}

@test "smuggling: <LF>.<CRLF> does not end the message" {
	smuggle 'body\r\n.\r\n' '>| body\n' '> .'
}

@test "smuggling: <CRLF>.<LF> does not end the message" {
	smuggle 'body\r\n.\r\n' '> body' '>| .\n'
}

@test "smuggling: <CR>.<CR> does not end the message" {
	# (MAIL FROM follows on the same line: no CRLF after the CR)
	smuggle 'body\r.\r' '>| body\r.\r'
}

@test "smuggling: a would-be end without the real one queues nothing" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	>| body\n
	>| .\n
	>| QUIT\n
	END
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
}

@test "an LF-only session ends DATA at a dot alone on an LF line" {
	transcript <<-'END'
	@ greeting
	>| HELO client.example\n
	< 250 mx.test
	>| MAIL FROM:<a@example.org>\n
	< 250 2.1.0
	>| RCPT TO:<b@example.net>\n
	< 250 2.1.5
	>| DATA\n
	< 354 
	>| Subject: lf\n
	>| \n
	>| line one\n
	>| ..dotted\n
	>| .\n
	< 250 2.0.0
	>| QUIT\n
	< 221 2.0.0
	END
	assert_crlf_replies
	assert_queued 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\n\nReceived: from client.example (stdin)\r\n\tby mx.test (smtpd) with SMTP id ID\r\n\tfor <b@example.net>; DATE\r\nSubject: lf\r\n\r\nline one\r\n.dotted\r\n'
}

@test "DATA sent with CRLF keeps the CRLF rule after LF-only commands" {
	transcript <<-'END'
	@ greeting
	>| HELO client.example\n
	< 250 mx.test
	>| MAIL FROM:<a@example.org>\n
	< 250 2.1.0
	>| RCPT TO:<b@example.net>\n
	< 250 2.1.5
	> DATA
	< 354 
	>| body\n
	>| .\n
	> more
	> .
	< 250 2.0.0
	>| QUIT\n
	< 221 2.0.0
	END
	assert_queued 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\n\nReceived: from client.example (stdin)\r\n\tby mx.test (smtpd) with SMTP id ID\r\n\tfor <b@example.net>; DATE\r\nbody\r\n.\r\nmore\r\n'
}

@test "an empty message is queued" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD}"
}

@test "a NUL byte in the message is kept" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> nul:\000:here
	> \000
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD}nul:\000:here\r\n\000\r\n"
}

# HEAD with the Body: 8BITMIME line smtpd adds for 8-bit mail.
HEAD8="From: <a@example.org>\nBody: 8BITMIME\n${HEAD#From: <a@example.org>\\n}"

@test "8-bit bytes are kept, and undeclared they are labelled Body: 8BITMIME (RFC 6152 3)" {
	[[ "$HEAD8" == 'From: <a@example.org>\nBody: 8BITMIME\nOrigin: trusted\nTo: '* ]]
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> Subject: caf\303\251
	>
	> \200\377\376 \351t\351
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD8}Subject: caf\303\251\r\n\r\n\200\377\376 \351t\351\r\n"
}

@test "undeclared 8-bit mail from a HELO client, and under BODY=7BIT, is labelled 8BITMIME" {
	smtpd_session "HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nSubject: x\r\n\r\nGr\303\274\303\237e\r\n.\r\nQUIT\r\n"
	assert_queued 'From: <a@example.org>\nBody: 8BITMIME\nOrigin: trusted\nTo: <b@example.net>\n\nReceived: from client.example (stdin)\r\n\tby mx.test (smtpd) with SMTP id ID\r\n\tfor <b@example.net>; DATE\r\nSubject: x\r\n\r\nGr\303\274\303\237e\r\n'
	rm "$(queued_file)"
	smtpd_session "EHLO client.example\r\nMAIL FROM:<> BODY=7BIT\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nSubject: \377\r\n\r\nx\r\n.\r\nQUIT\r\n"
	assert_queued 'From: <>\nBody: 8BITMIME\nOrigin: trusted\nTo: <b@example.net>\nTo: <c@example.net>\n\nReceived: from client.example (stdin)\r\n\tby mx.test (smtpd) with ESMTP id ID; DATE\r\nSubject: \377\r\n\r\nx\r\n'
}

@test "7-bit mail gets no Body: line, 8-bit mail declared 8BITMIME one" {
	smtpd_session "${START}Subject: plain\r\n\r\nascii \177 only\r\n.\r\nQUIT\r\n"
	assert_queued "${HEAD}Subject: plain\r\n\r\nascii \177 only\r\n"
	rm "$(queued_file)"
	smtpd_session "EHLO client.example\r\nMAIL FROM:<a@example.org> BODY=8BITMIME\r\nRCPT TO:<b@example.net>\r\nDATA\r\n\351\r\n.\r\nQUIT\r\n"
	assert_queued "${HEAD8}\351\r\n"
}

@test "a 3 MiB undeclared 8-bit message, its only 8-bit octet last, is labelled and stored byte for byte" {
	local msg=$BATS_TEST_TMPDIR/msg f
	python3 -c 'import sys; sys.stdout.buffer.write(b"Subject: big\r\n\r\n" + b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n" * 49152 + b"\xe9\r\n")' >"$msg"
	{ printf "$START"; cat "$msg"; printf '.\r\nQUIT\r\n'; } >"$BATS_TEST_TMPDIR/in"
	run bash -c '"$1" -q "$2" -n mx.test -l "$3" <"$4"' _ "$SMTPD" "$Q" "$LOG" "$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	{ printf "$HEAD8"; cat "$msg"; } >"$BATS_TEST_TMPDIR/want"
	assert_queued_file "$BATS_TEST_TMPDIR/want"
	assert_empty "$Q/tmp"
}

@test "QUIT, RSET and a lone dot with spaces inside DATA are message text" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> QUIT
	> RSET
	>| . \r\n
	>  .
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	assert_queued "${HEAD}QUIT\r\nRSET\r\n \r\n .\r\n"
}

@test "a 1 MiB line inside DATA is stored intact" {
	local in=$BATS_TEST_TMPDIR/session want=$BATS_TEST_TMPDIR/want line
	line=$BATS_TEST_TMPDIR/line
	head -c 1048576 /dev/zero | tr '\0' 'x' >"$line"
	{ printf -- "${START}Subject: long\r\n\r\n"; cat "$line"
	  printf '\r\nend\r\n.\r\nQUIT\r\n'; } >"$in"
	{ printf -- "${HEAD}Subject: long\r\n\r\n"; cat "$line"
	  printf '\r\nend\r\n'; } >"$want"
	smtpd_session_file "$in"
	assert_replies "${START_REPLIES[@]}" '250 2.0.0' '221 2.0.0'
	assert_queued_file "$want"
}

# Pipelining (RFC 2920).

@test "a big pipelined batch with two messages gets every reply, in order" {
	local in=$BATS_TEST_TMPDIR/session want=$BATS_TEST_TMPDIR/want
	# Over 64 KiB of commands and of replies: both buffers wrap.
	{
		printf 'EHLO client.example\r\n'
		printf 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\nfirst\r\n.\r\n'
		yes $'HELO client.example\r' | head -n 3200
		printf 'MAIL FROM:<d@example.org>\r\nRCPT TO:<e@example.net>\r\nDATA\r\nsecond\r\n.\r\n'
		printf 'VRFY x\r\nRSET\r\nQUIT\r\n'
	} >"$in"
	[ "$(stat -c %s "$in")" -gt 65536 ]
	# Each reply as its code and enhanced code.
	{
		printf '%s\n' '220 ' '250-' '250-' '250-' '250-' '250-' '250-' '250 ' \
		    '250 2.1.0' '250 2.1.5' '250 2.1.5' '354 ' '250 2.0.0'
		yes '250 ' | head -n 3200
		printf '%s\n' '250 2.1.0' '250 2.1.5' '354 ' '250 2.0.0' \
		    '502 5.5.1' '250 2.0.0' '221 2.0.0'
	} >"$want"
	smtpd_session_file "$in"
	assert_status 0
	replies | sed -E 's/^([0-9]{3}[ -])([245]\.[0-9]+\.[0-9]+)?.*/\1\2/' |
	    diff "$want" -
	[ "$(count_files "$Q/new")" -eq 2 ]
	grep -l -x $'first\r' "$Q"/new/* | xargs grep -qx 'From: <a@example.org>'
	grep -l -x $'second\r' "$Q"/new/* | xargs grep -qx 'From: <d@example.org>'
}

@test "two messages pipelined in one write are both queued, each with its envelope" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ data <a@example.org> <b@example.net>
	> one
	> .
	< 250 2.0.0
	> MAIL FROM:<c@example.org>
	< 250 2.1.0
	> RCPT TO:<d@example.net>
	< 250 2.1.5
	> RCPT TO:<e@example.net>
	< 250 2.1.5
	> DATA
	< 354 
	> two
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(count_files "$Q/new")" -eq 2 ]
	[ "$(sed '/^$/Q' "$(grep -l -x $'one\r' "$Q"/new/*)")" = "From: <a@example.org>
Origin: trusted
To: <b@example.net>" ]
	[ "$(sed '/^$/Q' "$(grep -l -x $'two\r' "$Q"/new/*)")" = "From: <c@example.org>
Origin: trusted
To: <d@example.net>
To: <e@example.net>" ]
}

@test "replies are flushed before smtpd waits for more input" {
	smtpd_start
	wait_for smtpd_replied '^220 '
	smtpd_send 'EHLO client.example\r\n'
	wait_for smtpd_replied '^250 HELP$'
	smtpd_send 'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
	wait_for smtpd_replied '^354 '
	smtpd_send 'hi\r\n.\r\n'
	wait_for smtpd_replied '^250 2.0.0 Ok: queued'
	smtpd_send 'QUIT\r\n'
	smtpd_wait_exit
	assert_status 0
	assert_replies "${START_REPLIES[@]}" '250 2.0.0' '221 2.0.0'
}

# The number of write(2) calls process $1 has made (Linux /proc).
writes_of() {
	sed -n 's/^syscw: //p' "/proc/$1/io"
}

@test "replies to a pipelined batch go out in one write" {
	local before after i
	for ((i = 0; i < 50; i++)); do printf 'NOOP\r\n'; done \
	    >"$BATS_TEST_TMPDIR/batch"
	smtpd_start
	wait_for smtpd_replied '^220 '
	before=$(writes_of "$SMTPD_PID")
	# one write(2) into the FIFO, so smtpd reads the batch at once
	cat "$BATS_TEST_TMPDIR/batch" >&"$SMTPD_FD"
	wait_for eval '[ "$(grep -c "^250 2.0.0" "$BATS_TEST_TMPDIR/out")" -eq 50 ]'
	after=$(writes_of "$SMTPD_PID")
	echo "writes: before $before, after $after" >&2
	[ $((after - before)) -eq 1 ]
	smtpd_send 'QUIT\r\n'
	smtpd_wait_exit
	assert_status 0
}
