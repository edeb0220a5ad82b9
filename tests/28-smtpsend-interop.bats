#!/usr/bin/env bats
# 28-smtpsend-interop.bats: what other MTAs met in smtpsend and
# smtpsend's answer to each: a relay that ends a session by refusing the
# rest of its messages (OpenSMTPD's limit of messages per session), the
# SMTPUTF8 and 8BITMIME decisions, and the cap on messages per connection
# that Exim's smtp_accept_queue_per_connection wants.
#
# Peers: tests/fakerelay, scripted, and OpenSMTPD itself.  OpenSMTPD
# conflicts with Postfix as a package: .ci/install unpacks it into
# /opt/opensmtpd, and opensmtpd_start runs it in a mount namespace of its
# own, where its compiled-in paths (/var/spool/smtpd, its chroot, its
# users) are private directories and files of the test's.

load helpers

OPENSMTPD=${OPENSMTPD:-/opt/opensmtpd/usr/sbin/smtpd}

setup() {
	smtpsend_setup
}

teardown() {
	smtpsend_teardown
	opensmtpd_stop
}

T() {
	printf '%s\n' "$RELAY_DIR/transcript"
}

# queue_n N: N messages from a@src.test to x1@dst.test ... xN@dst.test,
# oldest first.
queue_n() {
	local i
	for i in $(seq 1 "$1"); do
		qmsg "$(qname $((100 - i)) "$i")" a@src.test "x$i@dst.test"
	done
}

# Every one of N messages was accepted by the fake relay, each once.
assert_all_relayed() {
	local i
	[ "$(count_files "$Q/new")" -eq 0 ]
	for i in $(seq 1 "$1"); do
		[ "$(grep -lx "to=<x$i@dst.test>" "$RELAY_DIR"/*.env | wc -l)" \
		    -eq 1 ] || { echo "x$i: not relayed once" >&2; return 1; }
	done
}

# --- a relay that ends the session: a new one, the run goes on -------------

# The tests of a session's life (the messages it carries, when a new one
# is opened) run smtpsend with -j 1: one process, one session at a time,
# so the connections counted are those of that life.  With workers (-j)
# the relay gets up to -J sessions at once once a message to it is done.

@test "452 4.5.3 at every RCPT after 3 messages (OpenSMTPD 7): a new connection, every message sent in one run" {
	relay_start --max-mails 3
	queue_n 8
	smtpsend_run -j 1	# one session at a time (above)
	[ "$status" -eq 0 ]
	assert_all_relayed 8
	[ "$(count_lines ' connect$' "$(T)")" -eq 3 ]
	[ "$(count_lines 'result=reconnecting: refused for now after 3 messages on this session: 452 4.5.3 Too many messages sent' "$LOG")" -eq 2 ]
	[ "$(count_lines 'result=deferred' "$LOG")" -eq 0 ]
}

@test "452 4.5.3 at MAIL after 3 messages (OpenSMTPD 6.8), without PIPELINING: the same" {
	relay_start --max-mails 3 --max-mails-at mail --no-pipelining
	queue_n 7
	smtpsend_run -j 1	# one session at a time
	[ "$status" -eq 0 ]
	assert_all_relayed 7
	[ "$(count_lines ' connect$' "$(T)")" -eq 3 ]
}

@test "421 at RCPT after 2 messages: a new connection, every message sent" {
	relay_start --max-mails 2 \
	    --max-mails-reply '421 4.7.0 too many messages in one session'
	queue_n 5
	smtpsend_run -j 1	# one session at a time
	[ "$status" -eq 0 ]
	assert_all_relayed 5
	[ "$(count_lines ' connect$' "$(T)")" -eq 3 ]
	grep -q 'result=reconnecting: the relay ended the session: 421 4.7.0' "$LOG"
}

