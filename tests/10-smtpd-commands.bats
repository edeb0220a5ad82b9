#!/usr/bin/env bats
# smtpd: every command, its reply code and enhanced code, and the state
# machine (smtpd(8): Commands, State, EHLO).  Each session is a
# transcript (tests/transcript says how to read one): "> " what the client
# sends, "< " what smtpd's reply line starts with, every reply listed and
# each ending in CRLF, smtpd's exit status 0; "@ " an exchange written
# once in tests/transcript (@ greeting, @ helo, @ ehlo with smtpd's whole
# default reply, @ data and @ send a transaction), spelt out below only
# where a test is about it.  The client's lines go in at once, as a
# pipelining client's would.  Sessions are piped in; stdin is a pipe, so
# the client is trusted.

load helpers

@test "the greeting is 220 with the host name, QUIT is 221 2.0.0 and exit 0" {
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> QUIT
	< 221 2.0.0 mx.test
	END
}

@test "every reply line ends in CRLF" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ send <a@example.org> <b@example.net>
	> HELP
	< 214 2.0.0
	> NOOP
	< 250 2.0.0
	> RSET
	< 250 2.0.0
	> VRFY x
	< 502 5.5.1
	> BOGUS
	< 500 5.5.2
	> QUIT
	< 221 2.0.0
	END
	[ "$(replies | wc -l)" -eq 18 ]
}

@test "HELO is 250 with our host name" {
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> HELO client.example
	< 250 mx.test
	> QUIT
	< 221 2.0.0
	END
}

@test "EHLO is 250 and advertises PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, SMTPUTF8, HELP" {
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> EHLO client.example
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 10485760
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250 HELP
	> QUIT
	< 221 2.0.0 mx.test closing connection
	END
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
	transcript <<-'END'
	! -s 1M
	@ greeting
	> EHLO client.example
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 1048576
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250 HELP
	> QUIT
	< 221 2.0.0
	END
	# (the default's "250-SIZE 10485760" starts with "250-SIZE 1048576")
	[ "$(replies | sed -n 4p)" = '250-SIZE 1048576' ]
}

@test "HELO and EHLO without a name are 501 5.5.4" {
	transcript <<-'END'
	@ greeting
	> HELO
	< 501 5.5.4
	> EHLO
	< 501 5.5.4
	> EHLO 
	< 501 5.5.4
	> MAIL FROM:<a@example.org>
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
}

@test "MAIL is 250 2.1.0, RCPT 250 2.1.5, DATA 354, the final dot 250 2.0.0" {
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> EHLO client.example
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 10485760
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250 HELP
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0 Ok: queued as 
	> QUIT
	< 221 2.0.0
	END
	[ "$(count_files "$Q/new")" -eq 1 ]
}

@test "RSET is 250 2.0.0" {
	transcript <<-'END'
	@ greeting
	> RSET
	< 250 2.0.0
	@ helo client.example
	> RSET
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
}

@test "RSET with an argument is 501 5.5.4" {
	transcript <<-'END'
	@ greeting
	> RSET now
	< 501 5.5.4
	> QUIT
	< 221 2.0.0
	END
}

@test "NOOP is 250 2.0.0, with or without an argument" {
	transcript <<-'END'
	@ greeting
	> NOOP
	< 250 2.0.0
	> NOOP anything at all
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
}

@test "HELP is 214 2.0.0, with or without an argument" {
	transcript <<-'END'
	@ greeting
	> HELP
	< 214 2.0.0
	> HELP MAIL
	< 214 2.0.0
	> QUIT
	< 221 2.0.0
	END
}

@test "EXPN, VRFY, SOML, SAML, SEND and TURN are 502 5.5.1, before and after HELO" {
	transcript <<-'END'
	@ greeting
	> EXPN staff
	< 502 5.5.1 Error: EXPN not implemented
	> VRFY root
	< 502 5.5.1 Error: VRFY not implemented
	> SOML FROM:<a@b.example>
	< 502 5.5.1 Error: SOML not implemented
	> SAML FROM:<a@b.example>
	< 502 5.5.1 Error: SAML not implemented
	> SEND FROM:<a@b.example>
	< 502 5.5.1 Error: SEND not implemented
	> TURN
	< 502 5.5.1 Error: TURN not implemented
	@ helo client.example
	> EXPN staff
	< 502 5.5.1 Error: EXPN not implemented
	> VRFY root
	< 502 5.5.1 Error: VRFY not implemented
	> SOML FROM:<a@b.example>
	< 502 5.5.1 Error: SOML not implemented
	> SAML FROM:<a@b.example>
	< 502 5.5.1 Error: SAML not implemented
	> SEND FROM:<a@b.example>
	< 502 5.5.1 Error: SEND not implemented
	> TURN
	< 502 5.5.1 Error: TURN not implemented
	> QUIT
	< 221 2.0.0
	END
}

@test "an unknown command is 500 5.5.2" {
	transcript <<-'END'
	@ greeting
	> BDAT 10 LAST
	< 500 5.5.2
	> STARTTLSX
	< 500 5.5.2
	> MAILFROM:<a@b.example>
	< 500 5.5.2
	> HEL
	< 500 5.5.2
	> HELOO x
	< 500 5.5.2
	>
	< 500 5.5.2
	>    
	< 500 5.5.2
	> QUIT
	< 221 2.0.0
	END
}

@test "a command line holding a NUL byte is 500 5.5.2" {
	transcript <<-'END'
	@ greeting
	> NOOP\000x
	< 500 5.5.2
	> HELO client.example\000
	< 500 5.5.2
	> NOOP
	< 250 2.0.0
	END
}

