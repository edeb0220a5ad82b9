#!/usr/bin/env bats
# 42-relay-tls-postfix.bats: smtpsend against a real smarthost that wants
# TLS and AUTH: a private Postfix (tests/postfix-instance) requiring
# STARTTLS and AUTH (Cyrus SASL, a sasldb with alice's password) on its
# port, with more smtpd listeners in its master.cf for the rest: a
# wrapper-mode one as on 465, ones serving a self-signed, an expired and
# a wrong-name certificate, one without STARTTLS, one that hides
# STARTTLS from its EHLO reply (and then refuses it), one that answers
# MAIL with 530 as providers do without AUTH, one offering only AUTH
# LOGIN, one pausing after the dot (whose smtpd the test kills).
# Certificates come from a throwaway CA made here.  Delivered mail is
# compared with the queue file byte for byte, below the trace fields
# Postfix adds; every failure must leave the message queued as it was,
# exit 75 and say why in words.  The last test runs the whole chain
# smtpd -> queue -> smtpsend -> Postfix.
# tests/run: noasan (STARTTLS, smtps://, AUTH, failover, -k and every
# certificate failure are 22's under ASan, against tests/fakerelay;
# under valgrind it runs)

load helpers

# cert DIR NAME SAN DAYS [self]: DIR/NAME.pem and DIR/NAME.key, signed by
# DIR/ca.pem unless self-signed; the key is for Postfix's smtpd (user
# postfix) alone.
cert() {
	local d=$1 name=$2
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$d/$name.key" 2>/dev/null &&
	    openssl req -new -key "$d/$name.key" -subj "/CN=$name" \
	    -out "$d/$name.csr" 2>/dev/null || return 1
	printf 'subjectAltName=%s\n' "$3" >"$d/$name.ext"
	if [ "${5:-}" = self ]; then
		openssl x509 -req -in "$d/$name.csr" -key "$d/$name.key" \
		    -out "$d/$name.pem" -days "$4" -extfile "$d/$name.ext"
	else
		openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" \
		    -CAkey "$d/ca.key" -CAcreateserial -out "$d/$name.pem" \
		    -days "$4" -extfile "$d/$name.ext"
	fi 2>/dev/null || return 1
	chown postfix "$d/$name.key" && chmod 600 "$d/$name.key"
}

# The extra listeners: VARIABLE and master.cf -o options, one a line
# (the certificate options are filled in by setup_file).
LISTENERS='PF_SMTPS -o smtpd_tls_wrappermode=yes
PF_SELF -o smtpd_tls_cert_file=@/self.pem -o smtpd_tls_key_file=@/self.key
PF_EXPIRED -o smtpd_tls_cert_file=@/expired.pem -o smtpd_tls_key_file=@/expired.key
PF_WRONG -o smtpd_tls_cert_file=@/wrong.pem -o smtpd_tls_key_file=@/wrong.key
PF_NOTLS -o smtpd_tls_security_level=none
PF_HIDDEN -o smtpd_discard_ehlo_keywords=silent-discard,starttls
PF_530 -o smtpd_delay_reject=no -o smtpd_sender_restrictions=$want_auth
PF_LOGIN -o smtpd_sasl_path=login
PF_SLOW -o smtpd_end_of_data_restrictions=$slow_eod'

# Adds the listeners that are not listening yet on new free ports, has the
# master read master.cf again, and waits (bounded) until each listens.
# Fails when one still does not (its port taken meanwhile): call again.
pf_listeners() {
	local var opts port pid ok=0
	while read -r var opts; do
		port=${!var:-}
		if [ -z "$port" ] || ! ss -Hltn "sport = :$port" | grep -q .; then
			[ -z "$port" ] || postconf -c "$PF_DIR/etc" -MX \
			    "127.0.0.1:$port/inet"
			port=$(free_port 127.0.0.1) || return 1
			printf -v "$var" %s "$port"
			postconf -c "$PF_DIR/etc" -M \
			    "127.0.0.1:$port/inet=127.0.0.1:$port inet n - n - - smtpd ${opts//@/$PF_DIR/pki}" ||
			    return 1
		fi
	done <<<"$LISTENERS"
	postfix -c "$PF_DIR/etc" reload >/dev/null 2>&1 || return 1
	pid=$(tr -dc 0-9 <"$PF_DIR/spool/pid/master.pid")
	while read -r var opts; do
		WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for listening "${!var}" \
		    "$pid" || ok=1
	done <<<"$LISTENERS"
	return "$ok"
}

