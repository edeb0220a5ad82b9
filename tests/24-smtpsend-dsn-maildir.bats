#!/usr/bin/env bats
# 24-smtpsend-dsn-maildir.bats: what failed/ and bounces say, and local
# delivery into Maildirs: names, symlinks, modes.

load helpers

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
}

teardown() {
	relay_stop
}

T() {
	printf '%s\n' "$RELAY_DIR/transcript"
}

# The one bounce delivered into $MAILDIR/a (the sender a@src.test, local
# with -d src.test).
local_dsn() {
	local f
	f=$(echo "$MAILDIR"/a/new/*)
	[ -f "$f" ] || return 1
	printf '%s\n' "$f"
}

# --- failed/ --------------------------------------------------------------

@test "failed/ keeps only the failed recipients; put back into new/, it mails only them" {
	local name
	name=$(qname)
	relay_start --rcpt 'gone@dst.test=550 5.1.1 unknown user'
	qmsg "$name" a@src.test ok@dst.test gone@dst.test
	smtpsend_run -d src.test -m "$MAILDIR"
	assert_status 0
	assert_empty "$Q/new"
	grep -qx 'to=<ok@dst.test>' "$RELAY_DIR/1.env"
	printf 'From: <a@src.test>\nTo: <gone@dst.test>\n\n' |
	    cmp - <(head -n 3 "$Q/failed/$name")
	# the message itself is whole
	cmp <(qbody "$Q/failed/$name") <(printf 'Subject: %s\r\n\r\nHello.\r\n' "$name")
	# The operator puts it back (the recipient was mended, say).
	mv "$Q/failed/$name" "$Q/new/$name"
	relay_stop
	rm -rf "$RELAY_DIR"
	relay_start
	smtpsend_run -d src.test -m "$MAILDIR"
	assert_status 0
	printf 'from=<a@src.test>\nto=<gone@dst.test>\n' | cmp - "$RELAY_DIR/1.env"
	[ ! -e "$RELAY_DIR/2.env" ]
}

@test "a null-sender message with some recipients delivered: failed/ lists the failed ones" {
	local name
	name=$(qname)
	relay_start --rcpt 'gone@dst.test=550 5.1.1 unknown user'
	qmsg "$name" '' ok@dst.test gone@dst.test
	smtpsend_run
	assert_status 0
	printf 'From: <>\nTo: <gone@dst.test>\n\n' | cmp - <(head -n 3 "$Q/failed/$name")
}

# --- bounces ------------------------------------------------------------

@test "a bounce for the relay's reply names it: Remote-MTA, smtp; and what the host said" {
	local dsn
	relay_start --rcpt 'x@dst.test=550 5.1.1 unknown user'
	qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run -d src.test -m "$MAILDIR"
	assert_status 0
	dsn=$(local_dsn)
	grep -q '^Remote-MTA: dns; 127.0.0.1$' "$dsn"
	grep -q '^Diagnostic-Code: smtp; 550 5.1.1 unknown user$' "$dsn"
	grep -q '^<x@dst.test>: host 127.0.0.1 said: 550 5.1.1 unknown user$' "$dsn"
}

# RFC 3464 2.3.5: Remote-MTA only where a remote MTA was involved.
@test "a bounce for the relay's SIZE: our decision, no Remote-MTA, no server's reply" {
	local dsn
	relay_start --ehlo $'250-fakerelay\n250 SIZE 20'
	qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run -d src.test -m "$MAILDIR"
	assert_status 0
	dsn=$(local_dsn)
	grep -q '^Status: 5.3.4$' "$dsn"
	grep -q '^Diagnostic-Code: X-smtpq; 552 5.3.4 message larger' "$dsn"
	grep -q '^<x@dst.test>: 552 5.3.4 message larger' "$dsn"
	[ "$(count_lines '^Remote-MTA:' "$dsn")" -eq 0 ]
	[ "$(count_lines '[Ss]aid\|reply of the mail server' "$dsn")" -eq 0 ]
}

@test "an expired recipient whose last try never reached a relay: no Remote-MTA" {
	local dsn port
	port=$(free_port 127.0.0.1)
	qmsg "$(qname $((6 * 86400)))" a@src.test x@dst.test
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 10s \
	    -r "127.0.0.1:$port" -d src.test -m "$MAILDIR"
	assert_status 0
	dsn=$(local_dsn)
	grep -q '^Status: 4.4.7$' "$dsn"
	grep -q '^Diagnostic-Code: X-smtpq; 4' "$dsn"
	grep -q '^<x@dst.test>: gave up after retrying; last error: 4' "$dsn"
	[ "$(count_lines '^Remote-MTA:' "$dsn")" -eq 0 ]
}

@test "a bounce quoting 8-bit headers goes with BODY=8BITMIME; a 7-bit one without" {
	relay_start --rcpt 'x@dst.test=550 5.1.1 unknown user' \
	    --rcpt 'y@dst.test=550 5.1.1 unknown user'
	BODY=$'Subject: caf\xc3\xa9\r\n\r\nplain\r\n' qmsg "$(qname 0 1)" a@src.test x@dst.test
	BODY=$'Subject: plain\r\n\r\ncaf\xc3\xa9\r\n' qmsg "$(qname 0 2)" b@src.test y@dst.test
	smtpsend_run
	assert_status 0
	# The two bounces went through the same relay, in the same run.
	grep -q ' C: MAIL FROM:<> SIZE=[0-9]* BODY=8BITMIME$' "$(T)"
	[ "$(count_lines ' C: MAIL FROM:<> SIZE=[0-9]*$' "$(T)")" -eq 1 ]
	grep -lq $'^Subject: caf\xc3\xa9' "$RELAY_DIR"/*.eml
	[ "$(grep -l '^Content-Transfer-Encoding: 8bit' "$RELAY_DIR"/*.eml | wc -l)" -eq 1 ]
}

# The rare relay without 8BITMIME: no conversion, and the bounce, 8-bit like
# any other message, goes as it is (smtpsend.8).
@test "an 8-bit bounce to a relay without 8BITMIME goes as it is, without BODY=" {
	relay_start --ehlo $'250-fakerelay\n250 PIPELINING' \
	    --rcpt 'x@dst.test=550 5.1.1 unknown user'
	BODY=$'Subject: caf\xc3\xa9\r\n\r\nplain\r\n' qmsg "$(qname)" a@src.test x@dst.test
	smtpsend_run
	assert_status 0
	assert_empty "$Q/new"
	[ "$(count_files "$Q/failed")" -eq 1 ]
	grep -q 'to=<a@src.test> .* result=sent' "$LOG"
	grep -q ' C: MAIL FROM:<>$' "$(T)"
	grep -lq $'^Subject: caf\xc3\xa9' "$RELAY_DIR"/1.eml
}

# --- local delivery -----------------------------------------------------

# Delivers one message to u@local.test with -n $1, no relay.
deliver_as() {
	qmsg "$(qname)" a@src.test u@local.test
	run "$SMTPSEND" -q "$Q" -n "$1" -r local -l "$LOG" -m "$MAILDIR"
}

# The names in $MAILDIR/u/new hold neither ':' (Maildir's info separator,
# not in new/) nor anything but the one file.
assert_one_safe_name() {
	local f
	[ "$(count_files "$MAILDIR/u/new")" -eq 1 ]
	f=$(ls "$MAILDIR/u/new")
	[[ "$f" != *:* ]]
	[ "$(count_files "$MAILDIR/u/tmp")" -eq 0 ]
}

@test "Maildir names: -n '[IPv6:2001:db8::1]' delivers, without ':' in the name" {
	deliver_as '[IPv6:2001:db8::1]'
	assert_status 0
	assert_one_safe_name
	[[ "$(ls "$MAILDIR/u/new")" == *'.[IPv6_2001_db8__1]' ]]
}

@test "Maildir names: -n '[a/b]' delivers" {
	deliver_as '[a/b]'
	assert_status 0
	assert_one_safe_name
	[[ "$(ls "$MAILDIR/u/new")" == *'.[a_b]' ]]
}

@test "Maildir names: a 248-octet -n delivers, the name cut as the queue cuts it" {
	local label n
	label=$(printf 'a%.0s' $(seq 61))
	n=$label.$label.$label.$label	# 4 * 61 + 3 = 247
	n=b$n
	[ "${#n}" -eq 248 ]
	deliver_as "$n"
	assert_status 0
	assert_one_safe_name
	[ "$(ls "$MAILDIR/u/new" | wc -c)" -le 256 ]
}

# A symbolic link inside a mailbox points wherever its maker chose; it is
# never followed, and the recipient waits (4xx) with a log line.
# assert_link_refused SUBDIR: SUBDIR of u's mailbox is a symlink.
assert_link_refused() {
	local name sub
	for sub in tmp new cur; do
		[ "$sub" = "$1" ] || mkdir -p "$MAILDIR/u/$sub"
	done
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$MAILDIR/u/$1"
	name=$(qname)
	qmsg "$name" a@src.test u@local.test
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
	assert_status 75
	[ -f "$Q/new/$name" ]
	[ "$(count_files "$BATS_TEST_TMPDIR/elsewhere")" -eq 0 ]
	[ "$(find "$MAILDIR" -type f | wc -l)" -eq 0 ]
	grep -q "to=<u@local.test> route=local relay=maildir .* result=deferred: 451 4.3.0 .*/u/$1/: a symbolic link, not followed" "$LOG"
}

@test "a symlinked tmp/ in a mailbox is refused: 451 deferral, a log line, nothing written through it" {
	assert_link_refused tmp
}

@test "a symlinked new/ in a mailbox is refused: 451 deferral, a log line, nothing written through it" {
	assert_link_refused new
}

# Mail is private: group smtpq is sendmail's setgid group.
@test "Maildirs are made 0700 and their files 0600" {
	deliver_as mx.test
	assert_status 0
	[ "$(stat -c %a "$MAILDIR/u")" = 700 ]
	[ "$(stat -c %a "$MAILDIR/u/tmp")" = 700 ]
	[ "$(stat -c %a "$MAILDIR/u/new")" = 700 ]
	[ "$(stat -c %a "$MAILDIR/u/cur")" = 700 ]
	[ "$(stat -c %a "$MAILDIR"/u/new/*)" = 600 ]
}
