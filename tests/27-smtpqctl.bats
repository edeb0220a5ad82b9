#!/usr/bin/env bats
# smtpqctl (smtpqctl(8)): check, queue, show, flush, hold, release,
# delete, requeue; safe as root (the queue's owner, no links, escaped
# names).

load helpers

SMTPQCTL=${SMTPQCTL:-$BATS_TEST_DIRNAME/../smtpsend/smtpqctl}
CONF="$BATS_TEST_TMPDIR/smtpq.conf"
MAIL="$BATS_TEST_TMPDIR/mail"

setup() {
	smtpsend_setup
	printf 'queue %s\nlog %s\nhostname mx.test\n' "$Q" "$LOG" > "$CONF"
	export SMTPQCTL_SMTPD=$SMTPD SMTPQCTL_SMTPSEND=$SMTPSEND
}

teardown() {
	smtpsend_teardown
}

ctl() {
	run "$SMTPQCTL" -F "$CONF" "$@"
}

# A message with mtime (next try) $2 seconds ahead: q_future NAME SECONDS
# SENDER RCPT...
q_future() {
	local name=$1 ahead=$2
	shift 2
	qmsg "$name" "$@"
	touch -d "@$(( $(date +%s) + ahead ))" "$Q/new/$name"
}

mtime() {
	stat -c %Y "$1"
}

@test "check: a good configuration is 0; a bad key of either program is 78 with FILE:LINE" {
	ctl check
	[ "$status" -eq 0 ]
	[[ "$output" == *"configuration $CONF: ok"* ]]
	echo "trusted 10.0.0.0/33" >> "$CONF"
	ctl check
	[ "$status" -eq 78 ]
	[[ "$output" == *"smtpd: $CONF:4: trusted: -R: not an address/prefix"* ]]
	[[ "$output" == *"check: $SMTPD refuses the configuration (exit 78)"* ]]
	[[ "$output" != *"$SMTPSEND refuses"* ]]
	sed -i '$d' "$CONF"
	echo "relay smtp+tls://user@relay.example" >> "$CONF"
	ctl check
	[ "$status" -eq 78 ]
	[[ "$output" == *"no -a file"* ]]
	[[ "$output" == *"$SMTPSEND refuses"* ]]
	[[ "$output" != *"$SMTPD refuses"* ]]
}

@test "check: a typo, a duplicate and a queue others may write are caught" {
	echo "domian example.org" >> "$CONF"
	ctl check
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:4: unknown key \"domian\""* ]]
	sed -i '$d' "$CONF"
	echo "hostname again.test" >> "$CONF"
	ctl check
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:4: hostname given twice (first on line 3)"* ]]
	sed -i '$d' "$CONF"
	chmod 777 "$Q"
	ctl check
	[ "$status" -eq 78 ]
	[[ "$output" == *"queue $Q: writable by others"* ]]
}

@test "queue: one line per recipient with state, age, next try; --json the same" {
	local a b
	a=$(qname 120 1) b=$(qname 60 2)
	qmsg "$a" s@x.example r1@one.example r2@two.example
	q_future "$b" 600 s@x.example r3@one.example
	ctl queue
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "$a queued age=2m next=now attempts=0 to=<r1@one.example> last=-" ]]
	[[ "${lines[1]}" == "$a queued age=2m next=now attempts=0 to=<r2@two.example> last=-" ]]
	[[ "${lines[2]}" =~ ^"$b queued age=1m next="(9|10)"m attempts=0 to=<r3@one.example> last=-"$ ]]
	ctl queue --json
	[ "$status" -eq 0 ]
	printf '%s' "$output" | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
assert len(v) == 3, v
assert v[0]["to"] == "r1@one.example" and v[0]["state"] == "queued"
assert v[0]["next_try"] == 0 and 119 <= v[0]["age"] <= 179
assert 500 <= v[2]["next_try"] <= 600 and v[2]["from"] == "s@x.example"
assert v[2]["attempts"] == 0 and v[2]["last_reply"] is None'
}

@test "queue: attempts and the last reply come from smtpsend's log" {
	local a port
	a=$(qname 30 1)
	qmsg "$a" s@x.example r1@one.example
	port=$(free_port 127.0.0.1)
	for _ in 1 2; do
		run "$SMTPSEND" -F "$CONF" -f -t 5s -r "127.0.0.1:$port"
		[ "$status" -eq 75 ]
	done
	grep -q "id=$a to=<r1@one.example> .*result=deferred" "$LOG"
	ctl queue
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "$a queued age="*" attempts=2 to=<r1@one.example> last=4"* ]]
	ctl queue --json
	printf '%s' "$output" | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
