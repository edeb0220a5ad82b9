#!/usr/bin/env bats
# 27-smtpsend-trust.bats: smtpsend run by root over a queue that someone
# else owns.  Whoever runs as the queue's owner can
# replace tmp/, new/ and failed/ by symbolic links, or name files with
# terminal escapes; root must work as that owner, follow no link, check
# who owns each directory, and escape every name it prints or logs.
# The queue's owner here is nobody; OUT stands for /etc: root's, outside.
#
# The plain build only, as in 71-sendmail-privileges.bats: valgrind, run
# as root, cannot remove its own files in /tmp once smtpsend has become
# nobody, and reports it; the other suites run the same code under both
# sanitizers over a queue root owns.
# tests/run: once

load helpers

SMTPSEND=$BATS_TEST_DIRNAME/../smtpsend/smtpsend

setup() {
	[ "$(id -u)" -eq 0 ] || fail_or_skip "needs root"
	# A place the owner can reach (the bats tmpdir is root's alone).
	TOP=$(mktemp -d /tmp/smtpq-trust.XXXXXX)
	chmod 755 "$TOP"
	Q=$TOP/queue
	MAILDIR=$TOP/mail
	mkdir -m 750 "$Q" "$Q/tmp" "$Q/new" "$Q/failed"
	mkdir -m 755 "$MAILDIR"
	chown -R nobody:nogroup "$Q" "$MAILDIR"
	OUT=$TOP/etc
	mkdir -m 755 "$OUT"
	printf 'root runs this\n' >"$OUT/profile"
	touch -d '3 days ago' "$OUT/profile"
	printf 'From: <a@src.test>\nTo: <x@local.test>\n\nhi\r\n' \
	    >"$OUT/1000000000.M1P1.x"
	touch -d '3 days ago' "$OUT/1000000000.M1P1.x"
	(cd "$OUT" && ls -lA --time-style=+%s) >"$TOP/out.before"
}

teardown() {
	rm -rf "$TOP"
}

send() {
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR" "$@"
}

# Nothing in OUT was moved, deleted, added or written.
assert_out_untouched() {
	(cd "$OUT" && ls -lA --time-style=+%s) >"$TOP/out.after"
	if ! cmp -s "$TOP/out.before" "$TOP/out.after"; then
		diff "$TOP/out.before" "$TOP/out.after" >&2
		return 1
	fi
	[ "$(cat "$OUT/profile")" = "root runs this" ]
}

@test "as root: tmp/ a link to a directory outside: nothing there is deleted" {
	rmdir "$Q/tmp"
	ln -s "$OUT" "$Q/tmp"
	chown -h nobody:nogroup "$Q/tmp"
	send
	assert_status 75
	assert_out_untouched
	grep -q "unable to open queue $Q: " "$LOG"
}

@test "as root: failed/ a link to a directory outside: nothing is moved into it" {
	rmdir "$Q/failed"
	ln -s "$OUT" "$Q/failed"
	chown -h nobody:nogroup "$Q/failed"
	# a damaged file: smtpsend would move it to failed/
	printf 'garbage\n' >"$Q/new/$(qname)"
	chown -R nobody:nogroup "$Q/new"
	send
	assert_status 75
	assert_out_untouched
	[ "$(count_files "$Q/new")" -eq 1 ]
}

@test "as root: new/ a link to a directory outside: nothing there is delivered, moved or deleted" {
	rmdir "$Q/new"
	ln -s "$OUT" "$Q/new"
	chown -h nobody:nogroup "$Q/new"
	send
	assert_status 75
	assert_out_untouched
	[ ! -e "$MAILDIR/x" ]
	send -p
	assert_status 75
	[[ $output != *1000000000.M1P1.x* ]]
}

@test "as root: a subdirectory the queue's owner does not own is refused" {
	rmdir "$Q/failed"
	mkdir -m 755 "$Q/failed"	# root's, in nobody's queue
	qmsg "$(qname)" a@src.test u@local.test
	chown -R nobody:nogroup "$Q/new" "$Q/tmp"
	send
	assert_status 75
	grep -q "unable to open queue $Q: Operation not permitted" "$LOG"
	[ "$(count_files "$Q/new")" -eq 1 ]
}

@test "as root: smtpsend works as the queue's owner, whose files it makes" {
	local f
	qmsg "$(qname)" a@src.test u@local.test
	chown -R nobody:nogroup "$Q"
	send
	assert_status 0
	grep -q "queue=$Q uid=$(id -u nobody) gid=$(getent group nogroup | cut -d: -f3) result=running as the queue's owner" "$LOG"
	f=$(find "$MAILDIR/u/new" -type f)
	[ -n "$f" ]
	[ "$(stat -c %U "$f")" = nobody ]
	[ "$(stat -c %U "$MAILDIR/u")" = nobody ]
	assert_empty "$Q/new"
}

@test "-p and the log escape a queue file name holding terminal escapes or a newline" {
	local esc nl
	esc=$(printf '%s.M1P1.\033]0;owned\007\033[2J' "$(date +%s)")
	nl=$(printf '%s.M2P1.x\nsmtpsend[1]: forged' "$(date +%s)")
	printf 'From: <a@src.test>\nTo: <u@local.test>\n\nhi\r\n' >"$Q/new/$esc"
	printf 'From: <a@src.test>\nTo: <u@local.test>\n\nhi\r\n' >"$Q/new/$nl"
	chown -R nobody:nogroup "$Q"
	send -p
	assert_status 0
	[[ $output != *$'\033'* ]]
	[[ $output != *$'\007'* ]]
	[[ $output == *'\x1b]0;owned\x07\x1b[2J'* ]]
	[ "$(printf '%s\n' "$output" | grep -c 'forged')" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -c '^smtpsend\[1\]: forged')" -eq 0 ]
	send
	assert_status 0
	! grep -q $'\033' "$LOG" || false
	! grep -q '^smtpsend\[1\]: forged' "$LOG" || false
	[ "$(count_lines 'result=failed: not a queue name' "$LOG")" -eq 2 ]
	[ "$(find "$Q/failed" -type f -printf . | wc -c)" -eq 2 ]
}
