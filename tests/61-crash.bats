#!/usr/bin/env bats
# 61-crash.bats: smtpd and smtpsend killed with SIGKILL at random points
# (issue: hardening, crash safety).
#
# smtpd: many sessions, each streaming messages (a unique token in each)
# as a careful client does, each session killed after a random delay.
# Afterwards every message that got 250 is in new/ exactly once, no token
# is there twice, and every file in new/ is whole: an envelope, an empty
# line, our Received: and exactly the message sent.  tmp/ may keep what a
# killed session was writing: nothing reads tmp/, and a stale file there
# is harmless.  XXX Neither program removes old ones; Maildir readers
# remove tmp/ files older than 36 hours, and smtpsend could do the same.
#
# smtpsend: a queue of messages for the fake relay, a Maildir or both,
# and runs killed after random delays until the queue drains; then a run
# that is not killed.  Every recipient has every message at least once
# (a duplicate is allowed, a loss is not), whole; new/ and failed/ end
# empty.
#
# Runs are bounded by a count and by time (CRASH_SECONDS each part).

# A long suite (about 40 s): tests/run starts it first.
# tests/run: early
# tests/run: noasan (the paths SIGKILL interrupts are 12's and 20's, run
# under ASan there; what this suite proves is on disk; under valgrind it runs)

load helpers
load workers

# A process killed while LeakSanitizer runs its check at exit leaves a
# "Unable to get registers" note that is not a report: the kill raced the
# checker's ptrace.  Every other suite checks for leaks; this one kills.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

CRASH_SECONDS=${CRASH_SECONDS:-10}

setup() {
	unset REMOTE_ADDR TCPREMOTEIP
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	W=$BATS_TEST_TMPDIR/w
	mkdir -p "$W"
	: >"$W/acked"
	PIDS=()
}