setup_file() {
	local pki var _
	command -v postfix >/dev/null || return 0	# setup says so
	command -v saslpasswd2 >/dev/null || return 0
	[ "$(id -u)" -eq 0 ] || return 0
	PF_DIR=$(mktemp -d /tmp/smtpq-postfix.XXXXXX) || return 1
	chmod 755 "$PF_DIR"
	pki=$PF_DIR/pki
	mkdir -p "$pki"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$pki/ca.key" 2>/dev/null &&
	    openssl req -x509 -new -key "$pki/ca.key" -out "$pki/ca.pem" \
	    -days 2 -subj /CN=smtpq-test-ca 2>/dev/null || return 1
	# The expired one first: it expires when the second it was made in
	# has passed (-days 0), which the first test to use it waits for.
	cert "$pki" expired "DNS:localhost,IP:127.0.0.1" 0 &&
	    date +%s >"$pki/expired.made" &&
	    cert "$pki" good "DNS:localhost,IP:127.0.0.1" 1 &&
	    cert "$pki" self "DNS:localhost,IP:127.0.0.1" 1 self &&
	    cert "$pki" wrong "DNS:other.test" 1 || return 1
	printf 'alice s3cret pass\n' >"$PF_DIR/sasl-users"
	# Every client must use TLS and AUTH, even for Postfix's own
	# domain; its Received: field says what it saw of both.
	PF_SASL=$PF_DIR/sasl-users postfix_start \
	    "smtpd_tls_cert_file=$pki/good.pem" \
	    "smtpd_tls_key_file=$pki/good.key" \
	    smtpd_tls_security_level=encrypt smtpd_tls_auth_only=yes \
	    smtpd_tls_received_header=yes smtpd_sasl_authenticated_header=yes \
	    "smtpd_relay_restrictions=permit_sasl_authenticated, reject" \
	    "want_auth=permit_sasl_authenticated, check_sender_access static:{530 5.7.0 Authentication required}" \
	    "slow_eod=sleep $((60 * SLOWDOWN))" ||
	    return 1
	# PF_LOGIN's smtpd reads etc/sasl/login.conf: LOGIN only.
	sed 's/^mech_list:.*/mech_list: LOGIN/' "$PF_DIR/etc/sasl/smtpd.conf" \
	    >"$PF_DIR/etc/sasl/login.conf" || return 1
	for _ in 1 2 3; do
		pf_listeners && break
	done || return 1
	while read -r var _; do
		export "${var?}"
	done <<<"$LISTENERS"
	export PF_DIR PF_PORT
}

teardown_file() {
	postfix_stop
}

setup() {
	local tool
	for tool in postfix saslpasswd2 openssl; do
		command -v "$tool" >/dev/null ||
		    fail_or_skip "$tool is not installed"
	done
	[ "$(id -u)" -eq 0 ] || fail_or_skip "Postfix must be started as root"
	[ -n "${PF_530:-}" ] || fail_or_skip "the TLS Postfix did not start"
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	rm -rf "$PF_DIR/mail/bob"
	SECRETS=$BATS_TEST_TMPDIR/secrets
	printf '# host user password\n127.0.0.1 alice s3cret pass\nlocalhost alice s3cret pass\n' \
	    >"$SECRETS"
	chmod 600 "$SECRETS"
	pf_log_mark
}

teardown() {
	smtpd_cleanup
	if [ -n "${SEND_PID:-}" ]; then
		kill "$SEND_PID" 2>/dev/null || true
		wait "$SEND_PID" 2>/dev/null || true
	fi
}

# send URL [flag]...: one smtpsend run on $Q, verifying against our CA.
send() {
	local url=$1
	shift
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t $((30 * SLOWDOWN))s \
	    -C "$PF_DIR/pki/ca.pem" -r "$url" "$@"
}

# Queues one message to bob@pf.test (a dot line among it) and keeps a
# copy of the queue file in $BATS_TEST_TMPDIR/orig.
queue_one() {
	NAME=$(qname)
	printf -v BODY 'Subject: %s\r\nFrom: <a@src.test>\r\nTo: <bob@pf.test>\r\n\r\n.a line with a dot\r\n..two\r\nend\r\n' "$1"
	qmsg "$NAME" a@src.test bob@pf.test
	cp "$Q/new/$NAME" "$BATS_TEST_TMPDIR/orig"
}

