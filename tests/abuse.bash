# tests/abuse.bash: loaded by tests/helpers.bash.

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