@test "a relay that refuses every message for now on a fresh connection too: one connection, each message tried once" {
	relay_start --max-mails 0
	queue_n 4
	smtpsend_run -j 1	# one session at a time
	[ "$status" -eq 75 ]
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
	[ "$(count_lines ' C: MAIL FROM:' "$(T)")" -eq 4 ]
	[ "$(count_lines 'result=deferred: 452 4.5.3 Too many messages sent' "$LOG")" -eq 4 ]
	refute grep -q 'result=reconnecting' "$LOG"
}

@test "421 at MAIL on a fresh connection: the relay is down for the run, one connection" {
	relay_start --max-mails 0 --max-mails-at mail \
	    --max-mails-reply '421 4.3.2 shutting down'
	queue_n 3
	smtpsend_run
	[ "$status" -eq 75 ]
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
	[ "$(count_lines ' C: MAIL FROM:' "$(T)")" -eq 1 ]
	[ "$(count_files "$Q/new")" -eq 3 ]
}

@test "one message refused for now (greylisting) after others went: tried once more on a new connection, then deferred; the rest go on" {
	relay_start --rcpt 'x2@dst.test=450 4.7.1 greylisted, try again later'
	queue_n 4
	smtpsend_run -j 1	# one session at a time
	[ "$status" -eq 75 ]
	# x2 met the refusal twice, over the first session and a new one;
	# the messages after it went over the new one.
	[ "$(count_lines ' connect$' "$(T)")" -eq 2 ]
	[ "$(count_lines ' C: RCPT TO:<x2@dst.test>' "$(T)")" -eq 2 ]
	[ "$(count_lines 'result=reconnecting' "$LOG")" -eq 1 ]
	grep -q 'to=<x2@dst.test> .*result=deferred: 450 4.7.1 greylisted' "$LOG"
	[ "$(count_files "$Q/new")" -eq 1 ]
	grep -lqx 'to=<x4@dst.test>' "$RELAY_DIR"/*.env
}

# --- OpenSMTPD itself -------------------------------------------------------

# opensmtpd_start [smtpd.conf line]...: OpenSMTPD on a free 127.0.0.1 port,
# plaintext, relaying nothing: it takes mail for box1 to box20 (users, in
# any domain) and logs a line "smtp envelope ... to=<boxN@...>" for each
# message it queued (its deliveries, as the user smtpqtest into
# $OS_DIR/mail/boxN/, are no concern of the tests).  Its paths are
# private: a mount namespace with its own /etc/passwd and /etc/group (the
# users opensmtpd and opensmtpq it drops privileges to, and smtpqtest)
# laid over /etc (an overlay, not a bind mount of the files: a useradd
# elsewhere renames a new /etc/passwd into place, and a file bound over
# the old one would be bypassed), tmpfs over /var/lib, /var/spool, /run
# and /usr/libexec.  Sets OS_PORT
# and OS_PID (the daemon, in the foreground: -d).
opensmtpd_start() {
	local line i
	[ -x "$OPENSMTPD" ] ||
	    fail_or_skip "OpenSMTPD is not unpacked in /opt/opensmtpd (.ci/install)"
	[ "$(id -u)" -eq 0 ] || fail_or_skip "OpenSMTPD needs root"
	OS_DIR=$BATS_TEST_TMPDIR/opensmtpd
	mkdir -p "$OS_DIR/spool" "$OS_DIR/mail" "$OS_DIR/etc" "$OS_DIR/work"
	chmod 711 "$OS_DIR/spool"
	cp /etc/passwd "$OS_DIR/etc/passwd"
	cp /etc/group "$OS_DIR/etc/group"
	printf '%s\n' 'opensmtpd:x:64990:64990::/nonexistent:/usr/sbin/nologin' \
	    'opensmtpq:x:64991:64991::/nonexistent:/usr/sbin/nologin' \
	    "smtpqtest:x:64992:64992::$OS_DIR/mail:/usr/sbin/nologin" \
	    >>"$OS_DIR/etc/passwd"
	# the recipients box1 ... box20: OpenSMTPD takes mail for users only
	for i in $(seq 1 20); do
		printf 'box%d:x:64992:64992::%s/mail:/usr/sbin/nologin\n' \
		    "$i" "$OS_DIR"
	done >>"$OS_DIR/etc/passwd"
	printf '%s\n' opensmtpd:x:64990: opensmtpq:x:64991: smtpqtest:x:64992: \
	    >>"$OS_DIR/etc/group"
	chown 64992:64992 "$OS_DIR/mail"
	OS_PORT=$(free_port 127.0.0.1)
	{
		for line in "$@"; do
			printf '%s\n' "$line"
		done
		printf 'listen on 127.0.0.1 port %s\n' "$OS_PORT"
		printf 'action "box" maildir "%s/mail/%%{rcpt.user}" user smtpqtest\n' \
		    "$OS_DIR"
		printf 'match from any for any action "box"\n'
	} >"$OS_DIR/smtpd.conf"
	unshare -m --propagation private sh -c '
		d=$1 smtpd=$2
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/etc,workdir=$d/work" /etc &&
		mount -t tmpfs tmpfs /var/lib &&
		mkdir -p /var/lib/opensmtpd/empty &&
		mount -t tmpfs tmpfs /var/spool &&
		mkdir /var/spool/smtpd &&
		mount --bind "$d/spool" /var/spool/smtpd &&
		mount -t tmpfs tmpfs /run &&
		mount -t tmpfs tmpfs /usr/libexec &&
		mkdir /usr/libexec/opensmtpd &&
		mount --bind "${smtpd%/sbin/smtpd}/libexec/opensmtpd" \
		    /usr/libexec/opensmtpd || exit 99
		exec "$smtpd" -d -f "$d/smtpd.conf"' _ "$OS_DIR" "$OPENSMTPD" \
	    >"$OS_DIR/log" 2>&1 3>&- &
	OS_PID=$!
	if ! wait_for opensmtpd_listening; then
		cat "$OS_DIR/log" >&2
		return 1
	fi
}

# Its smtp process, a child of the daemon, listens; the daemon is alive.
opensmtpd_listening() {
	kill -0 "$OS_PID" 2>/dev/null || return 2
	ss -Hltn "sport = :$OS_PORT" | grep -q .
}

opensmtpd_stop() {
	if [ -n "${OS_PID:-}" ]; then
		kill "$OS_PID" 2>/dev/null || true
		wait "$OS_PID" 2>/dev/null || true
		OS_PID=
	fi
}

@test "opensmtpd: 'smtp limit max-mails 3' and 8 messages: all delivered in one run, over 3 connections" {
	local i
	opensmtpd_start 'smtp limit max-mails 3'
	for i in $(seq 1 8); do
		qmsg "$(qname $((100 - i)) "$i")" a@src.test "box$i@os.test"
	done
	# -j 1: one session at a time (see the relay tests above)
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 10s \
	    -r "127.0.0.1:$OS_PORT" -j 1
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	# OpenSMTPD took each one once (its log line for a message it queued)
	for i in $(seq 1 8); do
		[ "$(count_lines " smtp envelope .* to=<box$i@os.test>\$" \
		    "$OS_DIR/log")" -eq 1 ] || { cat "$OS_DIR/log"; false; }
	done
	[ "$(count_lines ' smtp connected ' "$OS_DIR/log")" -eq 3 ]
	[ "$(count_lines 'result=connected' "$LOG")" -eq 3 ]
	grep -q 'result=reconnecting: refused for now after 3 messages on this session: 452 4.5.3 .*Too many messages sent' "$LOG"
}

# --- -c: messages per connection (Exim's smtp_accept_queue_per_connection) --

@test "-c: by default a connection carries 10 messages: 25 go over 3, each ended with QUIT" {
	relay_start
	queue_n 25
	smtpsend_run -j 1	# -c counts a session's messages: one at a time
	[ "$status" -eq 0 ]
	assert_all_relayed 25
	[ "$(count_lines ' connect$' "$(T)")" -eq 3 ]
	[ "$(count_lines ' C: QUIT$' "$(T)")" -eq 3 ]
	[ "$(count_lines ' C: MAIL FROM:' "$(T)")" -eq 25 ]
	# 10, 10 and 5 transactions, in that order
	[ "$(grep ' C: MAIL FROM:' "$(T)" | cut -d' ' -f1 | uniq -c |
	    awk '{ printf "%s ", $1 }')" = "10 10 5 " ]
	[ "$(count_lines 'messages=10 result=closing: the most one connection carries (-c)' "$LOG")" -eq 2 ]
}

@test "-c 100: 25 messages over one connection; -c 1: one connection each" {
	relay_start
	queue_n 25
	smtpsend_run -c 100 -j 1	# one session at a time
	[ "$status" -eq 0 ]
	assert_all_relayed 25
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
	relay_stop
	rm -rf "$RELAY_DIR"
	relay_start
	queue_n 3
	smtpsend_run -c 1	# any -j: each message its own connection
	[ "$status" -eq 0 ]
	assert_all_relayed 3
	[ "$(count_lines ' connect$' "$(T)")" -eq 3 ]
}

@test "-c: 0, a word or over 100000 is a usage error (64)" {
	local arg
	for arg in 0 x 100001 -1; do
		run "$SMTPSEND" -q "$Q" -n mx.test -c "$arg"
		[ "$status" -eq 64 ] || { echo "-c $arg: $status" >&2; false; }
		[[ "$output" == *"bad count for -c"* ]]
	done
}

# --- 8-bit: the content decides, not the label (RFC 6152) ------------------

NO8BIT=$'250-fakerelay\n250-PIPELINING\n250 SIZE 1000000'
EIGHT=$'Subject: x\r\n\r\n\xc3\xa9t\xc3\xa9\r\n'

@test "8-bit content that arrived undeclared is declared BODY=8BITMIME to a relay that offers it" {
	relay_start
	BODY=$EIGHT qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	grep -q ' C: MAIL FROM:<a@src.test> SIZE=[0-9]* BODY=8BITMIME$' "$(T)"
	[ -f "$RELAY_DIR/1.eml" ]
}

@test "8-bit only past the header section, 1 MiB in: still declared" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	{
		head -c $((1024 * 1024)) /dev/zero | tr '\0' 'a' | fold -w 70 |
		    sed 's/$/\r/'
		printf '\xff\r\n'
	} >>"$Q/new/$name"
	relay_start
	smtpsend_run
	[ "$status" -eq 0 ]
	grep -q ' C: MAIL FROM:<a@src.test> SIZE=[0-9]* BODY=8BITMIME$' "$(T)"
}

@test "to a relay without 8BITMIME: 8-bit data goes as it is, declared or not, without BODY=, logged" {
	relay_start --ehlo "$NO8BIT"
	ENVELOPE_EXTRA='Body: 8BITMIME' BODY=$EIGHT qmsg "$(qname 0 1)" a@src.test x1@dst.test
	BODY=$EIGHT qmsg "$(qname 0 2)" a@src.test x2@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	assert_all_relayed 2
	[ "$(count_lines ' C: MAIL FROM:<a@src.test> SIZE=[0-9]*$' "$(T)")" -eq 2 ]
	[ "$(count_lines 'body=8bit result=sent as it is: the relay does not offer 8BITMIME' "$LOG")" -eq 2 ]
	cmp <(printf '%s' "$EIGHT") "$RELAY_DIR/1.eml"
	cmp <(printf '%s' "$EIGHT") "$RELAY_DIR/2.eml"
	[ "$(count_files "$Q/failed")" -eq 0 ]
}

@test "labelled 8BITMIME but 7-bit, to a relay without 8BITMIME: sent, nothing logged about 8-bit" {
	relay_start --ehlo "$NO8BIT"
	ENVELOPE_EXTRA='Body: 8BITMIME' qmsg "$(qname)" a@src.test x1@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	assert_all_relayed 1
	grep -q ' C: MAIL FROM:<a@src.test> SIZE=[0-9]*$' "$(T)"
	refute grep -q 'body=8bit' "$LOG"
}

# --- SMTPUTF8 (RFC 6531), send side -------------------------------------------

UTF8_EHLO=$'250-fakerelay\n250-PIPELINING\n250-8BITMIME\n250 SMTPUTF8'
UTF8_HEADERS=$'Subject: x\r\nTo: Jos\xc3\xa9 <jose@dst.test>\r\n\r\nhi\r\n'

@test "smtputf8: a relay that offers SMTPUTF8 gets the parameter for a message received with it" {
	relay_start --ehlo "$UTF8_EHLO"
	ENVELOPE_EXTRA='Smtputf8: yes' BODY=$UTF8_HEADERS qmsg "$(qname 0 1)" \
	    a@src.test x1@dst.test
	qmsg "$(qname 0 2)" a@src.test x2@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	assert_all_relayed 2
	grep -q ' C: MAIL FROM:<a@src.test> BODY=8BITMIME SMTPUTF8$' "$(T)"
	# the other one, without it
	grep -q ' C: MAIL FROM:<a@src.test>$' "$(T)"
}

@test "smtputf8: without it offered, UTF-8 header fields of a SMTPUTF8 message are returned 5.6.7 (Postfix's rule), not sent" {
	local dsn
	relay_start
	ENVELOPE_EXTRA='Smtputf8: yes' BODY=$UTF8_HEADERS qmsg "$(qname)" \
	    a@src.test x@dst.test
	smtpsend_run -d src.test -m "$MAILDIR"
	[ "$status" -eq 0 ]
	[ "$(count_lines ' C: MAIL FROM:<a@src.test>' "$(T)")" -eq 0 ]
	grep -q 'to=<x@dst.test> .*result=bounced: 554 5.6.7 SMTPUTF8 is required, but was not offered by relay' "$LOG"
	dsn=$(maildir_list "$MAILDIR/a")
	grep -q '^Status: 5.6.7$' "$dsn"
	[ "$(count_lines '^Remote-MTA:' "$dsn")" -eq 0 ]
}

@test "smtputf8: without it offered, a SMTPUTF8 message that needs none (ASCII headers, UTF-8 body) is sent without it" {
	relay_start
	ENVELOPE_EXTRA='Smtputf8: yes' BODY=$'Subject: x\r\n\r\nJos\xc3\xa9\r\n' \
	    qmsg "$(qname)" a@src.test x1@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	assert_all_relayed 1
	grep -q ' C: MAIL FROM:<a@src.test> SIZE=[0-9]* BODY=8BITMIME$' "$(T)"
}

@test "smtputf8: the envelope line takes yes only, once; anything else is damage" {
	local bad
	for bad in 'Smtputf8: no' 'Smtputf8: ' $'Smtputf8: yes\nSmtputf8: yes'; do
		rm -f "$Q"/new/* "$Q"/failed/*
		ENVELOPE_EXTRA=$bad qmsg "$(qname)" a@src.test x@dst.test
		run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -d dst.test \
		    -m "$MAILDIR"
		[ "$(count_files "$Q/failed")" -eq 1 ] ||
		    { echo "$bad: not damage" >&2; false; }
	done
	rm -f "$Q"/new/* "$Q"/failed/*
	ENVELOPE_EXTRA='SMTPUTF8: YES' qmsg "$(qname)" a@src.test x@dst.test
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -d dst.test -m "$MAILDIR"
	[ "$status" -eq 0 ]
	maildir_has "$MAILDIR/x" 1
}
