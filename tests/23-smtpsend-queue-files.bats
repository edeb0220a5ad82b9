#!/usr/bin/env bats
# 23-smtpsend-queue-files.bats: queue files written by hand.  Whatever
# smtpsend cannot fully understand goes to failed/ with a log line;
# nothing is dropped in silence, no recipient, no file.

load helpers

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
}

teardown() {
	relay_stop
}

# Writes the printf format $2 as new/$1 (no other processing).
hand_write() {
	# shellcheck disable=SC2059
	printf "$2" > "$Q/new/$1"
}

# Header names are case-insensitive (RFC 5322), and so are our envelope's
# words: a lowercase "to:" is a recipient like "To:".
@test "a lowercase to: (and from:) line is a recipient, not dropped" {
	local name
	name=$(qname)
	hand_write "$name" 'from: <a@src.test>\nTo: <x@dst.test>\nto: <y@dst.test>\nTO: <z@dst.test>\n\nSubject: s\r\n\r\nhi\r\n'
	relay_start
	smtpsend_run
	assert_status 0
	printf 'from=<a@src.test>\nto=<x@dst.test>\nto=<y@dst.test>\nto=<z@dst.test>\n' |
	    cmp - "$RELAY_DIR/1.env"
	[ "$(count_lines 'result=sent' "$LOG")" -eq 3 ]
}

@test "a lowercase to: pending after a 4xx is written back as To:" {
	local name
	name=$(qname)
	hand_write "$name" 'From: <a@src.test>\nbody: 8BITMIME\nto: <busy@dst.test>\nTo: <x@dst.test>\n\nSubject: s\r\n\r\nhi\r\n'
	relay_start --rcpt 'busy@dst.test=451 4.2.0 busy'
	smtpsend_run
	assert_status 75
	printf 'From: <a@src.test>\nbody: 8BITMIME\nTo: <busy@dst.test>\n\n' |
	    cmp - <(head -n 4 "$Q/new/$name")
}

# An unknown word might be a recipient spelt wrong: carried along without
# being understood, its mail would silently not go.
@test "an unknown envelope word or a bad Body value: failed/, a log line, nothing sent" {
	local a b c d
	a=$(qname 0 1) b=$(qname 0 2) c=$(qname 0 3) d=$(qname 0 4)
	hand_write "$a" 'From: <a@src.test>\nTo: <x@dst.test>\nRcpt: <y@dst.test>\n\nhi\r\n'
	hand_write "$b" 'From: <a@src.test>\nBody: 9BIT\nTo: <x@dst.test>\n\nhi\r\n'
	hand_write "$c" 'From: <a@src.test>\nBody: 8BITMIME\nbody: 7BIT\nTo: <x@dst.test>\n\nhi\r\n'
	hand_write "$d" 'From: <a@src.test>\nAliased: \nTo: <x@dst.test>\n\nhi\r\n'
	relay_start
	smtpsend_run
	assert_status 0
	assert_empty "$Q/new"
	[ "$(count_files "$Q/failed")" -eq 4 ]
	grep -q "id=$a result=failed: damaged queue file: unknown envelope line" "$LOG"
	grep -q "id=$b result=failed: damaged queue file: bad Body value" "$LOG"
	grep -q "id=$c result=failed: damaged queue file: two Body lines" "$LOG"
	grep -q "id=$d result=failed: damaged queue file: " "$LOG"
	[ ! -e "$RELAY_DIR/transcript" ]	# no connection at all
}

# RFC 5321 4.1.2: a sender is <> or a mailbox with a domain.  A bounce to
# <nobody> would itself fail as a bad recipient.
@test "From: <nobody>: failed/ with a log line, never a bounce that fails" {
	local name
	name=$(qname)
	hand_write "$name" 'From: <nobody>\nTo: <x@dst.test>\n\nSubject: s\r\n\r\nhi\r\n'
	relay_start --rcpt 'x@dst.test=550 5.1.1 unknown user'
	smtpsend_run
	assert_status 0
	[ -f "$Q/failed/$name" ]
	[ "$(count_files "$Q/failed")" -eq 1 ]
	assert_empty "$Q/new"
	grep -q "id=$name result=failed: damaged queue file: bad sender" "$LOG"
	[ "$(count_lines 'unable to queue bounce\|dsn=' "$LOG")" -eq 0 ]
	[ ! -e "$RELAY_DIR/transcript" ]
}

@test "a file whose name starts with a dot is listed by -p and moved to failed/ with a log line" {
	hand_write .hidden 'From: <a@src.test>\nTo: <x@dst.test>\n\nhi\r\n'
	hand_write ".$(qname)" 'From: <a@src.test>\nTo: <x@dst.test>\n\nhi\r\n'
	run "$SMTPSEND" -q "$Q" -n mx.test -p
	assert_status 0
	[[ "$output" == *'.hidden  damaged: name does not start with a time'* ]]
	[[ "$output" == *'2 messages'* ]]
	relay_start
	smtpsend_run
	assert_status 0
	assert_empty "$Q/new"
	[ -f "$Q/failed/.hidden" ]
	[ "$(count_files "$Q/failed")" -eq 2 ]
	[ "$(count_lines 'result=failed: damaged queue file: name does not start with a time' "$LOG")" -eq 2 ]
	[ ! -e "$RELAY_DIR/transcript" ]
}

@test "a name starting with a sign or a space is not a time: failed/" {
	hand_write "+$(qname)" 'From: <a@src.test>\nTo: <x@dst.test>\n\nhi\r\n'
	hand_write " $(qname)" 'From: <a@src.test>\nTo: <x@dst.test>\n\nhi\r\n'
	relay_start
	smtpsend_run
	assert_status 0
	assert_empty "$Q/new"
	[ "$(count_lines 'result=failed: damaged queue file: name does not start with a time' "$LOG")" -eq 1 ]
	# a space is no byte of a queue name: logged escaped
	[ "$(count_lines 'id=\\x20[0-9]*\.M.* result=failed: not a queue name' "$LOG")" -eq 1 ]
}
