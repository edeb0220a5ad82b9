#!/usr/bin/env bats
# Delivery in parallel (smtpsend(8) CONCURRENCY):
# -j workers at once, -J sessions per destination at most, a slow
# destination holding only its own mail, every recipient delivered once,
# a worker killed or a SIGTERM losing nothing.  Destinations are fake
# relays on 127.0.0.1, each the route (-R) of a domain.

load helpers
load dns
load workers

setup() {
	smtpsend_setup
	EXTRA_PIDS=()
	MXR_NS=
}

teardown() {
	local pid
	for pid in "${EXTRA_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	smtpsend_teardown
	[ -z "$MXR_NS" ] || ip netns del "$MXR_NS" 2>/dev/null || true
	dns_stop
}

# relay_more NAME ARGS...: another fake relay, its files in
# $BATS_TEST_TMPDIR/NAME, its port into $MORE_PORT.
relay_more() {
	relay_more_bg "$@"
	wait_for test -s "$BATS_TEST_TMPDIR/$1/port" || return 1
	MORE_PORT=$(cat "$BATS_TEST_TMPDIR/$1/port")
}

# relay_more_bg NAME ARGS...: relay_more without the wait for its port.
relay_more_bg() {
	local name=$1 dir=$BATS_TEST_TMPDIR/$1
	shift
	mkdir -p "$dir"
	"$BATS_TEST_DIRNAME/fakerelay" --port-file "$dir/port" \
	    --dir "$dir" "$@" 3>&- &
	EXTRA_PIDS+=("$!")
}

# qmany N DOMAINS: N messages, the i-th to m<i>@d<i % DOMAINS + 1>.test,
# written straight into new/ (no process per message: qmsg forks four).
qmany() {
	local i now
	now=$(date +%s)
	for ((i = 1; i <= $1; i++)); do
		printf 'From: <a@src.test>\nTo: <m%d@d%d.test>\n\nSubject: %d\r\n\r\nHello.\r\n' \
		    "$i" $((i % $2 + 1)) "$i" >"$Q/new/$now.M$i.P1.test"
	done
}

