#!/usr/bin/env bats
# smtpd against hostile and heavy clients (issue 11): trust that must not
# fail open, recipients past the limit, slow clients, sessions that never
# end, backscatter, a full disk, and log lines a client cannot forge.

load helpers

RELAY='HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'

# Trust: a launcher's variable that is set but unusable is an unknown,
# untrusted client, never a trusted pipe.

@test "REMOTE_ADDR that is set but not a bare address is untrusted: 554 5.7.1, logged peer=unknown trusted=no" {
	local addr
	for addr in '' unknown 203.0.113.5:4711 'fe80::1%eth0' \
	    '[2001:db8::5]' ' 192.0.2.1' '127.0.0.1 ' 127.0.0.1:25 localhost; do
		rm -f "$LOG"
		REMOTE_ADDR=$addr smtpd_session "$RELAY"
		assert_reply 4 "554 5.7.1" || { echo "REMOTE_ADDR='$addr'" >&2; return 1; }
		grep -q 'peer=unknown trusted=no result=connect' "$LOG"
		! grep -q 'trusted=yes' "$LOG"
	done
}

@test "TCPREMOTEIP that is set but not a bare address is untrusted" {
	local addr
	for addr in '' unknown '[::1]' '::1%lo'; do
		TCPREMOTEIP=$addr smtpd_session "$RELAY"
		assert_reply 4 "554 5.7.1" || { echo "TCPREMOTEIP='$addr'" >&2; return 1; }
	done
}

@test "a valid TCPREMOTEIP beside a bad REMOTE_ADDR, or two that disagree, is untrusted" {
	REMOTE_ADDR=bogus TCPREMOTEIP=127.0.0.1 smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=bogus smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=192.0.2.1 smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	# the same address twice is that address
	REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=127.0.0.1 smtpd_session "$RELAY"
	assert_reply 4 "250 2.1.5"
}

@test "an unusable REMOTE_ADDR inside a -R network's text is not matched by -R" {
	SMTPD_FLAGS=(-R 192.0.2.0/24)
	REMOTE_ADDR=192.0.2.5:25 smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	REMOTE_ADDR=192.0.2.5 smtpd_session "$RELAY"
	assert_reply 4 "250 2.1.5"
}
