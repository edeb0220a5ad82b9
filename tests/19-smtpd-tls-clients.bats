#!/usr/bin/env bats
# Real clients over TLS against submission as deployed: on "587", smtpd
# -T 'stunnel CONF' -A ... -S (STARTTLS); on "465", stunnel in inetd mode
# in front of smtpd -E -A ... -S (implicit TLS); each under tcpserver and
# under systemd-socket-activate, on 127.0.0.1.  The test CA signs the
# certificate and every client verifies it.  Each message is checked in
# the queue: queued once, with ESMTPSA.
# tests/run: noasan (the clients drive smtpd -T and -E behind stunnel,
# 17's under ASan, and AUTH PLAIN and LOGIN with -S, 18's; under valgrind
# it runs)

load helpers
load tls

setup_file() {
	tls_make_ca
}

setup() {
	unset REMOTE_ADDR TCPREMOTEIP REMOTE_HOST SMTPD_STARTTLS
	sanitizer_env_flags
	passwd_make
	stunnel_conf "$BATS_TEST_TMPDIR/stunnel.conf" -S \
	    -A "$CHECKPASSWORD,$PASSWD"
}

teardown() {
	postfix_stop
	launch_stop
}

# The command a launcher runs per connection, for MODE 587 or 465.
per_connection() {
	if [ "$1" = 587 ]; then
		PER_CONNECTION=("$SMTPD" -q "$Q" -n mx.test -l "$LOG" -S
		    -A "$CHECKPASSWORD,$PASSWD"
		    -T "stunnel,$BATS_TEST_TMPDIR/stunnel.conf")
	else
		PER_CONNECTION=(stunnel "$BATS_TEST_TMPDIR/stunnel.conf")
	fi
}

serve_tcpserver() {
	per_connection "$1"
	exec_launcher tcpserver -q 127.0.0.1 "$2" "${PER_CONNECTION[@]}"
}

serve_socket_activate() {
	per_connection "$1"
	exec_launcher systemd-socket-activate -l "127.0.0.1:$2" -a --inetd \
	    "${SANITIZER_FLAGS[@]}" "${PER_CONNECTION[@]}"
}

queue_has_mail() {
	[ -n "$(ls -A "$Q/new" 2>/dev/null)" ]
}

# One message from a client is in the queue, authenticated over TLS,
# with the subject $1.
assert_submitted() {
	local f
	wait_for queue_has_mail
	f=$(queued_file) || return 1
	grep -q $'^\tby mx.test (smtpd) with ESMTPSA id ' "$f"
	grep -q "^Subject: $1" "$f"
	log_has "$LOG" 'user=alice result=authenticated'
}

