#!/usr/bin/env bats
# smtpd: MAIL FROM and RCPT TO paths, ESMTP parameters, and relay control
# (smtpd(8): Addresses, Relay control).  A piped session is a
# trusted local client; REMOTE_ADDR or TCPREMOTEIP in the environment makes
# it a network client (common/net.c net_peer), trusted only by -R or
# loopback.

load helpers

# The envelope lines of the one queued file (before the blank line), but
# for the Origin: line, whose own tests are below.
envelope() {
	sed '/^$/Q' "$(queued_file)" | grep -v '^Origin: '
}

# One message from the given MAIL and RCPT arguments, accepted: every
# reply is asserted.
send_one() {
	smtpd_session "HELO client.example\r\nMAIL FROM:$1\r\nRCPT TO:$2\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '250 2.0.0' '221 2.0.0'
}

@test "MAIL FROM:<a@b> and RCPT TO:<c@d> are stored as envelope From: and To:" {
	send_one '<a@example.org>' '<b@example.net>'
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

@test "MAIL FROM: <a@b> and RCPT TO: <c@d>, a space before the path, are tolerated" {
	send_one ' <a@example.org>' ' <b@example.net>'
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

@test "bare MAIL FROM:a@b and RCPT TO:c@d, no angle brackets, are tolerated" {
	send_one 'a@example.org' 'b@example.net'
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

@test "MAIL FROM: a@b and RCPT TO: c@d, a space and no brackets, are tolerated" {
	send_one ' a@example.org' ' b@example.net'
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

@test "the null sender <> is accepted for MAIL and stored as From: <>" {
	send_one '<>' '<b@example.net>'
	[ "$(envelope)" = "From: <>
To: <b@example.net>" ]
}

@test "RCPT TO:<> is 501 5.1.3" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<>
	< 250 2.1.0
	> RCPT TO:<>
	< 501 5.1.3
	> QUIT
	< 221 2.0.0
	END
}

@test "RCPT TO:<postmaster> needs no domain, in any case" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<postmaster>
	< 250 2.1.5
	> RCPT TO:<PostMaster>
	< 250 2.1.5
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(envelope)" = "From: <a@example.org>
To: <postmaster@mx.test>" ]
}

@test "RCPT without @ is 501 5.1.3" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<root>
	< 501 5.1.3
	> RCPT TO:root
	< 501 5.1.3
	> RCPT TO:<postmasterx>
	< 501 5.1.3
	> QUIT
	< 221 2.0.0
	END
}

@test "MAIL without @ is 501 5.1.7, even for postmaster" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<root>
	< 501 5.1.7
	> MAIL FROM:root
	< 501 5.1.7
	> MAIL FROM:<postmaster>
	< 501 5.1.7
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> QUIT
	< 221 2.0.0
	END
}

@test "MAIL without FROM: and RCPT without TO: are 501 5.5.4" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL <a@example.org>
	< 501 5.5.4
	> MAIL
	< 501 5.5.4
	> MAIL TO:<a@example.org>
	< 501 5.5.4
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT <b@example.net>
	< 501 5.5.4
	> RCPT FROM:<b@example.net>
	< 501 5.5.4
	> QUIT
	< 221 2.0.0
	END
}

@test "malformed paths are 501 5.1.7 for MAIL and 501 5.1.3 for RCPT" {
	local bad
	for bad in '<a@example.org' 'a@example.org>' '<a@>' '<@example.org>' \
	    '<a..b@example.org>' '<.a@example.org>' '<a.@example.org>' \
	    '<a@example..org>' '<a@-example.org>' '<a@example-.org>' \
	    '<a@example.org.>' '<a b@example.org>' '<a@b@example.org>' \
	    '<"a@example.org>' '<a@[]>' '<a@example.org>x' '<<a@example.org>>' \
	    '<a@exa_mple.org>' '<@x.example:>' '<@x.example,a@example.org>' \
	    '<a\\@example.org>' ''; do
		smtpd_session "HELO client.example\r\nMAIL FROM:$bad\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:$bad\r\nQUIT\r\n"
		assert_replies '220 ' '250 mx.test' '501 5.1.7' '250 2.1.0' \
		    '501 5.1.3' '221 2.0.0'
	done
}