# Delivered message $1 without what Postfix added at its top: the
# Return-Path:, X-Original-To: and Delivered-To: lines of virtual(8) and
# the one Received: field of its smtpd (with its continuation lines);
# every header after those is ours, a Received: of smtpd's among them.
below_postfix() {
	LC_ALL=C awk '
	    done { print; next }
	    /^(Return-Path|X-Original-To|Delivered-To):/ { next }
	    /^Received:/ && !seen { seen = 1; in_rcvd = 1; next }
	    in_rcvd && /^[ \t]/ { next }
	    { done = 1; print }' "$1"
}

# The run exited 0, the queue is empty, and Postfix delivered the message
# once to bob, byte for byte below its trace fields, which say TLS and
# alice's AUTH (its Received: field).
assert_in_postfix() {
	local got
	assert_status 0 || { cat "$LOG" >&2; pf_log >&2; return 1; }
	[ "$(count_files "$Q/new")" -eq 0 ]
	WAIT_SECONDS=$((10 * SLOWDOWN)) maildir_wait "$PF_DIR/mail/bob" 1
	got=$(maildir_list "$PF_DIR/mail/bob")
	assert_same_bytes <(queued_lf "$BATS_TEST_TMPDIR/orig") \
	    <(below_postfix "$got")
	if ! grep -q '(Authenticated sender: alice@pf.test)' "$got" ||
	    ! grep -q 'using TLSv1\.[23] with cipher' "$got"; then
		echo "Postfix's trace fields do not say TLS and AUTH:" >&2
		cat "$got" >&2
		return 1
	fi
}

# Nothing reached Postfix, the message is queued as it was, the run said
# 75 and the log has a line matching $1.
assert_kept() {
	assert_status 75
	assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
	[ "$(count_files "$Q/failed")" -eq 0 ]
	maildir_has "$PF_DIR/mail/bob" 0
	if ! grep -q -- "$1" "$LOG"; then
		echo "no log line matching: $1" >&2
		cat "$LOG" >&2
		return 1
	fi
}

@test "Postfix, STARTTLS and AUTH required: smtp+tls:// delivers byte for byte" {
	queue_one starttls
	send "smtp+tls://alice@127.0.0.1:$PF_PORT" -a "$SECRETS"
	assert_in_postfix
	grep -q "result=connected .*tls=verified auth" "$LOG"
	pf_log | grep -q 'sasl_method=PLAIN, sasl_username=alice@pf.test'
	refute grep -q 's3cret' "$LOG"
}

@test "Postfix in wrapper mode (as on 465): smtps:// to its name delivers byte for byte" {
	queue_one smtps
	send "smtps://alice@localhost:$PF_SMTPS" -a "$SECRETS"
	assert_in_postfix
	grep -q "relay=localhost:$PF_SMTPS result=connected .*tls=verified auth" "$LOG"
}

@test "Postfix offering only AUTH LOGIN: smtp+tls:// delivers with LOGIN" {
	queue_one login
	send "smtp+tls://alice@localhost:$PF_LOGIN" -a "$SECRETS"
	assert_in_postfix
	pf_log | grep -q 'sasl_method=LOGIN, sasl_username=alice@pf.test'
}

@test "Postfix: -r failover from a relay with a bad certificate to the 465 one" {
	queue_one failover
	send "smtp+tls://alice@127.0.0.1:$PF_SELF" \
	    -r "smtps://alice@localhost:$PF_SMTPS" -a "$SECRETS"
	assert_in_postfix
	grep -q "relay=127.0.0.1:$PF_SELF result=unusable: .*self-signed certificate" "$LOG"
	grep -q "route=relay relay=localhost:$PF_SMTPS .*result=sent" "$LOG"
}

@test "Postfix: -k says what each relay offers and whether TLS and AUTH worked" {
	queue_one probe
	send "smtp+tls://alice@127.0.0.1:$PF_PORT" -a "$SECRETS" -k
	assert_status 0
	[[ $output == *"127.0.0.1:$PF_PORT: ok: tls=verified auth=ok"* ]]
	send "smtp+tls://alice@127.0.0.1:$PF_NOTLS" -a "$SECRETS" -k
	assert_status 75
	[[ $output == *"127.0.0.1:$PF_NOTLS: unusable: "*"STARTTLS not offered"* ]]
	assert_same_bytes "$BATS_TEST_TMPDIR/orig" "$Q/new/$NAME"
	maildir_has "$PF_DIR/mail/bob" 0
}

