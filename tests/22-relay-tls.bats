#!/usr/bin/env bats
# 22-relay-tls.bats: smtpsend's -r URLs, failover, TLS through openssl
# s_client, AUTH and -k, against tests/fakerelay speaking TLS with
# certificates from a throwaway CA made here.  Every failure must leave
# the message queued byte for byte, exit 75 and say why in words.

load helpers

setup_file() {
	local d=$BATS_FILE_TMPDIR/pki
	mkdir -p "$d"
	cd "$d" || return 1
	key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>/dev/null; }
	key ca.key && openssl req -x509 -new -key ca.key -out ca.pem -days 2 \
	    -subj /CN=smtpq-test-ca 2>/dev/null || return 1
	# cert NAME SAN DAYS [CA]: NAME.pem and NAME.key.
	cert() {
		key "$1.key"
		openssl req -new -key "$1.key" -subj "/CN=$1" -out "$1.csr" \
		    2>/dev/null
		printf 'subjectAltName=%s\n' "$2" >"$1.ext"
		if [ "${4:-ca}" = self ]; then
			openssl x509 -req -in "$1.csr" -key "$1.key" \
			    -out "$1.pem" -days "$3" -extfile "$1.ext"
		else
			openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key \
			    -CAcreateserial -out "$1.pem" -days "$3" \
			    -extfile "$1.ext"
		fi 2>/dev/null
	}
	cert good "DNS:localhost,IP:127.0.0.1" 1 &&
	    cert wrong "DNS:other.test" 1 &&
	    cert self "DNS:localhost,IP:127.0.0.1" 1 self &&
	    cert expired "DNS:localhost,IP:127.0.0.1" 0 || return 1
	date +%s >expired.made
}

setup() {
	PKI=$BATS_FILE_TMPDIR/pki
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	NAME=$(qname)
	qmsg "$NAME" a@src.test x@dst.test
	cp "$Q/new/$NAME" "$BATS_TEST_TMPDIR/orig"
	SECRETS=$BATS_TEST_TMPDIR/secrets
	printf '# host user password\n127.0.0.1 alice s3cret pass\n' >"$SECRETS"
	chmod 600 "$SECRETS"
}

teardown() {
	relay_stop
}

# send URL [smtpsend flag]...: one run against the fake relay.
send() {
	local url=$1
	shift
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 10s -C "$PKI/ca.pem" \
	    -r "$url" "$@"
}

# The message was delivered once, byte for byte, and left the queue.
assert_delivered() {
	assert_status 0
	assert_same_bytes <(qbody "$BATS_TEST_TMPDIR/orig") "$RELAY_DIR/1.eml"
	[ ! -e "$RELAY_DIR/2.eml" ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

# Nothing was delivered, the message is queued as it was, the run said 75
# and the log has a line matching $1.
assert_kept() {
	assert_status 75
	[ ! -e "$RELAY_DIR/1.eml" ]
	assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
	if ! grep -q -- "$1" "$LOG"; then
		echo "no log line matching: $1" >&2
		cat "$LOG" >&2
		return 1
	fi
}

@test "-r: malformed URLs and too many relays are usage errors" {
	local r
	for r in "ftp://host" "smtps://" "smtp://host/path" "smtp+tls://@host" \
	    "smtp://host:port"; do
		run "$SMTPSEND" -q "$Q" -n mx.test -r "$r"
		assert_status 64
		[[ $output == *"bad relay"* ]]
	done
	run "$SMTPSEND" -q "$Q" -n mx.test -r a -r b -r c -r d -r e -r f \
	    -r g -r h -r i
	assert_status 64
}

@test "-r repeated: an unreachable relay, then one that refuses, then one that takes it" {
	local closed refusing
	closed=$(free_port 127.0.0.1)
	relay_start --greeting "554 5.3.2 not today"
	refusing=$RELAY_PORT
	RELAY_PID_1=$RELAY_PID
	RELAY_DIR=$BATS_TEST_TMPDIR/relay2 relay_start
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 10s \
	    -r "smtp://127.0.0.1:$closed" -r "127.0.0.1:$refusing" \
	    -r "smtp+notls://127.0.0.1:$RELAY_PORT"
	kill "$RELAY_PID_1"
	wait "$RELAY_PID_1" 2>/dev/null || true
	RELAY_DIR=$BATS_TEST_TMPDIR/relay2 assert_delivered
	grep -q "relay=127.0.0.1:$closed result=unreachable" "$LOG"
	grep -q "relay=127.0.0.1:$refusing result=unusable: .*554 5.3.2" "$LOG"
	grep -q "route=relay relay=127.0.0.1:$RELAY_PORT .*result=sent" "$LOG"
}

@test "smtp+tls://: STARTTLS, verified, EHLO again, the message byte for byte" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key"
	send "smtp+tls://127.0.0.1:$RELAY_PORT"
	assert_delivered
	grep -q "result=connected .*tls=verified" "$LOG"
	# RFC 3207 4.2: EHLO again after the handshake, MAIL only after it.
	sed -n '/\*: tls/,$p' "$RELAY_DIR/transcript" | grep -m1 ' C: ' |
	    grep -q 'C: EHLO mx.test'
}

@test "smtp+tls:// to a name: the host name is checked against the certificate" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key"
	send "smtp+tls://localhost:$RELAY_PORT"
	assert_delivered
}