# smtpsend in the background on $Q, its pid in $BG_PID.
send_bg() {
	"$SMTPSEND" -F /dev/null -q "$Q" -n mx.test -l "$LOG" "$@" 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

# The most sessions a relay's transcript ($1) shows open at once.
peak_sessions() {
	awk '$3 == "connect" { n++; if (n > max) max = n }
	    $3 == "close" { n-- } END { print max + 0 }' "$1"
}

# The recipients relays took, one a line, from the *.env of the dirs given.
delivered() {
	local d
	for d in "$@"; do
		cat "$d"/*.env 2>/dev/null || true
	done | sed -n 's/^to=<\(.*\)>$/\1/p'
}

# The worker processes of smtpsend $1: its children.
workers_of() {
	ps -o pid= --ppid "$1" | tr -d ' '
}


@test "a destination that never greets holds only its own mail: with jobs 4 (-j) a fast destination's message is delivered meanwhile" {
	relay_start
	relay_more slow --stall
	# the slow one first: with one process at a time it would hold the
	# fast one for the whole timeout (30 s), longer than the wait below
	qmsg "$(qname 5 1)" a@src.test x@slow.test
	qmsg "$(qname 0 2)" a@src.test y@fast.test
	printf 'jobs 4\ntimeout 30s\n' >"$BATS_TEST_TMPDIR/smtpq.conf"
	"$SMTPSEND" -F "$BATS_TEST_TMPDIR/smtpq.conf" -q "$Q" -n mx.test \
	    -l "$LOG" -R "slow.test 127.0.0.1:$MORE_PORT" \
	    -R "fast.test 127.0.0.1:$RELAY_PORT" 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for test -e "$RELAY_DIR/1.env"
	grep -qx 'to=<y@fast.test>' "$RELAY_DIR/1.env"
	# and the slow session still hangs, its message queued
	kill -0 "$BG_PID"
	grep -q ' connect$' "$BATS_TEST_TMPDIR/slow/transcript"
	[ "$(count_files "$Q/new")" -eq 1 ]
	kill -TERM "$BG_PID"
	wait "$BG_PID" || true
}

@test "-J 2: a destination never has more than two sessions at once, and has two" {
	local i
	relay_start --reply-delay 0.05
	for i in $(seq 1 16); do
		qmsg "$(qname 0 "$i")" a@src.test "r$i@dst.test"
	done
	smtpsend_run -F /dev/null -j 8 -J 2 -c 1000
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(peak_sessions "$RELAY_DIR/transcript")" -eq 2 ]
	[ "$(count_lines ' connect$' "$RELAY_DIR/transcript")" -eq 2 ]
	[ "$(delivered "$RELAY_DIR" | sort -u | wc -l)" -eq 16 ]
}

@test "a destination that refuses the session costs one attempt in a run with -j 4, its messages kept, the others delivered" {
	local i
	relay_start
	relay_more down --greeting '554 5.3.2 not now'
	for i in $(seq 1 8); do
		qmsg "$(qname 0 "$i")" a@src.test "r$i@down.test"
	done
	qmsg "$(qname 0 9)" a@src.test y@fast.test
	run "$SMTPSEND" -F /dev/null -q "$Q" -n mx.test -l "$LOG" -t 10s -j 4 \
	    -R "down.test 127.0.0.1:$MORE_PORT" \
	    -R "fast.test 127.0.0.1:$RELAY_PORT"
	[ "$status" -eq 75 ]
	[ "$(count_lines ' connect$' "$BATS_TEST_TMPDIR/down/transcript")" -eq 1 ]
	[ "$(count_files "$Q/new")" -eq 8 ]
	grep -qx 'to=<y@fast.test>' "$RELAY_DIR/1.env"
	[ "$(count_lines 'to=<r[0-9]@down.test> .*result=deferred' "$LOG")" -eq 8 ]
}

@test "200 messages to 20 destinations with -j 8: every recipient delivered exactly once, and counted once (-O)" {
	local i k n=200 n_msgs routes=() dirs=()
	[ -z "${SMTPQ_VALGRIND:-}" ] || n=40
	n_msgs=$n
	for k in $(seq 1 20); do
		relay_more_bg "d$k"
	done
	for k in $(seq 1 20); do
		wait_for test -s "$BATS_TEST_TMPDIR/d$k/port"
		routes+=(-R "d$k.test 127.0.0.1:$(cat "$BATS_TEST_TMPDIR/d$k/port")")
		dirs+=("$BATS_TEST_TMPDIR/d$k")
	done
	qmany "$n" 20
	run "$SMTPSEND" -F /dev/null -q "$Q" -n mx.test -l "$LOG" -t 30s \
	    -j 8 -O "$BATS_TEST_TMPDIR/smtpq.prom" "${routes[@]}"
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	# the workers' counts reach the parent's metrics
	grep -qx "smtpq_run_deliveries{result=\"sent\",tls=\"none\"} $n" \
	    "$BATS_TEST_TMPDIR/smtpq.prom"
	# each relay took its own domain's recipients, each once
	for k in $(seq 1 20); do
		sed -n 's/^to=<\(.*\)>$/\1/p' "${dirs[k - 1]}"/*.env
	done | sort >"$BATS_TEST_TMPDIR/got"
	for ((i = 1; i <= n; i++)); do
		echo "m$i@d$((i % 20 + 1)).test"
	done | sort >"$BATS_TEST_TMPDIR/want"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	for k in $(seq 1 20); do
		refute grep -v "^to=<m[0-9]*@d$k.test>\$\|^from=" "${dirs[k - 1]}"/*.env
	done
	# more than one process delivered
	[ "$(grep 'result=sent' "$LOG" | sed 's/.*smtpsend\[\([0-9]*\)\].*/\1/' |
	    sort -u | wc -l)" -gt 1 ]
	# and a worker done with a destination took its next message there,
	# over the connection it kept (-c 10: one a destination at best;
	# handed to whichever worker was idle, each message cost a
	# connection of its own about every second time: 108 of 200)
	n=$(grep -c 'result=connected' "$LOG")
	echo "# $n connections for $n_msgs messages to 20 destinations" >&3
	[ "$n" -le 40 ]
}

@test "workers killed (-9) in the middle of a run: a second run delivers the rest, nothing lost" {
	local i n=40 pids got killed=0
	relay_start --reply-delay 0.1
	for i in $(seq 1 "$n"); do
		qmsg "$(qname 0 "$i")" a@src.test "r$i@dst.test"
	done
	send_bg -r "127.0.0.1:$RELAY_PORT" -t 30s -j 4 -J 4
	WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for test -e "$RELAY_DIR/3.env"
	pids=$(workers_of "$BG_PID")
	[ -n "$pids" ]
	for i in $pids; do
		kill -KILL "$i" && killed=$((killed + 1))
	done
	wait "$BG_PID" || true
	grep -q 'result=error: worker [0-9]* ended (signal 9)' "$LOG"
	smtpsend_run -F /dev/null
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	for i in $(seq 1 "$n"); do
		delivered "$RELAY_DIR" | grep -qx "r$i@dst.test"
	done
	# a duplicate only where a worker died between the relay's 250
	# and the removal of the file: at most one per worker killed
	got=$(delivered "$RELAY_DIR" | wc -l)
	[ "$got" -le $((n + killed)) ]
}