assert v[0]["attempts"] == 2 and v[0]["last_reply"].startswith("4"), v'
	# without a log file (syslog), attempts are unknown
	run "$SMTPQCTL" -q "$Q" queue --json
	printf '%s' "$output" | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
assert v[0]["attempts"] is None and v[0]["last_reply"] is None, v'
}

@test "hold: smtpsend does not deliver from hold/; release gives it back" {
	local a
	a=$(qname 10 1)
	qmsg "$a" s@x.example bob@mx.test
	ctl hold "$a"
	[ "$status" -eq 0 ]
	[ "$output" = "held: $a" ]
	[ -f "$Q/hold/$a" ]
	[ ! -e "$Q/new/$a" ]
	grep -q "smtpqctl\[.*id=$a result=held by operator" "$LOG"
	run "$SMTPSEND" -F "$CONF" -f -m "$MAIL"
	[ "$status" -eq 0 ]
	maildir_has "$MAIL/bob" 0
	[ -f "$Q/hold/$a" ]
	ctl queue
	[[ "${lines[0]}" == "$a held age="*" next=- "* ]]
	ctl hold "$a"
	[ "$status" -eq 65 ]
	ctl release "$a"
	[ "$status" -eq 0 ]
	[ -f "$Q/new/$a" ]
	[ ! -e "$Q/hold/$a" ]
	run "$SMTPSEND" -F "$CONF" -m "$MAIL"
	[ "$status" -eq 0 ]
	maildir_has "$MAIL/bob" 1
}

@test "delete removes a message from new/, hold/ or failed/ for good" {
	local a b c
	a=$(qname 10 1) b=$(qname 10 2) c=$(qname 10 3)
	qmsg "$a" s@x.example r@one.example
	qmsg "$b" s@x.example r@one.example
	qmsg "$c" s@x.example r@one.example
	ctl hold "$b"
	mv "$Q/new/$c" "$Q/failed/$c"
	for id in "$a" "$b" "$c"; do
		ctl delete "$id"
		[ "$status" -eq 0 ]
		[ "$output" = "deleted: $id" ]
	done
	[ -z "$(find "$Q/new" "$Q/hold" "$Q/failed" -type f)" ]
	grep -q "id=$c dir=failed result=deleted by operator" "$LOG"
	ctl delete "$a"
	[ "$status" -eq 66 ]
	[[ "$output" == *"$a: no such message"* ]]
}

@test "requeue moves failed/ back to new/, due now" {
	local a
	a=$(qname 7200 1)
	qmsg "$a" s@x.example bob@mx.test
	mv "$Q/new/$a" "$Q/failed/$a"
	touch -d '@1000000000' "$Q/failed/$a"
	ctl requeue "$a"
	[ "$status" -eq 0 ]
	[ -f "$Q/new/$a" ]
	[ ! -e "$Q/failed/$a" ]
	[ "$(mtime "$Q/new/$a")" -ge $(( $(date +%s) - 5 )) ]
	ctl requeue "$a"
	[ "$status" -eq 65 ]
	run "$SMTPSEND" -F "$CONF" -m "$MAIL"
	[ "$status" -eq 0 ]
	maildir_has "$MAIL/bob" 1
}

@test "flush makes every message due now and pokes the trigger" {
	local a b
	a=$(qname 100 1) b=$(qname 100 2)
	q_future "$a" 3000 s@x.example r@one.example
	q_future "$b" 3000 s@x.example r@two.example
	mkfifo -m 660 "$Q/trigger"
	local fifo poke=
	exec {fifo}<>"$Q/trigger"
	ctl flush
	[ "$status" -eq 0 ]
	[ "$output" = "flushed: 2 messages" ]
	[ "$(mtime "$Q/new/$a")" -le "$(date +%s)" ]
	[ "$(mtime "$Q/new/$b")" -le "$(date +%s)" ]
	read -r -t 5 -n 1 -u "$fifo" poke || true
	exec {fifo}<&-
	[ -n "$poke" ]
	grep -q 'flush=all messages=2 result=flushed by operator' "$LOG"
}

@test "flush ID and flush @DOMAIN touch only theirs" {
	local a b c
	a=$(qname 100 1) b=$(qname 100 2) c=$(qname 100 3)
	q_future "$a" 3000 s@x.example r@one.example
	q_future "$b" 3000 s@x.example r@two.example other@ONE.example
	q_future "$c" 3000 s@x.example r@three.example
	ctl flush @one.example
	[ "$status" -eq 0 ]
	[ "$output" = "flushed: 2 messages" ]
	[ "$(mtime "$Q/new/$a")" -le "$(date +%s)" ]
	[ "$(mtime "$Q/new/$b")" -le "$(date +%s)" ]
	[ "$(mtime "$Q/new/$c")" -gt "$(date +%s)" ]
	ctl flush "$c"
	[ "$status" -eq 0 ]
	[ "$(mtime "$Q/new/$c")" -le "$(date +%s)" ]
	ctl hold "$c"
	ctl flush "$c"
	[ "$status" -eq 65 ]
	ctl flush @bad..domain
	[ "$status" -eq 64 ]
}

