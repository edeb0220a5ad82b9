#!/usr/bin/env bats
# smtpq.conf (smtpq.conf(5), common/conf.c): smtpd and smtpsend take their
# settings from one file through the same checks as their flags; a flag
# on the command line wins; anything wrong in the file is exit 78 with
# FILE:LINE on stderr and in the log, before any SMTP.

load helpers

CONF="$BATS_TEST_TMPDIR/smtpq.conf"
ERR="$BATS_TEST_TMPDIR/stderr"

# conf LINE...: writes the test's configuration file, one line each.
conf() {
	printf '%s\n' "$@" > "$CONF"
}

# d_session BYTES [FLAGS...]: one smtpd session with only -F and FLAGS;
# replies in $output, stderr in $ERR.
d_session() {
	run bash -c 'printf -- "$1" | "$2" -F "$3" "${@:5}" 2>"$4"' \
	    _ "$1" "$SMTPD" "$CONF" "$ERR" "${@:2}"
}

@test "smtpd takes hostname, queue, log, domain and trusted from the file" {
	conf "# the MX" "" "hostname conf.test" "queue $Q" "log $LOG" \
	    "domain ours.example" "	trusted	192.0.2.0/24  "
	REMOTE_ADDR=198.51.100.1 d_session 'HELO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@ours.example>\r\nRCPT TO:<c@else.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_replies '220 conf.test ' '250 conf.test' '250 2.1.0' \
	    '250 2.1.5' '554 5.7.1 <c@else.example>: Relay access denied' \
	    '354 ' '250 2.0.0' '221 2.0.0'
	[ "$(count_files "$Q/new")" -eq 1 ]
	grep -q 'peer=198.51.100.1 trusted=no' "$LOG"
	REMOTE_ADDR=192.0.2.9 d_session 'HELO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<c@else.example>\r\nQUIT\r\n'
	assert_reply 4 '250 2.1.5'
	grep -q 'peer=192.0.2.9 trusted=yes' "$LOG"
}

@test "a flag on the command line wins over its key" {
	conf "hostname conf.test" "queue $Q" "log $LOG"
	d_session 'QUIT\r\n' -n flag.test
	assert_reply 1 '220 flag.test '
}

@test "a repeatable flag on the command line replaces the file's list" {
	conf "hostname conf.test" "queue $Q" "log $LOG" "domain a.example" \
	    "domain b.example"
	REMOTE_ADDR=198.51.100.1 d_session 'HELO c\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<r@a.example>\r\nRCPT TO:<r@c.example>\r\nQUIT\r\n' -d c.example
	assert_reply 4 '554 5.7.1'
	assert_reply 5 '250 2.1.5'
	# and without the flag both file domains count
	REMOTE_ADDR=198.51.100.1 d_session 'HELO c\r\nMAIL FROM:<x@y.example>\r\nRCPT TO:<r@a.example>\r\nRCPT TO:<r@b.example>\r\nQUIT\r\n'
	assert_reply 4 '250 2.1.5'
	assert_reply 5 '250 2.1.5'
}

@test "an unknown key: exit 78, FILE:LINE on stderr and in the log, no SMTP" {
	conf "log $LOG" "hostname conf.test" "" "hostnmae typo.test"
	d_session 'QUIT\r\n'
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	grep -qF "smtpd: $CONF:4: unknown key \"hostnmae\"" "$ERR"
	grep -qF "smtpd[" "$LOG"
	grep -qF "fatal: $CONF:4: unknown key \"hostnmae\"" "$LOG"
}

@test "a check (-N) says it on stderr only: no log file made" {
	conf "log $LOG" "bogus key"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:2: unknown key"* ]]
	[ ! -e "$LOG" ]
	run "$SMTPSEND" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[ ! -e "$LOG" ]
}