@test "addresses keep their case in the queue file" {
	send_one '<Alice.Smith@Example.ORG>' '<BOB@EXAMPLE.net>'
	[ "$(envelope)" = "From: <Alice.Smith@Example.ORG>
To: <BOB@EXAMPLE.net>" ]
}

@test "quoted local parts are accepted and kept as sent" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<"john doe"@example.org>
	< 250 2.1.0
	> RCPT TO:<"a>b\\"c"@example.net>
	< 250 2.1.5
	> RCPT TO:<"x@y"@example.net>
	< 250 2.1.5
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(envelope)" = 'From: <"john doe"@example.org>
To: <"a>b\"c"@example.net>
To: <"x@y"@example.net>' ]
}

@test "an address literal domain is accepted" {
	send_one '<a@[192.0.2.1]>' '<b@[IPv6:2001:db8::1]>'
	[ "$(envelope)" = "From: <a@[192.0.2.1]>
To: <b@[IPv6:2001:db8::1]>" ]
}

@test "a source route is accepted and dropped" {
	send_one '<@relay.example:a@example.org>' \
	    '<@one.example,@two.example:b@example.net>'
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

@test "a 64-octet local part is accepted, 65 octets are 501" {
	local l64 l65
	l64=$(printf 'l%.0s' {1..64})
	l65=${l64}x
	smtpd_session "HELO client.example\r\nMAIL FROM:<$l65@example.org>\r\nMAIL FROM:<$l64@example.org>\r\nRCPT TO:<$l65@example.net>\r\nRCPT TO:<$l64@example.net>\r\nQUIT\r\n"
	assert_replies '220 ' '250 mx.test' '501 5.1.7' '250 2.1.0' '501 5.1.3' \
	    '250 2.1.5' '221 2.0.0'
}

@test "a 256-octet path is accepted, 257 octets are 501" {
	local local64 domain189 domain190
	# RFC 5321 4.5.3.1.3: 256 octets with the angle brackets, so a
	# mailbox of 254 = 64 + "@" + 189.
	local64=$(printf 'l%.0s' {1..64})
	domain189=$(printf 'd%.0s' {1..60}).$(printf 'd%.0s' {1..60}).$(printf 'd%.0s' {1..59}).example
	domain190=x$domain189
	[ $(( ${#local64} + 1 + ${#domain189} )) -eq 254 ]
	smtpd_session "HELO client.example\r\nMAIL FROM:<$local64@$domain190>\r\nMAIL FROM:<$local64@$domain189>\r\nRCPT TO:<$local64@$domain190>\r\nRCPT TO:<$local64@$domain189>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
	assert_replies '220 ' '250 mx.test' '501 5.1.7' '250 2.1.0' '501 5.1.3' \
	    '250 2.1.5' '354 ' '250 2.0.0' '221 2.0.0'
	grep -qx "To: <$local64@$domain189>" "$(queued_file)"
}

@test "a repeated recipient is accepted and stored once" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> RCPT TO:<c@example.net>
	< 250 2.1.5
	> RCPT TO:b@example.net
	< 250 2.1.5
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>
To: <c@example.net>" ]
}

@test "postmaster in any case, bare or at a -d domain, is one recipient each" {
	SMTPD_FLAGS=(-d example.net)
	REMOTE_ADDR=192.0.2.1 transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<>
	< 250 2.1.0
	> RCPT TO:<postmaster@example.net>
	< 250 2.1.5
	> RCPT TO:<Postmaster@example.net>
	< 250 2.1.5
	> RCPT TO:<POSTMASTER@EXAMPLE.NET>
	< 250 2.1.5
	> RCPT TO:<postmaster>
	< 250 2.1.5
	> RCPT TO:<PostMaster>
	< 250 2.1.5
	> RCPT TO:<Bob@example.net>
	< 250 2.1.5
	> RCPT TO:<bob@Example.Net>
	< 250 2.1.5
	> RCPT TO:<BOB@example.net>
	< 250 2.1.5
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(envelope)" = "From: <>
To: <postmaster@example.net>
To: <postmaster@mx.test>
To: <Bob@example.net>" ]
}

@test "a local part elsewhere keeps its case, the domain does not" {
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<Bob@remote.example>\r\nRCPT TO:<bob@remote.example>\r\nRCPT TO:<Bob@REMOTE.example>\r\nRCPT TO:<POSTMASTER@remote.example>\r\nRCPT TO:<postmaster@remote.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	[ "$(envelope)" = "From: <a@example.org>
To: <Bob@remote.example>
To: <bob@remote.example>
To: <POSTMASTER@remote.example>" ]
}

# ESMTP parameters (RFC 1870 SIZE, RFC 6152 BODY).

@test "SIZE= at the limit is 250, one over it is 552 5.3.4 at MAIL" {
	SMTPD_FLAGS=(-s 1000)
	transcript <<-'END'
	@ greeting
	> EHLO client.example
	< 250-mx.test
	< 250-
	< 250-SIZE 1000
	< 250-
	< 250-
	< 250-
	< 250 HELP
	> MAIL FROM:<a@example.org> SIZE=1001
	< 552 5.3.4
	> MAIL FROM:<a@example.org> SIZE=1000
	< 250 2.1.0
	> QUIT
	< 221 2.0.0
	END
}

@test "SIZE= over the default 10 MiB limit is 552 5.3.4" {
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<a@example.org> SIZE=10485761\r\nMAIL FROM:<a@example.org> SIZE=10485760\r\nQUIT\r\n'
	assert_reply 9 '552 5.3.4'
	assert_reply 10 '250 2.1.0'
}

@test "SIZE= that is not a number is 501 5.5.4" {
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<a@example.org> SIZE=ten\r\nMAIL FROM:<a@example.org> SIZE=-1\r\nMAIL FROM:<a@example.org> SIZE=99999999999999999999999\r\nQUIT\r\n'
	assert_reply 9 '501 5.5.4'
	assert_reply 10 '501 5.5.4'
	assert_reply 11 '501 5.5.4'
}

@test "BODY=8BITMIME is stored as a Body: 8BITMIME envelope line" {
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<a@example.org> BODY=8BITMIME\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 9 '250 2.1.0'
	assert_reply 12 '250 2.0.0'
	[ "$(envelope)" = "From: <a@example.org>
Body: 8BITMIME
To: <b@example.net>" ]
}

@test "BODY=7BIT is accepted and adds no envelope line" {
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<a@example.org> BODY=7BIT\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 9 '250 2.1.0'
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

@test "Body: 8BITMIME belongs to one transaction only" {
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<a@example.org> BODY=8BITMIME\r\nRSET\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 14 '250 2.0.0'
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

@test "ESMTP parameters are case-insensitive and may come together" {
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<a@example.org> size=100  body=8bitmime\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 9 '250 2.1.0'
	grep -qx 'Body: 8BITMIME' "$(queued_file)"
}

@test "an unknown MAIL parameter is 555 5.5.4 and opens no transaction" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> MAIL FROM:<a@example.org> SMTPUTF8=yes
	< 555 5.5.4
	> MAIL FROM:<a@example.org> RET=HDRS
	< 555 5.5.4
	> MAIL FROM:<a@example.org> BODY=BINARYMIME
	< 555 5.5.4
	> MAIL FROM:<a@example.org> SIZE=10 AUTH=<>
	< 555 5.5.4
	> RCPT TO:<b@example.net>
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
}

@test "a RCPT parameter is 555 5.5.4 and the recipient is not added" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net> NOTIFY=NEVER
	< 555 5.5.4
	> DATA
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
}

# Relay control.

@test "a piped client is trusted and may relay anywhere" {
	send_one '<a@example.org>' '<b@elsewhere.example>'	# RCPT: 250 2.1.5
	grep -q 'peer=stdin trusted=yes' "$LOG"
}

@test "an untrusted client (REMOTE_ADDR) gets 554 5.7.1 Relay access denied for a foreign domain" {
	REMOTE_ADDR=192.0.2.1 transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@elsewhere.example>
	< 554 5.7.1 <b@elsewhere.example>: Relay access denied
	> DATA
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
	grep -q 'peer=192.0.2.1 trusted=no' "$LOG"
	assert_empty "$Q/new"
}

@test "an untrusted client (TCPREMOTEIP) gets 554 5.7.1 for a foreign domain" {
	TCPREMOTEIP=192.0.2.1 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	assert_reply 4 '554 5.7.1'
}

@test "a -d domain is accepted from an untrusted client, in any case" {
	SMTPD_FLAGS=(-d example.net -d other.example)
	REMOTE_ADDR=192.0.2.1 transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> RCPT TO:<c@EXAMPLE.Net>
	< 250 2.1.5
	> RCPT TO:<d@other.example>
	< 250 2.1.5
	> RCPT TO:<e@sub.example.net>
	< 554 5.7.1
	> RCPT TO:<f@example.network>
	< 554 5.7.1
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>
To: <c@EXAMPLE.Net>
To: <d@other.example>" ]
}

@test "a client inside a -R network is trusted, one outside it is not" {
	SMTPD_FLAGS=(-R 192.0.2.0/24)
	REMOTE_ADDR=192.0.2.200 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	assert_reply 4 '250 2.1.5'
	REMOTE_ADDR=192.0.3.1 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	assert_reply 4 '554 5.7.1'
}

@test "-R takes IPv6 networks and single addresses" {
	SMTPD_FLAGS=(-R 2001:db8::/32 -R 198.51.100.7)
	REMOTE_ADDR=2001:db8:1::25 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	assert_reply 4 '250 2.1.5'
	REMOTE_ADDR=2001:db9::25 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	assert_reply 4 '554 5.7.1'
	REMOTE_ADDR=198.51.100.7 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	assert_reply 4 '250 2.1.5'
	REMOTE_ADDR=198.51.100.8 smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
	assert_reply 4 '554 5.7.1'
}

@test "a loopback client is trusted" {
	local addr
	for addr in 127.0.0.1 127.1.2.3 ::1 ::ffff:127.0.0.1; do
		REMOTE_ADDR=$addr smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'
		assert_reply 4 '250 2.1.5'
	done
}

@test "postmaster is always accepted from an untrusted client" {
	REMOTE_ADDR=192.0.2.1 transcript <<-'END'
	@ greeting
	@ helo client.example
	@ send <a@example.org> <postmaster>
	> QUIT
	< 221 2.0.0
	END
}

@test "a relay refusal keeps the transaction: the accepted recipients are queued" {
	SMTPD_FLAGS=(-d example.net)
	REMOTE_ADDR=192.0.2.1 transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<x@elsewhere.example>
	< 554 5.7.1
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> RCPT TO:<y@elsewhere.example>
	< 554 5.7.1
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
}

# Origin: where a message came from, for what smtpsend does to our own
# mail only (masquerading, DKIM signing).
@test "mail from a trusted client is queued with Origin: trusted" {
	send_one '<a@example.org>' '<b@example.net>'
	sed '/^$/Q' "$(queued_file)" | grep -qx 'Origin: trusted'
}

@test "mail from outside is queued with no Origin: line" {
	SMTPD_FLAGS=(-d example.net)
	REMOTE_ADDR=192.0.2.1 send_one '<a@example.org>' '<b@example.net>'
	! grep -q '^Origin:' "$(queued_file)"
}

# SMTPUTF8 (RFC 6531): offered, UTF-8 paths only with it, valid UTF-8
# only (3.3), recorded in the envelope, UTF8SMTP in Received: (4.3).

@test "SMTPUTF8: UTF-8 sender and recipients are queued with Smtputf8: yes and Received: with UTF8SMTP" {
	SMTPD_FLAGS=(-d example.net)
	REMOTE_ADDR=192.0.2.1 transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> MAIL FROM:<jos\303\251@exampl\303\251.org> SMTPUTF8
	< 250 2.1.0
	> RCPT TO:<\303\261o\303\261o@example.net>
	< 250 2.1.5
	> RCPT TO:<\344\276\213\343\201\210@example.net>
	< 250 2.1.5
	> DATA
	< 354 
	> Subject: caf\303\251
	>
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	# the UTF-8 Subject: makes it 8-bit, labelled so though undeclared
	[ "$(envelope)" = "$(printf 'From: <jos\303\251@exampl\303\251.org>\nBody: 8BITMIME\nSmtputf8: yes\nTo: <\303\261o\303\261o@example.net>\nTo: <\344\276\213\343\201\210@example.net>')" ]
	grep -q $'^\tby mx.test (smtpd) with UTF8SMTP id ' "$(queued_file)"
	# the log escapes what is not ASCII
	grep -q 'from=<jos\\xc3\\xa9@exampl\\xc3\\xa9.org> rcpts=2 .*result=queued' "$LOG"
}

@test "SMTPUTF8 with ASCII addresses only still marks the message; UTF-8 in a quoted local part" {
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<a@example.org> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<b@example.net>\r\nRCPT TO:<"\344\276\213 x"@remote.example>\r\nDATA\r\nSubject: \303\251\r\n\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 9 '250 2.1.0'
	[ "$(envelope)" = "From: <a@example.org>
Body: 8BITMIME
Smtputf8: yes
To: <b@example.net>
To: <\"$(printf '\344\276\213') x\"@remote.example>" ]
	grep -q $'^\tby mx.test (smtpd) with UTF8SMTP id ' "$(queued_file)"
}

@test "a UTF-8 path without SMTPUTF8 is 553 5.6.7, at MAIL and at RCPT" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> MAIL FROM:<jos\303\251@example.org>
	< 553 5.6.7
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@caf\303\251.example>
	< 553 5.6.7
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	[ "$(envelope)" = "From: <a@example.org>
To: <b@example.net>" ]
	grep -q 'to=<b@caf\\xc3\\xa9.example> result=rejected: 553 5.6.7' "$LOG"
}

@test "after HELO there is no SMTPUTF8: the parameter is 555, a UTF-8 path 553" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org> SMTPUTF8
	< 555 5.5.4
	> MAIL FROM:<jos\303\251@example.org>
	< 553 5.6.7
	> QUIT
	< 221 2.0.0
	END
}

@test "SMTPUTF8: invalid UTF-8 is 501: overlong, surrogate, past U+10FFFF, cut short, lone continuation" {
	local bad
	for bad in '\300\257' '\340\200\257' '\355\240\200' '\364\220\200\200' \
	    '\365\200\200\200' '\303' '\251' '\377'; do
		smtpd_session "EHLO client.example\r\nMAIL FROM:<a${bad}b@example.org> SMTPUTF8\r\nMAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<a${bad}@example.net>\r\nRCPT TO:<b@x${bad}.example>\r\nQUIT\r\n"
		assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' \
		    '250-' '250-' '250 ' '501 5.1.7' '250 2.1.0' '501 5.1.3' \
		    '501 5.1.3' '221 2.0.0' || { echo "bytes $bad" >&2; return 1; }
	done
	assert_empty "$Q/new"
}

@test "SMTPUTF8: the 512-octet line limit counts octets" {
	local l2 rest
	# "MAIL FROM:<" 11 + local + "@example.org>" 13 + " SMTPUTF8" 9 +
	# " SIZE=" 6 + digits + CRLF 2 = 512 with 62 octets of local part
	# (31 two-octet characters) and 409 digits
	l2=$(for ((i = 0; i < 31; i++)); do printf '\303\251'; done)
	rest=$(printf '%0409d' 1)
	smtpd_session "EHLO client.example\r\nMAIL FROM:<$l2@example.org> SMTPUTF8 SIZE=$rest\r\nRSET\r\nMAIL FROM:<$l2@example.org> SMTPUTF8 SIZE=0$rest\r\nQUIT\r\n"
	assert_reply 9 '250 2.1.0'
	assert_reply 10 '250 2.0.0'
	assert_reply 11 '500 5.5.2'
	# the 64-octet local part limit counts octets too: 33 characters of
	# two octets are 66
	smtpd_session "EHLO client.example\r\nMAIL FROM:<$l2$(printf '\303\251\303\251')@example.org> SMTPUTF8\r\nQUIT\r\n"
	assert_reply 9 '501 5.1.7'
}

@test "SMTPUTF8 over TLS and with AUTH: Received: says UTF8SMTPS and UTF8SMTPSA" {
	load tls
	passwd_make
	export REMOTE_HOST=192.0.2.7
	SMTPD_FLAGS=(-E -d example.net -A "$CHECKPASSWORD,$PASSWD")
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<jos\303\251@example.org> SMTPUTF8\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	grep -q $'^\tby mx.test (smtpd) with UTF8SMTPS id ' "$(queued_file)"
	rm "$(queued_file)"
	smtpd_session "EHLO client.example\r\nAUTH PLAIN $(printf '\0alice\0s3cret' | base64 -w0)\r\nMAIL FROM:<jos\303\251@example.org> SMTPUTF8\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
	grep -q $'^\tby mx.test (smtpd) with UTF8SMTPSA id ' "$(queued_file)"
}

@test "what smtpd queued with SMTPUTF8, smtpsend reads and delivers to a UTF-8 mailbox" {
	SMTPD_FLAGS=(-d example.net)
	smtpd_session 'EHLO client.example\r\nMAIL FROM:<jos\303\251@example.org> SMTPUTF8\r\nRCPT TO:<J\303\270rn@example.net>\r\nDATA\r\nSubject: hei\r\n\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 12 '250 2.0.0'
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -d example.net -m "$BATS_TEST_TMPDIR/mail"
	[ "$status" -eq 0 ]
	assert_empty "$Q/failed"
	assert_empty "$Q/new"
	[ "$(count_files "$BATS_TEST_TMPDIR/mail/j$(printf '\303\270')rn/new")" -eq 1 ]
}

@test "smtpsend finds a UTF-8 envelope without Smtputf8: yes damaged" {
	mkdir -p "$Q/tmp" "$Q/new" "$Q/failed"
	printf 'From: <jos\303\251@example.org>\nTo: <b@example.net>\n\nSubject: x\r\n\r\nhi\r\n' >"$Q/new/1.M1P1.test"
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -d example.net -m "$BATS_TEST_TMPDIR/mail"
	[ -f "$Q/failed/1.M1P1.test" ]
	grep -q 'UTF-8 in the envelope without Smtputf8' "$LOG"
}
