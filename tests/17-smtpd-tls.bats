#!/usr/bin/env bats
# smtpd's TLS modes: -T (STARTTLS by exec), -E (the connection is TLS
# already, the client named by the TLS program's REMOTE_HOST), and the
# relay control that holds through both.  First as transcripts over a
# pipe, with a stand-in TLS program; then with stunnel under tcpserver.

load helpers
load tls

setup_file() {
	tls_make_ca
}

setup() {
	unset REMOTE_ADDR TCPREMOTEIP REMOTE_HOST SMTPD_STARTTLS
	SMTPD_FLAGS=()
	LAUNCHER_FLAGS=()
	sanitizer_env_flags
	# The stand-in TLS program: records its arguments, environment and
	# whatever reaches its stdin, says nothing.
	FAKE_TLS="$BATS_TEST_TMPDIR/fake-tls"
	# (its signal state read first, with builtins only: a forking
	# shell blocks every signal for a moment)
	cat >"$FAKE_TLS" <<SCRIPT
#!/bin/sh
while IFS= read -r l; do case \$l in Sig*) echo "\$l";; esac; done \
    </proc/\$\$/status >"$BATS_TEST_TMPDIR/tls.sig"
printf '%s\n' "\$*" >"$BATS_TEST_TMPDIR/tls.args"
env >"$BATS_TEST_TMPDIR/tls.env"
cat >"$BATS_TEST_TMPDIR/tls.stdin"
SCRIPT
	chmod 755 "$FAKE_TLS"
}

teardown() {
	smtpd_cleanup
	launch_stop
}

# A session whose EHLO reply offers no STARTTLS: what no -T and -E -T get.
ehlo_without_starttls() {
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> EHLO c
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 10485760
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250 HELP
	> QUIT
	< 221 2.0.0
	END
}

@test "EHLO offers STARTTLS with -T, not without, and not under -E" {
	ehlo_without_starttls
	SMTPD_FLAGS=(-T "$FAKE_TLS")
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> EHLO c
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 10485760
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250-STARTTLS
	< 250 HELP
	> QUIT
	< 221 2.0.0
	END
	export REMOTE_HOST=192.0.2.1
	SMTPD_FLAGS=(-E -T "$FAKE_TLS")
	ehlo_without_starttls
}

@test "STARTTLS: 501 5.5.4 with an argument, 502 5.5.1 without -T" {
	transcript <<-'END'
	@ greeting
	@ ehlo c
	> STARTTLS
	< 502 5.5.1
	> QUIT
	< 221 2.0.0
	END
	SMTPD_FLAGS=(-T "$FAKE_TLS")
	transcript <<-'END'
	@ greeting
	@ ehlo c + STARTTLS
	> STARTTLS now
	< 501 5.5.4
	> QUIT
	< 221 2.0.0
	END
	[ ! -e "$BATS_TEST_TMPDIR/tls.args" ]
}

@test "STARTTLS inside a transaction, or once TLS is on, is 503 5.5.1" {
	SMTPD_FLAGS=(-T "$FAKE_TLS")
	transcript <<-'END'
	@ greeting
	@ ehlo c + STARTTLS
	> MAIL FROM:<a@b.example>
	< 250 2.1.0
	> STARTTLS
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
	[ ! -e "$BATS_TEST_TMPDIR/tls.args" ]
	export REMOTE_HOST=192.0.2.1
	SMTPD_FLAGS=(-E -T "$FAKE_TLS")
	transcript <<-'END'
	@ greeting
	@ ehlo c
	> STARTTLS
	< 503 5.5.1
	> QUIT
	< 221 2.0.0
	END
	[ ! -e "$BATS_TEST_TMPDIR/tls.args" ]
}

@test "STARTTLS with a program that cannot run is 454 4.7.0, session goes on" {
	export REMOTE_ADDR=192.0.2.9	# a network client (systemd's variable)
	SMTPD_FLAGS=(-T "$BATS_TEST_TMPDIR/no-such-program -x")
	transcript <<-'END'
	@ greeting
	@ ehlo c + STARTTLS
	> STARTTLS
	< 454 4.7.0 TLS not available
	> NOOP
	< 250 2.0.0 Ok
	> QUIT
	< 221 2.0.0
	END
}