teardown() {
	local pid
	relay_stop
	for pid in "${PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# The message with token $1 as queued (CRLF, no dot-stuffing) into BODY:
# a few lines, or, for a token ending in 0 (one in ten), some 250 KB more,
# written in several pieces, so that a kill finds one half-written now and
# then.
FILLER=
for ((i = 1; i <= 8000; i++)); do
	FILLER+="filler line $i of a long message"$'\r\n'
done
body_of() {
	BODY="Subject: crash $1"$'\r\n\r\n'"$1 first line"$'\r\n'
	[[ "$1" != *0 ]] || BODY+=$FILLER
	BODY+=".$1 a line with a leading dot"$'\r\n'
}

# Reads one reply (all its lines) from CLIENT_OUT into LAST; fails on end
# of input.
crash_reply() {
	local line
	while IFS= read -r -t 10 -u "$CLIENT_OUT" line; do
		LAST=${line%$'\r'}
		[[ "$LAST" == [0-9][0-9][0-9]-* ]] || return 0
	done
	return 1
}

crash_send() {
	( printf '%s' "$1" >&"$CLIENT_IN" ) 2>/dev/null
}

# One session killed after a random delay: messages with tokens
# crash-$1-1, -2, ... lock-step until the session dies; a token that got
# 250 is appended to $W/acked.
smtpd_killed_session() {
	local iter=$1 m killer pid wire
	rm -f "$W/in" "$W/out"
	mkfifo "$W/in" "$W/out"
	"$SMTPD" -q "$Q" -n mx.test -l "$LOG" <"$W/in" >"$W/out" 3>&- &
	pid=$!
	PIDS+=("$pid")
	exec {CLIENT_IN}>"$W/in" {CLIENT_OUT}<"$W/out"
	# Anywhere from the greeting to the last message or so.
	( sleep "0.0$((RANDOM % 2))$((RANDOM % 10))"; kill -KILL "$pid" ) \
	    2>/dev/null 3>&- &
	killer=$!
	if crash_reply && crash_send $'EHLO client.test\r\n' && crash_reply; then
		for ((m = 1; m <= 8; m++)); do
			body_of "crash-$iter-$m"
			# Dot-stuffed for the wire.
			wire=${BODY//$'\n.'/$'\n..'}
			crash_send "MAIL FROM:<a@src.test>"$'\r\n' &&
			    crash_reply && [ "${LAST:0:3}" = 250 ] &&
			    crash_send "RCPT TO:<b@dst.test>"$'\r\n' &&
			    crash_reply && crash_send $'DATA\r\n' &&
			    crash_reply && [ "${LAST:0:3}" = 354 ] &&
			    crash_send "$wire"$'.\r\n' && crash_reply || break
			if [[ "$LAST" == "250 2.0.0 Ok: queued as "* ]]; then
				echo "crash-$iter-$m" >>"$W/acked"
			fi
		done
		crash_send $'QUIT\r\n' && crash_reply
	fi
	exec {CLIENT_IN}>&- {CLIENT_OUT}<&-
	wait "$pid" 2>/dev/null || true
	kill "$killer" 2>/dev/null || true
	wait "$killer" 2>/dev/null || true
	PIDS=()
}

# Checks every file in queue directory $1 (smtpd's format, strictly) and
# prints one token a line, for each whole file; fails on any other file.
queue_tokens() {
	"$PYTHON" - "$1" <<'EOF'
import os, re, sys
d = sys.argv[1]
bad = 0
for name in sorted(os.listdir(d)):
    data = open(os.path.join(d, name), "rb").read()
    head, sep, msg = data.partition(b"\n\n")
    lines = head.split(b"\n")
    ok = sep and all(re.fullmatch(rb"[A-Za-z0-9-]+: [ -~]*", l) for l in lines)
    ok = ok and lines[0].startswith(b"From: <") and \
        any(l.startswith(b"To: <") for l in lines)
    # The id in Received: is the file's name as an Atom (dots as _).
    m = re.match(rb"Received: from [^\r]*\r\n\tby mx\.test \(smtpd\) with "
                 rb"ESMTP id " + re.escape(name.replace(".", "_").encode()) +
                 rb"\r\n\tfor <b@dst\.test>; [^\r]*\r\n(Subject: crash "
                 rb"(crash-[0-9]+-[0-9]+)\r\n.*)\Z", msg, re.S)
    if ok and m:
        t = m.group(2).decode()
        want = "Subject: crash %s\r\n\r\n" % t
        want += "%s first line\r\n" % t
        if t.endswith("0"):
            want += "".join("filler line %d of a long message\r\n" % i
                            for i in range(1, 8001))
        want += ".%s a line with a leading dot\r\n" % t
        ok = m.group(1) == want.encode()
    if ok and m:
        print(m.group(2).decode())
    else:
        print("damaged: %s" % name, file=sys.stderr)
        bad = 1
sys.exit(bad)
EOF
}

@test "smtpd killed at random points: every 250 is in new/ once, whole" {
	local iter t0 dups missing n
	t0=$SECONDS
	for ((iter = 1; iter <= 150 && SECONDS - t0 < CRASH_SECONDS; iter++)); do
		without_trace smtpd_killed_session "$iter"
	done
	echo "# $((iter - 1)) sessions killed, $(wc -l <"$W/acked") messages got 250," \
	    "$(count_files "$Q/new") in new/, $(count_files "$Q/tmp") left in tmp/" >&3
	queue_tokens "$Q/new" >"$W/queued"
	# Nothing twice.
	dups=$(sort "$W/queued" | uniq -d)
	[ -z "$dups" ] || { echo "twice in new/: $dups" >&2; false; }
	# Every 250 is there.
	missing=$(sort "$W/acked" | comm -23 - <(sort "$W/queued"))
	[ -z "$missing" ] || { echo "250 but not in new/: $missing" >&2; false; }
	# The test did kill sessions in the middle of things.
	n=$(wc -l <"$W/acked")
	[ "$n" -ge 20 ] && [ "$n" -lt $(( (iter - 1) * 8 )) ]
	# smtpsend reads every one of them.
	run "$SMTPSEND" -p -q "$Q" -n mx.test
	[ "$status" -eq 0 ]
	! grep -q 'damaged\|unreadable' <<<"$output" || false
}

# Queues $1 messages, tokens send-1 ...: one in three for the relay
# (x@dst.test), one in three for the Maildir (u@local.test), one in three
# for both; the list of what each must get in $W/want ("x send-1").
queue_many() {
	local i name
	: >"$W/want"
	for ((i = 1; i <= $1; i++)); do
		body_of "send-$i"
		printf -v name '%d.M%06dP1.test' $((EPOCHSECONDS - 100)) "$i"
		{
			printf 'From: <a@src.test>\n'
			case $((i % 3)) in
			0)	printf 'To: <x@dst.test>\n' ;;
			1)	printf 'To: <u@local.test>\n' ;;
			2)	printf 'To: <x@dst.test>\nTo: <u@local.test>\n' ;;
			esac
			printf '\n%s' "$BODY"
		} >"$Q/new/$name"
		case $((i % 3)) in
		0)	echo "x send-$i" ;;
		1)	echo "u send-$i" ;;
		2)	printf 'x send-%d\nu send-%d\n' "$i" "$i" ;;
		esac >>"$W/want"
	done
}

