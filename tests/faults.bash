# tests/faults.bash: loaded by tests/helpers.bash.

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
