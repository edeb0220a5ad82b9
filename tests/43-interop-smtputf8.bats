#!/usr/bin/env bats
# SMTPUTF8 (RFC 6531) with Postfix on both sides: a
# Postfix whose client said SMTPUTF8 relays into smtpd (before smtpd
# offered SMTPUTF8, Postfix returned such mail "5.6.7 SMTPUTF8 is
# required, but was not offered", and its DSN too); sendmail queues UTF-8
# addresses and smtpsend passes SMTPUTF8 to a Postfix that offers it; to
# one that does not, a message that needs it is returned 5.6.7 and one
# that does not goes.  Python's smtplib speaking SMTPUTF8 to smtpd is in
# tests/40.
#
# Two private Postfix instances serve the file (tests/postfix-instance):
# PF_U with smtputf8_enable=yes (Postfix's default), relaying every domain
# but pf.test to smtpd; PF_A with smtputf8_enable=no (the instance's
# default), which does not offer SMTPUTF8.  smtpd runs under
# systemd-socket-activate for the whole file, its queue in
# $BATS_FILE_TMPDIR/q.
# tests/run: novalgrind (the C paths, smtpd's SMTPUTF8, sendmail's UTF-8
# addresses and smtpsend's 5.6.7, run under valgrind in tests/40, 70, 28)
# tests/run: noasan (the same paths run under ASan in 10, 11, 70 and 28)

load helpers

SENDMAIL=${SENDMAIL:-$BATS_TEST_DIRNAME/../smtpd/sendmail}
HOST=$(uname -n)
JOSE=$(printf 'jos\303\251')
NONO=$(printf '\303\261o\303\261o')

setup_file() {
	local tries=0 env=() name
	command -v postfix >/dev/null || return 0	# setup says so
	command -v systemd-socket-activate >/dev/null || return 0
	[ "$(id -u)" -eq 0 ] || return 0
	SQ=$BATS_FILE_TMPDIR/q
	mkdir -p "$SQ/new" "$SQ/tmp" "$SQ/failed"
	for name in ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -z "${!name:-}" ] || env+=(-E "$name")
	done
	while :; do
		SPORT=$(free_port 127.0.0.1)
		systemd-socket-activate -l "127.0.0.1:$SPORT" -a --inetd \
		    "${env[@]}" "$SMTPD" -q "$SQ" -n mx.test \
		    -l "$BATS_FILE_TMPDIR/smtpd.log" \
		    2>"$BATS_FILE_TMPDIR/launcher.err" 3>&- &
		SLAUNCHER=$!
		wait_for grep -q '^Listening on' \
		    "$BATS_FILE_TMPDIR/launcher.err" && break
		kill "$SLAUNCHER" 2>/dev/null
		tries=$((tries + 1))
		[ "$tries" -lt 5 ] || return 1
	done
	PF_DIR=$(mktemp -d /tmp/smtpq-pfu.XXXXXX)
	postfix_start smtputf8_enable=yes "relayhost=[127.0.0.1]:$SPORT"
	PF_U_DIR=$PF_DIR PF_U_PORT=$PF_PORT
	PF_DIR=$(mktemp -d /tmp/smtpq-pfa.XXXXXX)
	postfix_start smtputf8_enable=no
	PF_A_DIR=$PF_DIR PF_A_PORT=$PF_PORT
	export SQ SPORT SLAUNCHER PF_U_DIR PF_U_PORT PF_A_DIR PF_A_PORT
}

teardown_file() {
	PF_DIR=${PF_U_DIR:-} postfix_stop
	PF_DIR=${PF_A_DIR:-} postfix_stop
	if [ -n "${SLAUNCHER:-}" ]; then
		kill "$SLAUNCHER" 2>/dev/null
		wait "$SLAUNCHER" 2>/dev/null || true
	fi
}