@test "flush as root under systemd also starts smtpsend.service" {
	command -v unshare >/dev/null || fail_or_skip "unshare not installed"
	[ "$(id -u)" -eq 0 ] || fail_or_skip "needs root (a mount namespace)"
	local a fake="$BATS_TEST_TMPDIR/bin"
	a=$(qname 100 1)
	q_future "$a" 3000 s@x.example r@one.example
	mkdir "$fake"
	printf '#!/bin/sh\necho "$@" > %s/systemctl.args\n' \
	    "$BATS_TEST_TMPDIR" > "$fake/systemctl"
	chmod 755 "$fake/systemctl"
	# no systemd: no systemctl
	PATH="$fake:$PATH" ctl flush
	[ "$status" -eq 0 ]
	[ ! -e "$BATS_TEST_TMPDIR/systemctl.args" ]
	run unshare -m sh -c 'mount -t tmpfs tmpfs /run &&
	    mkdir -p /run/systemd/system && PATH="$1:$PATH" exec "$2" -F "$3" flush' \
	    _ "$fake" "$SMTPQCTL" "$CONF"
	[ "$status" -eq 0 ]
	[ "$(cat "$BATS_TEST_TMPDIR/systemctl.args")" = \
	    "start --no-block smtpsend.service" ]
}

@test "show prints the queue file with every control and 8-bit byte escaped" {
	local a
	a=$(qname 10 1)
	BODY=$'Subject: \e[31mred\r\n\r\nbyte \xff and a \\ here\r\n' \
	    qmsg "$a" s@x.example r@one.example
	ctl show "$a"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "id: $a" ]
	[ "${lines[1]}" = "state: queued" ]
	[[ "$output" == *'Subject: \x1b[31mred'* ]]
	[[ "$output" == *'byte \xff and a \x5c here'* ]]
	[[ "$output" != *$'\e'* ]]
	[[ "$output" != *$'\r'* ]]
}

@test "an ID must be a queue file name: no '/', no leading dot, printable" {
	local id
	touch "$Q/.hidden"
	for id in ../etc/passwd a/b .hidden '' $'x\ny' 'a b'; do
		ctl show "$id"
		[ "$status" -eq 64 ]
		[[ "$output" == *"not a queue id"* ]]
	done
	ctl show $'1.M1P1.x\e[2J'
	[ "$status" -eq 64 ]
	[[ "$output" == *'not a queue id: 1.M1P1.x\x1b[2J'* ]]
	[[ "$output" != *$'\e'* ]]
}

@test "queue prints a hostile file name escaped" {
	local a=$'1.M1P1.x\e[2Jy' b=$'2.M1P1.a b\nc'
	qmsg "$a" s@x.example r@one.example
	qmsg "$b" s@x.example r@one.example
	ctl queue
	[ "$status" -eq 0 ]
	[[ "$output" == *'1.M1P1.x\x1b[2Jy queued'* ]]
	[[ "$output" == *'2.M1P1.a\x20b\x0ac queued'* ]]
	[[ "$output" != *$'\e'* ]]
	[ "${#lines[@]}" -eq 3 ]	# and the summary
	ctl queue --json
	printf '%s' "$output" | "$PYTHON" -c '
import json, sys
v = json.load(sys.stdin)
assert sorted(x["id"] for x in v) == ["1.M1P1.x\x1b[2Jy", "2.M1P1.a b\nc"], v'
}

@test "no link is followed: a message or hold/ that is a symlink is left alone" {
	local a secret="$BATS_TEST_TMPDIR/secret" away="$BATS_TEST_TMPDIR/away"
	a=$(qname 10 1)
	printf 'From: <a@b>\nTo: <c@d>\n\nsecret text\n' > "$secret"
	ln -s "$secret" "$Q/new/$a"
	ctl show "$a"
	[ "$status" -eq 65 ]
	[[ "$output" != *"secret text"* ]]
	ctl delete "$a"
	[ "$status" -eq 65 ]
	[ -f "$secret" ]
	ctl queue
	[[ "$output" != *"c@d"* ]]
	rm "$Q/new/$a"
	qmsg "$a" s@x.example r@one.example
	mkdir "$away"
	rmdir "$Q/hold"		# made by the listing above
	ln -s "$away" "$Q/hold"
	ctl hold "$a"
	[ "$status" -eq 75 ]
	[ -f "$Q/new/$a" ]
	[ -z "$(ls -A "$away")" ]
}

