#!/usr/bin/env bats
# smtpd: every command, its reply code and enhanced code, and the state
# machine (DESIGN.md, smtpd: Commands, State, EHLO).  Sessions are piped in;
# stdin is a pipe, so the client is trusted.

load helpers

# One transaction up to the 354, used where the test is about what follows.
TXN='EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n'

@test "the greeting is 220 with the host name, QUIT is 221 2.0.0 and exit 0" {
	smtpd_session 'QUIT\r\n'
	assert_status 0
	assert_replies '220 mx.test ESMTP' '221 2.0.0 mx.test'
}

@test "every reply line ends in CRLF" {
	smtpd_session "${TXN}DATA\r\nhi\r\n.\r\nHELP\r\nNOOP\r\nRSET\r\nVRFY x\r\nBOGUS\r\nQUIT\r\n"
	assert_status 0
	assert_crlf_replies
	[ "$(replies | wc -l)" -eq 18 ]
}

@test "HELO is 250 with our host name" {
	smtpd_session 'HELO client.example\r\nQUIT\r\n'
	assert_replies '220 ' '250 mx.test' '221 2.0.0'
}

@test "EHLO is 250 and advertises PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, HELP" {
	smtpd_session 'EHLO client.example\r\nQUIT\r\n'
	assert_status 0
	[ "$(replies)" = "220 mx.test ESMTP smtpd
250-mx.test
250-PIPELINING
250-SIZE 10485760
250-8BITMIME
250-ENHANCEDSTATUSCODES
250-SMTPUTF8
250 HELP
221 2.0.0 mx.test closing connection" ]
}

@test "EHLO advertises the -s size limit" {
	SMTPD_FLAGS=(-s 1M)
	smtpd_session 'EHLO client.example\r\nQUIT\r\n'
	assert_reply 4 '250-SIZE 1048576'
}

@test "HELO and EHLO without a name are 501 5.5.4" {
	smtpd_session 'HELO\r\nEHLO\r\nEHLO \r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n'
	assert_replies '220 ' '501 5.5.4' '501 5.5.4' '501 5.5.4' '503 5.5.1' \
	    '221 2.0.0'
}

@test "MAIL is 250 2.1.0, RCPT 250 2.1.5, DATA 354, the final dot 250 2.0.0" {
	smtpd_session "${TXN}DATA\r\nhi\r\n.\r\nQUIT\r\n"
	assert_status 0
	assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 HELP' \
	    '250 2.1.0' '250 2.1.5' '354 ' '250 2.0.0 Ok: queued as ' '221 2.0.0'
	[ "$(count_files "$Q/new")" -eq 1 ]
}

@test "RSET is 250 2.0.0" {
	smtpd_session 'RSET\r\nHELO client.example\r\nRSET\r\nQUIT\r\n'
	assert_replies '220 ' '250 2.0.0' '250 mx.test' '250 2.0.0' '221 2.0.0'
}

@test "RSET with an argument is 501 5.5.4" {
	smtpd_session 'RSET now\r\nQUIT\r\n'
	assert_replies '220 ' '501 5.5.4' '221 2.0.0'
}

@test "NOOP is 250 2.0.0, with or without an argument" {
	smtpd_session 'NOOP\r\nNOOP anything at all\r\nQUIT\r\n'
	assert_replies '220 ' '250 2.0.0' '250 2.0.0' '221 2.0.0'
}

@test "HELP is 214 2.0.0, with or without an argument" {
	smtpd_session 'HELP\r\nHELP MAIL\r\nQUIT\r\n'
	assert_replies '220 ' '214 2.0.0' '214 2.0.0' '221 2.0.0'
}

@test "EXPN, VRFY, SOML, SAML, SEND and TURN are 502 5.5.1, before and after HELO" {
	smtpd_session 'EXPN staff\r\nVRFY root\r\nSOML FROM:<a@b.example>\r\nSAML FROM:<a@b.example>\r\nSEND FROM:<a@b.example>\r\nTURN\r\nHELO client.example\r\nEXPN staff\r\nVRFY root\r\nSOML FROM:<a@b.example>\r\nSAML FROM:<a@b.example>\r\nSEND FROM:<a@b.example>\r\nTURN\r\nQUIT\r\n'
	assert_status 0
	assert_replies '220 ' \
	    '502 5.5.1' '502 5.5.1' '502 5.5.1' '502 5.5.1' '502 5.5.1' '502 5.5.1' \
	    '250 mx.test' \
	    '502 5.5.1' '502 5.5.1' '502 5.5.1' '502 5.5.1' '502 5.5.1' '502 5.5.1' \
	    '221 2.0.0'
}

@test "an unknown command is 500 5.5.2" {
	smtpd_session 'BDAT 10 LAST\r\nSTARTTLSX\r\nMAILFROM:<a@b.example>\r\nHEL\r\nHELOO x\r\n\r\n   \r\nQUIT\r\n'
	assert_status 0
	assert_replies '220 ' '500 5.5.2' '500 5.5.2' '500 5.5.2' '500 5.5.2' \
	    '500 5.5.2' '500 5.5.2' '500 5.5.2' '221 2.0.0'
}

@test "a command line holding a NUL byte is 500 5.5.2" {
	smtpd_session 'NOOP\000x\r\nHELO client.example\000\r\nNOOP\r\n'
	assert_replies '220 ' '500 5.5.2' '500 5.5.2' '250 2.0.0'
}

@test "commands are case-insensitive" {
	smtpd_session 'ehlo client.example\r\nmail from:<a@example.org>\r\nrcpt to:<b@example.net>\r\ndata\r\nhi\r\n.\r\nrset\r\nnoop\r\nhelp\r\nvrfy x\r\nHeLo client.example\r\nMaIl FrOm:<a@example.org>\r\nrCpT tO:<b@example.net>\r\nDaTa\r\nho\r\n.\r\nquit\r\n'
	assert_status 0
	assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' '354 ' '250 2.0.0' \
	    '250 2.0.0' '250 2.0.0' '214 2.0.0' '502 5.5.1' \
	    '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' '250 2.0.0' '221 2.0.0'
	[ "$(count_files "$Q/new")" -eq 2 ]
}

@test "QUIT is 221 2.0.0 and exit 0 in every state" {
	local before
	for before in '' 'HELO client.example\r\n' \
	    'HELO client.example\r\nMAIL FROM:<a@example.org>\r\n' \
	    "$TXN" "${TXN}DATA\r\nhi\r\n.\r\n" \
	    'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<nobody>\r\n'; do
		smtpd_session "${before}QUIT\r\n"
		assert_status 0
		[[ "$(replies | tail -n 1)" == "221 2.0.0 mx.test"* ]]
	done
}

@test "QUIT ends the session: pipelined commands after it are not answered" {
	smtpd_session 'QUIT\r\nNOOP\r\nHELO client.example\r\n'
	assert_status 0
	assert_replies '220 ' '221 2.0.0'
}

@test "end of input between commands ends the session with exit 0" {
	smtpd_session 'HELO client.example\r\nNOOP\r\n'
	assert_status 0
	assert_replies '220 ' '250 mx.test' '250 2.0.0'
}

# The state machine.

@test "MAIL before HELO/EHLO is 503 5.5.1" {
	smtpd_session 'MAIL FROM:<a@example.org>\r\nQUIT\r\n'
	assert_replies '220 ' '503 5.5.1' '221 2.0.0'
}

@test "RCPT and DATA before HELO/EHLO are 503 5.5.1" {
	smtpd_session 'RCPT TO:<b@example.net>\r\nDATA\r\nQUIT\r\n'
	assert_replies '220 ' '503 5.5.1' '503 5.5.1' '221 2.0.0'
}

@test "RCPT before MAIL is 503 5.5.1" {
	smtpd_session 'HELO client.example\r\nRCPT TO:<b@example.net>\r\nQUIT\r\n'
	assert_replies '220 ' '250 mx.test' '503 5.5.1' '221 2.0.0'
}

@test "DATA before RCPT is 503 5.5.1" {
	smtpd_session 'HELO client.example\r\nDATA\r\nMAIL FROM:<a@example.org>\r\nDATA\r\nQUIT\r\n'
	assert_replies '220 ' '250 mx.test' '503 5.5.1' '250 2.1.0' '503 5.5.1' \
	    '221 2.0.0'
}

@test "DATA after only failed RCPTs is 503 5.5.1" {
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<nobody>\r\nRCPT TO:<>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '501 5.1.3' '501 5.1.3' \
	    '503 5.5.1' '500 5.5.2' '500 5.5.2' '221 2.0.0'
	assert_empty "$Q/new"
}

@test "a second MAIL inside a transaction is 503 5.5.1, and the first stands" {
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nMAIL FROM:<other@example.org>\r\nRCPT TO:<b@example.net>\r\nMAIL FROM:<other@example.org>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '503 5.5.1' '250 2.1.5' \
	    '503 5.5.1' '354 ' '250 2.0.0' '221 2.0.0'
	grep -qx 'From: <a@example.org>' "$(queued_file)"
}

@test "RSET goes back to the greeted state" {
	smtpd_session "${TXN}RSET\r\nRCPT TO:<b@example.net>\r\nDATA\r\nMAIL FROM:<c@example.org>\r\nQUIT\r\n"
	assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' '250 2.0.0' '503 5.5.1' '503 5.5.1' \
	    '250 2.1.0' '221 2.0.0'
	assert_empty "$Q/new"
}

@test "RSET before HELO/EHLO does not greet" {
	smtpd_session 'RSET\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n'
	assert_replies '220 ' '250 2.0.0' '503 5.5.1' '221 2.0.0'
}

@test "the end of DATA goes back to the greeted state" {
	smtpd_session "${TXN}DATA\r\nhi\r\n.\r\nRCPT TO:<b@example.net>\r\nDATA\r\nMAIL FROM:<c@example.org>\r\nQUIT\r\n"
	assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' '354 ' '250 2.0.0' '503 5.5.1' '503 5.5.1' \
	    '250 2.1.0' '221 2.0.0'
}

@test "a repeated EHLO is accepted and resets the transaction" {
	smtpd_session "${TXN}EHLO again.example\r\nDATA\r\nRCPT TO:<b@example.net>\r\nMAIL FROM:<c@example.org>\r\nQUIT\r\n"
	assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' \
	    '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '503 5.5.1' '503 5.5.1' '250 2.1.0' '221 2.0.0'
}

@test "a repeated HELO is accepted and resets the transaction" {
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nHELO again.example\r\nDATA\r\nRCPT TO:<b@example.net>\r\nMAIL FROM:<c@example.org>\r\nQUIT\r\n'
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' \
	    '250 mx.test' '503 5.5.1' '503 5.5.1' '250 2.1.0' '221 2.0.0'
}

@test "HELP and NOOP never change the state" {
	# before HELO: still no MAIL
	smtpd_session 'NOOP\r\nHELP\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n'
	assert_replies '220 ' '250 2.0.0' '214 2.0.0' '503 5.5.1' '221 2.0.0'
	# after MAIL: still in the transaction (no second MAIL, RCPT goes on)
	smtpd_session 'HELO client.example\r\nMAIL FROM:<a@example.org>\r\nNOOP\r\nHELP\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nQUIT\r\n'
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.0.0' '214 2.0.0' \
	    '503 5.5.1' '250 2.1.5' '221 2.0.0'
	# after RCPT: DATA still allowed, and the recipient kept
	smtpd_session "${TXN}NOOP\r\nHELP\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
	assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' '250 2.0.0' '214 2.0.0' '354 ' '250 2.0.0' \
	    '221 2.0.0'
	grep -qx 'To: <b@example.net>' "$(queued_file)"
}

@test "DATA with an argument is 501 5.5.4 and the transaction stays open" {
	smtpd_session "${TXN}DATA now\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
	assert_replies '220 ' '250-mx.test' '250-' '250-' '250-' '250-' '250-' '250 ' \
	    '250 2.1.0' '250 2.1.5' '501 5.5.4' '354 ' '250 2.0.0' '221 2.0.0'
}