@test "STARTTLS answers 220 2.0.0 and execs the program, split on blanks and commas" {
	export REMOTE_ADDR=192.0.2.9	# a network client (systemd's variable)
	SMTPD_FLAGS=(-T "$FAKE_TLS one,two  three")
	transcript <<-'END'
	@ greeting
	@ ehlo c + STARTTLS
	> STARTTLS
	< 220 2.0.0 Ready to start TLS
	END
	[ "$(cat "$BATS_TEST_TMPDIR/tls.args")" = 'one two three' ]
	grep -qx 'SMTPD_STARTTLS=192.0.2.9' "$BATS_TEST_TMPDIR/tls.env"
	# smtpd's blocked SIGTERM and ignored SIGPIPE are not handed on
	# (bits 14 and 12: SIGTERM, SIGPIPE)
	blk=$(sed -n 's/^SigBlk:\t//p' "$BATS_TEST_TMPDIR/tls.sig")
	ign=$(sed -n 's/^SigIgn:\t//p' "$BATS_TEST_TMPDIR/tls.sig")
	[ $(( 0x$blk & 0x4000 )) -eq 0 ] || { cat "$BATS_TEST_TMPDIR/tls.sig"; false; }
	[ $(( 0x$ign & 0x5000 )) -eq 0 ]
}

@test "STARTTLS from a pipe (no network client) is 454 4.7.0, nothing run" {
	SMTPD_FLAGS=(-T "$FAKE_TLS")
	transcript <<-'END'
	@ greeting
	@ ehlo c + STARTTLS
	> STARTTLS
	< 454 4.7.0 TLS not available
	> QUIT
	< 221 2.0.0
	END
	[ ! -e "$BATS_TEST_TMPDIR/tls.args" ]
	log_has "$LOG" 'peer=stdin result=starttls refused: not a network client'
}

@test "after STARTTLS the client is the one smtpd saw, not the TLS program's REMOTE_HOST" {
	# The TLS program's view of its peer (a proxy's loopback, say) is
	# trusted; the client smtpd saw, 192.0.2.9, is not.  The stand-in
	# runs smtpd -E on the commands a client would send inside TLS.
	export REMOTE_ADDR=192.0.2.9
	printf 'EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\nQUIT\r\n' \
	    >"$BATS_TEST_TMPDIR/inside-tls"
	cat >"$FAKE_TLS" <<SCRIPT
#!/bin/sh
REMOTE_HOST=127.0.0.1 exec "$SMTPD" -E -q "$Q" -n mx.test -l "$LOG" \
    <"$BATS_TEST_TMPDIR/inside-tls" >"$BATS_TEST_TMPDIR/inside-tls.out"
SCRIPT
	SMTPD_FLAGS=(-T "$FAKE_TLS")
	transcript <<-'END'
	@ greeting
	@ ehlo c + STARTTLS
	> STARTTLS
	< 220 2.0.0 Ready to start TLS
	END
	log_has "$LOG" 'peer=192.0.2.9 trusted=no tls=yes result=connect'
	tr -d '\r' <"$BATS_TEST_TMPDIR/inside-tls.out" |
	    grep -qx '554 5.7.1 <x@elsewhere.example>: Relay access denied'
}