@test "a bad value is refused by the flag's own check: exit 78 with its line" {
	conf "hostname conf.test" "queue $Q" "log $LOG" "trusted 10.0.0.0/33"
	d_session 'QUIT\r\n'
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	grep -qF "$CONF:4: trusted: -R: not an address/prefix: 10.0.0.0/33" \
	    "$ERR"
	# the same value as a flag stays a usage error
	run "$SMTPD" -F "$BATS_TEST_TMPDIR/none" -R 10.0.0.0/33 </dev/null
	[ "$status" -eq 78 ]	# a missing -F file comes first
	conf "hostname conf.test"
	run "$SMTPD" -F "$CONF" -R 10.0.0.0/33 </dev/null
	[ "$status" -eq 64 ]
	[[ "$output" != *"$CONF"* ]]
}

@test "a bad host name from the file is 78 with its line (checked after the options)" {
	conf "queue $Q" "" "hostname bad..name"
	d_session 'QUIT\r\n'
	[ "$status" -eq 78 ]
	[ -z "$output" ]
	grep -qF "$CONF:3: hostname: bad..name: not a usable host name" "$ERR"
	# the flag fixes it
	d_session 'QUIT\r\n' -n ok.test -l "$LOG"
	[ "$status" -eq 0 ]
	assert_reply 1 '220 ok.test '
}

@test "a '#' after a value is part of the value" {
	conf "hostname conf.test # our name"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:1: hostname: conf.test # our name: not a usable"* ]]
	conf "  # hostname x" "hostname conf.test"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 0 ]
}

@test "a key with no value, or a one-value key given twice, is 78" {
	conf "hostname conf.test" "queue"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:2: queue needs a value"* ]]
	conf "hostname conf.test" "queue $Q" "hostname other.test"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:3: hostname given twice (first on line 1)"* ]]
	# a key of smtpsend's twice fails smtpd too: both read one file
	conf "hostname conf.test" "maildir /a" "maildir /b"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:3: maildir given twice"* ]]
}

@test "each program ignores the other's keys" {
	conf "hostname conf.test" "queue $Q" "log $LOG" \
	    "relay smtp://127.0.0.1:1" "connection-messages 5" \
	    "expire 5d" "masquerade @conf.test" \
	    "trusted 192.0.2.0/24" "max-size 1M" "sessions 3"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 0 ]
	# max-size is smtpd's alone: smtpsend reads past it
	run "$SMTPSEND" -F "$CONF" -N
	[ "$status" -eq 0 ]
	# the relay is smtpsend's alone: a bad one is its error, not smtpd's
	sed -i 's|^relay .*|relay smtp://|' "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 0 ]
	run "$SMTPSEND" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:4: relay"* ]]
}

@test "smtpsend takes queue, maildir, hostname and domain from the file and delivers" {
	local mail="$BATS_TEST_TMPDIR/mail"
	conf "hostname conf.test" "queue $Q" "log $LOG" "maildir $mail" \
	    "domain conf.test"
	# smtpd takes only local parts that exist (tests/11-smtpd-recipients)
	mkdir -p "$mail/bob"
	d_session 'HELO c\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<bob@conf.test>\r\nDATA\r\nSubject: c\r\n\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 6 '250 2.0.0'
	run "$SMTPSEND" -F "$CONF"
	[ "$status" -eq 0 ]
	maildir_has "$mail/bob" 1
	grep -q 'smtpsend\[.*to=<bob@conf.test> route=local relay=maildir .*result=sent' "$LOG"
}

@test "smtpsend: a bad relay URL in the file is 78 with its line, before the queue" {
	conf "queue $Q/not-made" "log $LOG" "relay smtp://" \
	    "hostname conf.test"
	run "$SMTPSEND" -F "$CONF"
	[ "$status" -eq 78 ]
	[[ "$output" == *"smtpsend: $CONF:3: relay: bad relay smtp://: "* ]]
	[ ! -e "$Q/not-made" ]
	grep -qF "fatal: $CONF:3: relay" "$LOG"
}

@test "-F with a missing file is 78; the same file present reads fine" {
	run "$SMTPSEND" -F "$BATS_TEST_TMPDIR/nowhere.conf" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$BATS_TEST_TMPDIR/nowhere.conf: No such file"* ]]
	run "$SMTPD" -F "$BATS_TEST_TMPDIR/nowhere.conf" -N
	[ "$status" -eq 78 ]
	: > "$BATS_TEST_TMPDIR/nowhere.conf"
	run "$SMTPSEND" -F "$BATS_TEST_TMPDIR/nowhere.conf" -N -n x.test
	[ "$status" -eq 0 ]
}

