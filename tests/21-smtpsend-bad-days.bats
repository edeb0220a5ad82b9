#!/usr/bin/env bats
# 21-smtpsend-bad-days.bats: smtpsend against bad relays, hostile queue
# files and bad days: the clock, smuggling on the way out, long lines,
# waits, what failed/ and bounces say, local delivery, a failing message
# among good ones.

load helpers

setup() {
	smtpsend_setup
}

teardown() {
	smtpsend_teardown
	dead_dns_stop "$BATS_TEST_TMPDIR/dns"
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
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
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
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
	assert_status 75
	[ -f "$Q/new/$name" ]
}

# --- SMTP smuggling on the way out ---------------------------------------

# Fails unless file $1 holds no bare CR, no bare LF and no NUL: every CR
# is followed by LF, every LF preceded by CR ($2 = lf: LF line ends, and
# then no CR at all).
assert_clean_bytes() {
	"$PYTHON" - "$1" "${2:-crlf}" <<'PY'
import re, sys
data = open(sys.argv[1], "rb").read()
bad = []
if b"\0" in data:
    bad.append("NUL at %d" % data.index(b"\0"))
if sys.argv[2] == "lf":
    if b"\r" in data:
        bad.append("CR at %d" % data.index(b"\r"))
else:
    m = re.search(rb"\r(?!\n)|(?<!\r)\n", data)
    if m:
        bad.append("bare %r at %d" % (m.group(), m.start()))
if bad:
    sys.exit("%s: %s: %r" % (sys.argv[1], ", ".join(bad), data[:300]))
PY
}

# The published variants (SEC Consult, 2023): end-of-data sequences a
# lenient next hop might take, each followed by commands of our own.
smuggling_body() {
	printf 'Subject: smuggle\r\n\r\nstart\r\n'
	printf 'a\r.\rMAIL FROM:<evil@x.test>\r\n'
	printf 'b\r.\r\nRCPT TO:<victim@y.test>\r\n'
	printf 'c\n.\nDATA\r\n'
	printf 'd\n.\r\nMAIL FROM:<evil@x.test>\r\n'
	printf 'e\r\n.\rRCPT TO:<victim@y.test>\r\n'
	printf 'f\r\n\0.\r\nDATA\r\n'
	printf 'g\r\n.\n'
	printf 'h\r\r\n'
	printf 'end\r'
}

@test "smuggling: no bare CR, bare LF or NUL reaches the relay; one message, our commands only" {
	local name
	name=$(qname)
	{
		queue_envelope a@src.test x@dst.test
		smuggling_body
	} >"$Q/new/$name"
	relay_start
	smtpsend_run
	assert_status 0
	assert_clean_bytes "$RELAY_DIR/1.raw"
	[ ! -e "$RELAY_DIR/2.raw" ]
	[ "$(grep -c ' C: MAIL FROM:' "$RELAY_DIR/transcript")" -eq 1 ]
	# The bare CRs and the NUL are spaces; bare LFs are line ends.
	grep -q $'^a . MAIL FROM:<evil@x.test>\r$' "$RELAY_DIR/1.raw"
	grep -q $'^ \\.\r$' "$RELAY_DIR/1.raw"		# f: NUL, dot
	grep -q $'^\\.\\.\r$' "$RELAY_DIR/1.raw"	# c, d, g: stuffed
	grep -q $'^h \r$' "$RELAY_DIR/1.raw"
	grep -q $'^end \r$' "$RELAY_DIR/1.raw"
}

@test "smuggling: a Maildir delivery holds LF line ends only, no CR, no NUL" {
	local name
	name=$(qname)
	{
		queue_envelope a@src.test b@src.test
		smuggling_body
	} >"$Q/new/$name"
	run "$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MAILDIR"
	assert_status 0
	assert_clean_bytes "$(ls "$MAILDIR"/b/new/*)" lf
}

@test "smuggling: a bounce quoting hostile headers carries no bare CR or NUL" {
	local name
	name=$(qname)
	{
		queue_envelope a@src.test x@dst.test
		printf 'Subject: a\r.\rMAIL FROM:<evil@x.test>\r\n'
		printf 'X-Bad: b\r\n\0.\r\nRCPT TO:<victim@y.test>\r\n\r\nbody\r\n'
	} >"$Q/new/$name"
	relay_start --rcpt 'x@dst.test=550 5.1.1 no such user'
	smtpsend_run
	assert_status 0
	# The bounce to a@src.test went through the same relay.
	grep -q 'Content-Type: text/rfc822-headers' "$RELAY_DIR/1.raw"
	assert_clean_bytes "$RELAY_DIR/1.raw"
	grep -q $'^Subject: a . MAIL FROM:<evil@x.test>\r$' "$RELAY_DIR/1.raw"
}

