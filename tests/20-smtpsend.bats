#!/usr/bin/env bats
# 20-smtpsend.bats: smtpsend, the queue sender, against tests/fakerelay.
#
# Each test has a private queue ($Q), log ($LOG) and relay directory
# ($RELAY_DIR: the relay's transcript and the messages it accepted).
# Queue files are written as smtpd writes them (qmsg); retry times are set
# with touch instead of waited for.

# A long suite: tests/run starts it first.
# tests/run: early

load helpers
load workers

setup() {
	smtpsend_setup
}

teardown() {
	smtpsend_teardown
}

T() {
	printf '%s\n' "$RELAY_DIR/transcript"
}

# Queues $BODY from a@src.test to $RCPTS (default x@dst.test), keeps a copy
# of the queue file in $BATS_TEST_TMPDIR/orig, starts the relay with the
# arguments given, and runs smtpsend once.
send_one() {
	local name
	name=$(qname)
	# shellcheck disable=SC2086
	qmsg "$name" a@src.test ${RCPTS:-x@dst.test}
	cp "$Q/new/$name" "$BATS_TEST_TMPDIR/orig"
	relay_start "$@"
	smtpsend_run
}

# The first transaction in the transcript, from MAIL to the reply to
# DATA, without connection numbers.
first_transaction() {
	grep -A 7 -m 1 ' C: MAIL FROM:' "$(T)" | cut -d' ' -f2-
}