@test "without -F, a missing default file means the defaults" {
	[ ! -e /etc/smtpq/smtpq.conf ] ||
	    fail_or_skip "/etc/smtpq/smtpq.conf exists on this host"
	run "$SMTPD" -N -n x.test
	[ "$status" -eq 0 ]
	run "$SMTPSEND" -N -n x.test
	[ "$status" -eq 0 ]
}

@test "a file others may write, a directory, a NUL or a control byte: 78" {
	conf "hostname conf.test"
	chmod 666 "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF: writable by others"* ]]
	chmod 644 "$CONF"
	run "$SMTPD" -F "$BATS_TEST_TMPDIR" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"not a regular file"* ]]
	printf 'hostname conf.test\nqueue /a\0b\n' > "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"NUL byte"* ]]
	printf 'hostname conf.test\nqueue /a\033b\n' > "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:2: control character"* ]]
	# CRLF line ends are read as LF
	printf 'hostname conf.test\r\nqueue %s\r\n' "$Q" > "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 0 ]
}

@test "bounds: a line of 1024 bytes reads, 1025 is 78; 64 KiB reads, more is 78" {
	local pad
	pad=$(printf '%*s' 1013 '' | tr ' ' x)
	conf "hostname conf.test" "#$pad.........."
	[ "$(sed -n 2p "$CONF" | wc -c)" -eq 1025 ]	# 1024 and LF
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 0 ]
	conf "hostname conf.test" "#$pad..........."
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:2: line longer than 1024 bytes"* ]]
	{ echo "hostname conf.test"; for _ in $(seq 70); do echo "#$pad"; done; } |
	    head -c 65536 > "$CONF"
	[ "$(wc -c < "$CONF")" -eq 65536 ]
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 0 ]
	echo "#" >> "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF: larger than 65536 bytes"* ]]
}

@test "bounds: 512 values reach the flag's own limit, the 513th is the file's" {
	{ echo "hostname conf.test"; for i in $(seq 511); do
	    echo "domain d$i.example"; done; } > "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:66: domain: -d: more than 64 domains"* ]]
	echo "domain d512.example" >> "$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:513: more than 512 values"* ]]
}

@test "-h works whatever the file says" {
	conf "nonsense here"
	run "$SMTPD" -F "$CONF" -h
	[ "$status" -eq 0 ]
	[[ "$output" == *"-F file"* ]]
	run "$SMTPSEND" -F "$CONF" -h
	[ "$status" -eq 0 ]
}

@test "under inetd (stderr a socket) a bad file says nothing to the client" {
	command -v socat >/dev/null || fail_or_skip "socat not installed"
	conf "log $LOG" "bogus key"
	# the client's end is socat's stdout; socat's own stderr is apart
	run bash -c 'socat -t 5 - EXEC:"$1 -F $2",stderr </dev/null \
	    2>/dev/null' _ "$SMTPD" "$CONF"
	[ -z "$output" ]
	grep -qF "fatal: $CONF:2: unknown key" "$LOG"
}

@test "under systemd (stderr the journal's socket, named by JOURNAL_STREAM) -N says FILE:LINE there: the unit's log shows why it failed" {
	conf "hostname a.test" "hostname b.test"
	run "$PYTHON" - "$SMTPD" "$CONF" <<'PY'
import os, socket, subprocess, sys
ours, theirs = socket.socketpair()
st = os.fstat(theirs.fileno())
env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
p = subprocess.run([sys.argv[1], "-F", sys.argv[2], "-N"], stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL, stderr=theirs.fileno(), env=env)
theirs.close()
ours.settimeout(5)
got = b""
while True:
    b = ours.recv(4096)
    if not b:
        break
    got += b
print(p.returncode)
print(got.decode(errors="replace"), end="")
PY
	[ "${lines[0]}" = 78 ]
	[[ "${lines[1]}" == "smtpd: $CONF:2: hostname given twice"* ]]
}
