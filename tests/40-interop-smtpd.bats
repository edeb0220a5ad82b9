#!/usr/bin/env bats
# Mail software we did not write talks to smtpd through a real launcher
# (systemd-socket-activate on 127.0.0.1), and the bytes it meant to send
# are the bytes in the queue.  Peers: swaks, Python's smtplib, s-nail,
# curl, Postfix's smtp-source.  In CI a missing peer fails the test.

# A long suite: tests/run starts it first.
# tests/run: early
# tests/run: novalgrind (the smtpd paths its clients take, pipelining, 8BITMIME, SMTPUTF8, SIZE, a refused relay, big messages, many messages a session, run under valgrind in tests/10-14 and 51, under systemd-socket-activate in tests/19 and 52; this one drives peers, and its 40 sessions at once cost memcheck 30 s of CPU)

load helpers

setup() {
	for tool in swaks python3 s-nail curl smtp-source \
	    systemd-socket-activate; do
		command -v "$tool" >/dev/null ||
		    fail_or_skip "$tool is not installed"
	done
	interop_start
}

teardown() {
	interop_stop
}

# A port that was free a moment ago (the launcher's bind is the check).
interop_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts smtpd under systemd-socket-activate on a free 127.0.0.1 port.
interop_start() {
	local tries=0 env=() name
	# The launcher passes its children only the variables named with -E.
	for name in ASAN_OPTIONS UBSAN_OPTIONS; do
		[ -z "${!name:-}" ] || env+=(-E "$name")
	done
	while :; do
		PORT=$(interop_port)
		systemd-socket-activate -l "127.0.0.1:$PORT" -a --inetd \
		    "${env[@]}" "$SMTPD" -q "$Q" -n mx.test -l "$LOG" -c 30 \
		    2>"$BATS_TEST_TMPDIR/launcher.err" &
		LAUNCHER=$!
		if wait_for grep -q '^Listening on' \
		    "$BATS_TEST_TMPDIR/launcher.err"; then
			return 0
		fi
		kill "$LAUNCHER" 2>/dev/null
		tries=$((tries + 1))
		[ "$tries" -lt 5 ] || return 1
	done
}

interop_stop() {
	[ -n "${LAUNCHER:-}" ] || return 0
	kill "$LAUNCHER" 2>/dev/null
	wait "$LAUNCHER" 2>/dev/null || true
	! grep -E 'Sanitizer|runtime error:' "$BATS_TEST_TMPDIR/launcher.err" >&2
}

# The message part of a queue file: after the envelope, without the
# Received: header that smtpd put first.
queued_message() {
	python3 - "$1" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
envelope, message = data.split(b"\n\n", 1)
assert message.startswith(b"Received: "), message[:40]
lines = message.split(b"\r\n")
i = 1
while lines[i].startswith(b"\t"):
	i += 1
sys.stdout.buffer.write(b"\r\n".join(lines[i:]))
EOF
}

# The envelope lines of a queue file.
queued_envelope() {
	sed '/^$/q' "$1" | sed '$d'
}

@test "swaks: a plain message arrives byte for byte, dots unstuffed" {
	printf 'Subject: swaks\r\n\r\nline one\r\n..dotted\r\n\r\nend\r\n.' \
	    > "$BATS_TEST_TMPDIR/data"
	printf 'Subject: swaks\r\n\r\nline one\r\n.dotted\r\n\r\nend\r\n' \
	    > "$BATS_TEST_TMPDIR/expected"
	run timeout 60 swaks --server "127.0.0.1:$PORT" -f a@example.org \
	    -t b@example.net --data "@$BATS_TEST_TMPDIR/data" --no-data-fixup
	[ "$status" -eq 0 ]
	[[ "$output" == *"250 2.0.0 Ok: queued as"* ]]
	[[ "$output" == *"221 2.0.0"* ]]
	f=$(queued_file)
	queued_message "$f" > "$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/got"
	[ "$(queued_envelope "$f")" = "$(printf 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>')" ]
}

