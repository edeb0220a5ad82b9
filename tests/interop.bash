# tests/interop.bash: loaded by tests/helpers.bash.

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
