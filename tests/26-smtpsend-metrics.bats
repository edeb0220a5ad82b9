#!/usr/bin/env bats
# smtpsend: Prometheus text metrics after each run (smtpq.conf(5)
# "metrics FILE", smtpsend -O; smtpsend/metrics.c): queue size by
# directory, the oldest message's age, the last run's deliveries by result
# and TLS; written whole through a temporary file and a rename.

load helpers

PROM="$BATS_TEST_TMPDIR/prom/smtpq.prom"

setup() {
	smtpsend_setup
	mkdir -p "$BATS_TEST_TMPDIR/prom"
}

teardown() {
	smtpsend_teardown
}

# metric 'NAME{LABELS}': its value in $PROM (fails when absent).
metric() {
	awk -v k="$1" '$1 == k { print $2; found = 1 } END { exit !found }' \
	    "$PROM"
}

@test "after a run: deliveries by result and TLS, queue sizes, the oldest age, as Prometheus text" {
	local a b c
	a=$(qname 3600 1) b=$(qname 60 2) c=$(qname 10 3)
	qmsg "$a" s@src.test ok@dst.test later@dst.test
	qmsg "$b" s@src.test bad@dst.test
	qmsg "$c" s@src.test me@local.test
	relay_start --rcpt 'later@dst.test=451 4.2.0 try later' \
	    --rcpt 'bad@dst.test=550 5.1.1 no such user'
	smtpsend_run -d local.test -m "$MAILDIR" -O "$PROM"
	[ "$status" -eq 75 ]
	# ok@, and b's bounce to s@src.test, sent in the same run
	[ "$(metric 'smtpq_run_deliveries{result="sent",tls="none"}')" = 2 ]
	[ "$(metric 'smtpq_run_deliveries{result="sent",tls="local"}')" = 1 ]
	[ "$(metric 'smtpq_run_deliveries{result="deferred",tls="none"}')" = 1 ]
	[ "$(metric 'smtpq_run_deliveries{result="bounced",tls="none"}')" = 1 ]
	[ "$(metric 'smtpq_run_deliveries{result="sent",tls="verified"}')" = 0 ]
	# a's later@ waits in new/; b went to failed/, its bounce to new/
	[ "$(metric 'smtpq_queue_messages{dir="new"}')" = "$(ls "$Q/new" | wc -l)" ]
	[ "$(metric 'smtpq_queue_messages{dir="failed"}')" = 1 ]
	[ "$(metric 'smtpq_queue_messages{dir="tmp"}')" = 0 ]
	[ "$(metric 'smtpq_queue_messages{dir="hold"}')" = 0 ]
	local age
	age=$(metric smtpq_queue_oldest_seconds)
	[ "$age" -ge 3600 ] && [ "$age" -lt 3700 ]
	grep -q '^# TYPE smtpq_run_deliveries gauge$' "$PROM"
	[ "$(stat -c %a "$PROM")" = 644 ]
	# the next run starts its counts afresh; nothing is left beside it
	rm -f "$Q"/new/*
	smtpsend_run -d local.test -m "$MAILDIR" -O "$PROM"
	[ "$status" -eq 0 ]
	[ "$(metric 'smtpq_run_deliveries{result="sent",tls="none"}')" = 0 ]
	[ "$(metric smtpq_queue_oldest_seconds)" = 0 ]
	[ "$(ls -A "$BATS_TEST_TMPDIR/prom")" = smtpq.prom ]
}

@test "the metrics key in smtpq.conf; a directory that cannot be written is logged, delivery goes on" {
	printf '%s\n' "metrics $BATS_TEST_TMPDIR/none/smtpq.prom" \
	    >"$BATS_TEST_TMPDIR/conf"
	qmsg "$(qname)" s@src.test ok@dst.test
	relay_start
	smtpsend_run -F "$BATS_TEST_TMPDIR/conf"
	[ "$status" -eq 0 ]
	grep -q "metrics=$BATS_TEST_TMPDIR/none/smtpq.prom result=error: No such file" "$LOG"
	grep -q 'to=<ok@dst.test> .*result=sent' "$LOG"
	printf '%s\n' "metrics $PROM" >"$BATS_TEST_TMPDIR/conf"
	smtpsend_run -F "$BATS_TEST_TMPDIR/conf"
	[ "$status" -eq 0 ]
	metric 'smtpq_queue_messages{dir="new"}'
	run "$SMTPSEND" -F /dev/null -O "$BATS_TEST_TMPDIR/prom/" -N
	[ "$status" -eq 64 ]
}