# Prints "x TOKEN" for every message the relay took and "u TOKEN" for
# every file in u's Maildir, failing on any that is not whole.
delivered_tokens() {
	"$PYTHON" - "$RELAY_DIR" "$MAILDIR/u/new" <<'EOF'
import os, re, sys
def body(t):
    b = "Subject: crash %s\r\n\r\n" % t
    b += "%s first line\r\n" % t
    if t.endswith("0"):
        b += "".join("filler line %d of a long message\r\n" % i
                     for i in range(1, 8001))
    return b + ".%s a line with a leading dot\r\n" % t
bad = 0
for who, d in (("x", sys.argv[1]), ("u", sys.argv[2])):
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if who == "x" and not name.endswith(".eml"):
            continue
        data = open(os.path.join(d, name), "rb").read().decode("latin-1")
        m = re.search(r"Subject: crash (send-[0-9]+)\r?\n", data)
        t = m.group(1) if m else None
        if who == "x":
            want = body(t) if t else None
        else:
            want = "Return-Path: <a@src.test>\nDelivered-To: <u@local.test>\n"
            want += body(t).replace("\r\n", "\n") if t else ""
        if t and data == want:
            print(who, t)
        else:
            print("not whole: %s/%s" % (d, name), file=sys.stderr)
            bad = 1
sys.exit(bad)
EOF
}

# One smtpsend run killed after a random delay (0 to 39 ms), with its
# workers (-j): the parent's death alone would let them finish.
smtpsend_killed_run() {
	local pid
	"$SMTPSEND" "${SEND_FLAGS[@]}" 2>/dev/null 3>&- &
	pid=$!
	PIDS+=("$pid")
	sleep "0.0$((RANDOM % 4))$((RANDOM % 10))"
	kill_tree "$pid"
	PIDS=()
}

@test "smtpsend killed at random points: everything delivered at least once" {
	local t0 kills=0 missing
	queue_many 400
	relay_start
	SEND_FLAGS=(-f -q "$Q" -n mx.test -l "$LOG" -t 5s -d local.test
	    -m "$MAILDIR" -r "127.0.0.1:$RELAY_PORT")
	t0=$SECONDS
	while [ "$kills" -lt 200 ] && [ $((SECONDS - t0)) -lt "$CRASH_SECONDS" ] &&
	    [ "$(count_files "$Q/new")" -gt 0 ]; do
		without_trace smtpsend_killed_run
		kills=$((kills + 1))
	done
	echo "# $kills runs killed; then $(count_files "$Q/new") of 400" \
	    "messages left, $(count_files "$Q/tmp") files in tmp/" >&3
	# The test did kill runs in the middle of the queue.
	[ "$kills" -ge 5 ]
	run "$SMTPSEND" "${SEND_FLAGS[@]}"
	assert_status 0
	assert_empty "$Q/new"
	assert_empty "$Q/failed"
	delivered_tokens >"$W/got"
	missing=$(sort -u "$W/got" | comm -23 <(sort "$W/want") -)
	[ -z "$missing" ] || { echo "lost: $missing" >&2; false; }
	echo "# $(wc -l <"$W/got") deliveries for $(wc -l <"$W/want") wanted" >&3
}