swaks_send() {
	run swaks --server "127.0.0.1:$PORT" "$@" --tls-verify \
	    --tls-ca-path "$TLS_DIR/ca.pem" --tls-sni localhost \
	    --auth-user alice --auth-password s3cret \
	    --from alice@b.example --to x@elsewhere.example \
	    --header "Subject: via swaks" --timeout $((20 * SLOWDOWN))
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

smtplib_send() {
	run "$PYTHON" -c '
import smtplib, ssl, sys
port, mode, ca = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
msg = "From: alice@b.example\r\nTo: x@elsewhere.example\r\nSubject: via smtplib\r\n\r\nhi\r\n"
if mode == "587":
    s = smtplib.SMTP("localhost", port, timeout=60)
    s.ehlo()
    if s.has_extn("auth"):
        sys.exit("AUTH offered before TLS")
    s.starttls(context=ctx)
    s.ehlo()
    if s.has_extn("starttls"):
        sys.exit("STARTTLS offered after TLS")
else:
    s = smtplib.SMTP_SSL("localhost", port, context=ctx, timeout=60)
s.login("alice", "s3cret")
s.sendmail("alice@b.example", ["x@elsewhere.example"], msg)
s.quit()
' "$PORT" "$1" "$TLS_DIR/ca.pem"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

msmtp_send() {
	cat >"$BATS_TEST_TMPDIR/msmtprc" <<RC
account default
host localhost
port $PORT
tls on
tls_starttls $1
tls_trust_file $TLS_DIR/ca.pem
auth on
user alice
password s3cret
from alice@b.example
RC
	chmod 600 "$BATS_TEST_TMPDIR/msmtprc"
	run bash -c 'printf "Subject: via msmtp\n\nhi\n" |
	    msmtp -C "$1" x@elsewhere.example' _ "$BATS_TEST_TMPDIR/msmtprc"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "tcpserver, 587: swaks --tls --auth PLAIN" {
	launch 127.0.0.1 serve_tcpserver 587
	swaks_send --tls --auth PLAIN
	assert_submitted 'via swaks'
}

@test "tcpserver, 587: swaks --tls --auth LOGIN" {
	launch 127.0.0.1 serve_tcpserver 587
	swaks_send --tls --auth LOGIN
	assert_submitted 'via swaks'
}

@test "tcpserver, 587: without AUTH, swaks --tls gets 530 5.7.0 and nothing is queued" {
	launch 127.0.0.1 serve_tcpserver 587
	run swaks --server "127.0.0.1:$PORT" --tls --from a@b.example \
	    --to x@elsewhere.example --timeout $((20 * SLOWDOWN))
	[ "$status" -ne 0 ]
	[[ "$output" == *'<~* 530 5.7.0 Authentication required'* ]]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "tcpserver, 465: swaks --tlsc --auth PLAIN and --auth LOGIN" {
	launch 127.0.0.1 serve_tcpserver 465
	swaks_send --tlsc --auth PLAIN
	assert_submitted 'via swaks'
	rm -f "$Q"/new/*
	swaks_send --tlsc --auth LOGIN
	assert_submitted 'via swaks'
}

@test "tcpserver, 587: Python smtplib starttls() and login()" {
	launch 127.0.0.1 serve_tcpserver 587
	smtplib_send 587
	assert_submitted 'via smtplib'
}

@test "tcpserver, 465: Python smtplib SMTP_SSL and login()" {
	launch 127.0.0.1 serve_tcpserver 465
	smtplib_send 465
	assert_submitted 'via smtplib'
}

@test "tcpserver, 587: msmtp with tls on, tls_starttls on, auth on" {
	launch 127.0.0.1 serve_tcpserver 587
	msmtp_send on
	assert_submitted 'via msmtp'
}

@test "tcpserver, 465: msmtp with tls on, tls_starttls off, auth on" {
	launch 127.0.0.1 serve_tcpserver 465
	msmtp_send off
	assert_submitted 'via msmtp'
}

@test "systemd-socket-activate, 587: swaks --tls --auth LOGIN, smtplib starttls()" {
	launch 127.0.0.1 serve_socket_activate 587
	swaks_send --tls --auth LOGIN
	assert_submitted 'via swaks'
	rm -f "$Q"/new/*
	smtplib_send 587
	assert_submitted 'via smtplib'
}

@test "systemd-socket-activate, 465: swaks --tlsc --auth PLAIN, SMTP_SSL, msmtp" {
	launch 127.0.0.1 serve_socket_activate 465
	swaks_send --tlsc --auth PLAIN
	assert_submitted 'via swaks'
	rm -f "$Q"/new/*
	smtplib_send 465
	assert_submitted 'via smtplib'
	rm -f "$Q"/new/*
	msmtp_send off
	assert_submitted 'via msmtp'
}

@test "tcpserver, 587: mutt with its defaults (ssl_force_tls) and smtp_url=smtp://alice@...:587" {
	launch 127.0.0.1 serve_tcpserver 587
	mkdir -p "$BATS_TEST_TMPDIR/home"
	cat >"$BATS_TEST_TMPDIR/muttrc" <<RC
set smtp_url="smtp://alice@localhost:$PORT/"
set smtp_pass="s3cret"
set ssl_ca_certificates_file="$TLS_DIR/ca.pem"
set certificate_file="$BATS_TEST_TMPDIR/home/certs"
set from="alice@b.example"
RC
	run bash -c 'echo hi | HOME=$2 timeout $3 mutt -n -F "$1" \
	    -s "via mutt" x@elsewhere.example' _ "$BATS_TEST_TMPDIR/muttrc" \
	    "$BATS_TEST_TMPDIR/home" $((60 * SLOWDOWN))
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	assert_submitted 'via mutt'
}

# smtpd as an MX with STARTTLS (-T, no AUTH), port "25".
serve_mx() {
	stunnel_conf "$BATS_TEST_TMPDIR/stunnel.conf" -d mx.test
	exec_launcher tcpserver -q 127.0.0.1 "$1" "$SMTPD" -q "$Q" -n mx.test \
	    -l "$LOG" -d mx.test -T "stunnel,$BATS_TEST_TMPDIR/stunnel.conf"
}

@test "Postfix's smtp client with smtp_tls_security_level=verify delivers through STARTTLS" {
	launch 127.0.0.1 serve_mx
	postfix_start "relayhost=[localhost]:$PORT" smtp_host_lookup=native \
	    smtp_tls_security_level=verify smtp_tls_CAfile="$TLS_DIR/ca.pem" \
	    smtp_tls_loglevel=1
	run swaks --server "127.0.0.1:$PF_PORT" --from a@pf.test \
	    --to someone@mx.test --header "Subject: via postfix" \
	    --timeout $((20 * SLOWDOWN))
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	WAIT_SECONDS=$((30 * SLOWDOWN)) wait_for queue_has_mail ||
	    { tail -n 30 "$PF_DIR/maillog"; cat "$LOG"; false; }
	f=$(queued_file)
	grep -q $'^\tby mx.test (smtpd) with ESMTPS id ' "$f"
	grep -q '^Subject: via postfix' "$f"
	grep -q 'Verified TLS connection established to localhost' "$PF_DIR/maillog" ||
	    { cat "$PF_DIR/maillog"; false; }
}

# The shipped stunnel file $1 (stunnel/NAME) with this test's paths, to
# $BATS_TEST_TMPDIR/$1; logs to a file, as there may be no syslog here.
shipped_conf() {
	sed -e "s|@SBINDIR@/smtpd|$SMTPD|" \
	    -e "s|@SBINDIR@/smtpq-checkpassword|$CHECKPASSWORD|" \
	    -e "s|@SYSCONFDIR@/smtpq/passwd|$PASSWD|" -e "s|@QUEUEDIR@|$Q|" \
	    -e "s|@SYSCONFDIR@/smtpq/tls/|$TLS_DIR/|" \
	    -e "s|fullchain.pem|cert.pem|" -e "s|privkey.pem|key.pem|" \
	    -e "s|chain.pem|ca.pem|" \
	    -e "s|^syslog = yes|syslog = no\noutput = $BATS_TEST_TMPDIR/stunnel.log|" \
	    "$BATS_TEST_DIRNAME/../stunnel/$1" >"$BATS_TEST_TMPDIR/$1"
}

serve_shipped_465() {
	exec_launcher tcpserver -q 127.0.0.1 "$1" stunnel \
	    "$BATS_TEST_TMPDIR/stunnel-465.conf"
}

serve_shipped_587() {
	exec_launcher tcpserver -q 127.0.0.1 "$1" "$SMTPD" -q "$Q" -n mx.test \
	    -S -A "$CHECKPASSWORD,$PASSWD" \
	    -T "stunnel,$BATS_TEST_TMPDIR/stunnel-587.conf"
}

@test "the shipped stunnel-465.conf and stunnel-587.conf take authenticated mail" {
	shipped_conf stunnel-465.conf
	shipped_conf stunnel-587.conf
	launch 127.0.0.1 serve_shipped_465
	swaks_send --tlsc --auth PLAIN
	wait_for queue_has_mail
	grep -q $'^\tby .* (smtpd) with ESMTPSA id ' "$(queued_file)"
	rm -f "$Q"/new/*
	launch_stop
	launch 127.0.0.1 serve_shipped_587
	swaks_send --tls --auth LOGIN
	wait_for queue_has_mail
	grep -q $'^\tby .* (smtpd) with ESMTPSA id ' "$(queued_file)"
}

@test "the shipped stunnel-25.conf: STARTTLS for the MX, relay control kept" {
	shipped_conf stunnel-25.conf
	sed -i 's|^execArgs = .*|& -d mx.test|' "$BATS_TEST_TMPDIR/stunnel-25.conf"
	launch 127.0.0.1 serve_mx_shipped
	run swaks --server "127.0.0.1:$PORT" --tls --from a@b.example \
	    --to x@mx.test --timeout $((20 * SLOWDOWN))
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	wait_for queue_has_mail
	grep -q $'^\tby .* (smtpd) with ESMTPS id ' "$(queued_file)"
}

serve_mx_shipped() {
	exec_launcher tcpserver -q 127.0.0.1 "$1" "$SMTPD" -q "$Q" -n mx.test \
	    -d mx.test -T "stunnel,$BATS_TEST_TMPDIR/stunnel-25.conf"
}

serve_resident_465() {
	sed -i "s|^accept = .*|accept = 127.0.0.1:$1|" \
	    "$BATS_TEST_TMPDIR/stunnel-465-daemon.conf"
	exec_launcher stunnel "$BATS_TEST_TMPDIR/stunnel-465-daemon.conf"
}

@test "the shipped stunnel-465-daemon.conf: a resident stunnel, smtpd -E per connection" {
	shipped_conf stunnel-465-daemon.conf
	launch 127.0.0.1 serve_resident_465
	swaks_send --tlsc --auth PLAIN
	wait_for queue_has_mail
	grep -q $'^\tby .* (smtpd) with ESMTPSA id ' "$(queued_file)"
	rm -f "$Q"/new/*
	smtplib_send 465
	wait_for queue_has_mail
}