setup() {
	local tool
	for tool in postfix python3 systemd-socket-activate; do
		command -v "$tool" >/dev/null ||
		    fail_or_skip "$tool is not installed"
	done
	[ "$(id -u)" -eq 0 ] || fail_or_skip "Postfix needs root"
	[ -n "${PF_U_PORT:-}" ] && [ -n "${PF_A_PORT:-}" ] ||
	    fail_or_skip "the private Postfix instances did not start"
	unset REMOTE_ADDR TCPREMOTEIP
	rm -f "$SQ"/new/* "$SQ"/failed/*
	rm -rf "$PF_U_DIR"/mail/* "$PF_A_DIR"/mail/*
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	PF_U_MARK=$(wc -c <"$PF_U_DIR/maillog")
	PF_A_MARK=$(wc -c <"$PF_A_DIR/maillog")
	ME=$(id -un)
}

teardown() {
	if grep -E 'Sanitizer|runtime error:' "$BATS_FILE_TMPDIR/launcher.err" >&2
	then
		return 1
	fi
}

# What each Postfix logged since the test began.
pf_u_log() {
	tail -c +$((PF_U_MARK + 1)) "$PF_U_DIR/maillog"
}

pf_a_log() {
	tail -c +$((PF_A_MARK + 1)) "$PF_A_DIR/maillog"
}

# smtp_to_pf_u FROM TO MESSAGE: Python's smtplib gives MESSAGE (printf
# format) to PF_U with SMTPUTF8 and BODY=8BITMIME, as a mail client whose
# user typed a UTF-8 address does.
smtp_to_pf_u() {
	run timeout 60 python3 - "$PF_U_PORT" "$1" "$2" "$(printf -- "$3")" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example")
assert s.has_extn("smtputf8"), s.esmtp_features
refused = s.sendmail(sys.argv[2], [sys.argv[3]], sys.argv[4].encode(),
    mail_options=["SMTPUTF8", "BODY=8BITMIME"])
assert refused == {}, refused
s.quit()
EOF
	[ "$status" -eq 0 ] || { echo "$output" >&2; return 1; }
}

# The one file smtpd queued, once Postfix has relayed it.
smtpd_queued() {
	[ "$(count_files "$SQ/new")" -eq 1 ] || return 1
	find "$SQ/new" -type f
}

# Waits for Postfix PF_U to have relayed the message to smtpd (its log
# says status=sent) or bounced it; prints its log since the test began.
pf_u_done() {
	pf_u_log | grep -Eq 'status=(sent|bounced)'
}

@test "Postfix relays mail to and from a UTF-8 address ($JOSE@) into smtpd: it arrives, no 5.6.7" {
	local f
	smtp_to_pf_u "$JOSE@src.test" "$NONO@dst.test" \
	    'From: Jos\303\251 <jos\303\251@src.test>\r\nTo: \303\261o\303\261o@dst.test\r\nSubject: caf\303\251\r\n\r\nh\303\251llo\r\n'
	wait_for pf_u_done
	pf_u_log | grep -q "to=<$NONO@dst.test>, relay=127.0.0.1\[127.0.0.1\]:$SPORT, .*status=sent"
	! pf_u_log | grep -q '5\.6\.7' || { pf_u_log >&2; false; }
	wait_for smtpd_queued
	f=$(smtpd_queued)
	sed '/^$/q' "$f" | grep -qx 'Smtputf8: yes'
	sed '/^$/q' "$f" | grep -qx "From: <$JOSE@src.test>"
	sed '/^$/q' "$f" | grep -qx "To: <$NONO@dst.test>"
	grep -q $'^\tby mx.test (smtpd) with UTF8SMTP id ' "$f"
	grep -q "^Subject: $(printf 'caf\303\251')" "$f"
}

@test "Postfix relays a message whose only UTF-8 is its To: (ASCII envelope, SMTPUTF8 said) into smtpd: it arrives, no 5.6.7" {
	local f
	smtp_to_pf_u a@src.test b@dst.test \
	    'From: a@src.test\r\nTo: Jos\303\251 <b@dst.test>\r\nSubject: x\r\n\r\nhi\r\n'
	wait_for pf_u_done
	pf_u_log | grep -q "to=<b@dst.test>, relay=127.0.0.1\[127.0.0.1\]:$SPORT, .*status=sent"
	! pf_u_log | grep -q '5\.6\.7' || { pf_u_log >&2; false; }
	wait_for smtpd_queued
	f=$(smtpd_queued)
	sed '/^$/q' "$f" | grep -qx 'Smtputf8: yes'
	grep -q "^To: $(printf 'Jos\303\251') <b@dst.test>" "$f"
}

# send_to PORT [flags]: smtpsend relays $Q to 127.0.0.1:PORT; this host's
# own addresses are delivered into $MAILDIR (bounces come back there).
send_to() {
	local port=$1
	shift
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -d "$HOST" -m "$MAILDIR" \
	    -r "127.0.0.1:$port" "$@"
}

@test "sendmail to $JOSE@pf.test, smtpsend to a Postfix that offers SMTPUTF8: it arrives, sent with SMTPUTF8" {
	local m
	run bash -c 'printf "To: Jos\303\251 <jos\303\251@pf.test>\nSubject: caf\303\251\n\nh\303\251llo\n" | "$1" -oQ"$2" -t' _ "$SENDMAIL" "$Q"
	[ "$status" -eq 0 ]
	send_to "$PF_U_PORT"
	[ "$status" -eq 0 ]
	grep -q "to=<$JOSE@pf.test> .*result=sent" "$LOG"
	wait_for maildir_has "$PF_U_DIR/mail/catchall" 1
	m=$(maildir_list "$PF_U_DIR/mail/catchall")
	grep -qx "Delivered-To: $JOSE@pf.test" "$m"
	grep -q "^To: $(printf 'Jos\303\251') <$JOSE@pf.test>" "$m"
	grep -q "^h$(printf '\303\251')llo" "$m"
	# Postfix saw SMTPUTF8 on MAIL: it says so in its Received:
	grep -q 'with UTF8SMTP' "$m"
}

@test "to a Postfix without SMTPUTF8: sendmail's UTF-8 recipient is returned 5.6.7, never sent; an ASCII message with a UTF-8 Subject goes" {
	local dsn m
	run bash -c 'printf "To: jos\303\251@pf.test\nSubject: a\n\nx\n" | "$1" -oQ"$2" -t' _ "$SENDMAIL" "$Q"
	[ "$status" -eq 0 ]
	run bash -c 'printf "To: Zo\303\253 <bob@pf.test>\nSubject: caf\303\251\n\nh\303\251llo\n" | "$1" -oQ"$2" -t' _ "$SENDMAIL" "$Q"
	[ "$status" -eq 0 ]
	send_to "$PF_A_PORT"
	[ "$status" -eq 0 ]
	grep -q "to=<$JOSE@pf.test> .*result=bounced: 554 5.6.7 SMTPUTF8 is required, but was not offered" "$LOG"
	! pf_a_log | grep -q "$JOSE" || { pf_a_log >&2; false; }
	dsn=$(maildir_list "$MAILDIR/$ME")
	grep -q '^Status: 5.6.7$' "$dsn"
	grep -q 'to=<bob@pf.test> .*result=sent' "$LOG"
	wait_for maildir_has "$PF_A_DIR/mail/bob" 1
	m=$(maildir_list "$PF_A_DIR/mail/bob")
	grep -q "^Subject: caf$(printf '\303\251')" "$m"
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "to a Postfix without SMTPUTF8: a message smtpd received with SMTPUTF8 but ASCII addresses and header goes, without the parameter" {
	local m
	ENVELOPE_EXTRA='Smtputf8: yes' BODY=$'Subject: x\r\nTo: carol@pf.test\r\n\r\nh\xc3\xa9llo\r\n' \
	    qmsg "$(qname)" a@src.test carol@pf.test
	send_to "$PF_A_PORT"
	[ "$status" -eq 0 ]
	grep -q 'to=<carol@pf.test> .*result=sent' "$LOG"
	wait_for maildir_has "$PF_A_DIR/mail/carol" 1
	m=$(maildir_list "$PF_A_DIR/mail/carol")
	grep -q "^h$(printf '\303\251')llo" "$m"
}
