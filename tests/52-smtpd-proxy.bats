#!/usr/bin/env bats
# smtpd -P: the PROXY protocol header of a load balancer (HAProxy's v1
# text, v2 binary) read before the greeting.  The socket's peer is set as
# the launchers set it (REMOTE_ADDR for a pipe), or is a real TCP peer on
# 127.0.0.1 / ::1 through systemd-socket-activate.  The address in the
# header is the client for trust, relay control, logs and Received:;
# anything else from a -P peer is refused with 421 and never a session.

# A long suite (about 45 s under ASan): tests/run starts it first.
# tests/run: early

load helpers

setup() {
	unset REMOTE_ADDR TCPREMOTEIP
	SMTPD_FLAGS=(-P 127.0.0.1,192.0.2.0/24)
	LAUNCHER_FLAGS=()
	sanitizer_env_flags
}

teardown() {
	smtpd_cleanup
	launch_stop
}

RELAYED='EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nDATA\r\nSubject: t\r\n\r\nhi\r\n.\r\nQUIT\r\n'

# proxy_v2 FILE COMMAND [FAMILY SRC DST SPORT DPORT [TLV-HEX]]: writes a v2
# header to FILE; COMMAND 0 LOCAL, 1 PROXY; FAMILY 0x11 TCP4, 0x21 TCP6,
# 0x00 unspecified.  LENGTH=n overrides the length field.
proxy_v2() {
	"$PYTHON" - "$@" <<'EOF'
import ipaddress, os, sys
a = sys.argv[1:]
body = b""
fam = int(a[2], 0) if len(a) > 2 else 0
if len(a) > 3:
    body = (ipaddress.ip_address(a[3]).packed + ipaddress.ip_address(a[4]).packed
            + int(a[5]).to_bytes(2, "big") + int(a[6]).to_bytes(2, "big"))
if len(a) > 7:
    body += bytes.fromhex(a[7])
n = int(os.environ.get("LENGTH", len(body)))
with open(a[0], "wb") as f:
    f.write(b"\r\n\r\n\0\r\nQUIT\n" + bytes([0x20 | int(a[1]), fam])
            + n.to_bytes(2, "big") + body)
EOF
}

# session_after FILE FORMAT: one session whose input is FILE's bytes, then
# the printf FORMAT's.
session_after() {
	cp "$1" "$BATS_TEST_TMPDIR/input"
	printf -- "$2" >>"$BATS_TEST_TMPDIR/input"
	smtpd_session_file "$BATS_TEST_TMPDIR/input"
}

# The Received: "from" line of the only queued message.
received_from() {
	grep -a -m1 '^Received: from ' "$(queued_file)" | tr -d '\r'
}

@test "v1 TCP4 from a -P peer: the client in it is the peer, not trusted for being behind loopback's balancer" {
	export REMOTE_ADDR=127.0.0.1
	smtpd_session "PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\n$RELAYED"
	assert_status 0
	assert_replies '220 ' '250-mx.test' '250-PIPELINING' '250-SIZE' \
	    '250-8BITMIME' '250-ENHANCEDSTATUSCODES' '250-SMTPUTF8' '250 HELP' '250 2.1.0' \
	    '554 5.7.1 <b@elsewhere.example>: Relay access denied' \
	    '503 5.5.1' '500 5.5.2' '500 5.5.2' '500 5.5.2' '500 5.5.2' \
	    '221 2.0.0'
	grep -q 'peer=198.51.100.7 proxy=127.0.0.1 trusted=no result=connect' "$LOG"
	grep -q 'peer=198.51.100.7 .*to=<b@elsewhere.example> result=rejected: 554' "$LOG"
	assert_empty "$Q/new"
}

