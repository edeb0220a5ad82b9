#!/usr/bin/env bats
# smtpd against hostile and heavy clients: trust that must not
# fail open, recipients past the limit, slow clients, sessions that never
# end, backscatter, a full disk, and log lines a client cannot forge.

# A long suite: tests/run starts it first.
# tests/run: early

load helpers

RELAY='HELO client.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@elsewhere.example>\r\nQUIT\r\n'

# Trust: a launcher's variable that is set but unusable is an unknown,
# untrusted client, never a trusted pipe.

@test "REMOTE_ADDR that is set but not a bare address is untrusted: 554 5.7.1, logged peer=unknown trusted=no" {
	local addr
	for addr in '' unknown 203.0.113.5:4711 'fe80::1%eth0' \
	    '[2001:db8::5]' ' 192.0.2.1' '127.0.0.1 ' 127.0.0.1:25 localhost; do
		rm -f "$LOG"
		REMOTE_ADDR=$addr smtpd_session "$RELAY"
		assert_reply 4 "554 5.7.1" || { echo "REMOTE_ADDR='$addr'" >&2; return 1; }
		grep -q 'peer=unknown trusted=no result=connect' "$LOG"
		! grep -q 'trusted=yes' "$LOG" || false
	done
}

@test "TCPREMOTEIP that is set but not a bare address is untrusted" {
	local addr
	for addr in '' unknown '[::1]' '::1%lo'; do
		TCPREMOTEIP=$addr smtpd_session "$RELAY"
		assert_reply 4 "554 5.7.1" || { echo "TCPREMOTEIP='$addr'" >&2; return 1; }
	done
}

@test "a valid TCPREMOTEIP beside a bad REMOTE_ADDR, or two that disagree, is untrusted" {
	REMOTE_ADDR=bogus TCPREMOTEIP=127.0.0.1 smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=bogus smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=192.0.2.1 smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	# the same address twice is that address
	REMOTE_ADDR=127.0.0.1 TCPREMOTEIP=127.0.0.1 smtpd_session "$RELAY"
	assert_reply 4 "250 2.1.5"
}

@test "an unusable REMOTE_ADDR inside a -R network's text is not matched by -R" {
	SMTPD_FLAGS=(-R 192.0.2.0/24)
	REMOTE_ADDR=192.0.2.5:25 smtpd_session "$RELAY"
	assert_reply 4 "554 5.7.1"
	REMOTE_ADDR=192.0.2.5 smtpd_session "$RELAY"
	assert_reply 4 "250 2.1.5"
}

# Recipients past RCPT_MAX: 452 4.5.3, not an error (RFC 5321 4.5.3.1.10).

# smtplib_send N: Python's smtplib sends one message to N recipients at
# example.net through an smtpd on a socket pair; prints the number of
# refused recipients and their distinct codes, e.g. "50 452".
smtplib_send() {
	"$PYTHON" - "$1" "$SMTPD" "$Q" "$LOG" "${SMTPD_FLAGS[@]}" <<'PY'
import smtplib, socket, subprocess, sys
n = int(sys.argv[1])
ours, theirs = socket.socketpair()
proc = subprocess.Popen([sys.argv[2], "-q", sys.argv[3], "-n", "mx.test",
    "-l", sys.argv[4], "-d", "example.net"] + sys.argv[5:],
    stdin=theirs, stdout=theirs)
theirs.close()
ours.settimeout(30)
s = smtplib.SMTP()
s.sock = ours
s.file = None
code, _ = s.getreply()
assert code == 220, code
rcpts = ["r%d@example.net" % i for i in range(1, n + 1)]
refused = s.sendmail("a@example.org", rcpts, b"Subject: many\r\n\r\nhi\r\n")
s.quit()
proc.wait(30)
print(len(refused), " ".join(sorted({str(c) for c, _ in refused.values()})))
PY
}

@test "smtplib with 150 recipients: the first 100 are queued, 50 get 452 4.5.3" {
	run smtplib_send 150
	[ "$status" -eq 0 ]
	[ "$output" = "50 452" ]
	[ "$(grep -c '^To: ' "$(queued_file)")" -eq 100 ]
	grep -qx 'To: <r100@example.net>' "$(queued_file)"
	! grep -q 'r101@' "$(queued_file)" || false
}