@test "commands pipelined after STARTTLS are discarded and logged, never run" {
	export REMOTE_ADDR=192.0.2.9	# a network client (systemd's variable)
	SMTPD_FLAGS=(-T "$FAKE_TLS")
	# (what follows STARTTLS gets no reply: it never reaches a parser)
	transcript <<-'END'
	@ greeting
	@ ehlo c + STARTTLS
	> STARTTLS
	< 220 2.0.0 Ready to start TLS
	> MAIL FROM:<evil@x.example>
	> RCPT TO:<a@mx.test>
	> DATA
	> x
	> .
	END
	[ ! -s "$BATS_TEST_TMPDIR/tls.stdin" ]
	log_has "$LOG" 'result=starttls: discarded 61 bytes sent after STARTTLS'
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "plaintext past our buffer after STARTTLS is drained too, not handed on" {
	export REMOTE_ADDR=192.0.2.9	# a network client (systemd's variable)
	# A file as stdin: what our 64 KiB buffer did not take is still
	# there to read, as on a socket, with no race.
	{
		printf 'EHLO c\r\nSTARTTLS\r\n'
		head -c 100000 /dev/zero | tr '\0' 'x'
	} >"$BATS_TEST_TMPDIR/input"
	SMTPD_FLAGS=(-T "$FAKE_TLS")
	smtpd_session_file "$BATS_TEST_TMPDIR/input"
	[ "$(replies | tail -n 1)" = '220 2.0.0 Ready to start TLS' ]
	[ -e "$BATS_TEST_TMPDIR/tls.stdin" ]
	[ ! -s "$BATS_TEST_TMPDIR/tls.stdin" ]
	log_has "$LOG" 'discarded 100000 bytes sent after STARTTLS'
}

@test "-E without REMOTE_HOST is 421 4.3.0 and exit, never a trusted session" {
	SMTPD_FLAGS=(-E)
	transcript <<-'END'
	< 421 4.3.0 mx.test Service not available: local error
	> EHLO c
	> MAIL FROM:<a@b.example>
	> RCPT TO:<x@elsewhere.example>
	> QUIT
	= 75
	END
	log_has "$LOG" 'refused: -E without a usable \$REMOTE_HOST'
	! log_has "$LOG" 'trusted=yes' || false
}

@test "-E with an unparsable REMOTE_HOST is 421 4.3.0, whatever else is set" {
	local v
	for v in '' 'localhost' '127.0.0.1 ' '10.0.0.0/8' '127.0.0.1:25' 'stdin'; do
		REMOTE_HOST=$v REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=127.0.0.1 \
		    SMTPD_FLAGS=(-E)
		export REMOTE_HOST REMOTE_ADDR TCPREMOTEIP
		smtpd_session 'EHLO c\r\nQUIT\r\n'
		[ "$status" -eq 75 ]
		assert_reply 1 '421 4.3.0'
	done
}

@test "-E takes the client from REMOTE_HOST, not from REMOTE_ADDR or the pipe" {
	export REMOTE_HOST=192.0.2.7 REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=127.0.0.1
	SMTPD_FLAGS=(-E -d mx.test)
	smtpd_session 'EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<y@mx.test>\r\nQUIT\r\n'
	replies | grep -q '^554 5.7.1 <x@elsewhere.example>: Relay access denied'
	replies | grep -q '^250 2.1.5'
	log_has "$LOG" 'peer=192.0.2.7 trusted=no tls=yes result=connect'
}

@test "-E greets for implicit TLS; after STARTTLS (SMTPD_STARTTLS) it does not" {
	export REMOTE_HOST=192.0.2.7
	SMTPD_FLAGS=(-E)
	smtpd_session 'EHLO c\r\nQUIT\r\n'
	assert_reply 1 '220 mx.test ESMTP'
	SMTPD_STARTTLS=192.0.2.7 smtpd_session 'EHLO c\r\nQUIT\r\n'
	assert_reply 1 '250-mx.test'
}

@test "-E: nothing reaches fd 2, not even a usage error" {
	run bash -c '"$1" -E -x 2>"$2"' _ "$SMTPD" "$BATS_TEST_TMPDIR/err"
	[ "$status" -eq 64 ]
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
	run bash -c '"$1" -E -q "$2" -l - 2>"$3" </dev/null' _ "$SMTPD" "$Q" \
	    "$BATS_TEST_TMPDIR/err"
	[ "$status" -eq 64 ]
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
	# without -E the same usage error is said on stderr
	run bash -c '"$1" -x 2>"$2"' _ "$SMTPD" "$BATS_TEST_TMPDIR/err"
	[ "$status" -eq 64 ]
	[ -s "$BATS_TEST_TMPDIR/err" ]
}

@test "Received: says ESMTPS under -E, ESMTP without" {
	export REMOTE_HOST=127.0.0.1
	SMTPD_FLAGS=(-E)
	smtpd_session 'EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	replies | grep -q '^250 2.0.0 Ok: queued'
	grep -q $'^\tby mx.test (smtpd) with ESMTPS id ' "$(queued_file)"
	log_has "$LOG" 'peer=127.0.0.1 trusted=yes tls=yes'
}

# STARTTLS for real: tcpserver on $1, smtpd -T 'stunnel CONF', stunnel
# running smtpd -E with the extra flags in STUNNEL_SMTPD.
starttls_serve() {
	exec_launcher tcpserver -q "$1" "$2" "$SMTPD" -q "$Q" -n mx.test \
	    -l "$LOG" -T "stunnel,$BATS_TEST_TMPDIR/stunnel.conf" \
	    "${SMTPD_FLAGS[@]}"
}

@test "swaks --tls through stunnel: the mail is queued with ESMTPS" {
	stunnel_conf "$BATS_TEST_TMPDIR/stunnel.conf"
	launch 127.0.0.1 starttls_serve 127.0.0.1
	run swaks --server "127.0.0.1:$PORT" --tls --tls-verify \
	    --tls-ca-path "$TLS_DIR/ca.pem" --tls-sni localhost \
	    --from a@b.example --to x@elsewhere.example --timeout $((20 * SLOWDOWN))
	[ "$status" -eq 0 ]
	grep -q $'^\tby mx.test (smtpd) with ESMTPS id ' "$(queued_file)"
	log_has "$LOG" 'peer=127.0.0.1 trusted=yes tls=yes result=connect'
}

@test "an untrusted client through STARTTLS and stunnel still gets 554 5.7.1" {
	# 192.0.2.1 in a network namespace of our own: not loopback.
	stunnel_conf "$BATS_TEST_TMPDIR/stunnel.conf" -d mx.test
	run unshare --net bash -c '
		ip link set lo up && ip addr add 192.0.2.1/32 dev lo || exit 9
		tcpserver -q 192.0.2.1 2525 "$1" -q "$2" -n mx.test -l "$3" \
		    -d mx.test -T "stunnel,$4" & pid=$!
		for i in $(seq 100); do
			ss -Hltn "sport = :2525" | grep -q . && break
			sleep 0.05
		done
		swaks --server 192.0.2.1:2525 --tls --from a@b.example \
		    --to x@elsewhere.example --timeout "$5"
		rc=$?
		kill $pid
		exit $rc' _ "$SMTPD" "$Q" "$LOG" "$BATS_TEST_TMPDIR/stunnel.conf" \
	    $((20 * SLOWDOWN))
	[ "$status" -ne 0 ]
	[[ "$output" == *'~> RCPT TO:<x@elsewhere.example>'*'<~* 554 5.7.1 <x@elsewhere.example>: Relay access denied'* ]]
	log_has "$LOG" 'peer=192.0.2.1 trusted=no tls=yes result=connect'
	[ "$(count_files "$Q/new")" -eq 0 ]
}

# tls_hostile PORT BYTES: EHLO, STARTTLS, then BYTES (a Python literal)
# instead of a TLS handshake; prints the 220 and the seconds until the
# server closed, or "open" after WAIT.
tls_hostile() {
	"$PYTHON" -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=float(sys.argv[3]))
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO c\r\n")
while not f.readline().startswith(b"250 "):
    pass
s.sendall(b"STARTTLS\r\n")
print(f.readline().decode().strip())
t = time.time()
try:
    s.sendall(eval(sys.argv[2]))
    while s.recv(4096):
        pass
    print("closed after %d" % (time.time() - t))
except (ConnectionResetError, BrokenPipeError):
    print("closed after %d" % (time.time() - t))
except socket.timeout:
    print("open")
' "$1" "$2" "${3:-$((20 * SLOWDOWN))}"
}