@test "v1 TCP4: -R trusts the client's network, and Received: names the client" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-R 198.51.100.0/24)
	smtpd_session "PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\r\n$RELAYED"
	assert_reply 10 '250 2.1.5'
	assert_reply 12 '250 2.0.0 Ok: queued'
	[ "$(received_from)" = 'Received: from client.test ([198.51.100.7])' ]
	grep -q 'peer=198.51.100.7 proxy=127.0.0.1 trusted=yes result=connect' "$LOG"
}

@test "v1 TCP4 with loopback in it is trusted as a direct loopback client is" {
	export REMOTE_ADDR=192.0.2.1
	smtpd_session "PROXY TCP4 127.0.0.1 192.0.2.1 40000 25\r\n$RELAYED"
	assert_reply 12 '250 2.0.0 Ok: queued'
	grep -q 'peer=127.0.0.1 proxy=192.0.2.1 trusted=yes' "$LOG"
}

@test "-P does not make a client trusted by itself: a balancer's client is not the balancer" {
	export REMOTE_ADDR=192.0.2.1
	SMTPD_FLAGS+=(-R 192.0.2.0/24)
	smtpd_session "PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\n$RELAYED"
	assert_reply 10 '554 5.7.1'
	grep -q 'peer=203.0.113.9 proxy=192.0.2.1 trusted=no' "$LOG"
	assert_empty "$Q/new"
}

@test "v1 TCP6: the IPv6 client in the log and Received:" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-R 2001:db8::/32)
	smtpd_session "PROXY TCP6 2001:db8::7 ::1 40000 25\r\n$RELAYED"
	assert_reply 12 '250 2.0.0 Ok: queued'
	[ "$(received_from)" = 'Received: from client.test ([IPv6:2001:db8::7])' ]
	grep -q 'peer=2001:db8::7 proxy=127.0.0.1 trusted=yes' "$LOG"
}

@test "v1 UNKNOWN: the socket's address in the log, trusted for nothing" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-R 127.0.0.1)
	smtpd_session "PROXY UNKNOWN\r\n$RELAYED"
	assert_reply 10 '554 5.7.1'
	grep -q 'peer=127.0.0.1 proxy=unknown trusted=no result=connect' "$LOG"
	assert_empty "$Q/new"
}

@test "v2 TCP4 with TLVs: the client is the peer" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-R 198.51.100.7)
	# TLVs: ALPN "smtp", an empty NOOP, a unique id
	proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x11 198.51.100.7 127.0.0.1 40000 25 \
	    0100047365747004000005000461626364
	session_after "$BATS_TEST_TMPDIR/h" "$RELAYED"
	assert_reply 1 '220 mx.test ESMTP'
	assert_reply 12 '250 2.0.0 Ok: queued'
	[ "$(received_from)" = 'Received: from client.test ([198.51.100.7])' ]
}

@test "v2 TCP6: the IPv6 client, not trusted unless -R says so" {
	export REMOTE_ADDR=192.0.2.1
	proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x21 2001:db8::7 2001:db8::1 40000 25
	session_after "$BATS_TEST_TMPDIR/h" "$RELAYED"
	assert_reply 10 '554 5.7.1'
	grep -q 'peer=2001:db8::7 proxy=192.0.2.1 trusted=no' "$LOG"
}

@test "v2 TCP6 with a v4-mapped client is that IPv4 client" {
	export REMOTE_ADDR=192.0.2.1
	proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x21 ::ffff:198.51.100.7 ::1 40000 25
	session_after "$BATS_TEST_TMPDIR/h" 'QUIT\r\n'
	assert_replies '220 ' '221 2.0.0'
	grep -q 'peer=198.51.100.7 proxy=192.0.2.1 trusted=no' "$LOG"
}

@test "v2 LOCAL (a health check): the socket's address, never trusted, loopback and -R or not" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-R 127.0.0.0/8)
	proxy_v2 "$BATS_TEST_TMPDIR/h" 0
	session_after "$BATS_TEST_TMPDIR/h" "$RELAYED"
	assert_reply 10 '554 5.7.1'
	grep -q 'peer=127.0.0.1 proxy=local trusted=no result=connect' "$LOG"
	assert_empty "$Q/new"
}

