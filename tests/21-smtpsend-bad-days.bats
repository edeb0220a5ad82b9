#!/usr/bin/env bats
# 21-smtpsend-bad-days.bats: smtpsend against bad relays, hostile queue
# files and bad days: the clock, smuggling on the way out, long lines,
# waits, what failed/ and bounces say, local delivery, a failing message
# among good ones.

load helpers

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	BG_PIDS=()
}

teardown() {
	local pid
	relay_stop
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# --- the clock ----------------------------------------------------------

# Linux (6.13 on, multigrain timestamps) may stamp a file with a time a
# clock tick ahead of what time() says: a bounce committed just after a
# second began (tests/41's SIZE bounce, while Postfix wrote its Maildirs)
# carried the next second, looked "not due" to the scan that followed, and
# the run exited 75 with the bounce left.  A file one second ahead is new.
@test "a file stamped a second ahead of the clock is due, not left for later" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test '"x y"@src.test'
	touch -d "@$(( $(date +%s) + 1 ))" "$Q/new/$name"
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR"
	assert_status 0
	assert_empty "$Q/new"
	[ -f "$Q/failed/$name" ]
	[ "$(count_files "$MAILDIR/a/new")" -eq 1 ]
}

@test "a next try a minute ahead is still not due" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test b@src.test
	touch -d '+1 minute' "$Q/new/$name"
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR"
	assert_status 75
	[ -f "$Q/new/$name" ]
}