# --- long lines -----------------------------------------------------------

@test "long lines: broken at 998 octets with CRLF and a space, as Postfix does; aiosmtpd takes them" {
	local name a998 a3000
	a998=$(head -c 998 /dev/zero | tr '\0' a)
	a3000=$(head -c 2992 /dev/zero | tr '\0' b)12345678
	name=$(qname)
	{
		queue_envelope a@src.test x@dst.test
		printf 'Subject: long\r\nX-Long: %s\r\n\r\n' "$a3000"
		printf '%s\r\n.%s\r\n%s\r\nend\r\n' "$a998" "$a3000" "$a3000"
	} >"$Q/new/$name"
	relay_start --aiosmtpd
	smtpsend_run
	assert_status 0
	assert_empty "$Q/failed"
	{
		printf 'Subject: long\r\n'
		printf 'X-Long: %s\r\n %s\r\n %s\r\n %s\r\n\r\n' \
		    "${a3000:0:990}" "${a3000:990:997}" "${a3000:1987:997}" \
		    "${a3000:2984}"
		printf '%s\r\n' "$a998"
		printf '.%s\r\n %s\r\n %s\r\n %s\r\n' "${a3000:0:997}" \
		    "${a3000:997:997}" "${a3000:1994:997}" "${a3000:2991}"
		printf '%s\r\n %s\r\n %s\r\n %s\r\n' "${a3000:0:998}" \
		    "${a3000:998:997}" "${a3000:1995:997}" "${a3000:2992}"
		printf 'end\r\n'
	} >"$BATS_TEST_TMPDIR/want"
	assert_same_bytes "$BATS_TEST_TMPDIR/want" "$RELAY_DIR/1.eml"
}

# --- waits ----------------------------------------------------------------

# Succeeds once a connection of process $1 to $RELAY_PORT waits in
# SYN-SENT.  The relay's own sockets that fill its backlog may wait there
# too: one of theirs once passed for smtpsend's, and the SIGTERM came
# before smtpsend had set up its handler (exit 143, under valgrind and
# ASan, where it starts slowly).
syn_sent() {
	local p
	for p in "$1" $(ps -o pid= --ppid "$1"); do	# its workers (-j)
		ss -Htnp state syn-sent "dport = :$RELAY_PORT" |
		    grep -q "pid=$p," && return 0
	done
	return 1
}

# Succeeds once our end of a connection to $RELAY_PORT has data the
# relay has not taken.
send_queued() {
	ss -Htn "dport = :$RELAY_PORT" | awk '$3 > 0 { f = 1 } END { exit !f }'
}

# Sends SIGTERM to $BG_PID and waits for it, at most $1 seconds (times
# SLOWDOWN); its exit status in $status, the milliseconds in $ELAPSED_MS.
term_and_time() {
	local t0 t1 tries=$(( $1 * SLOWDOWN * 100 ))
	t0=${EPOCHREALTIME/[.,]/}
	kill -TERM "$BG_PID"
	while kill -0 "$BG_PID" 2>/dev/null; do
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "smtpsend still running $1 s after SIGTERM" >&2
			return 1
		fi
		sleep 0.01
	done
	t1=${EPOCHREALTIME/[.,]/}
	ELAPSED_MS=$(( (t1 - t0) / 1000 ))
	status=0
	wait "$BG_PID" || status=$?
}

# Runs smtpsend in the background against $RELAY_PORT with the flags given.
smtpsend_bg() {
	"$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" \
	    -r "127.0.0.1:$RELAY_PORT" "$@" 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
}

@test "waits: SIGTERM cuts short a connect that hangs (-t 60s): exit within a second" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	cp "$Q/new/$name" "$BATS_TEST_TMPDIR/orig"
	relay_start --full-backlog
	smtpsend_bg -t 60s
	wait_for syn_sent "$BG_PID"
	term_and_time 1
	assert_status 75
	assert_faster_than 1000
	cmp "$BATS_TEST_TMPDIR/orig" "$Q/new/$name"
}

