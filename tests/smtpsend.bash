# tests/smtpsend.bash: queue files made by hand, the fake relay
# (tests/fakerelay) and smtpsend runs against it.  Loaded by
# tests/helpers.bash.

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
	printf '%d.M%06dP1.test\n' $((EPOCHSECONDS - ${1:-0})) "${2:-1}"
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
