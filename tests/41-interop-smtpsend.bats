#!/usr/bin/env bats
# smtpsend hands mail to software we did not write, and what that software
# received and delivered is what was queued.  Peers: a private Postfix
# (tests/postfix-instance; its Maildirs hold what it delivered, its log
# says how it was spoken to) and Postfix's smtp-sink (its dumps hold the
# bytes on the wire; its fault options refuse or drop given commands).
# The last tests run the whole chain: a mail client, smtpd under
# systemd-socket-activate, the queue, smtpsend, Postfix, a Maildir.  In CI
# a missing peer fails the test.
#
# One Postfix serves the whole file (starting one takes seconds); each test
# empties its Maildirs and reads only the log lines written since it began.
# Senders are in src.test, which smtpsend delivers locally (-d), so a
# bounce lands in $MAILDIR/a/new.

# A long suite: tests/run starts it first.
# tests/run: early
# tests/run: novalgrind (smtp.c's paths here, every reply class at MAIL, RCPT, DATA and the dot, drops, 421, EHLO refused, no PIPELINING or 8BITMIME, SIZE, messages per connection, bounces, run under valgrind in tests/20, 21 and 28 against tests/fakerelay; the chain's smtpd in tests/10-14, 19 and 52; this one drives Postfix and smtp-sink)

load helpers

setup_file() {
	local access
	command -v postfix >/dev/null || return 0	# setup says so
	[ "$(id -u)" -eq 0 ] || return 0
	# Two recipients Postfix refuses, one for now and one for good, and a
	# sender it refuses at MAIL; and the strict checks of a careful site,
	# which a client that speaks out of turn or sloppily would trip.
	PF_DIR=$(mktemp -d /tmp/smtpq-postfix.XXXXXX)
	access=$PF_DIR/access
	printf '%s\n' 'soft@pf.test 450 4.2.1 soft refusal for the test' \
	    'hard@pf.test 550 5.1.1 hard refusal for the test' \
	    'refused@src.test 553 5.7.1 sender refused for the test' \
	    >"$access"
	postfix_start smtpd_delay_reject=no smtpd_helo_required=yes \
	    strict_rfc821_envelopes=yes \
	    "smtpd_helo_restrictions=reject_invalid_helo_hostname reject_non_fqdn_helo_hostname" \
	    "smtpd_sender_restrictions=check_sender_access texthash:$access" \
	    "smtpd_recipient_restrictions=check_recipient_access texthash:$access" \
	    smtpd_data_restrictions=reject_unauth_pipelining
	export PF_DIR PF_PORT
}

teardown_file() {
	postfix_stop
}