@test "waits: SIGTERM cuts short a write to a relay that stopped reading (-t 60s)" {
	local name
	name=$(qname)
	{
		queue_envelope a@src.test x@dst.test
		printf 'Subject: big\r\n\r\n'
		head -c 6000000 /dev/zero | tr '\0' x | fold -w 76 | sed 's/$/\r/'
	} >"$Q/new/$name"
	cp "$Q/new/$name" "$BATS_TEST_TMPDIR/orig"
	relay_start --hang-in-data 100000
	smtpsend_bg -t 60s
	wait_for log_has "$RELAY_DIR/transcript" 'hanging in DATA'
	# 6 MB do not fit in the socket buffers: smtpsend waits to write.
	wait_for send_queued
	term_and_time 1
	assert_status 75
	assert_faster_than 1000
	cmp "$BATS_TEST_TMPDIR/orig" "$Q/new/$name"
	grep -q 'result=deferred' "$LOG"
}

@test "waits: a write blocked by a relay that stopped reading ends after -t" {
	local name t0 t1
	name=$(qname)
	{
		queue_envelope a@src.test x@dst.test
		printf 'Subject: big\r\n\r\n'
		head -c 6000000 /dev/zero | tr '\0' x | fold -w 76 | sed 's/$/\r/'
	} >"$Q/new/$name"
	relay_start --hang-in-data 100000
	t0=$(date +%s)
	smtpsend_run -t 2s
	t1=$(date +%s)
	assert_status 75
	[ $((t1 - t0)) -lt $((10 * SLOWDOWN)) ]
	grep -q 'connection lost in DATA' "$LOG"
}

# bad_reply OPTION TIMEOUT PATTERN: one message, smtpsend -t TIMEOUT against
# the fake relay misbehaving as OPTION says; it must give up well within a bound, log PATTERN and
# keep the message.
bad_reply() {
	local name t0 t1
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	relay_start "$1"
	t0=$(date +%s)
	run timeout $((30 * SLOWDOWN)) "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" \
	    -t "$2" -r "127.0.0.1:$RELAY_PORT"
	t1=$(date +%s)
	assert_status 75
	[ $((t1 - t0)) -lt $((10 * SLOWDOWN)) ]
	grep -q "$3" "$LOG"
	[ -f "$Q/new/$name" ]
}

@test "waits: an endless multi-line reply is cut off; the message stays queued" {
	bad_reply --endless-reply 20s 'result=unusable: 451 4.5.0 relay .*: malformed reply'
}

# A wait for more of a reply is bounded by -t, and so is the whole reply:
# an octet every half second used to keep smtpsend for ever.
@test "waits: a reply trickled an octet at a time ends after -t; the message stays queued" {
	bad_reply --trickle-greeting 2s 'result=unusable: 451 4.4.2 relay .*: timeout after 2s'
}

# A reply line has at most 512 octets, a reply at most 100 lines: a line
# without end, sent as fast as it is taken, used to be read for ever.
@test "waits: a reply line without end is cut off at the reply's octet bound" {
	bad_reply --flood-greeting 20s 'result=unusable: 451 4.5.0 relay .*: malformed reply'
}

