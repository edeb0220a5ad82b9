# tests/helpers.bash: loaded by every tests/*.bats.
#
# Binaries come from the environment (tests/run points them at each build)
# with the in-place build as default.  Every test gets a private queue.

SMTPD=${SMTPD:-$BATS_TEST_DIRNAME/../smtpd/smtpd}
SMTPSEND=${SMTPSEND:-$BATS_TEST_DIRNAME/../smtpsend/smtpsend}

# How many times longer a time bound may be: tests/run sets SMTPQ_VALGRIND
# when the binaries run under valgrind, which is some 30 times slower.
SLOWDOWN=1
[ -z "${SMTPQ_VALGRIND:-}" ] || SLOWDOWN=20

# smtpd
Q="$BATS_TEST_TMPDIR/queue"
LOG="$BATS_TEST_TMPDIR/log"

# The default setup and teardown (a suite defines its own to replace
# them): a piped client, no extra flags; a background session stopped.
setup() {
	unset REMOTE_ADDR TCPREMOTEIP
	SMTPD_FLAGS=()
}

teardown() {
	smtpd_cleanup
}

# Runs one smtpd session with the given bytes (printf format) on stdin and
# the replies in $output; extra smtpd flags in SMTPD_FLAGS (an array).
smtpd_session() {
	run bash -c 'printf -- "$1" | "$2" -q "$3" -n mx.test -l "$4" "${@:5}"' \
	    _ "$1" "$SMTPD" "$Q" "$LOG" "${SMTPD_FLAGS[@]}"
}

# Runs the transcript on stdin (the format: tests/transcript) as one smtpd
# session, with SMTPD_FLAGS after the transcript's own; fails on any
# difference.  The replies are left in $output, like smtpd_session.
transcript() {
	run env SMTPD="$SMTPD" Q="$Q" LOG="$LOG" \
	    "$BATS_TEST_DIRNAME/transcript" - "${SMTPD_FLAGS[@]}"
	if [ "$status" -ne 0 ]; then
		printf '%s\n' "$output" >&2
		return 1
	fi
}

# The reply lines of $output with CR removed, one per line.
replies() {
	printf '%s\n' "$output" | tr -d '\r'
}

# Asserts that reply line N (1-based, the greeting is 1) starts with $2.
assert_reply() {
	local got
	got=$(replies | sed -n "$1p")
	if [[ "$got" != "$2"* ]]; then
		echo "reply $1: expected '$2...', got '$got'" >&2
		replies >&2
		return 1
	fi
}

