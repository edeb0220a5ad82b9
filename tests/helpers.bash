# tests/helpers.bash: loaded by every tests/*.bats.
#
# Binaries come from the environment (tests/run points them at each build)
# with the in-place build as default.  Every test gets a private queue.

SMTPD=${SMTPD:-$BATS_TEST_DIRNAME/../smtpd/smtpd}
SMTPSEND=${SMTPSEND:-$BATS_TEST_DIRNAME/../smtpsend/smtpsend}

# smtpd
Q="$BATS_TEST_TMPDIR/queue"
LOG="$BATS_TEST_TMPDIR/log"

# Runs one smtpd session with the given bytes (printf format) on stdin and
# the replies in $output; extra smtpd flags in SMTPD_FLAGS (an array).
smtpd_session() {
	run bash -c 'printf -- "$1" | "$2" -q "$3" -n mx.test -l "$4" "${@:5}"' \
	    _ "$1" "$SMTPD" "$Q" "$LOG" "${SMTPD_FLAGS[@]}"
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

# Waits (bounded, default 10 s) until a command succeeds.
wait_for() {
	local tries=$(( ${WAIT_SECONDS:-10} * 20 ))
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
}