@test "v2 PROXY with an unspecified family is like UNKNOWN" {
	export REMOTE_ADDR=127.0.0.1
	proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x00
	session_after "$BATS_TEST_TMPDIR/h" "$RELAYED"
	assert_reply 10 '554 5.7.1'
	grep -q 'peer=127.0.0.1 proxy=unknown trusted=no' "$LOG"
}

@test "a -P peer that sends SMTP instead of a header: 421 4.7.0, no greeting, no session" {
	export REMOTE_ADDR=127.0.0.1
	smtpd_session "$RELAYED"
	assert_status 0
	assert_replies '421 4.7.0 mx.test Error: PROXY header expected'
	grep -q 'peer=127.0.0.1 result=refused: PROXY header expected' "$LOG"
	refute grep -q 'result=connect' "$LOG"
	assert_empty "$Q/new"
}

@test "malformed v1 headers: 421 4.7.0, never a session" {
	export REMOTE_ADDR=127.0.0.1
	local h
	for h in 'PROXY TCP4 198.51.100.7 127.0.0.1 40000 25\n' \
	    'PROXY TCP4 198.51.100.7  127.0.0.1 40000 25\r\n' \
	    'PROXY TCP4 2001:db8::7 127.0.0.1 40000 25\r\n' \
	    'PROXY TCP5 198.51.100.7 127.0.0.1 40000 25\r\n' \
	    'PROXY TCP4 198.51.100.7 127.0.0.1 40000 025\r\n' \
	    'proxy TCP4 198.51.100.7 127.0.0.1 40000 25\r\n'; do
		smtpd_session "$h$RELAYED"
		assert_replies '421 4.7.0 mx.test Error: PROXY header expected'
	done
	[ "$(grep -c 'result=refused: PROXY header expected' "$LOG")" -eq 6 ]
	refute grep -q 'result=connect' "$LOG"
}

@test "v1 header at its bound of 107 octets is one; 108 without an end is refused" {
	export REMOTE_ADDR=127.0.0.1
	local pad
	pad=$(printf '%*s' 90 '' | tr ' ' x)
	# "PROXY UNKNOWN " (14) + 91 + CRLF = 107
	smtpd_session "PROXY UNKNOWN x${pad}\r\nQUIT\r\n"
	assert_replies '220 ' '221 2.0.0'
	smtpd_session "PROXY UNKNOWN xx${pad}\r\nQUIT\r\n"
	assert_replies '421 4.7.0 mx.test Error: PROXY header expected'
}

@test "v2 with a bad length: over the bound, or too short for its addresses: 421 4.7.0" {
	export REMOTE_ADDR=127.0.0.1
	LENGTH=65535 proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x11 198.51.100.7 127.0.0.1 1 25
	session_after "$BATS_TEST_TMPDIR/h" "$RELAYED"
	assert_replies '421 4.7.0 mx.test Error: PROXY header expected'
	LENGTH=8 proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x11 198.51.100.7 127.0.0.1 1 25
	session_after "$BATS_TEST_TMPDIR/h" "$RELAYED"
	assert_replies '421 4.7.0 mx.test Error: PROXY header expected'
	# TLVs that do not tile the rest: one says 9 bytes, 2 follow
	proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x11 198.51.100.7 127.0.0.1 1 25 \
	    0400096161
	session_after "$BATS_TEST_TMPDIR/h" "$RELAYED"
	assert_replies '421 4.7.0 mx.test Error: PROXY header expected'
	refute grep -q 'result=connect' "$LOG"
}