@test "swaks: pipelined session with several recipients" {
	run timeout 60 swaks --server "127.0.0.1:$PORT" --pipeline \
	    -f a@example.org -t b@example.net,c@example.net,d@example.com \
	    --body "pipelined body"
	[ "$status" -eq 0 ]
	[[ "$output" == *"250-PIPELINING"* ]]
	f=$(queued_file)
	[ "$(queued_envelope "$f")" = "$(printf 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>\nTo: <c@example.net>\nTo: <d@example.com>')" ]
	queued_message "$f" | grep -q 'pipelined body'
}

@test "swaks: an 8-bit body is kept byte for byte" {
	printf 'Subject: 8bit\r\n\r\nGr\303\274\303\237e, \342\202\254 and \377\r\n.' \
	    > "$BATS_TEST_TMPDIR/data"
	printf 'Subject: 8bit\r\n\r\nGr\303\274\303\237e, \342\202\254 and \377\r\n' \
	    > "$BATS_TEST_TMPDIR/expected"
	run timeout 60 swaks --server "127.0.0.1:$PORT" -f a@example.org \
	    -t b@example.net --data "@$BATS_TEST_TMPDIR/data" --no-data-fixup
	[ "$status" -eq 0 ]
	queued_message "$(queued_file)" > "$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/got"
}

@test "swaks: a 5 MiB attachment decodes to the same bytes" {
	head -c $((5 * 1024 * 1024)) /dev/urandom > "$BATS_TEST_TMPDIR/blob"
	run timeout 120 swaks --server "127.0.0.1:$PORT" -f a@example.org \
	    -t b@example.net --attach "@$BATS_TEST_TMPDIR/blob" \
	    --suppress-data
	[ "$status" -eq 0 ]
	[[ "$output" == *"250 2.0.0 Ok: queued as"* ]]
	queued_message "$(queued_file)" > "$BATS_TEST_TMPDIR/got"
	python3 - "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/blob" <<'EOF'
import email, email.policy, sys
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(),
    policy=email.policy.compat32)
parts = [p for p in msg.walk()
    if p.get_content_type() == "application/octet-stream"]
assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
assert parts[0].get_payload(decode=True) == open(sys.argv[2], "rb").read()
EOF
}

@test "python smtplib: sendmail with 8BITMIME and two recipients" {
	run timeout 60 python3 - "$PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example")
assert s.has_extn("8bitmime") and s.has_extn("pipelining")
refused = s.sendmail("a@example.org", ["b@example.net", "c@example.net"],
    b"Subject: py\r\n\r\n.leading dot\r\nbody \xc3\xa9\r\n",
    mail_options=["BODY=8BITMIME"])
assert refused == {}, refused
s.quit()
EOF
	[ "$status" -eq 0 ]
	f=$(queued_file)
	[ "$(queued_envelope "$f")" = "$(printf 'From: <a@example.org>\nBody: 8BITMIME\nOrigin: trusted\nTo: <b@example.net>\nTo: <c@example.net>')" ]
	printf 'Subject: py\r\n\r\n.leading dot\r\nbody \303\251\r\n' \
	    > "$BATS_TEST_TMPDIR/expected"
	queued_message "$f" > "$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/expected" "$BATS_TEST_TMPDIR/got"
	grep -q '^Received: from client.example (\[127.0.0.1\])' "$f"
}

@test "python smtplib: send_message with UTF-8 addresses uses SMTPUTF8, and the message arrives whole (RFC 6531)" {
	run timeout 60 python3 - "$PORT" <<'EOF'
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Jos\u00e9 <jos\u00e9@ex\u00e4mple.org>"
m["To"] = "\u00f1o\u00f1o@example.net, bob@\u4f8b\u3048.jp"
m["Subject"] = "caf\u00e9"
m.set_content("h\u00e9llo\n")
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example")
assert s.has_extn("smtputf8"), s.esmtp_features
# smtplib adds SMTPUTF8 and BODY=8BITMIME itself for such addresses
refused = s.send_message(m)
assert refused == {}, refused
s.quit()
EOF
	[ "$status" -eq 0 ]
	f=$(queued_file)
	[ "$(queued_envelope "$f")" = "$(printf 'From: <jos\303\251@ex\303\244mple.org>\nBody: 8BITMIME\nOrigin: trusted\nSmtputf8: yes\nTo: <\303\261o\303\261o@example.net>\nTo: <bob@\344\276\213\343\201\210.jp>')" ]
	grep -q $'^\tby mx.test (smtpd) with UTF8SMTP id ' "$f"
	queued_message "$f" > "$BATS_TEST_TMPDIR/got"
	grep -q "^To: $(printf '\303\261o\303\261o')@example.net" "$BATS_TEST_TMPDIR/got"
	grep -q "^Subject: caf$(printf '\303\251')" "$BATS_TEST_TMPDIR/got"
}