@test "Postfix: a wrong password (535) keeps the mail, one line says what to fix" {
	queue_one badpass
	printf '127.0.0.1 alice not the password\n' >"$SECRETS"
	send "smtp+tls://alice@127.0.0.1:$PF_PORT" -a "$SECRETS"
	assert_kept "refused AUTH as alice: 535 5.7.8 .*check the user and password"
	[ "$(count_lines 'result=unusable: .*refused AUTH' "$LOG")" -eq 1 ]
	pf_log | grep -q 'SASL PLAIN authentication failed'
}

@test "Postfix: 530 to MAIL when we give no user keeps the mail, never bounces" {
	queue_one noauth
	send "smtp+tls://127.0.0.1:$PF_530"
	assert_kept "wants AUTH (530 5.7.0 .*give -r a user@ and -a its password"
}

@test "Postfix dropping the connection inside TLS, mid-transaction: the mail stays queued" {
	local pid smtpd
	queue_one drop
	"$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t $((30 * SLOWDOWN))s \
	    -C "$PF_DIR/pki/ca.pem" -r "smtp+tls://alice@127.0.0.1:$PF_SLOW" \
	    -a "$SECRETS" 3>&- &
	pid=$! SEND_PID=$!
	# Its smtpd waits out slow_eod after the dot, so it is still in the
	# transaction once it logged the client line: there it is killed
	# (a process of the instance this suite started).
	WAIT_SECONDS=$((20 * SLOWDOWN)) wait_for eval \
	    "pf_log | grep -q ' client=unknown.*sasl_username=alice'"
	smtpd=$(pf_log | sed -n 's/.*postfix-test\/smtpd\[\([0-9]*\)\]: [0-9A-F]*: client=.*/\1/p' |
	    tail -n 1)
	[ -n "$smtpd" ]
	kill -KILL "$smtpd"
	status=0
	wait "$pid" || status=$?
	SEND_PID=
	assert_kept "result=deferred: 451 4.4.2 relay 127.0.0.1:$PF_SLOW: connection"
}

@test "Postfix with a self-signed certificate: the mail stays queued" {
	queue_one self
	send "smtp+tls://alice@127.0.0.1:$PF_SELF" -a "$SECRETS"
	assert_kept "certificate not trusted: self-signed certificate"
}

@test "Postfix with an expired certificate: the mail stays queued" {
	wait_for eval "[ \$(date +%s) -gt \$(cat $PF_DIR/pki/expired.made) ]"
	queue_one expired
	send "smtp+tls://alice@127.0.0.1:$PF_EXPIRED" -a "$SECRETS"
	assert_kept "certificate not trusted: certificate has expired"
}

@test "Postfix with a certificate for another name: the mail stays queued" {
	queue_one wrong
	send "smtp+tls://alice@127.0.0.1:$PF_WRONG" -a "$SECRETS"
	assert_kept "certificate not trusted: IP address mismatch"
	send "smtp+tls://alice@localhost:$PF_WRONG" -a "$SECRETS" -f
	assert_kept "certificate not trusted: hostname mismatch"
}

@test "Postfix without STARTTLS where smtp+tls:// requires it: the mail stays queued" {
	queue_one notls
	send "smtp+tls://alice@127.0.0.1:$PF_NOTLS" -a "$SECRETS"
	assert_kept "STARTTLS not offered"
	# Not a word of the message, nor the password, in plaintext.
	refute eval "pf_log | grep 'mail=\\|auth='"
	pf_log | grep -q 'starttls=0/1'
}

@test "Postfix hiding STARTTLS from its EHLO reply, as a man in the middle would: no plaintext" {
	queue_one hidden
	send "smtp+tls://alice@127.0.0.1:$PF_HIDDEN" -a "$SECRETS"
	assert_kept "STARTTLS not offered (an attacker may have removed it), and the relay refused it"
	refute eval "pf_log | grep 'mail=\\|auth='"
}

@test "chain: smtpd -> queue -> smtpsend -> Postfix with STARTTLS and AUTH" {
	local msg
	printf -v msg 'Subject: chain\r\nTo: <bob@pf.test>\r\n\r\n..through everything\r\n'
	smtpd_session "EHLO c.test\r\nMAIL FROM:<a@src.test>\r\nRCPT TO:<bob@pf.test>\r\nDATA\r\n${msg//%/%%}.\r\nQUIT\r\n"
	NAME=$(basename "$(queued_file)")
	cp "$Q/new/$NAME" "$BATS_TEST_TMPDIR/orig"
	grep -q '^Received: from c.test' "$Q/new/$NAME"
	send "smtp+tls://alice@127.0.0.1:$PF_PORT" -a "$SECRETS"
	assert_in_postfix
}
