#!/usr/bin/env bats
# Direct delivery at scale, end to end: 2,000 messages to 200
# domains of tests/world.bash's Internet (unbound serving the zone;
# receivers tests/fakerelay and aiosmtpd, each on its own address in the
# world's namespace, each reply 20 ms late, played by the server since
# the kernel may lack netem; one greylists, one is down, one answers 550,
# one is slow, some domains name us as their MX), drained by smtpsend
# -j 20 from the sender's namespace.  Every recipient must end as its
# destination decided: taken exactly once by its own receiver (counted
# there, by Message-ID and recipient), still queued, or in exactly one
# bounce; never twice, never lost.
# Only with the plain build ("once"), not under ASan: the same paths run
# under ASan in tests/29-smtpsend-parallel and 29-smtpsend-mxnet, and
# this suite's minutes are the receivers' and smtpsend's real work.
# tests/run: early once
# tests/run: novalgrind (smtpsend's parallel and direct-delivery paths run under valgrind in tests/29-smtpsend-parallel and tests/29-smtpsend-mxnet; 2,000 messages under valgrind would take many minutes)

load helpers
load mxnet
load world

# 200 domains; fr and aio take mail at 20 ms a reply, slow at 0.5 s (more
# aiosmtpd than fakerelay: it costs less CPU a message).
KINDS="fr:40 aio:120 grey:10 slow:4 reject:10 down:10 self:6"
N=2000

setup() {
	T_SETUP=$EPOCHSECONDS
	export LC_ALL=C		# one order for every sort and diff
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	WORLD_SLOW=0.5
	world_start $KINDS
}

# WORLD_KEEP=DIR keeps the test's files (queue, log, receivers) there.
teardown() {
	[ -z "${WORLD_KEEP:-}" ] || cp -a "$BATS_TEST_TMPDIR" "$WORLD_KEEP"
	mxnet_stop
}

# One queue run in the sender's namespace, our name mx.test (so bounces
# to sender@mx.test go into $MAILDIR), no relay: every remote recipient
# goes to its MX, 20 at a time, 4 to a domain.
send() {
	run mxnet_exec "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 5s \
	    -m "$MAILDIR" -j 20 -J 4 "$@"
}

# Every recipient queued, "RCPT KIND" a line: world_queue's scheme.
expected() {
	awk -v n="$N" '
	{ dom[NR - 1] = $1; kind[$1] = $2; d = NR }
	END {
		for (i = 0; i < n; i++) {
			r = dom[i % d]; print "m" i "@" r, kind[r]
			if (i % 2) { r = dom[(7 * i + 3) % d]; print "n" i "@" r, kind[r] }
		}
	}' "$MXNET_DIR/domains" | sort
}

# The last result smtpsend logged for each recipient but the bounces'
# (to sender@mx.test): "RCPT RESULT", RESULT "sent", "deferred" or
# "bounced: CODE DSN-CODE".
last_results() {
	sed -n 's/.* to=<\([^>]*\)>.* result=\(.*\)/\1 \2/p' "$LOG" |
	    awk '$1 != "sender@mx.test" {
		res = $2; sub(/:$/, "", res)
		if (res == "bounced") res = res ": " $3 " " $4
		last[$1] = $1 " " res
	    }
	    END { for (r in last) print last[r] }' | sort
}

# Asserts file $1 is empty (else shows it, the first lines).
none() {
	[ ! -s "$1" ] || { echo "$1:" >&2; head -n 20 "$1" >&2; false; }
}

# What each kind's recipients must end as: "RCPT RESULT" from "RCPT KIND".
verdicts() {
	awk '{
		v["fr"] = v["aio"] = v["slow"] = v["grey"] = "sent"
		v["reject"] = "bounced: 550 5.7.1"
		v["self"] = "bounced: 554 5.4.6"
		v["down"] = "deferred"
		print $1, v[$2]
	}' "$@"
}