@test "smtps://: TLS from the first byte, verified" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --implicit-tls
	send "smtps://127.0.0.1:$RELAY_PORT"
	assert_delivered
	grep -q '1 \*: tls' "$RELAY_DIR/transcript"
}

@test "smtp://: STARTTLS when offered, even with a certificate nobody signed" {
	relay_start --tls "$PKI/self.pem:$PKI/self.key"
	send "smtp://127.0.0.1:$RELAY_PORT"
	assert_delivered
	grep -q "tls=unverified" "$LOG"
	grep -q '\*: tls' "$RELAY_DIR/transcript"
}

@test "smtp+tls://: a self-signed certificate keeps the mail" {
	relay_start --tls "$PKI/self.pem:$PKI/self.key"
	send "smtp+tls://127.0.0.1:$RELAY_PORT"
	assert_kept "certificate not trusted: self-signed certificate"
}

@test "smtp+tls://: an expired certificate keeps the mail" {
	wait_for eval "[ \$(date +%s) -gt \$(cat $PKI/expired.made) ]"
	relay_start --tls "$PKI/expired.pem:$PKI/expired.key"
	send "smtp+tls://127.0.0.1:$RELAY_PORT"
	assert_kept "certificate not trusted: certificate has expired"
}

@test "smtps://: a certificate for another name keeps the mail" {
	relay_start --tls "$PKI/wrong.pem:$PKI/wrong.key" --implicit-tls
	send "smtps://127.0.0.1:$RELAY_PORT"
	assert_kept "certificate not trusted: IP address mismatch"
	relay_stop
	relay_start --tls "$PKI/wrong.pem:$PKI/wrong.key" --implicit-tls
	send "smtps://localhost:$RELAY_PORT" -f
	assert_kept "certificate not trusted: hostname mismatch"
}

@test "smtp+tls://: no STARTTLS in the EHLO reply (stripped by a man in the middle) keeps the mail" {
	relay_start
	send "smtp+tls://127.0.0.1:$RELAY_PORT"
	assert_kept "STARTTLS not offered"
	# Never a word of the message in plaintext.
	! grep -q 'MAIL FROM' "$RELAY_DIR/transcript" || false
}

@test "the TLS program missing keeps the mail" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key"
	# A PATH without openssl; with valgrind in it (Debian's is a script
	# that runs $0.bin) for when smtpsend is tests/run's valgrind wrapper.
	local v
	mkdir -p "$BATS_TEST_TMPDIR/nobin"
	for v in /usr/bin/valgrind /usr/bin/valgrind.bin; do
		[ ! -e "$v" ] || ln -s "$v" "$BATS_TEST_TMPDIR/nobin/"
	done
	PATH=$BATS_TEST_TMPDIR/nobin send "smtp+tls://127.0.0.1:$RELAY_PORT"
	assert_kept "unable to run openssl: No such file or directory"
}

