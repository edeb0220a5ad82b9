# tests/helpers.bash: loaded by every tests/*.bats.
#
# Binaries come from the environment (tests/run points them at each build)
# with the in-place build as default.  Every test gets a private queue.
# What every suite needs is here; the rest, by concern, in the files this
# one loads at its end:
#   smtpd.bash     smtpd sessions (piped, transcript, background) and the
#                  assertions on their replies and on the queue file
#   sockets.bash   free ports, launchers, /dev/tcp clients, log_has
#   smtpsend.bash  queue files by hand, the fake relay, smtpsend runs
#   abuse.bash     hostile clients (tests/50)
#   interop.bash   a private Postfix, smtp-sink, Maildirs (tests/4x)
#   faults.bash    the fault-injection runs (tests/60, tests/61)

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

# sleep as a builtin (Debian's bash-builtins, in .ci/packages), when there:
# each poll of the waits here forked /bin/sleep, some 10 ms of CPU.
enable -f /usr/lib/bash/sleep sleep 2>/dev/null || true

# Waits (bounded, default 10 s) until a command succeeds.
wait_for() {
	local tries=$(( ${WAIT_SECONDS:-10} * 20 ))
	while ! "$@"; do
		tries=$((tries - 1))
		[ "$tries" -gt 0 ] || return 1
		sleep 0.05
	done
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

# refute COMMAND...: fails, saying why, when COMMAND succeeds.  A bare
# "! command" in a bats test fails nothing unless it is the last: errexit
# ignores it.
refute() {
	if "$@"; then
		echo "should have failed: $*" >&2
		return 1
	fi
}

for helpers_part in smtpd sockets smtpsend abuse interop faults; do
	# shellcheck source=/dev/null
	. "$BATS_TEST_DIRNAME/$helpers_part.bash"
done
unset helpers_part