@test "smtplib with 1,000 recipients: the first 100 are queued" {
	run smtplib_send 1000
	[ "$status" -eq 0 ]
	[ "$output" = "900 452" ]
	[ "$(grep -c '^To: ' "$(queued_file)")" -eq 100 ]
	grep -qx 'To: <r1@example.net>' "$(queued_file)"
}

@test "past RCPT_MAX + 1000 overshoot every 452 counts as an error again" {
	local i
	smtpd_session "HELO c.example\r\nMAIL FROM:<a@example.org>\r\n$(for ((i = 1; i <= 1120; i++)); do printf 'RCPT TO:<r%d@example.net>\\r\\n' $i; done)QUIT\r\n"
	[ "$(replies | grep -c '^452 4.5.3')" -eq 1020 ]
	replies | tail -n 1 | grep -q '^421 4.7.0'
}

# Slow clients: deadlines, not per-read timeouts (smtpd/limits.c).

@test "3 clients dripping a byte every 0.3 s never shut out a well-behaved one for longer than -t" {
	# -c 3 -t 1: the drips take every slot; a good client that comes
	# meanwhile is turned away at first, and gets in once -t has cut
	# the drips off (a bound of 1 s, checked with room to spare; under
	# valgrind, where starting three sessions alone takes longer than
	# that, -t and the bound are SLOWDOWN times longer).
	run "$PYTHON" - "$SMTPD" "$Q" "$LOG" "$SLOWDOWN" <<'PY'
import socket, subprocess, sys, threading, time
smtpd, q, log, slow = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def start():
    ours, theirs = socket.socketpair()
    p = subprocess.Popen([smtpd, "-q", q, "-n", "mx.test", "-l", log,
        "-c", "3", "-t", str(slow)], stdin=theirs, stdout=theirs)
    theirs.close()
    ours.settimeout(10 * slow)
    return p, ours
def greeting(s):
    return s.makefile("rb").readline()
stop = False
def drip(s):
    while not stop:
        try:
            s.send(b"N")
        except OSError:
            return
        time.sleep(0.3)
drips = []
for i in range(3):
    p, s = start()
    assert greeting(s).startswith(b"220"), "drip %d not greeted" % i
    threading.Thread(target=drip, args=(s,), daemon=True).start()
    drips.append((p, s))
t0 = time.monotonic()
p, s = start()
first = greeting(s)
s.close(); p.wait(10 * slow)
assert first.startswith(b"421 4.3.2"), first
while True:
    p, s = start()
    line = greeting(s)
    if line.startswith(b"220"):
        s.sendall(b"QUIT\r\n"); s.makefile("rb").readline()
        s.close(); p.wait(10 * slow)
        break
    s.close(); p.wait(10 * slow)
    if time.monotonic() - t0 > 4 * slow:
        sys.exit("still shut out after %.1f s" % (time.monotonic() - t0))
    time.sleep(0.1)
waited = time.monotonic() - t0
stop = True
for p, s in drips:
    try:
        rest = s.makefile("rb").read()
        assert rest.startswith(b"421 4.4.2"), rest
    except ConnectionResetError:
        # smtpd closed with the drip's last bytes unread, and the
        # kernel's reset overtook its 421 (seen once under load); the
        # log's count of timeouts below still checks each drip.
        pass
    p.wait(10 * slow)
print("%.1f" % waited)
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c 'result=timeout after CONNECT' "$LOG")" -eq 3 ]
}

@test "a message dripped slower than -r is cut off with 421 4.4.2 near -t, not kept" {
	local t0 t1 ms i
	SMTPD_FLAGS=(-t 2 -r 1000)
	smtpd_start
	smtpd_send 'HELO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
	wait_for smtpd_replied '^354 '
	t0=${EPOCHREALTIME/[.,]/}
	# 20 bytes every 0.2 s: 100 bytes a second, a tenth of -r
	for ((i = 0; i < 100; i++)); do
		smtpd_gone && break
		smtpd_send 'drip drip drip drip\n' 2>/dev/null || break
		sleep 0.2
	done
	smtpd_wait_exit
	t1=${EPOCHREALTIME/[.,]/}
	ms=$(( (t1 - t0) / 1000 ))
	replies | tail -n 1 | grep -q '^421 4.4.2 mx.test Error: timeout exceeded'
	[ "$ms" -lt $(( 8000 * SLOWDOWN )) ] || { echo "421 after $ms ms" >&2; false; }
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
	grep -q 'result=dropped: timeout in DATA' "$LOG"
}