# The only file in $Q/new (fails unless exactly one).
queued_file() {
	local files=("$Q"/new/*)
	if [ ${#files[@]} -ne 1 ] || [ ! -f "${files[0]}" ]; then
		echo "expected one file in $Q/new, found: ${files[*]}" >&2
		return 1
	fi
	printf '%s\n' "${files[0]}"
}

# Number of files in a queue subdirectory.
count_files() {
	find "$1" -maxdepth 1 -type f | wc -l
}

# A missing peer or tool: a failure in CI (CI=true), a skip elsewhere.
fail_or_skip() {
	if [ "${CI:-}" = true ]; then
		echo "$1" >&2
		return 1
	fi
	skip "$1"
}

# Waits (bounded, default 10 s) until a command succeeds.
wait_for() {
	local tries=$(( ${WAIT_SECONDS:-10} * 20 ))
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
}

# sockets
#
# Launchers (systemd-socket-activate, inetd, xinetd, tcpserver) listen on
# 127.0.0.1 or ::1 on a free high port; clients are bash /dev/tcp
# descriptors or a few lines of Python (stdlib only) where one write
# matters.  Every wait is bounded by WAIT_SECONDS (default 10).

PYTHON=${PYTHON:-$(command -v /usr/bin/python3 python3 | head -n 1)}
LAUNCHER_OUT="$BATS_TEST_TMPDIR/launcher.out"

# Prints a TCP port on $1 (127.0.0.1 or ::1) that nothing listens on now.
free_port() {
	"$PYTHON" -c '
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.bind((sys.argv[1], 0))
print(s.getsockname()[1])' "$1"
}

# Succeeds once process $2 listens on TCP port $1; fails at once (status
# 2) when process $2 has gone, e.g. because it could not bind.
listening() {
	kill -0 "$2" 2>/dev/null || return 2
	ss -Hltnp "sport = :$1" | grep -q "pid=$2,"
}

# launch HOST COMMAND...: runs "COMMAND... PORT" in the background, in a
# process group of its own (COMMAND must exec the launcher through
# setsid, see exec_launcher), and waits until the launcher listens.  A
# port taken by someone else between free_port and bind: another port, up
# to five.  Sets PORT and LAUNCHER_PID; output goes to $LAUNCHER_OUT.
launch() {
	local host=$1 attempt tries rc
	shift
	for attempt in 1 2 3 4 5; do
		PORT=$(free_port "$host") || return 1
		("$@" "$PORT") >>"$LAUNCHER_OUT" 2>&1 </dev/null 3>&- &
		LAUNCHER_PID=$!
		tries=$(( ${WAIT_SECONDS:-10} * 20 ))
		while :; do
			rc=0
			listening "$PORT" "$LAUNCHER_PID" || rc=$?
			[ "$rc" -eq 0 ] && return 0
			[ "$rc" -eq 2 ] && break
			tries=$((tries - 1))
			[ "$tries" -gt 0 ] || break
			sleep 0.05
		done
		launch_stop
	done
	echo "launcher did not listen on $host:$PORT: $*" >&2
	cat "$LAUNCHER_OUT" >&2
	return 1
}

# socket_activate ADDRESS PORT: smtpd behind systemd-socket-activate, with
# LAUNCHER_FLAGS for the launcher and SMTPD_FLAGS for smtpd.
socket_activate() {
	local address=$1 port=$2

	[[ "$address" == *:* ]] && address="[$address]"
	exec_launcher systemd-socket-activate -l "$address:$port" -a --inetd \
	    "${SANITIZER_FLAGS[@]}" "${LAUNCHER_FLAGS[@]}" \
	    "$SMTPD" -q "$Q" -n mx.test -l "$LOG" "${SMTPD_FLAGS[@]}"
}

# For launch's COMMAND functions: the launcher replaces the subshell, in a
# new session, so that LAUNCHER_PID is its pid and its process group.
exec_launcher() {
	exec setsid "$@"
}

# Stops the launcher and whatever sessions it still runs (its process
# group), waiting for it; then fails if a sanitizer wrote to its output.
launch_stop() {
	local tries=100
	if [ -n "${LAUNCHER_PID:-}" ]; then
		kill -TERM -- "-$LAUNCHER_PID" 2>/dev/null || true
		while kill -0 "$LAUNCHER_PID" 2>/dev/null &&
		    [ "$tries" -gt 0 ]; do
			tries=$((tries - 1))
			sleep 0.05
		done
		kill -KILL -- "-$LAUNCHER_PID" 2>/dev/null || true
		wait "$LAUNCHER_PID" 2>/dev/null || true
		LAUNCHER_PID=
	fi
	if [ -f "$LAUNCHER_OUT" ] &&
	    grep -E 'Sanitizer|runtime error:' "$LAUNCHER_OUT" >&2; then
		return 1
	fi
	return 0
}

# The sanitizer settings tests/run exports, as -E flags for
# systemd-socket-activate (which passes its children no other variables).
sanitizer_env_flags() {
	local name
	SANITIZER_FLAGS=()
	for name in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[ -n "${!name:-}" ] && SANITIZER_FLAGS+=(-E "$name")
	done
	return 0
}

# Opens a connection to host $1 port $2; the descriptor is left in SOCK.
sock_open() {
	exec {SOCK}<>"/dev/tcp/$1/$2"
}

# Closes descriptor $1.
sock_close() {
	local fd=$1
	exec {fd}>&-
}

# Reads one reply, all lines of a multi-line one, from descriptor $1 (CR
# removed): the lines in REPLY_LINES, the last one in REPLY_LAST.  Fails
# on end of input or after WAIT_SECONDS without a line.
sock_reply() {
	local line
	REPLY_LINES= REPLY_LAST=
	while :; do
		IFS= read -r -t "${WAIT_SECONDS:-10}" -u "$1" line || return 1
		line=${line%$'\r'}
		REPLY_LINES+="$line"$'\n'
		[[ "$line" == [0-9][0-9][0-9]-* ]] || break
	done
	REPLY_LAST=$line
}

# Reads one reply from descriptor $1 and fails unless it starts with $2.
sock_expect() {
	if ! sock_reply "$1"; then
		echo "expected '$2...', got end of input or nothing" >&2
		return 1
	fi
	if [[ "$REPLY_LAST" != "$2"* ]]; then
		echo "expected '$2...', got: $REPLY_LINES" >&2
		return 1
	fi
}

# Sends printf format $2 on descriptor $1, then expects a reply like $3.
sock_say() {
	printf -- "$2" >&"$1"
	sock_expect "$1" "$3"
}

# Succeeds when the server closes descriptor $1 (end of input, no more
# data) within WAIT_SECONDS.
sock_expect_eof() {
	local line rc=0
	IFS= read -r -t "${WAIT_SECONDS:-10}" -u "$1" line || rc=$?
	if [ "$rc" -ne 1 ] || [ -n "$line" ]; then
		echo "expected the server to close; read status $rc: '$line'" >&2
		return 1
	fi
}

# tcp_pipelined HOST PORT FORMAT: connects, reads the greeting, sends the
# printf FORMAT's bytes in one write (one send(2)), and prints everything
# the server says until it closes.  Bounded by WAIT_SECONDS.
tcp_pipelined() {
	printf -- "$3" | "$PYTHON" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
f = s.makefile("rb")
out = sys.stdout.buffer
out.write(f.readline())
out.flush()
data = sys.stdin.buffer.read()
if s.send(data) != len(data):
    sys.exit("short send")
while True:
    chunk = f.read1(65536)
    if not chunk:
        break
    out.write(chunk)
' "$1" "$2" "${WAIT_SECONDS:-10}"
}

# Succeeds once file $1 has a line matching extended regular expression $2.
log_has() {
	[ -f "$1" ] && grep -Eq -- "$2" "$1"
}

# smtpd scripted

# Runs one smtpd session with stdin from a file (for inputs too big or too
# binary for a printf format); like smtpd_session otherwise.
smtpd_session_file() {
	run bash -c '"$2" -q "$3" -n mx.test -l "$4" "${@:5}" <"$1"' \
	    _ "$1" "$SMTPD" "$Q" "$LOG" "${SMTPD_FLAGS[@]}"
}

# A background session for what a pipe cannot do (signals, timeouts, a
# held slot): smtpd reads the FIFO $BATS_TEST_TMPDIR/in, which the test
# holds open, and replies into $BATS_TEST_TMPDIR/out.  smtpd_send writes
# to it, smtpd_close ends the input, smtpd_wait_exit reaps it, and
# smtpd_cleanup (from teardown) kills whatever is left.
smtpd_start() {
	local dir=$BATS_TEST_TMPDIR
	rm -f "$dir/in"
	mkfifo "$dir/in"
	"$SMTPD" -q "$Q" -n mx.test -l "$LOG" "${SMTPD_FLAGS[@]}" \
	    <"$dir/in" >"$dir/out" 2>"$dir/err" 3>&- &
	SMTPD_PID=$!
	exec {SMTPD_FD}>"$dir/in"
}

# Writes the printf format $1 to the background session (in a subshell:
# a dead reader's SIGPIPE must fail the test, not kill it).
smtpd_send() {
	( printf -- "$1" >&"$SMTPD_FD" )
}

smtpd_close() {
	if [ -n "${SMTPD_FD:-}" ]; then
		exec {SMTPD_FD}>&-
		SMTPD_FD=
	fi
}

smtpd_gone() {
	! kill -0 "$SMTPD_PID" 2>/dev/null
}

# True once the background session's replies hold a line matching the
# extended regex $1 (CR removed).
smtpd_replied() {
	tr -d '\r' <"$BATS_TEST_TMPDIR/out" | grep -Eq -- "$1"
}

# Waits (bounded) for the background session to end; its exit status in
# $status and its replies in $output, as run would leave them.
smtpd_wait_exit() {
	wait_for smtpd_gone || { echo "smtpd still running" >&2; return 1; }
	status=0
	wait "$SMTPD_PID" || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/out")
	if grep -E 'Sanitizer|runtime error:' "$BATS_TEST_TMPDIR/err" >&2; then
		return 1
	fi
}

smtpd_cleanup() {
	smtpd_close
	if [ -n "${SMTPD_PID:-}" ] && ! smtpd_gone; then
		kill -KILL "$SMTPD_PID" 2>/dev/null || true
		wait "$SMTPD_PID" 2>/dev/null || true
	fi
	SMTPD_PID=
}

# Prints a queue file with its Received: id and date written as ID and
# DATE, so that the rest can be compared byte for byte; the id must be the
# file's name with its dots written _ and the date RFC 5322 3.3 ("Tue, 24 Nov 2026 01:15:04 +0000"),
# or they stay as they are and the comparison fails.
queue_normalised() {
	local id=${1##*/} tab=$'\t' cr=$'\r'
	id=${id//./_}	# the file name as an Atom (RFC 5321 4.4), smtpd's id
	LC_ALL=C sed \
	    -e "s/^\\(${tab}by .* id \\)${id//./\\.}\\([;$cr]\\)/\\1ID\\2/" \
	    -e "s/^\\(${tab}.*; \\)[A-Z][a-z][a-z], [0-9]\\{1,2\\} [A-Z][a-z][a-z] [0-9]\\{4\\} [0-9][0-9]:[0-9][0-9]:[0-9][0-9] [-+][0-9]\\{4\\}$cr\$/\\1DATE$cr/" \
	    "$1"
}

# Asserts that the one file in $Q/new equals the file $1, Received: id and
# date written as ID and DATE (see queue_normalised).
assert_queued_file() {
	local f got=$BATS_TEST_TMPDIR/queued.got
	f=$(queued_file) || return 1
	queue_normalised "$f" >"$got"
	if ! cmp -s "$1" "$got"; then
		echo "queue file $f differs; want, then got (cat -A):" >&2
		head -c 4000 "$1" | cat -A >&2
		echo "----" >&2
		head -c 4000 "$got" | cat -A >&2
		return 1
	fi
}

# The same with the expected bytes given as a printf format.
assert_queued() {
	printf -- "$1" >"$BATS_TEST_TMPDIR/queued.want"
	assert_queued_file "$BATS_TEST_TMPDIR/queued.want"
}

# Asserts the whole transcript of replies: one argument per reply line,
# each a prefix of that line (CR removed), and no more lines than given.
#   assert_replies '220 ' '250 mx.test' '503 5.5.1' '221 2.0.0'
assert_replies() {
	local got=() want=("$@") i ok=1
	mapfile -t got < <(replies)
	[ ${#got[@]} -eq ${#want[@]} ] || ok=0
	for ((i = 0; ok && i < ${#want[@]}; i++)); do
		[[ "${got[i]}" == "${want[i]}"* ]] || ok=0
	done
	if [ $ok -eq 0 ]; then
		echo "replies differ; want (prefixes):" >&2
		printf '  %s\n' "$@" >&2
		echo "got:" >&2
		printf '  %s\n' "${got[@]}" >&2
		return 1
	fi
}

# Asserts that every reply line ends in CRLF (output holds the raw bytes).
assert_crlf_replies() {
	if printf '%s\n' "$output" | grep -qv $'\r$'; then
		echo "a reply line without CR:" >&2
		printf '%s\n' "$output" | cat -A >&2
		return 1
	fi
}

# Asserts that a queue subdirectory holds no files.
assert_empty() {
	local n
	n=$(count_files "$1")
	if [ "$n" -ne 0 ]; then
		echo "$1 holds $n files:" >&2
		ls -l "$1" >&2
		return 1
	fi
}

# Asserts the exit status ($status) is $1.
assert_status() {
	if [ "$status" -ne "$1" ]; then
		echo "exit status $status, expected $1; output:" >&2
		printf '%s\n' "$output" >&2
		return 1
	fi
}

# smtpsend
# The fake relay (tests/fakerelay) keeps its transcript and the messages
# it accepted in $RELAY_DIR; relay_start sets RELAY_PORT and RELAY_PID.
RELAY_DIR="$BATS_TEST_TMPDIR/relay"
MAILDIR="$BATS_TEST_TMPDIR/maildir"

# smtpsend
# Starts the fake relay with the given options and waits (bounded) until
# it listens.  Stop it with relay_stop (teardown does).
relay_start() {
	local portfile="$BATS_TEST_TMPDIR/relay.port"

	rm -f "$portfile"
	"$BATS_TEST_DIRNAME/fakerelay" --port-file "$portfile" \
	    --dir "$RELAY_DIR" "$@" 3>&- &
	RELAY_PID=$!
	wait_for test -s "$portfile" || return 1
	RELAY_PORT=$(cat "$portfile")
}

# smtpsend
relay_stop() {
	if [ -n "${RELAY_PID:-}" ]; then
		kill "$RELAY_PID" 2>/dev/null || true
		wait "$RELAY_PID" 2>/dev/null || true
		RELAY_PID=
	fi
}

# smtpsend
# A queue file name for a message that arrived $1 seconds ago (default
# 0), made unique by $2 (default 1).
qname() {
	printf '%d.M%06dP1.test\n' $(( $(date +%s) - ${1:-0} )) "${2:-1}"
}

# smtpsend
# queue_envelope FROM RCPT...: a queue file's envelope (with the line in
# ENVELOPE_EXTRA, if set) and the empty line that ends it.
queue_envelope() {
	local from=$1 r
	shift
	printf 'From: <%s>\n' "$from"
	[ -z "${ENVELOPE_EXTRA:-}" ] || printf '%s\n' "$ENVELOPE_EXTRA"
	for r in "$@"; do
		printf 'To: <%s>\n' "$r"
	done
	printf '\n'
}

# smtpsend
# Queues a message as smtpd would: qmsg NAME SENDER RCPT...; the message
# (CRLF line ends) is $BODY, by default a short one with a Subject.
# Extra envelope lines come from $ENVELOPE_EXTRA.
qmsg() {
	local name=$1 from=$2 body
	shift 2
	printf -v body 'Subject: %s\r\n\r\nHello.\r\n' "$name"
	mkdir -p "$Q/tmp" "$Q/new" "$Q/failed"
	{
		queue_envelope "$from" "$@"
		printf '%s' "${BODY:-$body}"
	} > "$Q/tmp/$name"
	mv "$Q/tmp/$name" "$Q/new/$name"
}

# smtpsend
# The message part of a queue file: what follows the first empty line.
qbody() {
	local k
	k=$(grep -n -m1 -x '' "$1" | cut -d: -f1)
	tail -n +$((k + 1)) "$1"
}

# smtpsend
# Runs smtpsend on $Q against the fake relay, logging to $LOG; extra flags
# as arguments.
smtpsend_run() {
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 10s \
	    -r "127.0.0.1:$RELAY_PORT" "$@"
}

# smtpsend
# The number of lines of $2 (a file) that match the regex $1.
count_lines() {
	grep -c -- "$1" "$2" || true
}

# abuse
#
# Hostile clients for tests/50-smtpd-abuse.bats: a gigabyte of garbage, a
# line without end, thousands of commands.  smtpd reads from a generator
# through dd, which counts what smtpd was offered; each run is bounded by
# timeout(1) and timed.  Set ABUSE_RSS_LOG to a file to have each smtpd
# run under GNU time and its peak RSS, time and the bytes offered appended
# there (for reports; no test asserts on RSS).

# abuse_garbage BYTES: BYTES of pseudo-random bytes on stdout, fast and the
# same on every run: the AES-128-CTR key stream of a fixed key (checked:
# its first GiB never holds CRLF "." CRLF, so it cannot end a DATA early).
# Without openssl: /dev/urandom with every "." made "x", for the same
# reason.
abuse_garbage() {
	if command -v openssl >/dev/null; then
		openssl enc -aes-128-ctr -K 736d7470642061627573652074657374 \
		    -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null |
		    head -c "$1"
	else
		head -c "$1" /dev/urandom | tr . x
	fi
}

# abuse_feed LIMIT GENERATOR [ARGS...]: one smtpd session (-q $Q -n mx.test
# -l $LOG and SMTPD_FLAGS) reading what GENERATOR ARGS (a command or shell
# function) writes, killed after LIMIT seconds.  Leaves the exit status in
# $status (124: killed), the raw replies in $output, the seconds it took in
# $ELAPSED_MS (milliseconds) and the bytes offered to smtpd in $FED (what
# went into its pipe, so at most 64 KiB more than it read).
abuse_feed() {
	local limit=$1 dir=$BATS_TEST_TMPDIR t0 t1 rss=()
	shift
	if [ -n "${ABUSE_RSS_LOG:-}" ]; then
		rss=(/usr/bin/time -a -o "$ABUSE_RSS_LOG"
		    -f "${BATS_TEST_DESCRIPTION//%/%%}: %M KiB, %e s")
	fi
	t0=${EPOCHREALTIME/[.,]/}
	status=0
	"$@" 2>/dev/null |
	    (trap '' PIPE; exec dd bs=65536 2>"$dir/dd.err") |
	    timeout -k 2 "$((limit * SLOWDOWN))" "${rss[@]}" "$SMTPD" -q "$Q" -n mx.test \
	    -l "$LOG" "${SMTPD_FLAGS[@]}" >"$dir/replies" 2>"$dir/stderr" ||
	    status=$?
	t1=${EPOCHREALTIME/[.,]/}
	ELAPSED_MS=$(( (t1 - t0) / 1000 ))
	FED=$(sed -n 's/^\([0-9][0-9]*\) bytes.*/\1/p' "$dir/dd.err")
	FED=${FED:-0}
	output=$(cat "$dir/replies")
	if [ -n "${ABUSE_RSS_LOG:-}" ]; then
		echo "  offered $FED bytes, whole run $ELAPSED_MS ms" \
		    >>"$ABUSE_RSS_LOG"
	fi
}

# Fails with a message unless $ELAPSED_MS is under $1 milliseconds.
assert_faster_than() {
	if [ "$ELAPSED_MS" -ge "$(($1 * SLOWDOWN))" ]; then
		echo "took ${ELAPSED_MS} ms, limit $(($1 * SLOWDOWN)) ms" >&2
		return 1
	fi
}

# Asserts that the reply lines (CR removed) start, in order, with the lines
# of file $1 (one prefix a line), and that there are exactly as many.
assert_replies_file() {
	local got=$BATS_TEST_TMPDIR/replies.got
	replies >"$got"
	if [ "$(wc -l <"$got")" -ne "$(wc -l <"$1")" ]; then
		echo "$(wc -l <"$got") reply lines, expected $(wc -l <"$1")" >&2
		return 1
	fi
	if ! awk 'NR == FNR { want[FNR] = $0; next }
	    index($0, want[FNR]) != 1 {
		printf "reply %d: expected \"%s...\", got \"%s\"\n",
		    FNR, want[FNR], $0 > "/dev/stderr"
		bad = 1; exit
	    }
	    END { exit bad }' "$1" "$got"; then
		return 1
	fi
}

# interop
#
# smtpsend against software we did not write (tests/41-interop-smtpsend.bats):
# a private Postfix (tests/postfix-instance) and Postfix's smtp-sink.  The
# Postfix instance lives under /tmp, not $BATS_TEST_TMPDIR: its daemons
# run as postfix and nobody and must reach its directory.

# postfix_start [name=value]...: starts a private Postfix in $PF_DIR (made
# under /tmp unless already set), main.cf settings as arguments; sets PF_DIR
# and PF_PORT (its smtpd on 127.0.0.1).  Maildirs: $PF_DIR/mail/<user>/.
postfix_start() {
	if [ -z "${PF_DIR:-}" ]; then
		PF_DIR=$(mktemp -d /tmp/smtpq-postfix.XXXXXX) || return 1
	fi
	PF_PORT=$(PF_WAIT=${WAIT_SECONDS:-10} \
	    "$BATS_TEST_DIRNAME/postfix-instance" start "$PF_DIR" "$@")
}

# Stops the instance in $PF_DIR (bounded) and removes its directory.
postfix_stop() {
	[ -n "${PF_DIR:-}" ] || return 0
	"$BATS_TEST_DIRNAME/postfix-instance" stop "$PF_DIR"
	rm -rf "$PF_DIR"
	PF_DIR= PF_PORT=
}

# Remembers where Postfix's log ends now; pf_log prints what came after.
pf_log_mark() {
	PF_LOG_MARK=$(wc -c <"$PF_DIR/maillog")
}

pf_log() {
	tail -c +$((${PF_LOG_MARK:-0} + 1)) "$PF_DIR/maillog"
}

# The files in Maildir $1/new, oldest first, one a line.
maildir_list() {
	find "$1/new" -maxdepth 1 -type f 2>/dev/null | sort
}

# Succeeds once Maildir $1 holds $2 messages in new/ (never more: then it
# says so and fails).
maildir_has() {
	local n
	n=$(maildir_list "$1" | wc -l)
	if [ "$n" -gt "$2" ]; then
		echo "$1/new holds $n messages, expected $2" >&2
		return 2
	fi
	[ "$n" -eq "$2" ]
}

# Waits (bounded) until Maildir $1 holds exactly $2 messages.
maildir_wait() {
	local rc=0
	wait_for maildir_has "$1" "$2" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$1/new: $(maildir_list "$1" | wc -l) messages, expected $2" >&2
		return 1
	fi
}

# A delivered message without the trace header fields a delivery adds at
# its top (Return-Path:, X-Original-To:, Delivered-To:, every Received:
# with its continuation lines), as it was sent.
maildir_message() {
	LC_ALL=C awk '
	    is_body { print; next }
	    /^(Return-Path|X-Original-To|Delivered-To|Received):/ {
		in_trace = 1; next
	    }
	    in_trace && /^[ \t]/ { next }
	    { is_body = 1; print }' "$1"
}

# The message part of queue file $1 with LF line ends, as a Maildir holds it.
queued_lf() {
	qbody "$1" | LC_ALL=C sed 's/\r$//'
}

# Fails with the first difference unless files $1 (wanted) and $2 (got)
# are the same bytes.
assert_same_bytes() {
	if ! cmp "$1" "$2" >&2; then
		diff <(head -c 100000 "$1" | cat -A) \
		    <(head -c 100000 "$2" | cat -A) | head -n 20 >&2
		return 1
	fi
}

# sink_start [smtp-sink option]...: Postfix's smtp-sink on a free
# 127.0.0.1 port, dumping each transaction it takes into a file in
# $SINK_DIR/dump/ (as root it runs as postfix, chrooted there); sets
# SINK_PORT and SINK_PID.  Stop it with sink_stop.
sink_start() {
	local attempt opts=() dump
	SINK_DIR=$BATS_TEST_TMPDIR/sink
	mkdir -p "$SINK_DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown postfix "$SINK_DIR"
		opts=(-u postfix -R "$SINK_DIR")
		dump=/dump/%H%M%S.
	else
		dump=$SINK_DIR/dump/%H%M%S.
	fi
	for attempt in 1 2 3 4 5; do
		SINK_PORT=$(free_port 127.0.0.1) || return 1
		smtp-sink "${opts[@]}" -d "$dump" "$@" "127.0.0.1:$SINK_PORT" \
		    64 >>"$BATS_TEST_TMPDIR/sink.out" 2>&1 3>&- &
		SINK_PID=$!
		wait_for listening "$SINK_PORT" "$SINK_PID" && return 0
		sink_stop
	done
	echo "smtp-sink did not listen:" >&2
	cat "$BATS_TEST_TMPDIR/sink.out" >&2
	return 1
}

sink_stop() {
	if [ -n "${SINK_PID:-}" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
		SINK_PID=
	fi
}

# The dump files smtp-sink wrote, one a line.
sink_dumps() {
	find "$SINK_DIR/dump" -type f 2>/dev/null | sort
}

# faults
#
# tests/60-fault.bats runs the binaries "make fault" builds (the programs
# linked with tests/fault/fault.c, whose head comment lists the FAULT_*
# knobs), whichever build tests/run points SMTPD and SMTPSEND at; the fault
# build is plain.  Each run leaves its counted calls in $FAULT_WORK/count
# and its trace in $FAULT_WORK/trace.  tests/61-crash.bats uses the
# builds tests/run gives, with without_trace.
FAULT_SMTPD=${FAULT_SMTPD:-$BATS_TEST_DIRNAME/../build/fault/smtpd/smtpd}
FAULT_SMTPSEND=${FAULT_SMTPSEND:-$BATS_TEST_DIRNAME/../build/fault/smtpsend/smtpsend}
FAULT_WORK="$BATS_TEST_TMPDIR/fault"

# faults
# fault_run N COMMAND...: runs COMMAND with call N failing (0: none), with
# FAULT_ERRNO, FAULT_CALLS and FAULT_KILL as the caller set them, a fresh
# count and trace; its exit status in $status, the calls counted in
# $FAULT_COUNTED, whether call N failed in $FAULT_FIRED (0 or 1), and that
# call's trace line ("N call fd target FAIL") in $FAULT_FAILED.  Shell
# builtins only after the run: the fault tests loop over every call and
# must stay fast.
fault_run() {
	local at=$1 line
	shift
	mkdir -p "$FAULT_WORK"
	: >"$FAULT_WORK/count"
	: >"$FAULT_WORK/trace"
	status=0
	FAULT_AT=$at FAULT_COUNT_FILE="$FAULT_WORK/count" \
	    FAULT_TRACE="$FAULT_WORK/trace" "$@" || status=$?
	FAULT_COUNTED=0 FAULT_FIRED=0 FAULT_FAILED=
	IFS= read -r line <"$FAULT_WORK/count" || true
	if [[ "$line" =~ ^calls=([0-9]+)\ fired=([01])$ ]]; then
		FAULT_COUNTED=${BASH_REMATCH[1]} FAULT_FIRED=${BASH_REMATCH[2]}
	fi
	while IFS= read -r line; do
		[[ "$line" != *" FAIL" ]] || FAULT_FAILED=$line
	done <"$FAULT_WORK/trace"
	# Killed (FAULT_KILL=1): no count file, the trace tells.
	[ -z "$FAULT_FAILED" ] || FAULT_FIRED=1
}

# faults
# Sets NFILES to the number of entries in directory $1 (none if it does
# not exist), without a fork.
nfiles() {
	local f
	NFILES=0
	for f in "$1"/* "$1"/.[!.]*; do
		[ -e "$f" ] && NFILES=$((NFILES + 1))
	done
	return 0
}

# faults
# without_trace COMMAND...: runs COMMAND without bats's DEBUG trap, which
# records a stack trace at every shell command, for its failure reports,
# and costs more than the programs under test in loops as long as these.
# The loops report their failures themselves (explain).
without_trace() {
	local saved rc=0
	saved=$(trap -p DEBUG)
	trap - DEBUG
	"$@" || rc=$?
	eval "$saved"
	return "$rc"
}

# smtpsend suites' setup and teardown (tests/20, tests/21): a private queue;
# teardown stops the fake relay and every pid a test added to BG_PIDS.
smtpsend_setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
	BG_PIDS=()
}

smtpsend_teardown() {
	local pid
	relay_stop
	for pid in "${BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}

# refute COMMAND...: fails, saying why, when COMMAND succeeds.  A bare
# "! command" in a bats test fails nothing unless it is the last: errexit
# ignores it.
refute() {
	if "$@"; then
		echo "should have failed: $*" >&2
		return 1
	fi
}