setup() {
	local tool
	for tool in postfix smtp-sink swaks s-nail systemd-socket-activate; do
		command -v "$tool" >/dev/null ||
		    fail_or_skip "$tool is not installed"
	done
	[ "$(id -u)" -eq 0 ] || fail_or_skip "Postfix needs root"
	[ -n "${PF_PORT:-}" ] || fail_or_skip "the private Postfix did not start"
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	rm -rf "$PF_DIR"/mail/*
	pf_log_mark
}

teardown() {
	sink_stop
	launch_stop
	if [ -n "${PF2_DIR:-}" ]; then
		"$BATS_TEST_DIRNAME/postfix-instance" stop "$PF2_DIR"
		rm -rf "$PF2_DIR"
	fi
}

# send PORT [flags]: runs smtpsend once on $Q, relaying to 127.0.0.1:PORT,
# src.test delivered locally into $MAILDIR.
send() {
	RELAY_PORT=$1
	shift
	smtpsend_run -d src.test -m "$MAILDIR" "$@"
}

# A message with the header fields a mail client writes; $1 is its
# Subject, the rest (printf format) its body.
message() {
	printf 'From: Alice <a@src.test>\r\nTo: bob@pf.test\r\n'
	printf 'Subject: %s\r\nDate: Tue, 24 Nov 2026 01:00:00 +0000\r\n' "$1"
	printf 'Message-ID: <%s@src.test>\r\nMIME-Version: 1.0\r\n' "${1// /.}"
	printf '\r\n'
	# shellcheck disable=SC2059
	printf -- "$2"
}

# qfile NAME FILE SENDER RCPT...: queues the message in FILE as smtpd
# would (like qmsg, for messages a variable cannot carry) and keeps a copy
# of the queue file in $BATS_TEST_TMPDIR/orig.NAME.
qfile() {
	local name=$1 file=$2 from=$3
	shift 3
	{
		queue_envelope "$from" "$@"
		cat "$file"
	} >"$Q/tmp/$name"
	cp "$Q/tmp/$name" "$BATS_TEST_TMPDIR/orig.$name"
	mv "$Q/tmp/$name" "$Q/new/$name"
}

# qmessage SUBJECT BODY SENDER RCPT...: queues message SUBJECT BODY (see
# message) under a new name, left in $NAME.
qmessage() {
	local subject=$1 body=$2
	shift 2
	NAME=$(qname "${AGE:-0}" "${SEQ:-1}")
	message "$subject" "$body" >"$BATS_TEST_TMPDIR/message"
	qfile "$NAME" "$BATS_TEST_TMPDIR/message" "$@"
}

# Asserts that Maildir file $2 holds the message of queue file $1, byte for
# byte apart from the trace fields Postfix added and CRLF made LF, and
# that Postfix recorded sender $3 and recipient $4.
assert_delivered() {
	queued_lf "$1" >"$BATS_TEST_TMPDIR/want"
	maildir_message "$2" >"$BATS_TEST_TMPDIR/got"
	assert_same_bytes "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	head -n 1 "$2" | grep -qx "Return-Path: <$3>"
	grep -m 1 -qx "Delivered-To: $4" "$2"
}

# Asserts Postfix saw exactly one SMTP connection since the test began,
# with no complaint about how we spoke (RFC 2920 pipelining included).
assert_one_connection() {
	pf_log >"$BATS_TEST_TMPDIR/pflog"
	[ "$(count_lines 'smtpd\[[0-9]*\]: connect from' \
	    "$BATS_TEST_TMPDIR/pflog")" -eq 1 ]
	if grep -E 'improper command pipelining|warning:|lost connection' \
	    "$BATS_TEST_TMPDIR/pflog" >&2; then
		return 1
	fi
}

# --- Postfix as the smarthost ----------------------------------------

@test "postfix: a message arrives byte for byte apart from trace headers" {
	qmessage "plain one" 'Hello Bob,\r\n\r\nthree lines\r\nof text.\r\n' \
	    a@src.test bob@pf.test
	send "$PF_PORT"
	assert_status 0
	assert_empty "$Q/new"
	assert_empty "$Q/failed"
	maildir_wait "$PF_DIR/mail/bob" 1
	f=$(maildir_list "$PF_DIR/mail/bob")
	assert_delivered "$BATS_TEST_TMPDIR/orig.$NAME" "$f" a@src.test bob@pf.test
	assert_one_connection
	grep -q 'result=connected pipelining size$' "$LOG"
	grep -q "id=$NAME to=<bob@pf.test> .* result=sent: 250 2.0.0 Ok: queued as" "$LOG"
	# Postfix's trace field names our EHLO and address.
	grep -q '^Received: from mx.test (unknown \[127.0.0.1\])$' "$f"
}

@test "postfix: lines starting with a dot arrive unchanged (stuffed on the wire)" {
	qmessage dots '.\r\n..\r\n.leading dot\r\n...three\r\n . not first\r\n.\r\n\r\n.\r\nlast' \
	    a@src.test bob@pf.test
	send "$PF_PORT"
	assert_status 0
	maildir_wait "$PF_DIR/mail/bob" 1
	# The last line had no line end: smtpsend gives it one.
	printf '\r\n' >>"$BATS_TEST_TMPDIR/orig.$NAME"
	assert_delivered "$BATS_TEST_TMPDIR/orig.$NAME" \
	    "$(maildir_list "$PF_DIR/mail/bob")" a@src.test bob@pf.test
	assert_one_connection
}

@test "postfix: an 8-bit body, declared BODY=8BITMIME, arrives byte for byte" {
	ENVELOPE_EXTRA='Body: 8BITMIME' qmessage 8bit \
	    'Gr\303\274\303\237e, \342\202\254 5\r\n\200\377\376 raw\r\n\r\nend \351\r\n' \
	    a@src.test bob@pf.test
	send "$PF_PORT"
	assert_status 0
	maildir_wait "$PF_DIR/mail/bob" 1
	assert_delivered "$BATS_TEST_TMPDIR/orig.$NAME" \
	    "$(maildir_list "$PF_DIR/mail/bob")" a@src.test bob@pf.test
	assert_one_connection
}

@test "postfix: several recipients of one message each get it, in one transaction" {
	local r
	qmessage many 'For all of you.\r\n' a@src.test bob@pf.test \
	    carol@pf.test dave@pf.test nobody-in-particular@pf.test
	send "$PF_PORT"
	assert_status 0
	assert_empty "$Q/new"
	for r in bob carol dave catchall; do
		maildir_wait "$PF_DIR/mail/$r" 1
	done
	for r in bob carol dave; do
		assert_delivered "$BATS_TEST_TMPDIR/orig.$NAME" \
		    "$(maildir_list "$PF_DIR/mail/$r")" a@src.test "$r@pf.test"
	done
	assert_delivered "$BATS_TEST_TMPDIR/orig.$NAME" \
	    "$(maildir_list "$PF_DIR/mail/catchall")" a@src.test \
	    nobody-in-particular@pf.test
	assert_one_connection
	pf_log | grep -q 'disconnect from .* mail=1 rcpt=4 data=1 quit=1'
}

@test "postfix: with -c 20, 20 messages go over one connection, one transaction each" {
	local i f names=()
	for i in $(seq 1 20); do
		SEQ=$i qmessage "msg $i" "Message number $i.\r\n" a@src.test \
		    bob@pf.test
		names+=("$NAME")
	done
	# -j 1: one session carries all 20 only in one process (workers, -j,
	# open up to -J sessions once the first message is done)
	send "$PF_PORT" -c 20 -j 1
	assert_status 0
	assert_empty "$Q/new"
	maildir_wait "$PF_DIR/mail/bob" 20
	for i in $(seq 1 20); do
		f=$(grep -l -x "Subject: msg $i" "$PF_DIR"/mail/bob/new/*)
		assert_delivered "$BATS_TEST_TMPDIR/orig.${names[i - 1]}" "$f" \
		    a@src.test bob@pf.test
	done
	assert_one_connection
	pf_log | grep -q 'disconnect from .* ehlo=1 mail=20 rcpt=20 data=20 quit=1 commands=62$'
	[ "$(count_lines 'result=connected' "$LOG")" -eq 1 ]
}

@test "postfix: a 5 MiB message arrives byte for byte" {
	NAME=$(qname)
	{
		message big 'Random lines follow, some start with a dot.\r\n'
		head -c $((3900 * 1024)) /dev/urandom | base64 -w 76 |
		    sed -e 's/^.\(.*[+]\)/.\1/' -e 's/$/\r/'
	} >"$BATS_TEST_TMPDIR/message"
	[ "$(wc -c <"$BATS_TEST_TMPDIR/message")" -gt $((5 * 1024 * 1024)) ]
	grep -q '^\.' "$BATS_TEST_TMPDIR/message"
	qfile "$NAME" "$BATS_TEST_TMPDIR/message" a@src.test bob@pf.test
	send "$PF_PORT"
	assert_status 0
	maildir_wait "$PF_DIR/mail/bob" 1
	assert_delivered "$BATS_TEST_TMPDIR/orig.$NAME" \
	    "$(maildir_list "$PF_DIR/mail/bob")" a@src.test bob@pf.test
	grep -q " size=$(wc -c <"$BATS_TEST_TMPDIR/message") " "$LOG"
	assert_one_connection
}

@test "postfix: one recipient taken, one refused for now, one for good" {
	local dsn
	AGE=120 qmessage mixed 'Some of you.\r\n' a@src.test bob@pf.test \
	    soft@pf.test hard@pf.test
	send "$PF_PORT"
	assert_status 75
	maildir_wait "$PF_DIR/mail/bob" 1
	assert_delivered "$BATS_TEST_TMPDIR/orig.$NAME" \
	    "$(maildir_list "$PF_DIR/mail/bob")" a@src.test bob@pf.test
	# Still queued for the one refused for now, with a later next try,
	# the message itself unchanged.
	[ "$(sed '/^$/q' "$Q/new/$NAME")" = "$(printf 'From: <a@src.test>\nTo: <soft@pf.test>\n')" ]
	cmp <(qbody "$BATS_TEST_TMPDIR/orig.$NAME") <(qbody "$Q/new/$NAME")
	[ "$(stat -c %Y "$Q/new/$NAME")" -gt "$(date +%s)" ]
	assert_empty "$Q/failed"
	grep -q 'to=<soft@pf.test> .* result=deferred: 450 4.2.1 <soft@pf.test>: Recipient address rejected: soft refusal' "$LOG"
	# The one refused for good is bounced: the report reached a@src.test.
	maildir_wait "$MAILDIR/a" 1
	dsn=$(maildir_list "$MAILDIR/a")
	grep -q '^Final-Recipient: rfc822; hard@pf.test' "$dsn"
	grep -q '^Status: 5.1.1' "$dsn"
	grep -q '^Diagnostic-Code: smtp; 550 5.1.1 <hard@pf.test>: Recipient address rejected: hard refusal for the test' "$dsn"
	[ "$(count_lines 'Final-Recipient: .*\(soft\|bob\)@pf.test' "$dsn")" -eq 0 ]
	assert_one_connection
}

@test "postfix: a sender refused at MAIL is bounced; the next message goes on the same connection" {
	local first second
	SEQ=1 qmessage refused 'Not wanted.\r\n' refused@src.test bob@pf.test \
	    carol@pf.test
	first=$NAME
	SEQ=2 qmessage taken 'Wanted.\r\n' a@src.test bob@pf.test
	second=$NAME
	send "$PF_PORT"
	assert_status 0
	assert_empty "$Q/new"
	cmp "$BATS_TEST_TMPDIR/orig.$first" "$Q/failed/$first"
	maildir_wait "$PF_DIR/mail/bob" 1
	assert_delivered "$BATS_TEST_TMPDIR/orig.$second" \
	    "$(maildir_list "$PF_DIR/mail/bob")" a@src.test bob@pf.test
	[ ! -e "$PF_DIR/mail/carol" ]
	maildir_wait "$MAILDIR/refused" 1
	[ "$(count_lines '^Diagnostic-Code: smtp; 553 5.7.1 <refused@src.test>: Sender address rejected: sender refused for the test$' \
	    "$(maildir_list "$MAILDIR/refused")")" -eq 2 ]
	assert_one_connection
	pf_log | grep -q 'disconnect from .* mail=1/2 rcpt=1/3 data=1/2 rset=1 quit=1'
}

@test "postfix: every recipient refused, then the next message on the same connection" {
	local first second
	SEQ=1 qmessage nobody 'For nobody.\r\n' a@src.test hard@pf.test
	first=$NAME
	SEQ=2 qmessage somebody 'For Bob.\r\n' a@src.test bob@pf.test
	second=$NAME
	send "$PF_PORT"
	assert_status 0
	assert_empty "$Q/new"
	cmp "$BATS_TEST_TMPDIR/orig.$first" "$Q/failed/$first"
	maildir_wait "$PF_DIR/mail/bob" 1
	assert_delivered "$BATS_TEST_TMPDIR/orig.$second" \
	    "$(maildir_list "$PF_DIR/mail/bob")" a@src.test bob@pf.test
	maildir_wait "$MAILDIR/a" 1
	assert_one_connection
	pf_log | grep -q 'disconnect from .* mail=2 rcpt=1/2 data=1/2 rset=1 quit=1'
}

@test "postfix: a bounce from <> goes back through Postfix as an RFC 3464 report" {
	local dsn
	qmessage "to bounce" 'Bounce me.\r\n' alice@pf.test hard@pf.test
	send "$PF_PORT"
	assert_status 0
	assert_empty "$Q/new"
	cmp "$BATS_TEST_TMPDIR/orig.$NAME" "$Q/failed/$NAME"
	maildir_wait "$PF_DIR/mail/alice" 1
	dsn=$(maildir_list "$PF_DIR/mail/alice")
	head -n 1 "$dsn" | grep -qx 'Return-Path: <>'
	"$PYTHON" - "$dsn" <<'PY'
import email, sys
msg = email.message_from_binary_file(open(sys.argv[1], "rb"))
assert msg.get_content_type() == "multipart/report", msg.get_content_type()
assert msg.get_param("report-type") == "delivery-status"
assert msg["Auto-Submitted"] == "auto-replied"
parts = msg.get_payload()
assert [p.get_content_type() for p in parts] == ["text/plain",
    "message/delivery-status", "text/rfc822-headers"], parts
# message/delivery-status: per-message fields, then one group per recipient
groups = parts[1].get_payload()
assert groups[0]["Reporting-MTA"] == "dns; mx.test", groups[0].items()
rcpt = groups[1]
assert rcpt["Final-Recipient"] == "rfc822; hard@pf.test"
assert rcpt["Action"] == "failed" and rcpt["Status"] == "5.1.1"
assert rcpt["Remote-MTA"] == "dns; 127.0.0.1"
assert "Subject: to bounce" in parts[2].get_payload()
PY
	assert_one_connection
	pf_log | grep -q 'disconnect from .* mail=2 rcpt=1/2 data=1/2 rset=1 quit=1'
}

@test "postfix without PIPELINING: one command at a time; over its SIZE: not sent" {
	local port small big
	PF2_DIR=$(mktemp -d /tmp/smtpq-postfix.XXXXXX)
	port=$(PF_WAIT=${WAIT_SECONDS:-10} \
	    "$BATS_TEST_DIRNAME/postfix-instance" start "$PF2_DIR" \
	    smtpd_discard_ehlo_keywords=pipelining message_size_limit=4000 \
	    smtpd_data_restrictions=reject_unauth_pipelining)
	SEQ=1 qmessage nopipe 'One at a time.\r\n' a@src.test bob@pf.test \
	    carol@pf.test
	small=$NAME
	SEQ=2 qmessage toobig "$(head -c 9000 /dev/zero | tr '\0' x)\r\n" \
	    a@src.test bob@pf.test
	big=$NAME
	send "$port"
	assert_status 0
	assert_empty "$Q/new"
	grep -q 'result=connected size$' "$LOG"
	maildir_wait "$PF2_DIR/mail/bob" 1
	maildir_wait "$PF2_DIR/mail/carol" 1
	assert_delivered "$BATS_TEST_TMPDIR/orig.$small" \
	    "$(maildir_list "$PF2_DIR/mail/carol")" a@src.test carol@pf.test
	# Postfix notices a client that sends before it was answered.
	[ "$(grep -cE 'improper command pipelining|warning:' "$PF2_DIR/maillog")" -eq 0 ]
	grep -q 'disconnect from .* mail=1 rcpt=2 data=1 quit=1' "$PF2_DIR/maillog"
	# RFC 1870: what the relay announced it would refuse is not sent.
	cmp "$BATS_TEST_TMPDIR/orig.$big" "$Q/failed/$big"
	maildir_wait "$MAILDIR/a" 1
	# Our decision, not the relay's reply (RFC 3464 2.3.5, 2.3.6).
	grep -q '^Diagnostic-Code: X-smtpq; 552 5.3.4 message larger than the relay.s SIZE limit' \
	    "$(maildir_list "$MAILDIR/a")"
	[ "$(count_lines '^Remote-MTA:' "$(maildir_list "$MAILDIR/a")")" -eq 0 ]
}

# --- smtp-sink: the bytes on the wire, refusals and drops on demand ----

# What smtp-sink's dump $1 should hold for queue file $2 sent from $3 with
# MAIL parameters $4 (e.g. " BODY=8BITMIME") to the recipients after:
# the envelope as it saw it, then the message as it came over the wire
# (dots unstuffed again, LF line ends: a line smtpsend failed to stuff
# would lose its dot or end the message) and an empty line.  Its own
# Received: field is left out of the comparison.
assert_dump() {
	local dump=$1 queued=$2 from=$3 params=$4 r
	shift 4
	{
		printf 'X-Client-Addr: 127.0.0.1\nX-Client-Proto: %s\n' \
		    "${PROTO:-ESMTP}"
		printf 'X-Helo-Args: mx.test\nX-Mail-Args: <%s>%s\n' "$from" \
		    "$params"
		for r in "$@"; do
			printf 'X-Rcpt-Args: <%s>\n' "$r"
		done
		qbody "$queued" | LC_ALL=C sed 's/\r$//'
		printf '\n'
	} >"$BATS_TEST_TMPDIR/want"
	LC_ALL=C awk '/^Received: / && !seen { seen = 1; skip = 1; next }
	    skip && /^\t/ { next }
	    { skip = 0; print }' "$dump" >"$BATS_TEST_TMPDIR/got"
	assert_same_bytes "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
}

# The dump holding Subject $1 (exactly one).
dump_of() {
	local files
	files=$(grep -l -x "Subject: $1" $(sink_dumps))
	[ "$(printf '%s\n' "$files" | wc -l)" -eq 1 ] && [ -n "$files" ] &&
	    printf '%s\n' "$files"
}

@test "smtp-sink: the envelope, BODY=8BITMIME and dot-stuffed lines on the wire" {
	local eight plain
	SEQ=1 ENVELOPE_EXTRA='Body: 8BITMIME' qmessage eight \
	    '.dot\r\n..two\r\n\303\251t\303\251 \377\r\n.\r\n' \
	    a@src.test x@dst.test y@dst.test
	eight=$NAME
	SEQ=2 qmessage plain 'plain\r\n' a@src.test z@dst.test
	plain=$NAME
	sink_start
	send "$SINK_PORT"
	assert_status 0
	assert_empty "$Q/new"
	grep -q 'result=connected pipelining$' "$LOG"
	[ "$(count_lines 'result=connected' "$LOG")" -eq 1 ]
	wait_for eval '[ "$(sink_dumps | wc -l)" -eq 2 ]'
	assert_dump "$(dump_of eight)" "$BATS_TEST_TMPDIR/orig.$eight" \
	    a@src.test ' BODY=8BITMIME' x@dst.test y@dst.test
	assert_dump "$(dump_of plain)" "$BATS_TEST_TMPDIR/orig.$plain" \
	    a@src.test '' z@dst.test
}

@test "smtp-sink without PIPELINING (-p): delivered one command at a time" {
	qmessage nopipe 'one at a time\r\n' a@src.test x@dst.test y@dst.test
	sink_start -p
	send "$SINK_PORT"
	assert_status 0
	assert_empty "$Q/new"
	grep -q 'result=connected$' "$LOG"
	wait_for eval '[ "$(sink_dumps | wc -l)" -eq 1 ]'
	assert_dump "$(sink_dumps)" "$BATS_TEST_TMPDIR/orig.$NAME" a@src.test '' \
	    x@dst.test y@dst.test
}

@test "smtp-sink without 8BITMIME (-8): declared but 7-bit, sent without BODY=" {
	ENVELOPE_EXTRA='Body: 8BITMIME' qmessage seven 'plain ASCII\r\n' \
	    a@src.test x@dst.test
	sink_start -8
	send "$SINK_PORT"
	assert_status 0
	wait_for eval '[ "$(sink_dumps | wc -l)" -eq 1 ]'
	assert_dump "$(sink_dumps)" "$BATS_TEST_TMPDIR/orig.$NAME" a@src.test '' \
	    x@dst.test
}

@test "smtp-sink without 8BITMIME (-8): declared 8-bit data goes as it is, without BODY=" {
	ENVELOPE_EXTRA='Body: 8BITMIME' qmessage eight '\303\251t\303\251\r\n' \
	    a@src.test x@dst.test
	sink_start -8
	send "$SINK_PORT"
	assert_status 0
	assert_empty "$Q/new"
	assert_empty "$Q/failed"
	grep -q 'body=8bit result=sent as it is: the relay does not offer 8BITMIME' "$LOG"
	wait_for eval '[ "$(sink_dumps | wc -l)" -eq 1 ]'
	assert_dump "$(sink_dumps)" "$BATS_TEST_TMPDIR/orig.$NAME" a@src.test '' \
	    x@dst.test
}

@test "smtp-sink refusing EHLO (-f EHLO): HELO instead, delivered" {
	qmessage helo 'plain SMTP\r\n' a@src.test x@dst.test
	sink_start -f EHLO
	send "$SINK_PORT"
	assert_status 0
	assert_empty "$Q/new"
	wait_for eval '[ "$(sink_dumps | wc -l)" -eq 1 ]'
	PROTO=SMTP assert_dump "$(sink_dumps)" "$BATS_TEST_TMPDIR/orig.$NAME" \
	    a@src.test '' x@dst.test
}

# refused_for_good COMMAND: smtp-sink answers COMMAND with 500 5.3.0; the
# message goes to failed/ as it was, and a@src.test gets a report naming
# both recipients and that reply.
refused_for_good() {
	local dsn
	qmessage "refused $1" 'for the bin\r\n' a@src.test x@dst.test y@dst.test
	sink_start -f "$1"
	send "$SINK_PORT"
	assert_status 0
	assert_empty "$Q/new"
	cmp "$BATS_TEST_TMPDIR/orig.$NAME" "$Q/failed/$NAME"
	[ "$(count_lines 'result=bounced: 500 5.3.0 Error: command failed' "$LOG")" -eq 2 ]
	maildir_wait "$MAILDIR/a" 1
	dsn=$(maildir_list "$MAILDIR/a")
	grep -q '^Return-Path: <>' "$dsn"
	grep -q '^Final-Recipient: rfc822; x@dst.test' "$dsn"
	grep -q '^Final-Recipient: rfc822; y@dst.test' "$dsn"
	[ "$(count_lines '^Status: 5.3.0$' "$dsn")" -eq 2 ]
	[ "$(count_lines '^Remote-MTA: dns; 127.0.0.1$' "$dsn")" -eq 2 ]
	[ "$(count_lines '^Diagnostic-Code: smtp; 500 5.3.0 Error: command failed$' "$dsn")" -eq 2 ]
	grep -q "^Subject: refused $1$" "$dsn"
	# Nothing was taken before the final dot.
	[ "$1" = . ] || [ -z "$(sink_dumps)" ]
}

@test "smtp-sink: 5xx to MAIL bounces every recipient" {
	refused_for_good MAIL
}

@test "smtp-sink: 5xx to RCPT bounces that recipient" {
	refused_for_good RCPT
}

@test "smtp-sink: 5xx to DATA bounces the recipients it took" {
	refused_for_good DATA
}

@test "smtp-sink: 5xx after the final dot bounces the recipients it took" {
	refused_for_good .
}

# refused_for_now COMMAND: smtp-sink answers COMMAND with 450 4.3.0; the
# message stays in new/ byte for byte, both recipients pending, due again
# in a while; nobody is bounced.
refused_for_now() {
	AGE=300 qmessage "deferred $1" 'try later\r\n' a@src.test x@dst.test \
	    y@dst.test
	sink_start -r "$1"
	send "$SINK_PORT"
	assert_status 75
	cmp "$BATS_TEST_TMPDIR/orig.$NAME" "$Q/new/$NAME"
	[ "$(stat -c %Y "$Q/new/$NAME")" -ge $(( $(date +%s) + 240 )) ]
	assert_empty "$Q/failed"
	[ ! -e "$MAILDIR/a" ]
	[ "$(count_lines 'result=deferred: 450 4.3.0 Error: command failed' "$LOG")" -eq 2 ]
	grep -q "id=$NAME pending=2 next=5m result=deferred" "$LOG"
}

@test "smtp-sink: 4xx to MAIL defers every recipient" {
	refused_for_now MAIL
}

@test "smtp-sink: 4xx to RCPT defers that recipient" {
	refused_for_now RCPT
}

@test "smtp-sink: 4xx to DATA defers the recipients it took" {
	refused_for_now DATA
}

@test "smtp-sink: 4xx after the final dot defers the recipients it took" {
	refused_for_now .
}

# dropped OPTION COMMAND: smtp-sink drops the connection at COMMAND (-q:
# silently, -Q: after a 421); both queued messages stay in new/ byte for
# byte.  A silent drop costs the message it happened to (msmtpd closes
# after any failed message): the second gets a connection of its own.  A
# 421 says the service is closing: no second connection in this run.
dropped() {
	local first second
	SEQ=1 qmessage "first $2" 'first\r\n' a@src.test x@dst.test
	first=$NAME
	SEQ=2 qmessage "second $2" 'second\r\n' a@src.test y@dst.test
	second=$NAME
	sink_start "$1" "$2"
	send "$SINK_PORT"
	assert_status 75
	cmp "$BATS_TEST_TMPDIR/orig.$first" "$Q/new/$first"
	cmp "$BATS_TEST_TMPDIR/orig.$second" "$Q/new/$second"
	assert_empty "$Q/failed"
	[ ! -e "$MAILDIR/a" ]
	[ "$(count_lines ': relay=' "$LOG")" -eq "$([ "$1" = -q ] && echo 2 || echo 1)" ]
	grep -q "id=$first to=<x@dst.test> .* result=deferred: $3" "$LOG"
	grep -q "id=$second to=<y@dst.test> .* result=deferred: $3" "$LOG"
}

@test "smtp-sink: a connection dropped after MAIL leaves the queue intact" {
	dropped -q MAIL '451 4.4.2 relay 127.0.0.1:[0-9]*: connection closed'
}

@test "smtp-sink: a connection dropped after RCPT leaves the queue intact" {
	dropped -q RCPT '451 4.4.2 relay 127.0.0.1:[0-9]*: connection closed'
}

@test "smtp-sink: a connection dropped after DATA leaves the queue intact" {
	dropped -q DATA '451 4.4.2 relay 127.0.0.1:[0-9]*: connection closed'
}

@test "smtp-sink: a connection dropped after the final dot leaves the queue intact" {
	dropped -q . '451 4.4.2 relay 127.0.0.1:[0-9]*: connection closed'
}

@test "smtp-sink: 421 after RCPT leaves the queue intact" {
	dropped -Q RCPT '421 '
}

@test "smtp-sink: 5xx greeting, or EHLO and HELO refused, leaves the queue intact" {
	dropped -f CONNECT '451 4.4.1 relay 127.0.0.1:[0-9]* refused the session: 5'
	sink_stop
	rm -f "$LOG"
	rm -rf "$SINK_DIR"
	dropped -f EHLO,HELO '451 4.4.1 relay 127.0.0.1:[0-9]* refused the session: 500 5.3.0'
}

# --- the whole chain: client, smtpd, queue, smtpsend, Postfix ----------

# For launch: smtpd under systemd-socket-activate on port $1, which
# passes its children only the variables named with -E.
smtpd_socket() {
	sanitizer_env_flags
	exec_launcher systemd-socket-activate -l "127.0.0.1:$1" -a --inetd \
	    "${SANITIZER_FLAGS[@]}" "$SMTPD" -q "$Q" -n mx.test -l "$LOG"
}

# The one queue file, kept as $BATS_TEST_TMPDIR/orig before smtpsend runs;
# then smtpsend relays it to the private Postfix.
chain_send() {
	local f
	f=$(queued_file)
	NAME=${f##*/}
	cp "$f" "$BATS_TEST_TMPDIR/orig"
	send "$PF_PORT"
	assert_status 0
	assert_empty "$Q/new"
}

