#!/usr/bin/env bats
# sendmail(8): a message on stdin into the queue, as the host's programs
# hand it over.  The queue file is checked byte for byte where it matters.

load helpers

SENDMAIL=${SENDMAIL:-$BATS_TEST_DIRNAME/../smtpd/sendmail}
HOST=$(uname -n)

setup() {
	unset REMOTE_ADDR TCPREMOTEIP
	ME=$(id -un)
}

# Runs sendmail with the queue in $Q and $1 (printf format) on stdin.
submit() {
	local input=$1
	shift
	run bash -c 'printf -- "$1" | "$2" -oQ"$3" "${@:4}"' _ "$input" \
	    "$SENDMAIL" "$Q" "$@"
}

# The message part of the only queued file, CR removed.
message() {
	local f
	f=$(queued_file) || return 1
	sed '1,/^$/d' "$f" | tr -d '\r'
}

envelope() {
	local f
	f=$(queued_file) || return 1
	sed '/^$/q' "$f"
}

@test "recipients as arguments: the envelope, exit 0 once the file is in new/" {
	submit 'Subject: hi\n\nhello\n' a@example.net 'b@example.net, c@example.net'
	[ "$status" -eq 0 ]
	[ "$(envelope)" = "From: <$ME@$HOST>
Origin: local
To: <a@example.net>
To: <b@example.net>
To: <c@example.net>" ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

# Runs sendmail ("$@") with syslog going to $BATS_TEST_TMPDIR/syslog, one
# datagram a line (a raw LF in one shown as <LF>): in a mount namespace whose /dev is a tmpfs holding only
# null and a log socket of the test's (the host's /dev/log is untouched,
# and may not exist).
with_syslog() {
	local sock=$BATS_TEST_TMPDIR/log.sock out=$BATS_TEST_TMPDIR/syslog
	rm -f "$sock"
	"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).replace(b"\n", b"<LF>") + b"\n")
' "$sock" "$out" &
	logger_pid=$!
	wait_for test -S "$sock"
	run unshare -m sh -c '
		mount --bind /dev "$1/dev.orig" 2>/dev/null ||
		    { mkdir "$1/dev.orig" && mount --bind /dev "$1/dev.orig"; } ||
		    exit 99
		mount -t tmpfs smtpq-test /dev || exit 99
		touch /dev/null && mount --bind "$1/dev.orig/null" /dev/null ||
		    exit 99
		ln -s "$2" /dev/log
		shift 2
		exec "$@"' _ "$BATS_TEST_TMPDIR" "$sock" "$@"
	wait_for grep -q sendmail "$out" || true
	kill "$logger_pid"
	wait "$logger_pid" 2>/dev/null || true
}

@test "a newline in -f or a recipient cannot forge a log line: values are logged escaped" {
	with_syslog sh -c 'printf "x\n" | "$1" -oQ"$2" -f "$3" a@example.net' _ "$SENDMAIL" "$Q" $'a\nsendmail[1]: id=forged result=queued'
	[ "$status" -eq 65 ]
	grep -q 'result=rejected: bad sender address: a\\x0asendmail\[1\]:\\x20id=forged\\x20result=queued' "$BATS_TEST_TMPDIR/syslog"
	[ "$(grep -c 'id=forged result=queued' "$BATS_TEST_TMPDIR/syslog")" -eq 0 ]
	: >"$BATS_TEST_TMPDIR/syslog"
	with_syslog sh -c 'printf "x\n" | "$1" -oQ"$2" "$3"' _ "$SENDMAIL" "$Q" $'<b@@x\nsendmail[1]: id=forged result=queued>'
	[ "$status" -eq 65 ]
	grep -q 'bad recipient address: \\x3cb@@x\\x0asendmail\[1\]:\\x20id=forged\\x20result=queued\\x3e' "$BATS_TEST_TMPDIR/syslog"
	[ "$(grep -c ' result=queued' "$BATS_TEST_TMPDIR/syslog")" -eq 0 ]
}

@test "a bare local name gets this host's name" {
	submit 'Subject: hi\n\nhello\n' root
	[ "$status" -eq 0 ]
	envelope | grep -qx "To: <root@$HOST>"
}

@test "Received: names the local user and uid; Date:, Message-ID:, From: are added" {
	submit 'Subject: hi\n\nhello\n' a@example.net
	[ "$status" -eq 0 ]
	message >"$BATS_TEST_TMPDIR/m"
	head -n 1 "$BATS_TEST_TMPDIR/m" | grep -q "^Received: by $HOST (sendmail, from userid $(id -u), user $ME)$"
	sed -n 2p "$BATS_TEST_TMPDIR/m" | grep -Eq "^	id [0-9]+\.M[0-9]+P[0-9]+\..*$"
	grep -Eq '^	for <a@example.net>; [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}$' "$BATS_TEST_TMPDIR/m"
	grep -Eq '^Date: [A-Z][a-z]{2}, [0-9]{1,2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [+-][0-9]{4}$' "$BATS_TEST_TMPDIR/m"
	grep -Eq "^Message-ID: <[0-9]+\.M[0-9]+P[0-9]+@$HOST>$" "$BATS_TEST_TMPDIR/m"
	grep -Eq "^From: (\".*\" )?<$ME@$HOST>$" "$BATS_TEST_TMPDIR/m"
	# the added fields end the header section, the body follows
	[ "$(sed -n '/^$/,$p' "$BATS_TEST_TMPDIR/m")" = "
hello" ]
}

@test "-F sets the From: display name, quoted" {
	submit 'Subject: hi\n\nhello\n' -F 'Cron "Daemon"' a@example.net
	[ "$status" -eq 0 ]
	message | grep -qx "From: \"Cron \\\\\"Daemon\\\\\"\" <$ME@$HOST>"
}

@test "Date:, From: and Message-ID: of the caller are kept, not doubled" {
	submit 'From: Me <me@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <x@y>\n\nhello\n' a@example.net
	[ "$status" -eq 0 ]
	[ "$(message | grep -c '^From:')" -eq 1 ]
	[ "$(message | grep -c '^Date:')" -eq 1 ]
	[ "$(message | grep -ci '^Message-ID:')" -eq 1 ]
	message | grep -qx 'From: Me <me@example.org>'
	message | grep -qx 'Message-ID: <x@y>'
}

@test "-f sets the envelope sender; a bare name gets the host; <> is the null sender" {
	submit 'Subject: a\n\nx\n' -f bounce@example.org a@example.net
	[ "$status" -eq 0 ]
	envelope | grep -qx 'From: <bounce@example.org>'
	rm -f "$Q"/new/*
	submit 'Subject: a\n\nx\n' -fnoreply a@example.net
	envelope | grep -qx "From: <noreply@$HOST>"
	rm -f "$Q"/new/*
	submit 'Subject: a\n\nx\n' -f '<>' a@example.net
	envelope | grep -qx 'From: <>'
	# the Received: keeps the real user whatever -f says
	message | grep -q "from userid $(id -u), user $ME"
}

@test "-t: To:, Cc:, Bcc: with display names, groups, comments and folding; Bcc: removed" {
	submit 'To: "Doe, Jane" <jane@example.net>, Team: a@example.net,\n  b@example.net;\nCc: c@example.net (Carl), undisclosed-recipients:;\nBcc: hidden@example.net\n\t, hidden2@example.net\nSubject: t\n\nbody\n' -t extra@example.net
	[ "$status" -eq 0 ]
	[ "$(envelope | grep '^To:')" = "To: <extra@example.net>
To: <jane@example.net>
To: <a@example.net>
To: <b@example.net>
To: <c@example.net>
To: <hidden@example.net>
To: <hidden2@example.net>" ]
	[ "$(message | grep -ci hidden)" -eq 0 ]
	[ "$(message | grep -ci '^Bcc:')" -eq 0 ]
	message | grep -qx 'To: "Doe, Jane" <jane@example.net>, Team: a@example.net,'
	message | grep -qx '  b@example.net;'
}

@test "-t: a header address that is not one is 65, nothing queued" {
	submit 'To: <a@@b>\n\nx\n' -t
	[ "$status" -eq 65 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "bare LF and CRLF input are queued alike, as CRLF" {
	submit 'Subject: a\n\nline 1\nline 2\n' a@example.net
	f=$(queued_file)
	sed '1,/^$/d' "$f" | awk '/^Received:/ { r = 1; next } r && /^\t/ { next } { r = 0 } !/^(Date|Message-ID):/' >"$BATS_TEST_TMPDIR/lf"
	rm -f "$f"
	submit 'Subject: a\r\n\r\nline 1\r\nline 2\r\n' a@example.net
	f=$(queued_file)
	sed '1,/^$/d' "$f" | awk '/^Received:/ { r = 1; next } r && /^\t/ { next } { r = 0 } !/^(Date|Message-ID):/' >"$BATS_TEST_TMPDIR/crlf"
	cmp "$BATS_TEST_TMPDIR/lf" "$BATS_TEST_TMPDIR/crlf"
	tail -c 16 "$BATS_TEST_TMPDIR/lf" | od -c | grep -q 'l   i   n   e       2  \\r  \\n'
}

@test "a missing final newline gets one" {
	submit 'Subject: a\n\nno newline' a@example.net
	[ "$status" -eq 0 ]
	[ "$(tail -c 12 "$(queued_file)")" = $'no newline\r' ]
}

@test "a lone dot ends the message without -i" {
	submit 'Subject: a\n\nbefore\n.\nafter\n' a@example.net
	[ "$status" -eq 0 ]
	message | grep -qx before
	[ "$(message | grep -cx after)" -eq 0 ]
}

@test "with -i and -oi a lone dot is text, and dots are never unstuffed" {
	for flag in -i -oi; do
		rm -f "$Q"/new/*
		submit 'Subject: a\n\nbefore\n.\n..two\nafter\n' "$flag" a@example.net
		[ "$status" -eq 0 ]
		[ "$(message | sed '1,/^$/d')" = "before
.
..two
after" ]
	done
}

@test "NUL bytes are removed" {
	submit 'Subject: a\n\nab\0cd\n' a@example.net
	[ "$status" -eq 0 ]
	message | grep -qx abcd
	[ "$(tr -cd '\000' <"$(queued_file)" | wc -c)" -eq 0 ]
}

@test "a line over 998 octets is broken at 998" {
	long=$(head -c 2500 /dev/zero | tr '\0' x)
	submit "Subject: a\n\n$long\n" a@example.net
	[ "$status" -eq 0 ]
	[ "$(message | sed '1,/^$/d' | awk '{ print length($0) }' | tr '\n' ' ')" = "998 998 504 " ]
}

@test "a header line over 998 octets is folded" {
	long=$(head -c 1500 /dev/zero | tr '\0' y)
	submit "Subject: $long\n\nbody\n" a@example.net
	[ "$status" -eq 0 ]
	message | grep -q "^Subject: y"
	message | grep -qx "	$(head -c 511 /dev/zero | tr '\0' y)"
}

@test "a leading mbox From line over 998 octets is dropped whole, the header kept" {
	long=$(head -c 1500 /dev/zero | tr '\0' z)
	submit "From sender@example.org $long\nSubject: kept\nX-Two: 2\n\nbody\n" a@example.net
	[ "$status" -eq 0 ]
	message >"$BATS_TEST_TMPDIR/m"
	[ "$(grep -c z "$BATS_TEST_TMPDIR/m")" -eq 0 ]
	grep -qx 'Subject: kept' "$BATS_TEST_TMPDIR/m"
	grep -qx 'X-Two: 2' "$BATS_TEST_TMPDIR/m"
	[ "$(sed '1,/^$/d' "$BATS_TEST_TMPDIR/m")" = body ]
}

@test "a folded header line's pieces stay within 998 octets with their tab" {
	long=$(head -c 3000 /dev/zero | tr '\0' y)
	submit "Subject: $long\n\nbody\n" a@example.net
	[ "$status" -eq 0 ]
	[ "$(message | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -le 998 ]
	[ "$(message | grep -c '^	y')" -eq 3 ]
}

@test "a first line that is not a header starts the body" {
	submit 'just text\nmore\n' a@example.net
	[ "$status" -eq 0 ]
	[ "$(message | sed '1,/^$/d')" = "just text
more" ]
}

@test "an empty message is queued with the headers sendmail adds" {
	run bash -c '"$1" -oQ"$2" a@example.net </dev/null' _ "$SENDMAIL" "$Q"
	[ "$status" -eq 0 ]
	message | grep -q '^Date:'
	[ "$(message | tail -n 1)" = "" ]
}

@test "no recipient is 65, nothing queued" {
	submit 'Subject: a\n\nx\n'
	[ "$status" -eq 65 ]
	[[ "$output" == *"no recipients"* ]]
	submit 'Subject: a\n\nx\n' -t
	[ "$status" -eq 65 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "a bad recipient or sender address is 65" {
	submit 'x\n' 'a@@example.net'
	[ "$status" -eq 65 ]
	submit 'x\n' -f 'a b@c' a@example.net
	[ "$status" -eq 65 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "a message at the size limit is queued; one past it is 65 and leaves nothing" {
	# 10 MiB counts the queued message: the added headers included.
	f=$BATS_TEST_TMPDIR/big
	head -c $((10 * 1024 * 1024 - 2000)) /dev/zero | tr '\0' a | fold -w 76 |
	    sed 's/$/\r/' | head -c $((10 * 1024 * 1024 - 2000)) >"$f"
	run bash -c '"$1" -oQ"$2" a@example.net <"$3"' _ "$SENDMAIL" "$Q" "$f"
	[ "$status" -eq 0 ]
	rm -f "$Q"/new/*
	head -c $((10 * 1024 * 1024 + 10)) /dev/zero | tr '\0' a | fold -w 76 |
	    sed 's/$/\r/' >"$f"
	run bash -c '"$1" -oQ"$2" a@example.net <"$3"' _ "$SENDMAIL" "$Q" "$f"
	[ "$status" -eq 65 ]
	[[ "$output" == *"larger than"* ]]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "a queue that cannot be opened is 75" {
	: >"$BATS_TEST_TMPDIR/notadir"
	run bash -c 'printf "x\n" | "$1" -oQ"$2" a@example.net' _ "$SENDMAIL" "$BATS_TEST_TMPDIR/notadir"
	[ "$status" -eq 75 ]
}

@test "a full disk is 75 and leaves no file in new/ or tmp/" {
	# A 64 KiB tmpfs over the queue, in a mount namespace of its own.
	mkdir -p "$Q"
	run unshare -m sh -c '
		mount -t tmpfs -o size=64k smtpq-test "$2" || exit 99
		mkdir "$2/tmp" "$2/new" "$2/failed"
		head -c 200000 /dev/zero | tr "\0" a | fold -w 70 |
		    "$1" -oQ"$2" a@example.net
		rc=$?
		echo "new=$(ls "$2/new" | wc -l) tmp=$(ls "$2/tmp" | wc -l)"
		exit $rc' _ "$SENDMAIL" "$Q"
	[ "$status" -eq 75 ]
	# the reserve refuses it before the disk is full
	[[ "$output" == *"No space left on device"* || "$output" == *"less than 20 MiB free"* ]]
	[[ "$output" == *"new=0 tmp=0"* ]]
}

@test "the free-space reserve (twice the size limit, smtpd's -m rule): less is 75 with a clear line, nothing queued" {
	mkdir -p "$Q"
	run unshare -m sh -c '
		mount -t tmpfs -o size=40m smtpq-test "$2" || exit 99
		mkdir "$2/tmp" "$2/new" "$2/failed"
		head -c $((15 * 1024 * 1024)) /dev/zero >"$2/ballast"
		printf "Subject: a\n\nfits\n" | "$1" -oQ"$2" a@example.net ||
		    exit 98
		head -c $((10 * 1024 * 1024)) /dev/zero >>"$2/ballast"
		printf "Subject: a\n\nx\n" | "$1" -oQ"$2" a@example.net
		rc=$?
		echo "new=$(ls "$2/new" | wc -l) tmp=$(ls "$2/tmp" | wc -l)"
		exit $rc' _ "$SENDMAIL" "$Q"
	[ "$status" -eq 75 ]
	[[ "$output" == *"sendmail: the queue's file system has less than 20 MiB free (the reserve): try again later"* ]]
	[[ "$output" == *"new=1 tmp=0"* ]]
}

@test "killed while the message comes in, sendmail leaves nothing in new/" {
	mkfifo "$BATS_TEST_TMPDIR/in"
	"$SENDMAIL" -oQ"$Q" a@example.net <"$BATS_TEST_TMPDIR/in" &
	pid=$!
	exec 5>"$BATS_TEST_TMPDIR/in"
	printf 'Subject: a\n\nhalf a message\n' >&5
	wait_for test -d "$Q/new"
	kill -KILL "$pid"
	wait "$pid" || true
	exec 5>&-
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "-bs is refused clearly: 64, a line that says why, nothing run" {
	run bash -c 'printf "HELO me\r\nQUIT\r\n" | "$1" -bs -oQ"$2"' _ "$SENDMAIL" "$Q"
	[ "$status" -eq 64 ]
	[[ "$output" == "sendmail: -bs is not supported: "*"pipe the message to sendmail, or submit on port 587"* ]]
	[[ "$output" != *"220 "* ]]
}

@test "-bs never runs a program found beside sendmail" {
	# A copy of sendmail beside a script of the caller's named smtpd:
	# only the compiled-in SBINDIR/smtpd may run.
	mkdir "$BATS_TEST_TMPDIR/bin"
	cp "$SENDMAIL" "$BATS_TEST_TMPDIR/bin/sendmail"
	printf '#!/bin/sh\ntouch "%s/ran"\n' "$BATS_TEST_TMPDIR" >"$BATS_TEST_TMPDIR/bin/smtpd"
	chmod 755 "$BATS_TEST_TMPDIR/bin/smtpd"
	run bash -c '"$1" -bs -oQ"$2" </dev/null' _ "$BATS_TEST_TMPDIR/bin/sendmail" "$Q"
	[ ! -e "$BATS_TEST_TMPDIR/ran" ]
	[[ "$output" != *"$BATS_TEST_TMPDIR/bin"* ]]
}

@test "-bp and mailq list the queue" {
	submit 'Subject: a\n\nx\n' -f s@example.org listed@example.net
	[ "$status" -eq 0 ]
	id=$(basename "$(queued_file)")
	run "$SENDMAIL" -bp -oQ"$Q"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$id"* ]]
	[[ "$output" == *"listed@example.net"* ]]
	# mailq beside sendmail: the build's link, or tests/run's valgrind
	# wrapper of it (a link to the sendmail wrapper would not be mailq).
	run "$(dirname "$SENDMAIL")/mailq" -oQ"$Q"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$id"* ]]
}

@test "mailq prints a queue file's name escaped: no terminal escape reaches the screen" {
	submit 'Subject: a\n\nx\n' a@example.net
	[ "$status" -eq 0 ]
	mv "$(queued_file)" "$Q/new/"$'1.M1P1.\e]2;owned\a\e[2J.host'
	run "$SENDMAIL" -bp -oQ"$Q"
	[ "$status" -eq 0 ]
	[[ "$output" != *$'\e'* ]] && [[ "$output" != *$'\a'* ]]
	[[ "$output" == *'1.M1P1.\x1b]2;owned\x07\x1b[2J.host'* ]]
	[[ "$output" == *"to=<a@example.net>"* ]]
}

@test "mailq opens nothing in new/ through a symbolic link" {
	mkdir -p "$Q/new"
	printf 'From: <secret@example.org>\nTo: <leak@example.org>\n\nx\n' >"$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$Q/new/1.M1P1.link"
	run "$SENDMAIL" -bp -oQ"$Q"
	[ "$status" -eq 0 ]
	[[ "$output" == *"1.M1P1.link  damaged: not a regular file"* ]]
	[[ "$output" != *leak@example.org* ]]
}

@test "-q wakes the sender waiting on QUEUE/trigger" {
	mkdir -p "$Q"
	mkfifo "$Q/trigger"
	exec 4<>"$Q/trigger"
	run "$SENDMAIL" -q -oQ"$Q"
	[ "$status" -eq 0 ]
	read -r -t 5 -N 1 got <&4
	exec 4<&-
	[ -n "$got" ]
}

@test "-q writes into nothing but a FIFO: a link at QUEUE/trigger is not followed" {
	mkdir -p "$Q"
	: >"$BATS_TEST_TMPDIR/victim"
	ln -s "$BATS_TEST_TMPDIR/victim" "$Q/trigger"
	run "$SENDMAIL" -q -oQ"$Q"
	[ "$status" -eq 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/victim" ]
	rm "$Q/trigger"
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	exec 4<>"$BATS_TEST_TMPDIR/fifo"
	ln -s "$BATS_TEST_TMPDIR/fifo" "$Q/trigger"
	run "$SENDMAIL" -q -oQ"$Q"
	[ "$status" -eq 0 ]
	run read -r -t 1 -N 1 got <&4
	exec 4<&-
	[ "$status" -ne 0 ]
}

@test "options other MTAs take are accepted and ignored; an unknown one is 64" {
	submit 'Subject: a\n\nx\n' -odi -oem -oeq -v -B 8BITMIME -N never -bm -em a@example.net
	[ "$status" -eq 0 ]
	queued_file
	submit 'x\n' -Z a@example.net
	[ "$status" -eq 64 ]
	submit 'x\n' -bd
	[ "$status" -eq 64 ]
}

@test "-Am and -Ac (sendmail 8) are accepted and ignored" {
	for a in -Am -Ac; do
		rm -f "$Q"/new/*
		submit 'Subject: a\n\nx\n' "$a" a@example.net
		[ "$status" -eq 0 ]
		queued_file
	done
	submit 'x\n' -Ax a@example.net
	[ "$status" -eq 64 ]
}

@test "-bv says what would become of each address, queues nothing; 67 for one that would fail" {
	run "$SENDMAIL" -oQ"$Q" -bv root 'a@example.org, <b@localhost>'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "root@$HOST: deliverable: local (this host): smtpsend delivers it into the Maildir of its local part under -m, after its aliases (-A)" ]
	[ "${lines[1]}" = "a@example.org: deliverable: remote: smtpsend sends it to its relay (-r), else to example.org's MX" ]
	[[ "${lines[2]}" == "b@localhost: deliverable: local (this host): "* ]]
	run "$SENDMAIL" -oQ"$Q" -bv a@example.org 'c@@example.org'
	[ "$status" -eq 67 ]
	[ "${lines[1]}" = "c@@example.org: undeliverable: bad address" ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

# --- UTF-8 addresses (RFC 6531) ------------------------------------

@test "UTF-8 addresses as arguments and in -f are queued, the envelope says Smtputf8: yes" {
	submit 'Subject: a\n\nx\n' -f "$(printf 'jos\303\251@ex\303\244mple.org')" \
	    "$(printf '\303\261o\303\261o@example.net')" b@example.net
	[ "$status" -eq 0 ]
	[ "$(envelope)" = "$(printf 'From: <jos\303\251@ex\303\244mple.org>\nOrigin: local\nSmtputf8: yes\nTo: <\303\261o\303\261o@example.net>\nTo: <b@example.net>')" ]
	# a bare UTF-8 name gets the host, as an ASCII one does
	rm -f "$Q"/new/*
	submit 'Subject: a\n\nx\n' "$(printf 'jos\303\251')"
	[ "$status" -eq 0 ]
	envelope | grep -qx "$(printf 'To: <jos\303\251@')$HOST>"
	envelope | grep -qx 'Smtputf8: yes'
}

@test "-t: a UTF-8 address in To: is a recipient; the envelope says Smtputf8: yes" {
	submit 'To: Jos\303\251 <jos\303\251@example.net>, b@example.net\nSubject: t\n\nbody\n' -t
	[ "$status" -eq 0 ]
	[ "$(envelope | grep -v '^Body:')" = "$(printf 'From: <%s@%s>\nOrigin: local\nSmtputf8: yes\nTo: <jos\303\251@example.net>\nTo: <b@example.net>' "$ME" "$HOST")" ]
}

@test "a UTF-8 address in From: alone (ASCII envelope) is Smtputf8: yes; a UTF-8 Subject or display name alone is not" {
	submit 'From: Jos\303\251 <jos\303\251@example.org>\nSubject: a\n\nx\n' a@example.net
	[ "$status" -eq 0 ]
	envelope | grep -qx 'Smtputf8: yes'
	rm -f "$Q"/new/*
	submit 'From: Jos\303\251 <jose@example.org>\nTo: Zo\303\253 <a@example.net>\nSubject: caf\303\251\n\nx\n' a@example.net
	[ "$status" -eq 0 ]
	[ "$(envelope)" = "$(printf 'From: <%s@%s>\nBody: 8BITMIME\nOrigin: local\nTo: <a@example.net>' "$ME" "$HOST")" ]
}

@test "an address that is not valid UTF-8 (Latin-1, overlong, surrogate, past U+10FFFF) is 65, nothing queued" {
	local bad
	for bad in 'jos\351@example.net' 'a\300\257@example.net' \
	    'a\355\240\200@example.net' 'a\364\220\200\200@example.net' \
	    'a@ex\351mple.net'; do
		submit 'Subject: a\n\nx\n' "$(printf "$bad")"
		[ "$status" -eq 65 ] || { echo "$bad: $status" >&2; false; }
		submit 'Subject: a\n\nx\n' -f "$(printf "$bad")" a@example.net
		[ "$status" -eq 65 ] || { echo "-f $bad: $status" >&2; false; }
		submit "To: $bad\n\nx\n" -t
		[ "$status" -eq 65 ] || { echo "-t $bad: $status" >&2; false; }
	done
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "a UTF-8 local part of this host is delivered into its Maildir by smtpsend" {
	local md=$BATS_TEST_TMPDIR/mail box
	submit 'To: Jos\303\251 <jos\303\251>\nSubject: caf\303\251\n\nh\303\251llo\n' -t
	[ "$status" -eq 0 ]
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -d "$HOST" -m "$md"
	[ "$status" -eq 0 ]
	box=$md/$(printf 'jos\303\251')
	maildir_has "$box" 1
	grep -q "$(printf '^To: Jos\303\251 <jos\303\251@')$HOST>" "$box"/new/*
	grep -q "$(printf '^h\303\251llo')" "$box"/new/*
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "-bv names the route smtpsend would give a remote address (smtpsend -V)" {
	SENDMAIL_SMTPSEND=$SMTPSEND run "$SENDMAIL" -oQ"$Q" -bv a@example.org
	[ "$status" -eq 0 ]
	[ "$output" = "a@example.org: deliverable: remote: route mx example.org" ]
}

# smtpq.conf: sendmail reads the name and the queue smtpd and smtpsend
# read (SMTPQ_CONF stands for the installed file: a sendmail without
# set-id privilege may be pointed at another; tests/71 shows the setgid
# one is not).
@test "smtpq.conf's hostname and queue are sendmail's too: the message goes there, qualified with that name" {
	local q2=$BATS_TEST_TMPDIR/q2
	printf '# the host\nhostname mail.example.test\nqueue %s\nrelay smtp://relay.example.test\n' \
	    "$q2" >"$BATS_TEST_TMPDIR/smtpq.conf"
	mkdir -p "$q2/tmp" "$q2/new" "$q2/failed"
	run bash -c 'printf "x\n" | SMTPQ_CONF=$1 "$2" root' _ \
	    "$BATS_TEST_TMPDIR/smtpq.conf" "$SENDMAIL"
	[ "$status" -eq 0 ]
	Q=$q2
	[ "$(envelope)" = "From: <$ME@mail.example.test>
Origin: local
To: <root@mail.example.test>" ]
	# -oQ still names the queue
	Q=$BATS_TEST_TMPDIR/q3
	mkdir -p "$Q/tmp" "$Q/new" "$Q/failed"
	run bash -c 'printf "x\n" | SMTPQ_CONF=$1 "$2" -oQ"$3" root' _ \
	    "$BATS_TEST_TMPDIR/smtpq.conf" "$SENDMAIL" "$Q"
	[ "$status" -eq 0 ]
	envelope | grep -qx 'To: <root@mail.example.test>'
	[ "$(count_files "$q2/new")" -eq 1 ]
}

@test "a bad smtpq.conf: sendmail queues nothing and exits 78 naming the file and line" {
	printf 'hostname mail.example.test\nhostname not_a name\n' >"$BATS_TEST_TMPDIR/smtpq.conf"
	run bash -c 'printf "x\n" | SMTPQ_CONF=$1 "$2" -oQ"$3" root 2>&1' _ \
	    "$BATS_TEST_TMPDIR/smtpq.conf" "$SENDMAIL" "$Q"
	[ "$status" -eq 78 ]
	[ "$output" = "sendmail: $BATS_TEST_TMPDIR/smtpq.conf:2: hostname given twice (first on line 1)" ]
	printf 'hostname no_such!host\n' >"$BATS_TEST_TMPDIR/smtpq.conf"
	run bash -c 'printf "x\n" | SMTPQ_CONF=$1 "$2" -oQ"$3" root 2>&1' _ \
	    "$BATS_TEST_TMPDIR/smtpq.conf" "$SENDMAIL" "$Q"
	[ "$status" -eq 78 ]
	[ "$output" = "sendmail: $BATS_TEST_TMPDIR/smtpq.conf:1: hostname: not a host name: no_such!host" ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}