@test "garbage instead of a TLS handshake: the connection ends, no session" {
	stunnel_conf "$BATS_TEST_TMPDIR/stunnel.conf"
	launch 127.0.0.1 starttls_serve 127.0.0.1
	run tls_hostile "$PORT" 'b"MAIL FROM:<a@b.example>\r\nRCPT TO:<x@y.example>\r\nDATA\r\n" + b"\x16\x03\x01\xff\xff" + bytes(range(256)) * 8'
	[ "${lines[0]}" = '220 2.0.0 Ready to start TLS' ]
	[[ "${lines[1]}" == 'closed after '* ]]
	! log_has "$LOG" 'tls=yes' || false
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "a handshake that stalls ends at stunnel's timeout, no session" {
	STUNNEL_BUSY=2 stunnel_conf "$BATS_TEST_TMPDIR/stunnel.conf"
	launch 127.0.0.1 starttls_serve 127.0.0.1
	# half a ClientHello, then nothing
	run tls_hostile "$PORT" 'b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"'
	[ "${lines[0]}" = '220 2.0.0 Ready to start TLS' ]
	[[ "${lines[1]}" == 'closed after '* ]] || { echo "$output"; false; }
	[ "${lines[1]#closed after }" -le $((2 + 10 * SLOWDOWN)) ]
	! log_has "$LOG" 'tls=yes' || false
	[ "$(count_files "$Q/new")" -eq 0 ]
}