@test "a message being delivered (smtpsend's lock) is left alone: 75" {
	local a pid
	a=$(qname 10 1)
	qmsg "$a" s@x.example r@one.example
	"$PYTHON" -c '
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$Q/new/$a" "$BATS_TEST_TMPDIR/locked" &
	pid=$!
	BG_PIDS+=("$pid")
	wait_for test -e "$BATS_TEST_TMPDIR/locked"
	ctl hold "$a"
	[ "$status" -eq 75 ]
	[[ "$output" == *"being delivered"* ]]
	ctl delete "$a"
	[ "$status" -eq 75 ]
	[ -f "$Q/new/$a" ]
	kill "$pid"
	wait "$pid" || true
	ctl hold "$a"
	[ "$status" -eq 0 ]
}

@test "as root it works as the queue's owner" {
	[ "$(id -u)" -eq 0 ] || fail_or_skip "needs root"
	local a b
	a=$(qname 10 1) b=$(qname 10 2)
	qmsg "$a" s@x.example r@one.example
	qmsg "$b" s@x.example r@one.example
	chown -R nobody "$Q"
	chown root "$Q/new/$b"
	chmod 600 "$Q/new/$b"
	ctl hold "$a"
	[ "$status" -eq 0 ]
	[ "$(stat -c %U "$Q/hold")" = nobody ]
	# root could read it; nobody cannot
	ctl show "$b"
	[ "$status" -eq 65 ]
	[[ "$output" == *"Permission denied"* ]]
	# a subdirectory of someone else's is refused
	chown root "$Q/failed"
	ctl delete 9.M9P9.none
	[ "$status" -eq 78 ]
	[[ "$output" == *"failed: not owned by the queue's owner"* ]]
}

@test "queue ends with a summary line for monitoring; --summary prints it alone" {
	local a b c
	a=$(qname 7200 1) b=$(qname 60 2) c=$(qname 30 3)
	qmsg "$a" s@x.example r1@one.example r2@two.example
	qmsg "$b" s@x.example r3@one.example
	qmsg "$c" s@x.example r4@one.example
	ctl hold "$c"
	ctl queue
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" =~ ^"summary: queued=2 held=1 failed=0 recipients=3 oldest=2h00m oldest_seconds=72"0[0-9]$ ]]
	ctl queue --summary
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" =~ ^"summary: queued=2 held=1 failed=0 recipients=3 oldest=2h00m oldest_seconds=72"0[0-9]$ ]]
	rm -f "$Q"/new/* "$Q"/hold/*
	ctl queue --summary
	[ "$output" = "summary: queued=0 held=0 failed=0 recipients=0 oldest=- oldest_seconds=0" ]
}

@test "probe: the configured relay, as smtpsend -k tries it with the file: MAIL FROM, then RSET" {
	relay_start --mail '553 5.7.1 Sender address rejected'
	printf 'relay smtp://127.0.0.1:%s\n' "$RELAY_PORT" >> "$CONF"
	ctl probe
	[ "$status" -eq 75 ]
	[[ "$output" == *"127.0.0.1:$RELAY_PORT: refused: MAIL FROM:<root@mx.test>: 553 5.7.1"* ]]
	relay_stop
	relay_start
	sed -i '$d' "$CONF"
	printf 'relay smtp://127.0.0.1:%s\nmasquerade @provider.test\n' \
	    "$RELAY_PORT" >> "$CONF"
	ctl probe
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok: tls=none auth=none"*"from=<root@provider.test>"* ]]
	grep -q 'C: RSET' "$RELAY_DIR/transcript"
}

@test "check: a Maildir root the receivers cannot search, or a recipients or aliases file they cannot read, is 78 (smtpd would answer 451 to all)" {
	mkdir -p "$MAIL" "$Q"
	chmod 0700 "$MAIL"
	printf 'alice\n' >"$BATS_TEST_TMPDIR/rcpts"
	chmod 0600 "$BATS_TEST_TMPDIR/rcpts"
	printf 'maildir %s\nrecipients %s\n' "$MAIL" "$BATS_TEST_TMPDIR/rcpts" >>"$CONF"
	ctl check
	[ "$status" -eq 78 ]
	[[ "$output" == *"check: Maildir root $MAIL: mode 0700"*"cannot look a name up"* ]]
	[[ "$output" == *"check: $BATS_TEST_TMPDIR/rcpts: mode 0600"*"cannot read it"* ]]
	# the modes tmpfiles gives: the queue's group may search and read
	chgrp "$(stat -c %g "$Q")" "$MAIL" "$BATS_TEST_TMPDIR/rcpts"
	chmod 0710 "$MAIL"
	chmod 0640 "$BATS_TEST_TMPDIR/rcpts"
	ctl check
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
}
