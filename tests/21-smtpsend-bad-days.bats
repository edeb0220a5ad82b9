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
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR"
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

# aiosmtpd_start: aiosmtpd (a relay we did not write) on 127.0.0.1, a
# port of the kernel's choosing; each message it takes is written, as it
# arrived (dots unstuffed, CRLF), to $BATS_TEST_TMPDIR/aio/K.eml.  Sets
# RELAY_PORT and RELAY_PID (teardown stops it with relay_stop).
aiosmtpd_start() {
	local dir=$BATS_TEST_TMPDIR/aio
	mkdir -p "$dir"
	"$PYTHON" - "$dir" 3>&- <<'PY' &
import asyncio, os, sys
from aiosmtpd.smtp import SMTP

DIR = sys.argv[1]
count = 0

class Handler:
    async def handle_DATA(self, server, session, envelope):
        global count
        count += 1
        with open(os.path.join(DIR, "%d.eml" % count), "wb") as f:
            f.write(envelope.original_content)
        return "250 2.0.0 Ok"

async def main():
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: SMTP(Handler()), "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    with open(os.path.join(DIR, "port.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
    await srv.serve_forever()

asyncio.run(main())
PY
	RELAY_PID=$!
	wait_for test -s "$dir/port" || return 1
	RELAY_PORT=$(cat "$dir/port")
}

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
	aiosmtpd_start
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
	assert_same_bytes "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/aio/1.eml"
}

# --- waits ----------------------------------------------------------------

# bad_relay MODE: a relay on 127.0.0.1 that misbehaves; sets RELAY_PORT
# and RELAY_PID.  MODE "backlog": it listens with a full backlog and never
# accepts, so a connect() to it waits for ever (SYN-SENT); "endless": it
# greets, then answers EHLO with "250-x" lines without end.
bad_relay() {
	local dir=$BATS_TEST_TMPDIR/bad
	mkdir -p "$dir"
	"$PYTHON" - "$dir" "$1" 3>&- <<'PY' &
import os, socket, sys, time
dir, mode = sys.argv[1], sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
held = []
if mode == "backlog":
    s.listen(0)
    # Fill the queue: later SYNs are dropped and connect() waits.
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        held.append(c)
    time.sleep(0.5)
else:
    s.listen(5)
with open(os.path.join(dir, "port.tmp"), "w") as f:
    f.write("%d\n" % port)
os.rename(os.path.join(dir, "port.tmp"), os.path.join(dir, "port"))
if mode == "backlog":
    while True:
        time.sleep(60)
c, _ = s.accept()
c.sendall(b"220 endless ESMTP\r\n")
f = c.makefile("rb")
f.readline()
try:
    while True:
        c.sendall(b"250-x\r\n" * 100)
except OSError:
    pass
PY
	RELAY_PID=$!
	wait_for test -s "$dir/port" || return 1
	RELAY_PORT=$(cat "$dir/port")
}

# Succeeds once a connection of $BG_PID's to $RELAY_PORT waits in SYN-SENT.
# Only its own: bad_relay's backlog fillers wait there already, so any
# SYN-SENT socket would let a test signal a smtpsend that has not started
# (no handler yet: it dies of the SIGTERM, 143; under valgrind always).
syn_sent() {
	ss -Htnp state syn-sent "dport = :$RELAY_PORT" |
	    grep -q "pid=$BG_PID,"
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
	bad_relay backlog
	smtpsend_bg -t 60s
	wait_for syn_sent
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

@test "waits: an endless multi-line reply is cut off; the message stays queued" {
	local name t0 t1
	name=$(qname)
	qmsg "$name" a@src.test x@dst.test
	bad_relay endless
	t0=$(date +%s)
	run timeout 30 "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 20s \
	    -r "127.0.0.1:$RELAY_PORT"
	t1=$(date +%s)
	assert_status 75
	[ $((t1 - t0)) -lt $((10 * SLOWDOWN)) ]
	grep -q 'result=unusable: 451 4.5.0 relay .*: malformed reply' "$LOG"
	[ -f "$Q/new/$name" ]
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
