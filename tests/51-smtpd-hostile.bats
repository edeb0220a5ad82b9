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

# Recipients past RCPT_MAX: 452 4.5.3, not an error (RFC 5321 4.5.3.1.10).

# smtplib_send N: Python's smtplib sends one message to N recipients at
# example.net through an smtpd on a socket pair; prints the number of
# refused recipients and their distinct codes, e.g. "50 452".
smtplib_send() {
	"$PYTHON" - "$1" "$SMTPD" "$Q" "$LOG" "${SMTPD_FLAGS[@]}" <<'PY'
import smtplib, socket, subprocess, sys
n = int(sys.argv[1])
ours, theirs = socket.socketpair()
proc = subprocess.Popen([sys.argv[2], "-q", sys.argv[3], "-n", "mx.test",
    "-l", sys.argv[4], "-d", "example.net"] + sys.argv[5:],
    stdin=theirs, stdout=theirs)
theirs.close()
ours.settimeout(30)
s = smtplib.SMTP()
s.sock = ours
s.file = None
code, _ = s.getreply()
assert code == 220, code
rcpts = ["r%d@example.net" % i for i in range(1, n + 1)]
refused = s.sendmail("a@example.org", rcpts, b"Subject: many\r\n\r\nhi\r\n")
s.quit()
proc.wait(30)
print(len(refused), " ".join(sorted({str(c) for c, _ in refused.values()})))
PY
}

@test "smtplib with 150 recipients: the first 100 are queued, 50 get 452 4.5.3" {
	run smtplib_send 150
	[ "$status" -eq 0 ]
	[ "$output" = "50 452" ]
	[ "$(grep -c '^To: ' "$(queued_file)")" -eq 100 ]
	grep -qx 'To: <r100@example.net>' "$(queued_file)"
	! grep -q 'r101@' "$(queued_file)"
}

@test "smtplib with 1,000 recipients: the first 100 are queued" {
	run smtplib_send 1000
	[ "$status" -eq 0 ]
	[ "$output" = "900 452" ]
	[ "$(grep -c '^To: ' "$(queued_file)")" -eq 100 ]
	grep -qx 'To: <r1@example.net>' "$(queued_file)"
}

@test "past RCPT_MAX + 1000 overshoot every 452 counts as an error again" {
	local i
	smtpd_session "HELO c.example\r\nMAIL FROM:<a@example.org>\r\n$(for ((i = 1; i <= 1120; i++)); do printf 'RCPT TO:<r%d@example.net>\\r\\n' $i; done)QUIT\r\n"
	[ "$(replies | grep -c '^452 4.5.3')" -eq 1020 ]
	replies | tail -n 1 | grep -q '^421 4.7.0'
}