@test "python smtplib: a refused relay and a refused size are reported" {
	run timeout 60 python3 - "$PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example")
assert s.esmtp_features["size"] == "10485760", s.esmtp_features
code, text = s.mail("a@example.org", ["SIZE=20000000"])
assert code == 552 and text.startswith(b"5.3.4"), (code, text)
code, text = s.mail("a@example.org", ["SIZE=100"])
assert code == 250, (code, text)
code, text = s.rcpt("b@example.net", ["NOTIFY=NEVER"])
assert code == 555, (code, text)
s.quit()
EOF
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "s-nail: the user's mail client sends through smtpd" {
	printf 'Hello from s-nail.\n.\nA dot line above.\n' |
	    timeout 60 s-nail -n -S v15-compat -S smtp-auth=none \
	    -S "mta=smtp://127.0.0.1:$PORT" -S from=a@example.org \
	    -S sendwait -s "client test" b@example.net
	f=$(queued_file)
	[ "$(queued_envelope "$f")" = "$(printf 'From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>')" ]
	queued_message "$f" > "$BATS_TEST_TMPDIR/got"
	grep -q '^Subject: client test' "$BATS_TEST_TMPDIR/got"
	# The body, as the client wrote it, with CRLF line ends.
	printf '\r\nHello from s-nail.\r\n.\r\nA dot line above.\r\n' \
	    > "$BATS_TEST_TMPDIR/body"
	python3 -c 'import sys; m=open(sys.argv[1],"rb").read(); b=open(sys.argv[2],"rb").read(); assert m.endswith(b), m[-80:]' \
	    "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/body"
}

@test "curl: an smtp:// upload arrives byte for byte" {
	printf 'Subject: curl\r\n\r\nhi from curl\r\n.starts with a dot\r\n' \
	    > "$BATS_TEST_TMPDIR/mail"
	run timeout 60 curl -sS "smtp://127.0.0.1:$PORT" \
	    --mail-from a@example.org --mail-rcpt b@example.net \
	    --upload-file "$BATS_TEST_TMPDIR/mail"
	[ "$status" -eq 0 ]
	queued_message "$(queued_file)" > "$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/mail" "$BATS_TEST_TMPDIR/got"
}

@test "smtp-source: 20 concurrent sessions, 200 messages (40 under valgrind), all arrive" {
	# A connection per message: under valgrind each smtpd takes a
	# second of CPU to start, and 200 of them outran the bound in CI.
	local n=200 limit=120
	if [ -n "${SMTPQ_VALGRIND:-}" ]; then
		n=40 limit=300
	fi
	run timeout "$limit" smtp-source -s 20 -m "$n" -l 2000 \
	    -f a@example.org -t b@example.net "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq "$n" ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
	# Each is whole: envelope, our header, and at least the 2000 bytes
	# (one pass over them all: a process or two per file took a minute).
	python3 - "$Q"/new/* <<'EOF'
import sys
for name in sys.argv[1:]:
	envelope, message = open(name, "rb").read().split(b"\n\n", 1)
	assert envelope == b"From: <a@example.org>\nOrigin: trusted\nTo: <b@example.net>", name
	assert message.startswith(b"Received: "), name
	lines = message.split(b"\r\n")
	i = 1
	while lines[i].startswith(b"\t"):
		i += 1
	assert len(b"\r\n".join(lines[i:])) >= 2000, name
EOF
	[ "$(grep -c 'result=queued' "$LOG")" -eq "$n" ]
}

@test "smtp-source: 10 messages per connection over one session" {
	run timeout 60 smtp-source -d -s 1 -m 10 -f a@example.org \
	    -t b@example.net "127.0.0.1:$PORT"
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 10 ]
	# One smtpd process took all ten.
	[ "$(grep 'result=queued' "$LOG" | sed 's/.*smtpd\[\([0-9]*\)\].*/\1/' | sort -u | wc -l)" -eq 1 ]
}