@test "a message sent faster than -r is not cut off, though it takes longer than -t" {
	local i
	SMTPD_FLAGS=(-t 3 -r 100)
	smtpd_start
	smtpd_send 'HELO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n'
	wait_for smtpd_replied '^354 '
	# 200 bytes every 0.5 s for 4 s: 400 bytes a second.  A gap must stay
	# under -t (the credit is capped there), and on a busy machine one
	# took over a second: -t 1 was too close.
	for ((i = 0; i < 8; i++)); do
		smtpd_send "$(printf '%0198d' 0)\r\n"
		sleep 0.5
	done
	smtpd_send '.\r\nQUIT\r\n'
	smtpd_wait_exit
	replies | grep -q '^250 2.0.0 Ok: queued'
	queued_file
}

@test "a session that keeps busy past -L gets 421 4.4.2 session too long" {
	local i
	SMTPD_FLAGS=(-t 5 -L 2)
	smtpd_start
	for ((i = 0; i < 50; i++)); do
		smtpd_gone && break
		smtpd_send 'HELO c.example\r\n' 2>/dev/null || break
		sleep 0.2
	done
	smtpd_wait_exit
	replies | tail -n 1 | grep -q '^421 4.4.2 mx.test Error: session too long'
	[ "$i" -lt 40 ]
	grep -q 'result=session too long after HELO' "$LOG"
}

@test "-L and -r take only sane values" {
	local bad
	for bad in '-L 0' '-L x' '-r 0' '-r -1' '-r 1k'; do
		# shellcheck disable=SC2086
		run "$SMTPD" -q "$Q" -n mx.test $bad
		[ "$status" -eq 64 ] || { echo "$bad: $status" >&2; return 1; }
	done
}

@test "the junk count starts again after each queued message" {
	local noops
	noops=$(for ((i = 0; i < 90; i++)); do printf 'NOOP\\r\\n'; done)
	smtpd_session "HELO c.example\r\n${noops}MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\n${noops}${noops}QUIT\r\n"
	replies | tail -n 1 | grep -q '^421 4.7.0'
	smtpd_session "HELO c.example\r\n${noops}MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\n${noops}QUIT\r\n"
	replies | tail -n 1 | grep -q '^221 2.0.0'
	[ "$(replies | grep -c '^250 2.0.0 Ok$')" -eq 180 ]
}

# The session cap (-c): a standard Postfix client's 20 connections fit.

@test "by default 30 sessions at once are greeted (a Postfix client's 20 fit) and the 31st gets 421 4.3.2" {
	# The 30 that hold the slots are the build's smtpd itself, not under
	# valgrind (SMTPD_NATIVE): a greeting and QUIT, which every session
	# of the other suites runs under memcheck, at some 0.7 s of CPU each;
	# the 31st, the refusal, is $SMTPD, under valgrind when it is.
	run "$PYTHON" - "$SMTPD" "$Q" "$LOG" "$SLOWDOWN" \
	    "${SMTPD_NATIVE:-$SMTPD}" <<'PY'
import socket, subprocess, sys
smtpd, q, log, slow = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
native = sys.argv[5]
held = []
def start(prog):
    ours, theirs = socket.socketpair()
    p = subprocess.Popen([prog, "-q", q, "-n", "mx.test", "-l", log],
        stdin=theirs, stdout=theirs)
    theirs.close()
    ours.settimeout(20 * slow)
    return p, ours, ours.makefile("rb").readline()
for i in range(30):
    p, s, line = start(native)
    assert line.startswith(b"220 "), "session %d: %r" % (i + 1, line)
    held.append((p, s))
p, s, line = start(smtpd)
assert line.startswith(b"421 4.3.2"), line
s.close(); p.wait(20 * slow)
for p, s in held:
    s.sendall(b"QUIT\r\n")
    s.makefile("rb").readline()
    s.close()
    p.wait(20 * slow)
PY
	echo "$output"
	[ "$status" -eq 0 ]
}

# A full disk: 452 4.3.1 in every build (errno kept past the log line).

# Mounts a 256 KiB tmpfs at $FULL for the queue (root may; teardown
# unmounts it).
full_tmpfs() {
	FULL=$BATS_TEST_TMPDIR/full
	mkdir -p "$FULL"
	mount -t tmpfs -o size=256k,mode=0755 smtpq-test "$FULL"
	MOUNTED=$FULL
}

teardown() {
	smtpd_cleanup
	if [ -n "${MOUNTED:-}" ]; then
		umount "$MOUNTED"
		MOUNTED=
	fi
}