@test "commands are case-insensitive" {
	transcript <<-'END'
	@ greeting
	> ehlo client.example
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 10485760
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250 HELP
	> mail from:<a@example.org>
	< 250 2.1.0
	> rcpt to:<b@example.net>
	< 250 2.1.5
	> data
	< 354 
	> hi
	> .
	< 250 2.0.0
	> rset
	< 250 2.0.0
	> noop
	< 250 2.0.0
	> help
	< 214 2.0.0
	> vrfy x
	< 502 5.5.1
	> HeLo client.example
	< 250 mx.test
	> MaIl FrOm:<a@example.org>
	< 250 2.1.0
	> rCpT tO:<b@example.net>
	< 250 2.1.5
	> DaTa
	< 354 
	> ho
	> .
	< 250 2.0.0
	> quit
	< 221 2.0.0
	END
	[ "$(count_files "$Q/new")" -eq 2 ]
}

# One transaction up to the 354, for the loop below.
TXN='EHLO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n'

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
	transcript <<-'END'
	@ greeting
	> QUIT
	< 221 2.0.0
	> NOOP
	> HELO client.example
	END
}

@test "end of input between commands ends the session with exit 0" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> NOOP
	< 250 2.0.0
	END
}

# The state machine.

@test "MAIL before HELO/EHLO is 503 5.5.1" {
	transcript <<-'END'
	@ greeting
	> MAIL FROM:<a@example.org>
	< 503 5.5.1 Error: send HELO/EHLO first
	> QUIT
	< 221 2.0.0
	END
}

@test "RCPT and DATA before HELO/EHLO are 503 5.5.1" {
	transcript <<-'END'
	@ greeting
	> RCPT TO:<b@example.net>
	< 503 5.5.1
	> DATA
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
}

@test "RCPT before MAIL is 503 5.5.1" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> RCPT TO:<b@example.net>
	< 503 5.5.1 Error: need MAIL command
	> QUIT
	< 221 2.0.0
	END
}

@test "DATA before RCPT is 503 5.5.1" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> DATA
	< 503 5.5.1
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> DATA
	< 503 5.5.1 Error: need RCPT command
	> QUIT
	< 221 2.0.0
	END
}

@test "DATA after only failed RCPTs is 503 5.5.1" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<nobody>
	< 501 5.1.3
	> RCPT TO:<>
	< 501 5.1.3
	> DATA
	< 503 5.5.1
	# no 354: what was to be the message is commands, unknown ones
	> hi
	< 500 5.5.2
	> .
	< 500 5.5.2
	> QUIT
	< 221 2.0.0
	END
	assert_empty "$Q/new"
}

@test "a second MAIL inside a transaction is 503 5.5.1, and the first stands" {
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> MAIL FROM:<other@example.org>
	< 503 5.5.1 Error: nested MAIL command
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> MAIL FROM:<other@example.org>
	< 503 5.5.1
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	grep -qx 'From: <a@example.org>' "$(queued_file)"
}

@test "RSET goes back to the greeted state" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> RSET
	< 250 2.0.0
	> RCPT TO:<b@example.net>
	< 503 5.5.1
	> DATA
	< 503 5.5.1
	> MAIL FROM:<c@example.org>
	< 250 2.1.0
	> QUIT
	< 221 2.0.0
	END
	assert_empty "$Q/new"
}

@test "RSET before HELO/EHLO does not greet" {
	transcript <<-'END'
	@ greeting
	> RSET
	< 250 2.0.0
	> MAIL FROM:<a@example.org>
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
}

@test "the end of DATA goes back to the greeted state" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	@ send <a@example.org> <b@example.net>
	> RCPT TO:<b@example.net>
	< 503 5.5.1
	> DATA
	< 503 5.5.1
	> MAIL FROM:<c@example.org>
	< 250 2.1.0
	> QUIT
	< 221 2.0.0
	END
}

# A transaction cut short by a second greeting; $1 is ehlo or helo.
greeted_twice() {
	transcript <<-END
	@ greeting
	@ $1 client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	@ $1 again.example
	> DATA
	< 503 5.5.1
	> RCPT TO:<b@example.net>
	< 503 5.5.1
	> MAIL FROM:<c@example.org>
	< 250 2.1.0
	> QUIT
	< 221 2.0.0
	END
}

@test "a repeated EHLO is accepted and resets the transaction" {
	greeted_twice ehlo
}

@test "a repeated HELO is accepted and resets the transaction" {
	greeted_twice helo
}

@test "HELP and NOOP never change the state" {
	# before HELO: still no MAIL
	transcript <<-'END'
	@ greeting
	> NOOP
	< 250 2.0.0
	> HELP
	< 214 2.0.0
	> MAIL FROM:<a@example.org>
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
	# after MAIL: still in the transaction (no second MAIL, RCPT goes on)
	transcript <<-'END'
	@ greeting
	@ helo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> NOOP
	< 250 2.0.0
	> HELP
	< 214 2.0.0
	> MAIL FROM:<a@example.org>
	< 503 5.5.1
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> QUIT
	< 221 2.0.0
	END
	# after RCPT: DATA still allowed, and the recipient kept
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> NOOP
	< 250 2.0.0
	> HELP
	< 214 2.0.0
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
	grep -qx 'To: <b@example.net>' "$(queued_file)"
}

@test "DATA with an argument is 501 5.5.4 and the transaction stays open" {
	transcript <<-'END'
	@ greeting
	@ ehlo client.example
	> MAIL FROM:<a@example.org>
	< 250 2.1.0
	> RCPT TO:<b@example.net>
	< 250 2.1.5
	> DATA now
	< 501 5.5.4
	> DATA
	< 354 
	> hi
	> .
	< 250 2.0.0
	> QUIT
	< 221 2.0.0
	END
}