@test "a truncated header then end of input: no session, logged" {
	export REMOTE_ADDR=127.0.0.1
	smtpd_session 'PROXY TCP4 198.51.100.7 127.0.0.1 40000'
	assert_status 0
	[ -z "$output" ]
	LENGTH=40 proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x11 198.51.100.7 127.0.0.1 1 25
	session_after "$BATS_TEST_TMPDIR/h" ''
	[ -z "$output" ]
	[ "$(grep -c 'peer=127.0.0.1 result=lost connection in PROXY header' "$LOG")" -eq 2 ]
	refute grep -q 'result=connect' "$LOG"
}

@test "a header that does not come in time (-t 2): 421 4.4.2 within the bound" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-t 2)
	smtpd_start
	smtpd_send 'PROXY TCP4 198.51.100.7'
	WAIT_SECONDS=$((8 * SLOWDOWN)) smtpd_wait_exit
	assert_replies '421 4.4.2 mx.test Error: timeout waiting for PROXY header'
	grep -q 'peer=127.0.0.1 result=refused: timeout waiting for PROXY header' "$LOG"
}

@test "the header's deadline is 10 s even with a long -t" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-t 300)
	smtpd_start
	smtpd_send '\r\n\r\n'
	WAIT_SECONDS=$((14 * SLOWDOWN)) smtpd_wait_exit
	assert_replies '421 4.4.2 mx.test Error: timeout waiting for PROXY header'
}

@test "SMTP in the same write as the header is answered in order after the greeting" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-R 198.51.100.7)
	proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x11 198.51.100.7 127.0.0.1 1 25
	session_after "$BATS_TEST_TMPDIR/h" 'NOOP\r\nQUIT\r\n'
	assert_replies '220 ' '250 2.0.0' '221 2.0.0'
}

@test "from outside -P a PROXY line is a bad command after the greeting, and changes nothing" {
	export REMOTE_ADDR=198.51.100.9
	smtpd_session "PROXY TCP4 127.0.0.1 198.51.100.9 40000 25\r\n$RELAYED"
	assert_reply 1 '220 '
	assert_reply 2 '500 5.5.2 Error: command not recognized'
	assert_reply 11 '554 5.7.1'
	grep -q 'peer=198.51.100.9 trusted=no result=connect' "$LOG"
	refute grep -q 'proxy=' "$LOG"
}

@test "without -P a header is a bad command, even from a loopback peer" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS=()
	proxy_v2 "$BATS_TEST_TMPDIR/h" 1 0x11 198.51.100.7 127.0.0.1 1 25
	session_after "$BATS_TEST_TMPDIR/h" 'QUIT\r\n'
	assert_reply 1 '220 '
	assert_reply 2 '500 5.5.2'
	grep -q 'peer=127.0.0.1 trusted=yes result=connect' "$LOG"
}

@test "the session cap's refusal names the client from the header" {
	export REMOTE_ADDR=127.0.0.1
	SMTPD_FLAGS+=(-c 1)
	smtpd_start
	smtpd_send 'PROXY TCP4 198.51.100.1 127.0.0.1 40000 25\r\n'
	wait_for smtpd_replied '^220 '
	smtpd_session 'PROXY TCP4 198.51.100.2 127.0.0.1 40001 25\r\nQUIT\r\n'
	assert_replies '421 4.3.2 mx.test Service not available'
	grep -q 'peer=198.51.100.2 pool=smtpd.lock result=refused: too many sessions' "$LOG"
	smtpd_send 'QUIT\r\n'
	smtpd_wait_exit
	assert_replies '220 ' '221 2.0.0'
}

# over real TCP: systemd-socket-activate hands smtpd the socket
# (socket_activate, helpers.bash)

# tiny_writes HOST PORT FILE: connects, sends FILE's bytes one at a time,
# each its own send(), and prints what the server says until it closes.
tiny_writes() {
	"$PYTHON" - "$@" "${WAIT_SECONDS:-10}" <<'EOF'
import socket, sys, time
host, port, path, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
s = socket.create_connection((host, port), timeout=wait)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
data = open(path, "rb").read()
head = data.index(b"EHLO") if b"EHLO" in data else len(data)
for i in range(head):
    s.sendall(data[i:i + 1])
    time.sleep(0.002)
s.sendall(data[head:])
out = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    out += chunk
sys.stdout.buffer.write(out)
EOF
}