@test "the TLS program failing keeps the mail" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "broken for the test" >&2\nexit 1\n' \
	    >"$BATS_TEST_TMPDIR/bin/openssl"
	chmod 755 "$BATS_TEST_TMPDIR/bin/openssl"
	relay_start --tls "$PKI/good.pem:$PKI/good.key"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH send "smtps://127.0.0.1:$RELAY_PORT"
	assert_kept "TLS program: broken for the test"
}

@test "a TLS handshake that hangs is bounded by -t and keeps the mail" {
	local start
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --tls-stall
	start=$(date +%s)
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 2s -C "$PKI/ca.pem" \
	    -r "smtp+tls://127.0.0.1:$RELAY_PORT"
	[ $(($(date +%s) - start)) -lt $((10 * SLOWDOWN)) ]
	assert_kept "no TLS session after 2s: the handshake hangs"
}

@test "the relay dropping the connection inside TLS keeps the mail" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --drop-in-data 10
	send "smtp+tls://127.0.0.1:$RELAY_PORT"
	assert_kept "result=deferred: 451 4.4.2 relay 127.0.0.1:$RELAY_PORT: connection"
}

@test "AUTH PLAIN over TLS with the password from -a" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key" \
	    --auth "alice:s3cret pass" --require-auth
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS"
	assert_delivered
	grep -q 'auth PLAIN user=alice' "$RELAY_DIR/transcript"
	! grep -q 's3cret' "$LOG" || false
}

@test "AUTH LOGIN when the relay offers only LOGIN" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --implicit-tls \
	    --auth "alice:s3cret pass" --require-auth \
	    --ehlo $'250-fakerelay\n250 AUTH LOGIN'
	send "smtps://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS"
	assert_delivered
	grep -q 'auth LOGIN user=alice' "$RELAY_DIR/transcript"
}

@test "AUTH refused (535, 454) keeps the mail with a line that says what to fix" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --auth "alice:other"
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS"
	assert_kept "refused AUTH as alice: 535 5.7.8 .*check the user and password"
	[ "$(count_lines 'result=unusable: .*refused AUTH' "$LOG")" -eq 1 ]
	relay_stop
	: >"$LOG"
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --auth alice:x \
	    --auth-reply "454 4.7.0 Temporary authentication failure"
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS" -f
	assert_kept "refused AUTH as alice: 454 4.7.0"
}

@test "530 at MAIL (AUTH required, none configured) defers, never bounces" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --auth alice:x \
	    --require-auth
	send "smtp+tls://127.0.0.1:$RELAY_PORT"
	assert_kept "wants AUTH (530 5.7.0 .*give -r a user@ and -a its password"
	[ "$(count_files "$Q/failed")" -eq 0 ]
}

@test "a user without verified TLS (smtp://, smtp+notls://, no scheme) is a usage error naming smtp+tls://; the relay never sees AUTH" {
	local url
	# A relay posing as the smarthost: any certificate, any password.
	relay_start --tls "$PKI/self.pem:$PKI/self.key" \
	    --auth "alice:s3cret pass"
	for url in "smtp://alice@127.0.0.1:$RELAY_PORT" \
	    "smtp+notls://alice@127.0.0.1:$RELAY_PORT" \
	    "alice@127.0.0.1:$RELAY_PORT" \
	    "smtp://me@example.org@127.0.0.1:$RELAY_PORT"; do
		send "$url" -a "$SECRETS"
		assert_status 64
		[[ $output == *"use smtp+tls://${url#*://}"* ||
		    $output == *"use smtp+tls://$url"* ]]
		assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
	done
	[ ! -e "$RELAY_DIR/1.eml" ]
	! grep -q 'C: AUTH' "$RELAY_DIR/transcript" 2>/dev/null || false
	! grep -q 's3cret' "$LOG" || false
}

@test "a relay with a self-signed certificate never sees AUTH, on smtp+tls:// and smtps://" {
	relay_start --tls "$PKI/self.pem:$PKI/self.key" \
	    --auth "alice:s3cret pass"
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS"
	assert_kept "result=unusable"
	relay_stop
	relay_start --tls "$PKI/self.pem:$PKI/self.key" --implicit-tls \
	    --auth "alice:s3cret pass"
	send "smtps://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS" -f
	assert_kept "result=unusable"
	! grep -q 'C: AUTH' "$RELAY_DIR/transcript" 2>/dev/null || false
}

