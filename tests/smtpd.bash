# tests/smtpd.bash: smtpd sessions (piped, from a file, as a transcript, in
# the background) and the assertions on their replies and on what they
# queued.  Loaded by tests/helpers.bash.

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
	# (assignments before a function call are exported to what it runs)
	SMTPD=$SMTPD Q=$Q LOG=$LOG \
	    run "$BATS_TEST_DIRNAME/transcript" - "${SMTPD_FLAGS[@]}"
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