@test "TCP on 127.0.0.1: a v1 header in one-byte writes, then a message from the proxied client" {
	SMTPD_FLAGS=(-P 127.0.0.1 -R 198.51.100.0/24)
	launch 127.0.0.1 socket_activate 127.0.0.1
	printf "PROXY TCP4 198.51.100.7 127.0.0.1 40000 $PORT\r\n$RELAYED" \
	    >"$BATS_TEST_TMPDIR/input"
	run tiny_writes 127.0.0.1 "$PORT" "$BATS_TEST_TMPDIR/input"
	assert_reply 1 '220 mx.test'
	assert_reply 12 '250 2.0.0 Ok: queued'
	[ "$(received_from)" = 'Received: from client.test ([198.51.100.7])' ]
	grep -q 'peer=198.51.100.7 proxy=127.0.0.1 trusted=yes' "$LOG"
}

@test "TCP on 127.0.0.1: a v2 header in one-byte writes" {
	SMTPD_FLAGS=(-P 127.0.0.1)
	launch 127.0.0.1 socket_activate 127.0.0.1
	proxy_v2 "$BATS_TEST_TMPDIR/input" 1 0x11 198.51.100.7 127.0.0.1 1 25 \
	    0100047365747004000005000461626364
	printf "$RELAYED" >>"$BATS_TEST_TMPDIR/input"
	run tiny_writes 127.0.0.1 "$PORT" "$BATS_TEST_TMPDIR/input"
	assert_reply 1 '220 mx.test'
	assert_reply 10 '554 5.7.1'
	grep -q 'peer=198.51.100.7 proxy=127.0.0.1 trusted=no' "$LOG"
}

@test "TCP6 on ::1: a v2 TCP6 header, the IPv6 client is the peer" {
	SMTPD_FLAGS=(-P ::1 -R 2001:db8::/32)
	launch ::1 socket_activate ::1
	proxy_v2 "$BATS_TEST_TMPDIR/input" 1 0x21 2001:db8::7 ::1 40000 25
	printf "$RELAYED" >>"$BATS_TEST_TMPDIR/input"
	run tiny_writes ::1 "$PORT" "$BATS_TEST_TMPDIR/input"
	assert_reply 12 '250 2.0.0 Ok: queued'
	[ "$(received_from)" = 'Received: from client.test ([IPv6:2001:db8::7])' ]
	grep -q 'peer=2001:db8::7 proxy=::1 trusted=yes' "$LOG"
}

@test "TCP on 127.0.0.1 with -P for another network: the socket peer, no header read" {
	SMTPD_FLAGS=(-P 192.0.2.0/24)
	launch 127.0.0.1 socket_activate 127.0.0.1
	printf 'QUIT\r\n' >"$BATS_TEST_TMPDIR/input"
	run tiny_writes 127.0.0.1 "$PORT" "$BATS_TEST_TMPDIR/input"
	assert_replies '220 mx.test' '221 2.0.0'
	grep -q 'peer=127.0.0.1 trusted=yes result=connect' "$LOG"
}

@test "-P takes a list and is repeatable; a bad network is a usage error" {
	run "$SMTPD" -q "$Q" -n mx.test -l "$LOG" -P 192.0.2.0/24,2001:db8::/32 -P 127.0.0.1 -h
	assert_status 0
	run "$SMTPD" -q "$Q" -n mx.test -l "$LOG" -P 192.0.2.0/33
	assert_status 64
	[[ "$output" == *"-P: not an address/prefix: 192.0.2.0/33"* ]]
	run "$SMTPD" -q "$Q" -n mx.test -l "$LOG" -P 192.0.2.1,
	assert_status 64
}