# Starts smtpsend against the relay in the background, with the flags
# given; its pid is $BG_PID (teardown kills it).
smtpsend_bg() {
	"$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" \
	    -r "127.0.0.1:$RELAY_PORT" "$@" 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# Queues a message of about $1 octets of base64 lines (random, so no two
# lines are alike), to x@dst.test, and keeps a copy in
# $BATS_TEST_TMPDIR/orig.
queue_big() {
	local name
	name=$(qname)
	{
		printf 'From: <a@src.test>\nTo: <x@dst.test>\n\nSubject: big\r\n\r\n'
		head -c $(($1 * 3 / 4)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'
	} > "$Q/new/$name"
	cp "$Q/new/$name" "$BATS_TEST_TMPDIR/orig"
}

# The number of seconds from now to the mtime (next try) of $1.
next_try_in() {
	echo $(( $(stat -c %Y "$1") - $(date +%s) ))
}

# --- usage ----------------------------------------------------------------

@test "-h prints usage and exits 0" {
	run "$SMTPSEND" -h
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
}

@test "a bad flag or value exits 64 with one line on stderr" {
	local args
	for args in "-x" "-t 0" "-t 5y" "-w 0" "-w abc" "-e 5x" \
	    "-r [::1" "-r host:port" "-d bad..domain" "-n -bad-" "extra"; do
		# shellcheck disable=SC2086
		run "$SMTPSEND" -q "$Q" -n mx.test $args
		[ "$status" -eq 64 ] || { echo "$args: status $status"; false; }
		[ "${#lines[@]}" -eq 1 ] || { echo "$args: $output"; false; }
	done
}

# --- runs and the SMTP client -----------------------------------------------

@test "a oneshot run drains new/ over one connection that ends with QUIT" {
	relay_start
	qmsg "$(qname 0 1)" a@src.test x@dst.test
	qmsg "$(qname 0 2)" a@src.test y@dst.test
	qmsg "$(qname 0 3)" b@src.test z@dst.test
	# -j 1: one process, so one session carries every message (with
	# workers the relay gets up to -J sessions once the first is done)
	smtpsend_run -j 1
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
	[ "$(count_lines ' C: MAIL FROM:' "$(T)")" -eq 3 ]
	[ "$(count_lines ' C: QUIT$' "$(T)")" -eq 1 ]
	tail -n 3 "$(T)" | grep -q ' C: QUIT$'
	grep -qx 'to=<z@dst.test>' "$RELAY_DIR/3.env"
}

@test "the relayed message is the queue file's message, byte for byte" {
	BODY=$'Subject: bytes\r\nX-Tab:\tvalue\r\n\r\n\xc3\xa9t\xc3\xa9\r\n\r\n  indented\r\nlast line\r\n'
	send_one
	[ "$status" -eq 0 ]
	qbody "$BATS_TEST_TMPDIR/orig" | cmp - "$RELAY_DIR/1.eml"
}

@test "dot-stuffing: leading dots are doubled on the wire and restored" {
	BODY=$'Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nmid.dle\r\n.\r\n'
	send_one
	[ "$status" -eq 0 ]
	printf 'Subject: dots\r\n\r\n..\r\n...two\r\n..leading\r\nmid.dle\r\n..\r\n.\r\n' |
	    cmp - "$RELAY_DIR/1.raw"
	qbody "$BATS_TEST_TMPDIR/orig" | cmp - "$RELAY_DIR/1.eml"
}

@test "a bare LF or a missing last line end goes out as CRLF" {
	BODY=$'Subject: lf\r\n\r\none\ntwo\r\n.three\nlast'
	send_one
	[ "$status" -eq 0 ]
	printf 'Subject: lf\r\n\r\none\r\ntwo\r\n..three\r\nlast\r\n.\r\n' |
	    cmp - "$RELAY_DIR/1.raw"
}

@test "PIPELINING: MAIL, every RCPT and DATA go in one batch" {
	RCPTS='x@dst.test y@dst.test' send_one
	[ "$status" -eq 0 ]
	first_transaction > "$BATS_TEST_TMPDIR/got"
	cat > "$BATS_TEST_TMPDIR/want" <<-EOF
	C: MAIL FROM:<a@src.test> SIZE=$(qbody "$BATS_TEST_TMPDIR/orig" | wc -c)
	C: RCPT TO:<x@dst.test>
	C: RCPT TO:<y@dst.test>
	C: DATA
	S: 250 2.1.0 Ok
	S: 250 2.1.5 Ok
	S: 250 2.1.5 Ok
	S: 354 End data with .
	EOF
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "without PIPELINING every command waits for its reply" {
	RCPTS='x@dst.test y@dst.test' send_one --no-pipelining
	[ "$status" -eq 0 ]
	first_transaction > "$BATS_TEST_TMPDIR/got"
	cat > "$BATS_TEST_TMPDIR/want" <<-EOF
	C: MAIL FROM:<a@src.test> SIZE=$(qbody "$BATS_TEST_TMPDIR/orig" | wc -c)
	S: 250 2.1.0 Ok
	C: RCPT TO:<x@dst.test>
	S: 250 2.1.5 Ok
	C: RCPT TO:<y@dst.test>
	S: 250 2.1.5 Ok
	C: DATA
	S: 354 End data with .
	EOF
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

@test "without PIPELINING: no RCPT after a refused MAIL, no DATA without a recipient" {
	local m1 m2
	m1=$(qname 0 1)
	m2=$(qname 0 2)
	relay_start --no-pipelining --mail '550 5.7.1 sender refused' \
	    --mail '250 2.1.0 Ok' --rcpt 'x@dst.test=550 5.1.1 unknown'
	qmsg "$m1" a@src.test y@dst.test
	qmsg "$m2" b@src.test x@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	[ "$(count_lines ' C: RCPT TO:<y@dst.test>' "$(T)")" -eq 0 ]
	grep -A 1 ' S: 550 5.7.1 sender refused' "$(T)" | grep -q ' C: RSET$'
	grep -A 1 ' S: 550 5.1.1 unknown' "$(T)" | grep -q ' C: RSET$'
	[ -f "$Q/failed/$m1" ]
	[ -f "$Q/failed/$m2" ]
	# the two bounces, sent in the same run
	grep -qx 'to=<a@src.test>' "$RELAY_DIR/1.env"
	grep -qx 'to=<b@src.test>' "$RELAY_DIR/2.env"
	grep -q '^Diagnostic-Code: smtp; 550 5.7.1 sender refused' "$RELAY_DIR/1.eml"
}

@test "SIZE= and BODY=8BITMIME only when the relay offers them" {
	ENVELOPE_EXTRA='Body: 8BITMIME' qmsg "$(qname 0 1)" a@src.test x@dst.test
	relay_start
	smtpsend_run
	[ "$status" -eq 0 ]
	grep -q ' C: MAIL FROM:<a@src.test> SIZE=[0-9]* BODY=8BITMIME$' "$(T)"
	relay_stop
	rm -rf "$RELAY_DIR"
	ENVELOPE_EXTRA='Body: 8BITMIME' qmsg "$(qname 0 2)" a@src.test x@dst.test
	relay_start --ehlo $'250-fakerelay\n250 PIPELINING'
	smtpsend_run
	[ "$status" -eq 0 ]
	grep -q ' C: MAIL FROM:<a@src.test>$' "$(T)"
}

@test "a message over the relay's SIZE limit is bounced without sending it" {
	relay_start --ehlo $'250-fakerelay\n250 SIZE 20'
	qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run -d src.test -m "$MAILDIR"
	[ "$status" -eq 0 ]
	[ "$(count_lines 'C: MAIL FROM:' "$(T)")" -eq 0 ]
	# the bounce, delivered locally to the sender
	grep -q '^Diagnostic-Code: X-smtpq; 552 5.3.4' "$MAILDIR"/a/new/*
}

@test "multi-line greeting and EHLO replies are read whole" {
	relay_start --greeting $'220-relay.test ESMTP\n220-second line\n220 ready' \
	    --ehlo $'250-relay.test\n250-8BITMIME\n250-SIZE 1000000\n250-PIPELINING\n250 HELP'
	qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	[ -f "$RELAY_DIR/1.eml" ]
	# PIPELINING, on the fourth line, was seen: one batch.
	grep -A 1 ' C: MAIL FROM:' "$(T)" | grep -q ' C: RCPT TO:'
	grep -q 'result=connected pipelining size' "$LOG"
}

@test "EHLO refused: HELO, then plain SMTP without extensions" {
	relay_start --ehlo '502 5.5.1 EHLO not implemented'
	qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	grep -A 2 ' C: EHLO mx.test' "$(T)" | grep -q ' C: HELO mx.test'
	grep -q ' C: MAIL FROM:<a@src.test>$' "$(T)"
	grep -A 1 ' C: MAIL FROM:' "$(T)" | grep -q ' S: 250'
	[ -f "$RELAY_DIR/1.eml" ]
}

@test "an IPv6 relay: -r [::1]:PORT" {
	relay_start --bind ::1
	qmsg "$(qname)" a@src.test x@dst.test
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -r "[::1]:$RELAY_PORT"
	[ "$status" -eq 0 ]
	grep -qx 'to=<x@dst.test>' "$RELAY_DIR/1.env"
	grep -q "relay=::1:$RELAY_PORT result=connected" "$LOG"
}

@test "a 421 ends the session: the message is kept, the run stops trying" {
	relay_start --mail '421 4.3.2 shutting down'
	qmsg "$(qname 0 1)" a@src.test x@dst.test
	qmsg "$(qname 0 2)" a@src.test y@dst.test
	cp "$Q"/new/* "$BATS_TEST_TMPDIR/"
	smtpsend_run
	[ "$status" -eq 75 ]
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
	[ "$(count_lines ' C: MAIL FROM:' "$(T)")" -eq 1 ]
	[ "$(count_lines 'result=deferred: 421 4.3.2 shutting down' "$LOG")" -eq 2 ]
	for f in "$Q"/new/*; do
		cmp "$f" "$BATS_TEST_TMPDIR/${f##*/}"
	done
}

@test "QUIT ends every connection, even one the relay refuses" {
	relay_start --greeting '554 5.3.2 no service for you'
	qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run
	[ "$status" -eq 75 ]
	grep -q ' C: QUIT$' "$(T)"
	[ "$(count_lines ' C: EHLO' "$(T)")" -eq 0 ]
	grep -q 'result=unusable: 451 4.4.1 .*554 5.3.2' "$LOG"
	[ "$(count_files "$Q/new")" -eq 1 ]
}

@test "one connection carries many messages; a failed one is RSET first" {
	relay_start --rcpt 'bad@dst.test=550 5.1.1 no such user'
	qmsg "$(qname 0 1)" a@src.test bad@dst.test
	qmsg "$(qname 0 2)" a@src.test good@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
	# the first transaction ended at a refused DATA: RSET before the next
	grep -B 1 ' C: MAIL FROM:<a@src.test>' "$(T)" | grep -q ' S: 250 2.0.0 Ok$'
	grep -q ' C: RSET$' "$(T)"
	grep -qx 'to=<good@dst.test>' "$RELAY_DIR/1.env"
}

# --- outcomes per recipient ---------------------------------------------------

@test "2xx, 5xx and 4xx recipients: sent, bounced, and kept pending" {
	local name
	name=$(qname)
	relay_start --rcpt 'gone@dst.test=550 5.1.1 <gone@dst.test>: unknown' \
	    --rcpt 'busy@dst.test=451 4.2.0 mailbox busy'
	ENVELOPE_EXTRA='Body: 8BITMIME' qmsg "$name" a@src.test ok@dst.test \
	    gone@dst.test busy@dst.test
	smtpsend_run
	[ "$status" -eq 75 ]
	# relayed to ok@ only
	grep -qx 'to=<ok@dst.test>' "$RELAY_DIR/1.env"
	[ "$(count_lines '^to=' "$RELAY_DIR/1.env")" -eq 1 ]
	# the queue file now lists busy@ alone, extension line kept
	printf 'From: <a@src.test>\nBody: 8BITMIME\nTo: <busy@dst.test>\n\n' |
	    cmp - <(head -n 4 "$Q/new/$name")
	[ "$(next_try_in "$Q/new/$name")" -gt 0 ]
	# and the bounce for gone@ went to the sender in the same run
	grep -qx 'from=<>' "$RELAY_DIR/2.env"
	grep -qx 'to=<a@src.test>' "$RELAY_DIR/2.env"
	grep -q '^Final-Recipient: rfc822; gone@dst.test' "$RELAY_DIR/2.eml"
	[ "$(count_lines 'busy@dst.test' "$RELAY_DIR/2.eml")" -eq 0 ]
	grep -q 'to=<ok@dst.test> route=relay relay=127.0.0.1:[0-9]* tls=none delay=[0-9a-z]* dsn=2.0.0 result=sent: 250' "$LOG"
	grep -q 'to=<gone@dst.test> .* result=bounced: 550 5.1.1' "$LOG"
	grep -q 'to=<busy@dst.test> .* result=deferred: 451 4.2.0' "$LOG"
}

@test "every recipient 5xx: a bounce is queued and the original goes to failed/" {
	local name
	name=$(qname)
	relay_start --rcpt 'x@dst.test=550 5.1.1 unknown user' \
	    --rcpt 'y@dst.test=553 5.1.3 bad address'
	qmsg "$name" a@src.test x@dst.test y@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	[ -f "$Q/failed/$name" ]
	[ ! -e "$Q/new/$name" ]
	grep -q 'Final-Recipient: rfc822; x@dst.test' "$RELAY_DIR/1.eml"
	grep -q 'Final-Recipient: rfc822; y@dst.test' "$RELAY_DIR/1.eml"
	grep -q 'Status: 5.1.3' "$RELAY_DIR/1.eml"
}

# Sends a message to x@ and y@ through a relay started with the arguments
# given, and asserts that it is kept byte for byte, waiting for its next
# try, with exit status 75.
assert_kept_whole() {
	RCPTS='x@dst.test y@dst.test' send_one "$@"
	[ "$status" -eq 75 ]
	cmp "$BATS_TEST_TMPDIR/orig" "$Q"/new/*
	[ "$(next_try_in "$Q"/new/*)" -gt 0 ]
	[ "$(count_files "$Q/failed")" -eq 0 ]
}

@test "a whole-message 4xx at MAIL keeps the file byte for byte" {
	assert_kept_whole --mail '451 4.3.0 try again later'
	[ "$(count_lines 'result=deferred: 451 4.3.0 try again' "$LOG")" -eq 2 ]
}

@test "a 4xx after the final dot keeps the message; a 5xx bounces it" {
	local name1 name2
	name1=$(qname 0 1)
	name2=$(qname 0 2)
	relay_start --dot '452 4.3.1 insufficient storage' \
	    --dot '554 5.6.0 content rejected' --dot '250 2.0.0 Ok'
	qmsg "$name1" a@src.test x@dst.test
	cp "$Q/new/$name1" "$BATS_TEST_TMPDIR/orig"
	smtpsend_run
	[ "$status" -eq 75 ]
	cmp "$BATS_TEST_TMPDIR/orig" "$Q/new/$name1"
	qmsg "$name2" b@src.test y@dst.test
	smtpsend_run
	[ -f "$Q/failed/$name2" ]
	grep -q 'Diagnostic-Code: smtp; 554 5.6.0 content rejected' \
	    "$RELAY_DIR/1.eml"
}

@test "a 4xx to DATA keeps the message intact" {
	assert_kept_whole --data '451 4.3.0 not now'
	[ "$(count_lines 'result=deferred: 451 4.3.0 not now' "$LOG")" -eq 2 ]
}

@test "relay down: one connection attempt, every message kept, exit 75" {
	local port f
	# a port nobody listens on: the relay's, once it has gone
	relay_start
	port=$RELAY_PORT
	relay_stop
	qmsg "$(qname 0 1)" a@src.test x@dst.test
	qmsg "$(qname 0 2)" a@src.test y@dst.test
	qmsg "$(qname 0 3)" a@src.test z@dst.test
	cp -p "$Q"/new/* "$BATS_TEST_TMPDIR/"
	RELAY_PORT=$port smtpsend_run
	[ "$status" -eq 75 ]
	[ "$(count_lines 'result=unreachable' "$LOG")" -eq 1 ]
	[ "$(count_lines 'result=deferred: 451 4.4.1' "$LOG")" -eq 3 ]
	for f in "$Q"/new/*; do
		cmp "$f" "$BATS_TEST_TMPDIR/${f##*/}"
	done
	[ "$(count_files "$Q/new")" -eq 3 ]
}

@test "the relay dropping the connection in DATA leaves the message intact" {
	local name
	name=$(qname)
	BODY=$(printf 'Subject: big\r\n\r\n'; for i in $(seq 2000); do printf 'line %d of the message\r\n' "$i"; done)
	qmsg "$name" a@src.test x@dst.test
	cp "$Q/new/$name" "$BATS_TEST_TMPDIR/orig"
	relay_start --drop-in-data 1000
	smtpsend_run
	[ "$status" -eq 75 ]
	grep -q 'dropping in DATA' "$(T)"
	cmp "$BATS_TEST_TMPDIR/orig" "$Q/new/$name"
	grep -q 'result=deferred: 451 4.4.2' "$LOG"
}

@test "a relay that never answers times out after -t" {
	relay_start --stall
	qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run -t 1s
	[ "$status" -eq 75 ]
	grep -q 'timeout after 1s' "$LOG"
	[ "$(count_files "$Q/new")" -eq 1 ]
}

# --- retry and bounce ---------------------------------------------------------

@test "a deferred message waits for its next try; -f ignores the schedule" {
	local name
	name=$(qname)
	relay_start --mail '451 4.3.0 later' --mail '250 2.1.0 Ok'
	qmsg "$name" a@src.test x@dst.test
	smtpsend_run
	[ "$status" -eq 75 ]
	[ "$(next_try_in "$Q/new/$name")" -gt 0 ]
	# not due: the next run does not even connect
	smtpsend_run
	[ "$status" -eq 75 ]
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
	smtpsend_run -f
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ -f "$RELAY_DIR/1.eml" ]
	# and once due by the clock, without -f
	qmsg "$name.2" a@src.test x@dst.test
	touch -d '-1 minute' "$Q/new/$name.2"
	smtpsend_run
	[ "$status" -eq 0 ]
	[ -f "$RELAY_DIR/2.eml" ]
}

# retry_after NOW ARRIVAL: when a try at NOW of a message that arrived at
# ARRIVAL is tried next: NOW plus its age, at least 1 minute, at most 1 hour.
retry_after() {
	local age=$(($1 - $2))
	((age < 60)) && age=60
	((age > 3600)) && age=3600
	echo $(($1 + age))
}

@test "the retry delay grows with the message's age, from 1 minute to 1 hour" {
	local name age t0 t1 next
	relay_start --mail '451 4.3.0 later'
	for age in 0 600 18000; do
		name=$(qname "$age" "$age")
		qmsg "$name" a@src.test x@dst.test
	done
	t0=$EPOCHSECONDS
	smtpsend_run
	t1=$EPOCHSECONDS
	[ "$status" -eq 75 ]
	# The next try (the file's mtime) is what smtpsend computed at some
	# moment between t0 and t1, however long the run took on a busy
	# machine: 1 minute for the young one, its age (10 minutes and more)
	# for the middle one, the 1 hour cap for the old one.
	[ "$(count_files "$Q/new")" -eq 3 ]
	local arrival lo hi
	for name in "$Q"/new/*; do
		arrival=${name##*/} arrival=${arrival%%.*}
		next=$(stat -c %Y "$name")
		lo=$(retry_after "$t0" "$arrival")
		hi=$(retry_after "$t1" "$arrival")
		echo "${name##*/}: next try $next, expected $lo to $hi"
		[ "$next" -ge "$lo" ]
		[ "$next" -le "$hi" ]
	done
}