@test "world: 2,000 messages to 200 domains, -j 20: each recipient delivered once, deferred or bounced as its destination decided" {
	local t0 t1
	echo "# setup done: $((EPOCHSECONDS - T_SETUP)) s" >&3
	world_queue "$Q" "$N" sender@mx.test 1
	[ "$(ls "$Q/new" | wc -l)" -eq "$N" ]
	expected >"$BATS_TEST_TMPDIR/expected"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/expected")" -eq 3000 ]

	t0=$EPOCHSECONDS
	send
	assert_status 75
	# The second run: the greylisted recipients' retry.
	send -f
	assert_status 75
	t1=$EPOCHSECONDS
	echo "# two runs: $((t1 - t0)) s" >&3

	t0=$EPOCHSECONDS
	# At the receivers: each (Message-ID, recipient) of a deliverable
	# kind exactly once, at its own kind's receiver; nothing else.
	world_taken >"$BATS_TEST_TMPDIR/taken"
	awk '{ print $2, $3 }' "$BATS_TEST_TMPDIR/taken" | sort | uniq -d \
	    >"$BATS_TEST_TMPDIR/twice"
	none "$BATS_TEST_TMPDIR/twice"
	awk '{ r = $3; sub(/^[mn]/, "", r); sub(/@.*/, "", r)
	       if ($2 != "<world." r "@mx.test>") print "wrong message:", $0 }' \
	    "$BATS_TEST_TMPDIR/taken" >"$BATS_TEST_TMPDIR/wrong"
	none "$BATS_TEST_TMPDIR/wrong"
	awk '{ print $3, $1 }' "$BATS_TEST_TMPDIR/taken" | sort \
	    >"$BATS_TEST_TMPDIR/took"
	awk '$2 ~ /^(fr|aio|slow|grey)$/' "$BATS_TEST_TMPDIR/expected" \
	    >"$BATS_TEST_TMPDIR/deliverable"
	diff "$BATS_TEST_TMPDIR/deliverable" "$BATS_TEST_TMPDIR/took"

	# In the queue: the recipients of down domains, each once; no other.
	cat "$Q"/new/* | sed -n 's/^To: <\(.*\)>$/\1/p' | sort \
	    >"$BATS_TEST_TMPDIR/pending"
	awk '$2 == "down" { print $1 }' "$BATS_TEST_TMPDIR/expected" |
	    diff - "$BATS_TEST_TMPDIR/pending"
	# failed/: a message whose recipients all ended, some bounced, each
	# listing its bounced ones (man smtpsend, BOUNCES); checked below.
	cat "$Q"/failed/* | sed -n 's/^To: <\(.*\)>$/\1/p' | sort \
	    >"$BATS_TEST_TMPDIR/failed"

	# Bounces: one Final-Recipient for each recipient of a reject or
	# self domain, in a DSN to the sender; no other.
	cat "$MAILDIR"/sender/new/* |
	    sed -n 's/^Final-Recipient: rfc822; *\([^[:space:]]*\).*/\1/p' |
	    tr -d '\r' | sort >"$BATS_TEST_TMPDIR/bounced"
	awk '$2 ~ /^(reject|self)$/ { print $1 }' "$BATS_TEST_TMPDIR/expected" |
	    diff - "$BATS_TEST_TMPDIR/bounced"
	# failed/: the bounced recipients of the messages with none pending
	# after the first run (grey or down).
	awk '{ m = $1; sub(/^[mn]/, "", m); sub(/@.*/, "", m) }
	     $2 ~ /^(grey|down)$/ { pending[m] = 1 }
	     $2 ~ /^(reject|self)$/ { b[$1] = m }
	     END { for (r in b) if (!(b[r] in pending)) print r }' \
	    "$BATS_TEST_TMPDIR/expected" | sort | diff - "$BATS_TEST_TMPDIR/failed"

	# The log: each recipient's last result is its destination's.
	last_results >"$BATS_TEST_TMPDIR/results"
	verdicts "$BATS_TEST_TMPDIR/expected" |
	    diff - "$BATS_TEST_TMPDIR/results"

	# The greylisted: deferred 451 4.7.1 in the first run, then sent;
	# each recipient's results in the log's order, one line.
	sed -n 's/.* to=<\([^>]*\.grey\.mxnet\.test\)>.* result=\([a-z]*: [0-9]\{3\} [0-9.]*\).*/\1 \2/p' \
	    "$LOG" | awk '{ r = $1; $1 = ""; seq[r] = seq[r] $0 ";" }
	    END { for (r in seq) print r seq[r] }' | sort \
	    >"$BATS_TEST_TMPDIR/grey"
	awk '$2 == "grey" { print $1 " deferred: 451 4.7.1; sent: 250 2.0.0;" }' \
	    "$BATS_TEST_TMPDIR/expected" | diff - "$BATS_TEST_TMPDIR/grey"
	echo "# checks: $((EPOCHSECONDS - t0)) s" >&3
}