@test "a queue on a full file system answers 452 4.3.1 after the final dot, logged, nothing left" {
	full_tmpfs
	Q=$FULL/queue
	smtpd_session 'HELO c.example\r\nQUIT\r\n'	# makes the queue
	# fill it: dd stops at ENOSPC
	dd if=/dev/zero of="$FULL/filler" bs=4k 2>/dev/null || true
	SMTPD_FLAGS=(-m 0)	# no check at MAIL: the write must fail
	smtpd_session "HELO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n$(printf '%080d\\r\\n' $(seq 1 200))\r\n.\r\nQUIT\r\n"
	assert_replies '220 ' '250 mx.test' '250 2.1.0' '250 2.1.5' '354 ' \
	    '452 4.3.1' '221 2.0.0'
	grep -q 'result=deferred: unable to write queue file: No space left on device' "$LOG"
	assert_empty "$Q/new"
	assert_empty "$Q/tmp"
}

# Small truths.

@test "a lock file that cannot be opened is 421 4.3.0, as the man page says, exit 75" {
	mkdir -p "$Q/smtpd.lock"	# a directory: open(2) fails
	smtpd_session 'HELO c.example\r\nQUIT\r\n'
	[ "$status" -eq 75 ]
	assert_replies '421 4.3.0 mx.test Service not available: local error'
	grep -q 'result=refused: unable to lock' "$LOG"
}

@test "a client that stops reading is logged as a write error, not a read error" {
	run "$PYTHON" - "$SMTPD" "$Q" "$LOG" <<'PY'
import socket, subprocess, sys, time
ours, theirs = socket.socketpair()
p = subprocess.Popen([sys.argv[1], "-q", sys.argv[2], "-n", "mx.test",
    "-l", sys.argv[3], "-t", "1"], stdin=theirs, stdout=theirs)
theirs.close()
ours.settimeout(3)
# Never read a reply; send in pieces, so that smtpd waits for input (and
# flushes its replies first) between them.
try:
    for i in range(400):
        ours.sendall(b"EHLO c.example\r\n" * 50)
        time.sleep(0.01)
except OSError:	# a timeout, or smtpd gone
    pass
p.wait(30)
PY
	[ "$status" -eq 0 ]
	grep -q 'result=write error' "$LOG"
	! grep -q 'read error' "$LOG" || false
}

# Logs: every refusal, in the reply's words, with client values escaped.

@test "every refused sender, recipient and message has a log line in the reply's words" {
	SMTPD_FLAGS=(-s 1000)
	smtpd_session 'EHLO c.example\r\nMAIL FROM:<nodomain>\r\nMAIL FROM:<a@example.org> SIZE=5000\r\nMAIL FROM:<a@example.org> FOO=1\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b c>\r\nRCPT TO:<b@example.net> NOTIFY=NEVER\r\nQUIT\r\n'
	grep -q 'result=rejected: 501 5.1.7 Bad sender address syntax$' "$LOG"
	grep -q 'from=<a@example.org> result=rejected: 552 5.3.4 Message size exceeds fixed limit$' "$LOG"
	grep -q 'from=<a@example.org> result=rejected: 555 5.5.4 Unsupported option: FOO$' "$LOG"
	grep -q 'from=<a@example.org> result=rejected: 501 5.1.3 Bad recipient address syntax$' "$LOG"
	grep -q 'from=<a@example.org> to=<b@example.net> result=rejected: 555 5.5.4 Unsupported option: NOTIFY=NEVER$' "$LOG"
	smtpd_session "HELO c.example\r\nMAIL FROM:<a@example.org>\r\n$(printf 'RCPT TO:<r%d@example.net>\\r\\n' $(seq 1 101))QUIT\r\n"
	grep -q 'to=<r101@example.net> result=rejected: 452 4.5.3 Error: too many recipients$' "$LOG"
}

@test "a sender or recipient cannot forge a log field or line" {
	smtpd_session 'HELO c.example\r\nMAIL FROM:<"x> result=queued id=FAKE"@b.c>\r\nRCPT TO:<"y> to=<z@q"@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 6 '250 2.0.0'
	local line
	line=$(grep 'result=queued' "$LOG")
	# fields are separated by spaces: one " result=", one " id="
	[ "$(grep -o ' result=' <<<"$line" | wc -l)" -eq 1 ]
	[ "$(grep -o ' id=' <<<"$line" | wc -l)" -eq 1 ]
	[[ "$line" == *'from=<\x22x\x3e\x20result=queued\x20id=FAKE\x22@b.c>'* ]]
	! grep -q 'id=FAKE ' "$LOG" || false
	REMOTE_ADDR=192.0.2.1 smtpd_session 'HELO c.example\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<"v> result=queued"@elsewhere.example>\r\nQUIT\r\n'
	line=$(grep 'Relay access denied' "$LOG")
	[ "$(grep -o ' result=' <<<"$line" | wc -l)" -eq 1 ]
}