@test "past -e a deferred message is bounced: an RFC 3464 DSN from <>" {
	local name
	name=$(qname $((6 * 86400)))
	BODY=$'Subject: the lost one\r\nMessage-ID: <lost@src.test>\r\n\r\nsecret body text\r\n'
	relay_start --rcpt 'busy@dst.test=451 4.2.0 mailbox busy'
	qmsg "$name" sender@src.test busy@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	[ -f "$Q/failed/$name" ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	local dsn=$RELAY_DIR/1.eml
	printf 'from=<>\nto=<sender@src.test>\n' | cmp - "$RELAY_DIR/1.env"
	grep -q '^From: Mail Delivery System <MAILER-DAEMON@mx.test>' "$dsn"
	grep -q '^To: <sender@src.test>' "$dsn"
	grep -q '^Auto-Submitted: auto-replied' "$dsn"
	grep -q '^Content-Type: multipart/report; report-type=delivery-status;' "$dsn"
	grep -q '^Content-Type: message/delivery-status' "$dsn"
	grep -q '^Reporting-MTA: dns; mx.test' "$dsn"
	grep -q '^Final-Recipient: rfc822; busy@dst.test' "$dsn"
	grep -q '^Action: failed' "$dsn"
	grep -q '^Status: 4.4.7' "$dsn"
	grep -q '^Remote-MTA: dns; 127.0.0.1' "$dsn"
	grep -q '^Diagnostic-Code: smtp; 451 4.2.0 mailbox busy' "$dsn"
	grep -q '^Content-Type: text/rfc822-headers' "$dsn"
	grep -q '^Subject: the lost one' "$dsn"
	[ "$(count_lines 'secret body text' "$dsn")" -eq 0 ]
	# every line of the DSN ends in CRLF
	[ "$(grep -c $'\r$' "$dsn")" -eq "$(wc -l < "$dsn")" ]
}

@test "-e sets the lifetime: a 2-minute-old message with -e 1m is bounced" {
	local name
	name=$(qname 120)
	relay_start --mail '451 4.3.0 later' --mail '250 2.1.0 Ok'
	qmsg "$name" sender@src.test x@dst.test
	smtpsend_run -e 1m
	[ "$status" -eq 0 ]
	[ -f "$Q/failed/$name" ]
	grep -q '^Final-Recipient: rfc822; x@dst.test' "$RELAY_DIR/1.eml"
}

@test "a null-sender message is never bounced: it moves to failed/" {
	local expired failed
	expired=$(qname $((6 * 86400)) 1)
	failed=$(qname 0 2)
	relay_start --rcpt 'busy@dst.test=451 4.2.0 busy' \
	    --rcpt 'gone@dst.test=550 5.1.1 unknown'
	qmsg "$expired" '' busy@dst.test
	qmsg "$failed" '' gone@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	[ -f "$Q/failed/$expired" ]
	[ -f "$Q/failed/$failed" ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_lines ' C: MAIL FROM:<>' "$(T)")" -eq 2 ]
	[ ! -e "$RELAY_DIR/1.eml" ]
	[ "$(count_lines 'no bounce for a bounce' "$LOG")" -eq 2 ]
}

@test "damaged queue files go to failed/ with a log line" {
	local long i
	long=$(printf 'x%.0s' $(seq 600))
	mkdir -p "$BATS_TEST_TMPDIR/bad"
	printf 'To: <x@dst.test>\n\nbody\r\n' > "$BATS_TEST_TMPDIR/bad/no-from"
	printf 'From: <a@src.test>\n\nbody\r\n' > "$BATS_TEST_TMPDIR/bad/no-to"
	printf 'From: <a@src.test>\nTo: <x@dst.test>\nbody\r\n' > "$BATS_TEST_TMPDIR/bad/no-end"
	printf 'From: <a@src.test>\nTo: <x@dst.test>\nX-Long: %s\n\nb\r\n' "$long" > "$BATS_TEST_TMPDIR/bad/long-line"
	printf 'From: <a@src.test>\nTo: <x y@dst.test>\n\nb\r\n' > "$BATS_TEST_TMPDIR/bad/bad-rcpt"
	printf 'From: <a@src.test>\nTo: <nodomain>\n\nb\r\n' > "$BATS_TEST_TMPDIR/bad/no-domain"
	printf 'From: a@src.test\nTo: <x@dst.test>\n\nb\r\n' > "$BATS_TEST_TMPDIR/bad/bare-from"
	printf 'From: <a@src.test>\r\nTo: <x@dst.test>\r\n\r\nb\r\n' > "$BATS_TEST_TMPDIR/bad/crlf-envelope"
	printf 'From: <a@src.test>\nFrom: <b@src.test>\nTo: <x@dst.test>\n\nb\r\n' > "$BATS_TEST_TMPDIR/bad/two-froms"
	printf 'From: <a@src.test>\nnot an envelope line\nTo: <x@dst.test>\n\nb\r\n' > "$BATS_TEST_TMPDIR/bad/not-a-field"
	printf 'From: <a@src.test>\nTo: <x@dst.test>\nX: \001\n\nb\r\n' > "$BATS_TEST_TMPDIR/bad/control-char"
	{
		printf 'From: <a@src.test>\n'
		for i in $(seq 101); do printf 'To: <r%d@dst.test>\n' "$i"; done
		printf '\nb\r\n'
	} > "$BATS_TEST_TMPDIR/bad/101-rcpts"
	: > "$BATS_TEST_TMPDIR/bad/empty"
	i=0
	for f in "$BATS_TEST_TMPDIR"/bad/*; do
		i=$((i + 1))
		cp "$f" "$Q/new/$(qname 0 "$i")"
	done
	cp "$f" "$Q/new/no-time-in-name"
	relay_start
	smtpsend_run
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_files "$Q/failed")" -eq $((i + 1)) ]
	[ "$(count_lines 'result=failed: damaged queue file' "$LOG")" -eq $((i + 1)) ]
	[ ! -e "$(T)" ]		# no connection at all
}

@test "tmp/ files untouched for 36 hours are removed; younger ones stay" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test u@local.test
	printf 'From: <a@src.test>\nTo: <x@dst.test>\n\nhalf a mess' >"$Q/tmp/crashed"
	touch -d '37 hours ago' "$Q/tmp/crashed"
	printf 'being written' >"$Q/tmp/recent"
	touch -d '35 hours ago' "$Q/tmp/recent"
	mkdir "$Q/tmp/adir"
	touch -d '40 hours ago' "$Q/tmp/adir"
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
	[ "$status" -eq 0 ]
	[ ! -e "$Q/tmp/crashed" ]
	[ -f "$Q/tmp/recent" ]
	[ -d "$Q/tmp/adir" ]
	grep -q 'tmp=crashed age=37h result=removed: stale' "$LOG"
	[ "$(grep -c 'result=removed' "$LOG")" -eq 1 ]
	# the run itself went on
	[ "$(count_files "$MAILDIR/u/new")" -eq 1 ]
}

@test "a tmp/ that is not a directory: the queue is refused (75), logged, the message kept" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test u@local.test
	rmdir "$Q/tmp"
	: >"$Q/tmp"
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
	[ "$status" -eq 75 ]
	grep -q "unable to open queue $Q: Not a directory" "$LOG"
	[ -f "$Q/new/$name" ]
	[ ! -e "$MAILDIR/u" ]
}

@test "exactly 100 recipients is not damage" {
	local i rcpts=()
	for i in $(seq 100); do rcpts+=("r$i@dst.test"); done
	relay_start
	qmsg "$(qname)" a@src.test "${rcpts[@]}"
	smtpsend_run
	[ "$status" -eq 0 ]
	[ "$(count_lines '^to=' "$RELAY_DIR/1.env")" -eq 100 ]
}

# --- local delivery -------------------------------------------------------------

@test "-d domains go into Maildirs under -m; other domains to the relay" {
	local name f
	name=$(qname)
	relay_start
	qmsg "$name" a@src.test Joe@Local.Test x@dst.test
	smtpsend_run -d local.test -m "$MAILDIR"
	[ "$status" -eq 0 ]
	[ -d "$MAILDIR/joe/cur" ]
	[ -d "$MAILDIR/joe/tmp" ]
	[ "$(count_files "$MAILDIR/joe/tmp")" -eq 0 ]
	[ "$(count_files "$MAILDIR/joe/new")" -eq 1 ]
	f=$(echo "$MAILDIR"/joe/new/*)
	printf 'Return-Path: <a@src.test>\nDelivered-To: <Joe@Local.Test>\nSubject: %s\n\nHello.\n' "$name" |
	    cmp - "$f"
	grep -qx 'to=<x@dst.test>' "$RELAY_DIR/1.env"
	[ "$(count_lines 'Joe@Local.Test' "$(T)")" -eq 0 ]
	grep -q 'to=<Joe@Local.Test> route=local relay=maildir .* result=sent: 250' "$LOG"
}

@test "-r local: every recipient is local, and no connection is made" {
	qmsg "$(qname 0 1)" a@src.test u1@any.test u2@other.test
	qmsg "$(qname 0 2)" a@src.test u1@any.test
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
	[ "$status" -eq 0 ]
	[ "$(count_files "$MAILDIR/u1/new")" -eq 2 ]
	[ "$(count_files "$MAILDIR/u2/new")" -eq 1 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "an unsafe local part is bounced and nothing is written outside -m" {
	local name
	name=$(qname)
	qmsg "$name" a@local.test '"../escape"@local.test' '"a/b"@local.test'
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
	[ "$status" -eq 0 ]
	[ ! -e "$BATS_TEST_TMPDIR/escape" ]
	[ -f "$Q/failed/$name" ]
	# the bounce went to the local sender a@
	grep -lq 'Final-Recipient: rfc822; "../escape"@local.test' "$MAILDIR"/a/new/*
	grep -q 'Status: 5.1.3' "$MAILDIR"/a/new/*
	[ "$(find "$MAILDIR" -type f | wc -l)" -eq 1 ]
}

@test "a Maildir that cannot be written defers the recipient" {
	local name
	name=$(qname)
	: > "$BATS_TEST_TMPDIR/not-a-dir"
	qmsg "$name" a@src.test u@local.test
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$BATS_TEST_TMPDIR/not-a-dir"
	[ "$status" -eq 75 ]
	[ -f "$Q/new/$name" ]
	grep -q 'to=<u@local.test> route=local relay=maildir .*dsn=4.3.0 result=deferred: 451 4.3.0' "$LOG"
}

# --- concurrency, signals, loops ------------------------------------------------

@test "messages that arrive during a run are sent in the same run" {
	local late
	late=$(qname 0 2)
	qmsg "$late" a@src.test late@dst.test
	mv "$Q/new/$late" "$BATS_TEST_TMPDIR/$late"
	relay_start --on-message "mv '$BATS_TEST_TMPDIR/$late' '$Q/new/$late'"
	qmsg "$(qname 0 1)" a@src.test early@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	grep -qx 'to=<early@dst.test>' "$RELAY_DIR/1.env"
	grep -qx 'to=<late@dst.test>' "$RELAY_DIR/2.env"
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_lines ' connect$' "$(T)")" -eq 1 ]
}

@test "two senders racing over 50 messages deliver each exactly once" {
	local i s1 s2
	for i in $(seq 50); do
		qmsg "$(qname 0 "$i")" a@src.test "r$i@dst.test"
	done
	relay_start
	smtpsend_bg
	s1=$BG_PID
	smtpsend_bg
	s2=$BG_PID
	wait "$s1"
	wait "$s2"
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(cat "$RELAY_DIR"/*.env | grep -c '^to=')" -eq 50 ]
	[ "$(cat "$RELAY_DIR"/*.env | grep '^to=' | sort -u | wc -l)" -eq 50 ]
	[ "$(count_lines 'result=done' "$LOG")" -eq 50 ]
}

@test "a message locked by another process is left alone" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	/usr/bin/python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$Q/new/$name" "$BATS_TEST_TMPDIR/locked" 3>&- &
	BG_PIDS+=("$!")
	wait_for test -e "$BATS_TEST_TMPDIR/locked"
	relay_start
	smtpsend_run
	[ "$status" -eq 0 ]
	[ -f "$Q/new/$name" ]
	[ ! -e "$RELAY_DIR/1.eml" ]
}

@test "SIGTERM while waiting on the relay: the message stays, exit 75" {
	local name pid rc=0
	name=$(qname)
	relay_start --stall
	qmsg "$name" a@src.test x@dst.test
	cp "$Q/new/$name" "$BATS_TEST_TMPDIR/orig"
	smtpsend_bg -t 60s
	pid=$BG_PID
	wait_for grep -q ' connect$' "$(T)"
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 75 ]
	cmp "$BATS_TEST_TMPDIR/orig" "$Q/new/$name"
	grep -q 'interrupted' "$LOG"
}

@test "killed in the middle of DATA, the message is still queued and goes next time" {
	queue_big 4000000
	relay_start --hang-in-data 100000
	smtpsend_bg
	wait_for grep -q 'hanging in DATA' "$(T)"
	# smtpsend and its workers (-j) all killed: the one in DATA is a
	# worker, which the parent's death alone does not stop
	kill_tree "$BG_PID"
	relay_stop
	cmp "$BATS_TEST_TMPDIR/orig" "$Q"/new/*
	rm -rf "$RELAY_DIR"
	relay_start
	smtpsend_run
	[ "$status" -eq 0 ]
	qbody "$BATS_TEST_TMPDIR/orig" | cmp - "$RELAY_DIR/1.eml"
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "-w sleeps between scans and SIGTERM ends the sleep" {
	local pid rc=0
	relay_start
	qmsg "$(qname 0 1)" a@src.test x@dst.test
	smtpsend_bg -w 1h
	pid=$BG_PID
	wait_for test -e "$RELAY_DIR/1.eml"
	# QUIT comes after the run's last scan: then it sleeps, so a new
	# message waits for the next run (nothing to wait for: a pause).
	wait_for grep -q ' C: QUIT' "$(T)"
	qmsg "$(qname 0 2)" a@src.test y@dst.test
	sleep 1
	kill -0 "$pid"
	[ "$(count_files "$Q/new")" -eq 1 ]
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	[ "$rc" -eq 75 ]
}

@test "-w scans again after the interval" {
	local pid
	relay_start
	qmsg "$(qname 0 1)" a@src.test x@dst.test
	smtpsend_bg -w 1s
	pid=$BG_PID
	wait_for test -e "$RELAY_DIR/1.eml"
	qmsg "$(qname 0 2)" a@src.test y@dst.test
	wait_for test -e "$RELAY_DIR/2.eml"
	kill -TERM "$pid"
	wait "$pid" || true
	grep -qx 'to=<y@dst.test>' "$RELAY_DIR/2.env"
}

# --- listing and logging --------------------------------------------------------

@test "-p lists id, age, size, sender, pending recipients and next try" {
	local a b
	a=$(qname 7200 1)
	b=$(qname 60 2)
	qmsg "$a" a@src.test x@dst.test y@dst.test
	qmsg "$b" '' z@dst.test
	touch -d '+30 minutes' "$Q/new/$b"
	cp -p "$Q/new/$a" "$BATS_TEST_TMPDIR/orig"
	run "$SMTPSEND" -q "$Q" -n mx.test -p
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "$a  age=2h00m size=$(qbody "$Q/new/$a" | wc -c) next=now from=<a@src.test>" ]]
	[ "${lines[1]}" = "    to=<x@dst.test>" ]
	[ "${lines[2]}" = "    to=<y@dst.test>" ]
	[[ "${lines[3]}" == "$b  age=1m size="*" next=29m from=<>" || "${lines[3]}" == "$b  age=1m size="*" next=30m from=<>" ]]
	[ "${lines[4]}" = "    to=<z@dst.test>" ]
	[ "${lines[5]}" = "2 messages, 3 recipients pending" ]
	# listing changes nothing
	cmp "$BATS_TEST_TMPDIR/orig" "$Q/new/$a"
}

@test "-p on an empty queue" {
	run "$SMTPSEND" -q "$Q" -n mx.test -p
	[ "$status" -eq 0 ]
	[ "$output" = "0 messages, 0 recipients pending" ]
}

@test "the log has one line per attempt and per recipient outcome" {
	local name
	name=$(qname)
	relay_start --rcpt 'gone@dst.test=550 5.1.1 unknown'
	qmsg "$name" a@src.test ok@dst.test gone@dst.test
	smtpsend_run
	[ "$status" -eq 0 ]
	[ "$(count_lines "smtpsend\[[0-9]*\]: id=$name from=<a@src.test> size=[0-9]* rcpts=2 age=[0-9]*s result=trying" "$LOG")" -eq 1 ]
	[ "$(count_lines "id=$name to=<ok@dst.test> .*result=sent: 250" "$LOG")" -eq 1 ]
	[ "$(count_lines "id=$name to=<gone@dst.test> .*result=bounced: 550" "$LOG")" -eq 1 ]
	# every line starts with a time stamp and the program
	[ "$(grep -cv '^[0-9-]*T[0-9:]*Z smtpsend\[[0-9]*\]: ' "$LOG")" -eq 0 ]
}

# --- end to end -----------------------------------------------------------------

@test "smtpd -> queue -> smtpsend -> relay keeps the message byte for byte" {
	local qf
	run bash -c 'printf "EHLO client.test\r\nMAIL FROM:<a@src.test>\r\nRCPT TO:<x@dst.test>\r\nDATA\r\nSubject: e2e\r\nFrom: a@src.test\r\n\r\n..dotted line\r\nplain line\r\n\r\nend\r\n.\r\nQUIT\r\n" | "$1" -q "$2" -n mx.test -l "$3"' \
	    _ "$SMTPD" "$Q" "$LOG"
	[ "$status" -eq 0 ]
	qf=$(queued_file)
	qbody "$qf" > "$BATS_TEST_TMPDIR/queued"
	relay_start
	smtpsend_run
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/queued" "$RELAY_DIR/1.eml"
	# what the client sent, after smtpd's Received: header
	printf 'Subject: e2e\r\nFrom: a@src.test\r\n\r\n.dotted line\r\nplain line\r\n\r\nend\r\n' > "$BATS_TEST_TMPDIR/sent"
	tail -c "$(wc -c < "$BATS_TEST_TMPDIR/sent")" "$RELAY_DIR/1.eml" |
	    cmp - "$BATS_TEST_TMPDIR/sent"
	head -n 1 "$RELAY_DIR/1.eml" | grep -q '^Received: from client.test'
	grep -q ' C: RCPT TO:<x@dst.test>' "$(T)"
}

@test "a 5 MiB message is relayed intact" {
	queue_big 5300000
	relay_start
	smtpsend_run
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$RELAY_DIR/1.eml")" -gt 5242880 ]
	qbody "$BATS_TEST_TMPDIR/orig" | cmp - "$RELAY_DIR/1.eml"
}