@test "no plaintext AUTH to a loopback relay: a local user who binds the port first gets no password" {
	# Round two let credentials go in plaintext to 127.0.0.1; whoever
	# binds that port first (any local user, for a port over 1023)
	# then collected the password.
	relay_start --auth "alice:s3cret pass"
	send "smtp+notls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS"
	assert_status 64
	[[ $output == *"use smtp+tls://alice@127.0.0.1:$RELAY_PORT"* ]]
	! grep -q 'C: AUTH' "$RELAY_DIR/transcript" 2>/dev/null || false
	assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
}

@test "-a: a secrets file others can read, or without the line: exit 78, queue untouched" {
	chmod 640 "$SECRETS"
	send "smtp+tls://alice@127.0.0.1:1" -a "$SECRETS"
	assert_status 78
	grep -q "others can read or change it (mode 0640): chmod 600" "$LOG"
	assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
	chmod 600 "$SECRETS"
	send "smtp+tls://bob@127.0.0.1:1" -a "$SECRETS"
	assert_status 78
	grep -q 'has no line "127.0.0.1 bob PASSWORD"' "$LOG"
	send "smtp+tls://bob@127.0.0.1:1"
	assert_status 78
}

@test "-k: what each relay offers, TLS verified, AUTH worked; no mail sent" {
	local closed
	closed=$(free_port 127.0.0.1)
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --auth "alice:s3cret pass"
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS" -k
	assert_status 0
	[[ $output == *"127.0.0.1:$RELAY_PORT: ok: tls=verified auth=ok"* ]]
	[ ! -e "$RELAY_DIR/1.eml" ]
	assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
	run "$SMTPSEND" -q "$Q" -n mx.test -t 10s -r "127.0.0.1:$closed" -k
	assert_status 75
	[[ $output == *"127.0.0.1:$closed: unusable: "* ]]
}

@test "-k tries MAIL FROM and RCPT TO with the sender root's mail would carry (masqueraded), then RSET: a relay refusing it at either is not ok" {
	relay_start --tls "$PKI/good.pem:$PKI/good.key" \
	    --auth "alice:s3cret pass" --mail '553 5.7.1 Sender address rejected: not owned by user alice'
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS" -k
	assert_status 75
	[[ $output == *"127.0.0.1:$RELAY_PORT: refused: MAIL FROM:<root@mx.test>: 553 5.7.1 Sender address rejected"* ]]
	grep -q 'C: MAIL FROM:<root@mx.test>' "$RELAY_DIR/transcript"
	relay_stop
	rm -f "$RELAY_DIR/transcript"
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --auth "alice:s3cret pass"
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS" -M @provider.test -k
	assert_status 0
	[[ $output == *"127.0.0.1:$RELAY_PORT: ok: tls=verified auth=ok"*" from=<root@provider.test>"* ]]
	grep -q 'C: MAIL FROM:<root@provider.test>' "$RELAY_DIR/transcript"
	grep -q 'C: RCPT TO:<root@provider.test>' "$RELAY_DIR/transcript"
	grep -q 'C: RSET' "$RELAY_DIR/transcript"
	! grep -q 'C: DATA' "$RELAY_DIR/transcript"
	[ ! -e "$RELAY_DIR/1.eml" ]
	assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
	# Postfix delays its refusal of a sender to RCPT (smtpd_delay_reject)
	relay_stop
	relay_start --tls "$PKI/good.pem:$PKI/good.key" --auth "alice:s3cret pass" \
	    --rcpt 'root@provider.test=553 5.7.1 <root@provider.test>: Sender address rejected: not owned by user alice'
	send "smtp+tls://alice@127.0.0.1:$RELAY_PORT" -a "$SECRETS" -M @provider.test -k
	assert_status 75
	[[ $output == *"127.0.0.1:$RELAY_PORT: refused: RCPT TO:<root@provider.test>: 553 5.7.1"* ]]
	! grep -q 'C: DATA' "$RELAY_DIR/transcript"
}