# in_dead_dns DIR CMD...: runs CMD (exec, so with this shell's pid) in a
# mount and network namespace of its own, where /etc/resolv.conf names
# 127.0.0.1 (timeout:30 attempts:5) and a UDP socket there takes queries
# and never answers; DIR/query appears once one came, DIR/dns.pid holds
# that server's pid.
in_dead_dns() {
	local dir=$1
	shift
	mkdir -p "$dir"
	printf 'nameserver 127.0.0.1\noptions timeout:30 attempts:5\n' \
	    >"$dir/resolv.conf"
	exec unshare -m -n --propagation private sh -c '
		python=$1 dir=$2
		shift 2
		ip link set lo up || exit 99
		mount --bind "$dir/resolv.conf" /etc/resolv.conf || exit 99
		"$python" -c "
import os, socket, sys, time
d = sys.argv[1]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((\"127.0.0.1\", 53))
open(d + \"/ready\", \"w\").close()
u.recvfrom(512)
open(d + \"/query\", \"w\").close()
while True:
    time.sleep(60)
" "$dir" </dev/null >/dev/null 2>&1 3>&- &
		echo $! >"$dir/dns.pid"
		tries=0
		while [ ! -e "$dir/ready" ] && [ $tries -lt 600 ]; do
			tries=$((tries + 1))
			sleep 0.05
		done
		exec "$@"' _ "$PYTHON" "$dir" "$@"
}

# Stops the server in_dead_dns started in $1.
dead_dns_stop() {
	if [ -s "$1/dns.pid" ]; then
		kill "$(cat "$1/dns.pid")" 2>/dev/null || true
	fi
}

@test "waits: a name lookup that gets no answer ends after -t" {
	local name t0 t1 dir=$BATS_TEST_TMPDIR/dns
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	t0=$(date +%s)
	run in_dead_dns "$dir" timeout $((40 * SLOWDOWN)) "$SMTPSEND" -q "$Q" \
	    -n mx.test -l "$LOG" -t 2s -r relay.smtpq.test:25
	t1=$(date +%s)
	dead_dns_stop "$dir"
	[ -e "$dir/query" ]
	assert_status 75
	[ $((t1 - t0)) -lt $((10 * SLOWDOWN)) ]
	grep -q 'result=unreachable: 451 4.4.1 relay relay.smtpq.test:25: relay.smtpq.test: no answer from the resolver' "$LOG"
	[ -f "$Q/new/$name" ]
}

@test "waits: SIGTERM cuts short a name lookup that gets no answer (-t 60s): exit within a second" {
	local name dir=$BATS_TEST_TMPDIR/dns
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	cp "$Q/new/$name" "$BATS_TEST_TMPDIR/orig"
	in_dead_dns "$dir" "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 60s \
	    -r relay.smtpq.test:25 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	wait_for test -e "$dir/query"
	term_and_time 1
	dead_dns_stop "$dir"
	assert_status 75
	assert_faster_than 1000
	cmp "$BATS_TEST_TMPDIR/orig" "$Q/new/$name"
	grep -q 'lookup interrupted' "$LOG"
}

@test "waits: -p opens nothing it has not checked: a FIFO in new/ is listed as such" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	mkfifo "$Q/new/$(qname 0 2)"
	run timeout 10 "$SMTPSEND" -p -q "$Q" -n mx.test
	assert_status 0
	[[ "$output" == *"not a regular file"* ]]
	[[ "$output" == *"to=<x@dst.test>"* ]]
}

# --- a failing message among good ones -------------------------------------

# Three messages for the relay, the oldest first: $1 gets recipients $2...
# (the rest x@dst.test and y@dst.test); the originals are kept in
# $BATS_TEST_TMPDIR/orig/.
three_messages() {
	local bad=$1
	shift
	qmsg "$bad" a@src.test "$@"
	qmsg "$(qname 20 2)" a@src.test x@dst.test
	qmsg "$(qname 10 3)" a@src.test y@dst.test
	mkdir -p "$BATS_TEST_TMPDIR/orig"
	cp "$Q"/new/* "$BATS_TEST_TMPDIR/orig/"
}

# msmtpd answers a failed message (its pipe command failed) after the final
# dot and closes the connection, without a 421.  That cost the message
# after it its session, and smtpsend took the relay for lost: the other
# messages were deferred, the failing one, the oldest, went first again
# in the next run, and nothing was ever delivered.  close_after_dot
# FLAGS: three messages, the oldest answered 451 after its final dot and
# the connection closed, by a relay started with FLAGS too.
close_after_dot() {
	local bad
	bad=$(qname 30 1)
	three_messages "$bad" w@dst.test
	relay_start "$@" --close-after-fail \
	    --dot '451 4.3.0 Pipe command reported error 75' --dot '250 2.0.0 Ok'
	# -j 1: the next message must find the session the relay closed
	# (with workers it may go over a session of its own)
	smtpsend_run -f -j 1
	assert_status 75
	grep -q 'closing after a failure' "$RELAY_DIR/transcript"
	grep -qx 'to=<x@dst.test>' "$RELAY_DIR/1.env"
	grep -qx 'to=<y@dst.test>' "$RELAY_DIR/2.env"
	[ ! -e "$RELAY_DIR/3.env" ]
	# The failing one stays as it was, with a next try ahead; the others
	# are gone.
	[ "$(count_files "$Q/new")" -eq 1 ]
	cmp "$BATS_TEST_TMPDIR/orig/$bad" "$Q/new/$bad"
	[ "$(stat -c %Y "$Q/new/$bad")" -gt "$(date +%s)" ]
	grep -q "id=$bad to=<w@dst.test> .*result=deferred: 451 4.3.0 Pipe command" "$LOG"
	[ "$(count_lines 'result=done' "$LOG")" -eq 2 ]
	# The next message found the session closed and took a new one.
	grep -q 'result=reconnecting: the session went stale' "$LOG"
	[ "$(count_lines ' connect$' "$RELAY_DIR/transcript")" -eq 2 ]
}

@test "a relay that closes after a failed message (msmtpd): that one is deferred, the others go in the same run" {
	close_after_dot --no-pipelining
}

@test "the same with PIPELINING: the batch that finds the session closed is sent again over a new one" {
	close_after_dot
}

# The same relay, pipelining: a 550 to the oldest message's first
# recipient and the connection closed before DATA.  That recipient is
# bounced, the one after it (accepted by no one) stays pending, and the
# other messages and the bounce go in the same run.
@test "a relay that closes after a refused RCPT: that recipient is bounced, the next kept, the other messages sent" {
	local bad
	bad=$(qname 30 1)
	three_messages "$bad" bad@dst.test later@dst.test
	relay_start --close-after-fail --rcpt 'bad@dst.test=550 5.1.1 no such user'
	smtpsend_run -f
	assert_status 75
	grep -q "id=$bad to=<bad@dst.test> .*result=bounced: 550 5.1.1 no such user" "$LOG"
	grep -q "id=$bad to=<later@dst.test> .*result=deferred: 451 4.4.2 .*connection closed" "$LOG"
	grep -q "id=$bad relay=.* result=lost: .*the next message gets a new connection" "$LOG"
	# The queue file lists later@ alone now.
	[ "$(count_files "$Q/new")" -eq 1 ]
	grep -qx 'To: <later@dst.test>' "$Q/new/$bad"
	! grep -q 'bad@dst.test' "$Q/new/$bad"
	# x@, y@ and the bounce to a@ went to the relay.
	cat "$RELAY_DIR"/*.env >"$BATS_TEST_TMPDIR/envs"
	grep -qx 'to=<x@dst.test>' "$BATS_TEST_TMPDIR/envs"
	grep -qx 'to=<y@dst.test>' "$BATS_TEST_TMPDIR/envs"
	grep -qx 'to=<a@src.test>' "$BATS_TEST_TMPDIR/envs"
	[ "$(count_lines '^from=<>' "$BATS_TEST_TMPDIR/envs")" -eq 1 ]
}

@test "a relay that fails its greeting is down for the run: one connection, every message kept" {
	local f
	three_messages "$(qname 30 1)" w@dst.test
	relay_start --greeting '554 5.3.2 not now'
	smtpsend_run -f
	assert_status 75
	[ "$(count_lines ' connect$' "$RELAY_DIR/transcript")" -eq 1 ]
	[ "$(count_lines 'result=unusable: 451 4.4.1 .*554 5.3.2' "$LOG")" -eq 1 ]
	[ "$(count_lines 'result=deferred: 451 4.4.1 .*554 5.3.2' "$LOG")" -eq 3 ]
	for f in "$BATS_TEST_TMPDIR"/orig/*; do
		cmp "$f" "$Q/new/${f##*/}"
	done
}

@test "a relay down after its greeting: the next -r takes every message" {
	local good_port n
	relay_start
	good_port=$RELAY_PORT
	BG_PIDS+=("$RELAY_PID")
	RELAY_DIR=$BATS_TEST_TMPDIR/relay2 relay_start --greeting '421 4.3.2 shutting down'
	three_messages "$(qname 30 1)" w@dst.test
	smtpsend_run -f -r "127.0.0.1:$good_port"
	assert_status 0
	# Each session tries the first -r, then the next: one with -j 1;
	# with workers (-j), each worker's session does so.
	n=$(count_lines ' connect$' "$BATS_TEST_TMPDIR/relay2/transcript")
	[ "$n" -ge 1 ]
	[ "$(count_lines ' connect$' "$RELAY_DIR/transcript")" -eq "$n" ]
	[ "$(count_lines 'result=unusable: 421 4.3.2 shutting down' "$LOG")" -eq "$n" ]
	[ "$(count_lines 'result=done' "$LOG")" -eq 3 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}