@test "a client that closes after its message without QUIT is logged as lost after END-OF-MESSAGE" {
	smtpd_session 'HELO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\nhi\r\n.\r\n'
	grep -q 'messages=1 result=lost connection after END-OF-MESSAGE' "$LOG"
	! grep -q 'after DATA' "$LOG" || false
}

# Disk fill: 452 4.3.1 at MAIL when the queue's file system runs low.

@test "MAIL is 452 4.3.1 when the queue's file system has less than -m (default twice -s) plus SIZE= free" {
	full_tmpfs
	Q=$FULL/queue
	SMTPD_FLAGS=(-s 100k)
	local mail='HELO c.example\r\nMAIL FROM:<a@example.org>\r\nQUIT\r\n'
	smtpd_session "$mail"
	assert_reply 3 '250 2.1.0'	# 256k free, 200k needed
	head -c 100k /dev/zero >"$FULL/filler"
	smtpd_session "$mail"
	assert_reply 3 '452 4.3.1 Insufficient system storage'
	grep -q 'result=rejected: 452 4.3.1 Insufficient system storage' "$LOG"
	SMTPD_FLAGS=(-s 100k -m 0)
	smtpd_session "$mail"
	assert_reply 3 '250 2.1.0'
	SMTPD_FLAGS=(-s 300k -m 10k)
	smtpd_session 'HELO c.example\r\nMAIL FROM:<a@example.org> SIZE=90000\r\nMAIL FROM:<a@example.org> SIZE=200000\r\nQUIT\r\n'
	assert_reply 3 '250 2.1.0'
	assert_reply 4 '503 5.5.1'
	smtpd_session 'HELO c.example\r\nMAIL FROM:<a@example.org> SIZE=200000\r\nQUIT\r\n'
	assert_reply 3 '452 4.3.1'
	run "$SMTPD" -q "$Q" -n mx.test -m x
	[ "$status" -eq 64 ]
}

# Backscatter: refuse at RCPT what local delivery would refuse for good.

@test "a -d local part that smtpsend could never deliver is 550 5.1.3 at RCPT, not a bounce later" {
	local a
	SMTPD_FLAGS=(-d example.net)
	for a in 'a/b' '"x"' '"a b"' '"back\\\\slash"'; do
		REMOTE_ADDR=192.0.2.1 smtpd_session "HELO c.example\r\nMAIL FROM:<victim@example.org>\r\nRCPT TO:<$a@example.net>\r\nRCPT TO:<ok@example.net>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n"
		assert_reply 4 '550 5.1.3' || { echo "local part $a" >&2; return 1; }
		assert_reply 5 '250 2.1.5'
	done
	grep -q 'result=rejected: 550 5.1.3 Error: unsafe mailbox name' "$LOG"
	# the same rule in smtpsend: what smtpd queues is delivered
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -d example.net -m "$BATS_TEST_TMPDIR/mail"
	[ "$status" -eq 0 ]
	[ "$(count_files "$BATS_TEST_TMPDIR/mail/ok/new")" -eq 4 ]
	assert_empty "$Q/failed"
}

@test "after 1000 messages in one session of an untrusted client MAIL gets 421 4.7.0 and the session ends" {
	local msg
	SMTPD_FLAGS=(-d example.net)
	msg=$(for ((i = 0; i < 1001; i++)); do printf 'MAIL FROM:<a@example.org>\\r\\nRCPT TO:<b@example.net>\\r\\nDATA\\r\\nhi\\r\\n.\\r\\n'; done)
	REMOTE_ADDR=192.0.2.1 smtpd_session "HELO c.example\r\n${msg}QUIT\r\n"
	[ "$(count_files "$Q/new")" -eq 1000 ]
	replies | tail -n 1 | grep -q '^421 4.7.0 mx.test Error: too many messages in one session'
	grep -q 'messages=1000 result=disconnect: too many messages' "$LOG"
}