@test "SIGTERM: smtpsend and its workers end within two seconds, the queue as it was" {
	local i pids p
	relay_start --stall
	relay_more slow2 --stall
	for i in $(seq 1 6); do
		qmsg "$(qname 0 "$i")" a@src.test "r$i@a$((i % 2)).test"
	done
	cp -a "$Q/new" "$BATS_TEST_TMPDIR/orig"
	send_bg -t 60s -j 4 -R "a0.test 127.0.0.1:$RELAY_PORT" \
	    -R "a1.test 127.0.0.1:$MORE_PORT"
	WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for grep -q ' connect$' \
	    "$RELAY_DIR/transcript"
	WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for grep -q ' connect$' \
	    "$BATS_TEST_TMPDIR/slow2/transcript"
	pids=$(workers_of "$BG_PID")
	kill -TERM "$BG_PID"
	WAIT_SECONDS=$((2 * SLOWDOWN)) wait_for refute kill -0 "$BG_PID"
	run wait "$BG_PID"
	[ "$status" -eq 75 ]
	for p in $pids; do
		refute kill -0 "$p" 2>/dev/null
	done
	diff -r "$BATS_TEST_TMPDIR/orig" "$Q/new"
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

# A worker that cannot stop (stopped here with SIGSTOP: a write to a
# hung disk, a child that ignores the signal) is killed a second after
# SIGTERM (every worker stops within a second, state safe).
@test "SIGTERM: workers that do not stop are killed within a second, the queue as it was" {
	local i pids t0 ms
	relay_start --stall
	for i in $(seq 1 4); do
		qmsg "$(qname 0 "$i")" a@src.test "r$i@a0.test"
	done
	cp -a "$Q/new" "$BATS_TEST_TMPDIR/orig"
	send_bg -t 60s -j 4 -R "a0.test 127.0.0.1:$RELAY_PORT"
	WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for grep -q ' connect$' \
	    "$RELAY_DIR/transcript"
	pids=$(workers_of "$BG_PID")
	[ -n "$pids" ]
	# shellcheck disable=SC2086
	kill -STOP $pids
	t0=${EPOCHREALTIME/[.,]/}
	kill -TERM "$BG_PID"
	# the workers gone (killed: zombies until smtpsend reaps them)
	# shellcheck disable=SC2086
	wait_for all_gone $pids
	ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
	echo "workers gone after $ms ms" >&2
	[ "$ms" -lt $((1500 * SLOWDOWN)) ]
	# then smtpsend ends (a sanitizer's check at exit takes its time)
	status=0
	wait "$BG_PID" || status=$?
	ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
	echo "exit after $ms ms" >&2
	[ "$status" -eq 75 ]
	[ "$ms" -lt $((3000 * SLOWDOWN)) ]
	grep -q 'result=error: worker .* ended (signal 9)' "$LOG"
	diff -r "$BATS_TEST_TMPDIR/orig" "$Q/new"
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "direct delivery: an MX that never greets holds only its own domain; a domain spelt in two cases is one destination" {
	local i
	# unbound in smtpsend's namespace; the MX hosts on 10.26.0.1 (fast)
	# and .2 (never greets) in another, as tests/29-smtpsend-mx-delivery
	dns_start 'local-zone: "fast.test." static' \
	    'local-data: "fast.test. MX 10 mx.fast.test."' \
	    'local-data: "mx.fast.test. A 10.26.0.1"' \
	    'local-zone: "slow.test." static' \
	    'local-data: "slow.test. MX 10 mx.slow.test."' \
	    'local-data: "mx.slow.test. A 10.26.0.2"' || return 1
	MXR_NS=smtpq-par-$$
	ip netns add "$MXR_NS"
	ip -n "$MXR_NS" link set lo up
	ip link add "spa$$" netns "$DNS_NS" type veth peer name "spb$$" \
	    netns "$MXR_NS"
	ip -n "$DNS_NS" addr add 10.26.0.254/24 dev "spa$$"
	ip -n "$DNS_NS" link set "spa$$" up
	ip -n "$MXR_NS" addr add 10.26.0.1/24 dev "spb$$"
	ip -n "$MXR_NS" addr add 10.26.0.2/24 dev "spb$$"
	ip -n "$MXR_NS" link set "spb$$" up
	for i in 1 2; do
		mkdir -p "$BATS_TEST_TMPDIR/mx$i"
		ip netns exec "$MXR_NS" "$BATS_TEST_DIRNAME/fakerelay" \
		    --bind "10.26.0.$i" --port 25 $([ "$i" = 2 ] && echo --stall) \
		    --port-file "$BATS_TEST_TMPDIR/mx$i.port" \
		    --dir "$BATS_TEST_TMPDIR/mx$i" 3>&- &
		EXTRA_PIDS+=("$!")
		wait_for test -s "$BATS_TEST_TMPDIR/mx$i.port"
	done
	qmsg "$(qname 9 1)" a@src.test x@slow.test
	qmsg "$(qname 8 2)" a@src.test y@SLOW.test
	for i in 3 4 5 6; do
		qmsg "$(qname 0 "$i")" a@src.test "r$i@fast.test"
	done
	dns_exec "$SMTPSEND" -F /dev/null -q "$Q" -n sender.test -l "$LOG" \
	    -t 30s -j 4 -J 4 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	WAIT_SECONDS=$((10 * SLOWDOWN)) wait_for test -e \
	    "$BATS_TEST_TMPDIR/mx1/4.env"
	# all of fast.test's while slow.test's one session still hangs
	kill -0 "$BG_PID"
	[ "$(count_lines ' connect$' "$BATS_TEST_TMPDIR/mx2/transcript")" -eq 1 ]
	[ "$(count_files "$Q/new")" -eq 2 ]
	kill -TERM "$BG_PID"
	wait "$BG_PID" || true
}

