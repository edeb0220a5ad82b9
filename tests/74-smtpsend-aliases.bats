#!/usr/bin/env bats
# smtpsend -A: aliases for local recipients, into Maildirs and through the
# fake relay; refused targets and loops bounce.

load helpers

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	A=$BATS_TEST_TMPDIR/aliases
	cat >"$A" <<-'EOF2'
	# aliases(5) style
	postmaster: root
	ROOT: alice,
	  ops@remote.test
	alice: alice, bob
	team: carol, dave@local.test
	pipe: |/bin/sh -c "touch /tmp/smtpq-alias-pwned"
	file: /tmp/smtpq-alias-file
	inc: :include:/etc/passwd
	mix: alice, |/bin/sh -c "touch /tmp/smtpq-alias-pwned", carol
	loop1: loop2
	loop2: loop1
	EOF2
}

teardown() {
	relay_stop
}

run_local() {
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR" \
	    -A "$A" "$@"
}

boxes() {
	(cd "$MAILDIR" && for d in */; do
		printf '%s=%s\n' "${d%/}" "$(ls "$d/new" | wc -l)"
	done) | tr '\n' ' '
}

@test "an alias of an alias, several targets, names in any case, a name that lists itself" {
	qmsg "$(qname)" s@src.test postmaster@local.test
	run_local
	[ "$status" -eq 0 ]
	# postmaster -> root -> alice (-> alice, bob), ops@remote.test (local:
	# -r local)
	[ "$(boxes)" = "alice=1 bob=1 ops=1 " ]
	grep -q '^Delivered-To: postmaster@local.test' "$MAILDIR"/alice/new/*
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_files "$Q/failed")" -eq 0 ]
}

@test "a remote target is relayed with the original sender" {
	qmsg "$(qname)" s@src.test team@local.test
	relay_start
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" -A "$A" \
	    -d local.test -r "127.0.0.1:$RELAY_PORT" -t 10s
	[ "$status" -eq 0 ]
	[ "$(boxes)" = "carol=1 dave=1 " ]
	relay_stop
	qmsg "$(qname 0 2)" s@src.test root@local.test
	relay_start
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" -A "$A" \
	    -d local.test -r "127.0.0.1:$RELAY_PORT" -t 10s
	[ "$status" -eq 0 ]
	grep -q ' C: MAIL FROM:<s@src.test>' "$RELAY_DIR/transcript"
	grep -q ' C: RCPT TO:<ops@remote.test>' "$RELAY_DIR/transcript"
}

@test "recipients that expand to the same targets (postmaster, Postmaster, POSTMASTER) give each target one copy" {
	qmsg "$(qname)" s@src.test postmaster@local.test Postmaster@local.test \
	    POSTMASTER@local.test root@local.test alice@local.test
	run_local
	[ "$status" -eq 0 ]
	[ "$(boxes)" = "alice=1 bob=1 ops=1 " ]
	# a target that is itself a recipient of the message (not an alias)
	qmsg "$(qname 0 2)" s@src.test carol@local.test team@local.test \
	    TEAM@local.test
	run_local
	[ "$status" -eq 0 ]
	[ "$(boxes)" = "alice=1 bob=1 carol=1 dave=1 ops=1 " ]
	[ "$(count_files "$Q/failed")" -eq 0 ]
}

@test "100 postmaster recipients in any case send one copy through the relay" {
	local r=() i c
	for i in $(seq 0 99); do
		c=postmaster
		[ $((i % 2)) -eq 0 ] && c=Postmaster
		[ $((i % 3)) -eq 0 ] && c=POSTMASTER
		[ $((i % 5)) -eq 0 ] && c=PostMaster
		[ $((i % 7)) -eq 0 ] && c=pOSTMASTER
		r+=("$c@local.test")
	done
	qmsg "$(qname)" s@src.test "${r[@]}"
	relay_start
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" -A "$A" \
	    -d local.test -r "127.0.0.1:$RELAY_PORT" -t 10s
	[ "$status" -eq 0 ]
	[ "$(grep -c ' C: RCPT TO:<ops@remote.test>' "$RELAY_DIR/transcript")" \
	    -eq 1 ]
	[ -e "$RELAY_DIR/1.eml" ]
	[ ! -e "$RELAY_DIR/2.eml" ]
	[ "$(boxes)" = "alice=1 bob=1 " ]
}

@test "|command, /file and :include: targets are refused, logged and bounced" {
	rm -f /tmp/smtpq-alias-pwned /tmp/smtpq-alias-file
	n=0
	for r in pipe file inc; do
		n=$((n + 1))
		qmsg "$(qname 0 "$n")" s@src.test "$r@local.test"
	done
	run_local
	[ ! -e /tmp/smtpq-alias-pwned ]
	[ ! -e /tmp/smtpq-alias-file ]
	[ "$(grep -c 'result=alias refused: .*never used' "$LOG")" -eq 3 ]
	[ "$(count_files "$Q/failed")" -eq 3 ]
	# the bounces go to the sender: local here, into its Maildir
	[ "$(ls "$MAILDIR/s/new" | wc -l)" -eq 3 ]
}

@test "an alias with a refused target delivers to the others and bounces only that one" {
	local dsn
	rm -f /tmp/smtpq-alias-pwned
	qmsg "$(qname)" s@src.test mix@local.test
	run_local
	[ ! -e /tmp/smtpq-alias-pwned ]
	[ "$(boxes)" = "alice=1 bob=1 carol=1 s=1 " ]
	grep -q '^Delivered-To: mix@local.test' "$MAILDIR"/carol/new/*
	[ "$(grep -c 'result=alias refused: alias mix: target |/bin/sh' "$LOG")" \
	    -eq 1 ]
	# one bounce, for mix, naming the refused target, not the others
	dsn=$(ls "$MAILDIR"/s/new/*)
	grep -q '^Final-Recipient: rfc822; mix@local.test' "$dsn"
	grep -q '^Diagnostic-Code: .*target |/bin/sh.* refused' "$dsn"
	! grep -q '^Final-Recipient: rfc822; \(alice\|carol\)' "$dsn" || false
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "an alias loop bounces, never delivered forever" {
	qmsg "$(qname)" s@src.test loop1@local.test
	run_local
	grep -q 'result=alias refused: alias loop' "$LOG"
	[ "$(count_files "$Q/failed")" -eq 1 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(ls "$MAILDIR/s/new" | wc -l)" -eq 1 ]
}

@test "a malformed alias file is a usage error" {
	printf 'no colon here\n' >"$A"
	run "$SMTPSEND" -q "$Q" -A "$A"
	[ "$status" -eq 64 ]
	run "$SMTPSEND" -q "$Q" -A "$BATS_TEST_TMPDIR/missing"
	[ "$status" -eq 64 ]
}