# Asserts Maildir file $1 holds exactly what the client sent (file $2, CRLF
# line ends, dots unstuffed), our Received: field under Postfix's.
assert_chain_delivered() {
	LC_ALL=C sed 's/\r$//' "$2" >"$BATS_TEST_TMPDIR/want"
	maildir_message "$1" >"$BATS_TEST_TMPDIR/got"
	assert_same_bytes "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	assert_chain_trace "$1"
}

# Asserts Maildir file $1 has two Received: fields: Postfix's, for the
# message from mx.test, then smtpd's own with the queue id $NAME.
assert_chain_trace() {
	local tab=$'\t'
	[ "$(count_lines '^Received: ' "$1")" -eq 2 ]
	grep -m 1 '^Received: ' "$1" |
	    grep -qx 'Received: from mx.test (unknown \[127.0.0.1\])'
	grep -Eq "^${tab}by mx\.test \(smtpd\) with E?SMTP id ${NAME//./_}(;|\$)" \
	    "$1"
}

@test "chain: swaks, smtpd, smtpsend, Postfix: the body byte for byte" {
	printf 'From: a@src.test\r\nTo: bob@pf.test\r\nSubject: chain\r\n\r\nline one\r\n..dotted\r\n...\r\n\r\n8 bit: \303\251\377\r\nend\r\n.' \
	    >"$BATS_TEST_TMPDIR/data"
	printf 'From: a@src.test\r\nTo: bob@pf.test\r\nSubject: chain\r\n\r\nline one\r\n.dotted\r\n..\r\n\r\n8 bit: \303\251\377\r\nend\r\n' \
	    >"$BATS_TEST_TMPDIR/sent"
	launch 127.0.0.1 smtpd_socket
	run timeout 60 swaks --server "127.0.0.1:$PORT" -f a@src.test \
	    -t bob@pf.test --data "@$BATS_TEST_TMPDIR/data" --no-data-fixup
	assert_status 0
	[[ "$output" == *"250 2.0.0 Ok: queued as"* ]]
	chain_send
	maildir_wait "$PF_DIR/mail/bob" 1
	f=$(maildir_list "$PF_DIR/mail/bob")
	assert_chain_delivered "$f" "$BATS_TEST_TMPDIR/sent"
	head -n 1 "$f" | grep -qx 'Return-Path: <a@src.test>'
	assert_one_connection
	launch_stop
}

@test "chain: s-nail to two recipients, smtpd, smtpsend, Postfix" {
	local r f
	launch 127.0.0.1 smtpd_socket
	printf 'Hello from s-nail.\n.\nA dot line above (s-nail makes it =2E).\n\303\274\n' |
	    timeout 60 s-nail -n -S v15-compat -S smtp-auth=none \
	    -S "mta=smtp://127.0.0.1:$PORT" -S from=a@src.test -S sendwait \
	    -s "chain client" bob@pf.test carol@pf.test
	chain_send
	# What smtpd queued, less its Received: field, is what each got.
	queued_lf "$BATS_TEST_TMPDIR/orig" >"$BATS_TEST_TMPDIR/queued"
	maildir_message "$BATS_TEST_TMPDIR/queued" >"$BATS_TEST_TMPDIR/want"
	grep -q '^Subject: chain client$' "$BATS_TEST_TMPDIR/want"
	grep -q -x 'Hello from s-nail\.' "$BATS_TEST_TMPDIR/want"
	for r in bob carol; do
		maildir_wait "$PF_DIR/mail/$r" 1
		f=$(maildir_list "$PF_DIR/mail/$r")
		maildir_message "$f" >"$BATS_TEST_TMPDIR/got"
		assert_same_bytes "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
		grep -qx "Delivered-To: $r@pf.test" "$f"
		assert_chain_trace "$f"
	done
	assert_one_connection
	pf_log | grep -q 'disconnect from .* mail=1 rcpt=2 data=1 quit=1'
	launch_stop
}
