#!/usr/bin/env bats
# 60-fault.bats: every system call on the way into and out of the queue,
# failing in turn, or the program killed just before it (issue: hardening,
# fault injection and crash safety).
#
# The binaries are the fault build (make fault; tests/fault/fault.c): the
# same sources linked with GNU ld's --wrap, so that the Nth call of open,
# openat, read, pread, write, fsync, rename(at), close, unlink(at),
# mkdir(at), futimens, fstat(at), fcntl or lseek fails when FAULT_AT=N says
# so (with FAULT_ERRNO, EIO by default), or, with FAULT_KILL=1, the program
# kills itself with SIGKILL just before it.  A run without a fault counts
# the calls of each kind; then one run per call of each kind (two more, as
# the number of reads from a pipe or a socket varies from run to run).
# What must hold after each run (smtpd(8), smtpsend(8): the queue):
#
#   smtpd     a 250 for a message only once it is in new/, whole; else a
#             4xx (451 4.3.0; 452 4.3.1 when the disk is full), or no reply
#             when the client's own channel failed or the program died;
#             never a file in new/ that differs from the one a run without
#             faults writes (id and date aside); tmp/ left empty (but after
#             a crash).  A fault in the log or at exit changes nothing.
#   smtpsend  every recipient has the message once, whole, or it is still
#             queued for them, or both (a duplicate, never a loss); the
#             queue file unchanged, or rewritten whole to list fewer; a
#             failed Maildir delivery or rewrite leaves the message queued
#             as it was; nothing in failed/; tmp/ empty (but after a
#             crash); and the next run, without faults, delivers exactly
#             what was still queued.
#
# Which call failed is in each run's trace ($FAULT_WORK/trace, "N call fd
# target FAIL"); a failing test prints it, with the replies and the queue.
# The fault build is one (plain) whichever build tests/run tests:
# tests/run: once early

load helpers

setup() {
	mkdir -p "$FAULT_WORK"
	unset FAULT_AT FAULT_ERRNO FAULT_CALLS FAULT_KILL REMOTE_ADDR TCPREMOTEIP
	# Paths as the trace shows them (from /proc/self/fd: no symlinks).
	TMPREAL=$(realpath "$BATS_TEST_TMPDIR")
	LOGREAL=$TMPREAL/${LOG##*/}
	if [ ! -x "$FAULT_SMTPD" ] || [ ! -x "$FAULT_SMTPSEND" ]; then
		echo "no fault build: run make fault" >&2
		return 1
	fi
}

teardown() {
	relay_stop
	if [ -n "${CO_PID:-}" ]; then
		kill -KILL "$CO_PID" 2>/dev/null || true
		wait "$CO_PID" 2>/dev/null || true
	fi
}

# Each run gets a queue of its own, $Q, named after N; QREAL is its path
# as the trace shows it.  (No rm -rf between runs: every fork counts when
# a test does some hundred runs.)
use_queue() {
	Q=$BATS_TEST_TMPDIR/queue$1
	QREAL=$TMPREAL/queue$1
	MAILDIR=$BATS_TEST_TMPDIR/maildir$1
	MAILREAL=$TMPREAL/maildir$1
}

# slurp FILE VAR: the whole of FILE (no NUL bytes in it) into VAR.
slurp() {
	IFS= read -r -d '' "$2" <"$1" || true
}

# Prints what went wrong in run N: the failed call, replies, queue.
explain() {
	{
		echo "FAULT_AT=$1 ${FAULT_CALLS:+FAULT_CALLS=$FAULT_CALLS }${FAULT_ERRNO:+FAULT_ERRNO=$FAULT_ERRNO }status=$status"
		echo "failed call: $FAULT_FAILED"
		echo "--- replies:"
		cat "$FAULT_WORK/replies" 2>/dev/null
		echo "--- queue, Maildir:"
		ls -lR "$Q" "$MAILDIR" 2>/dev/null
		echo "--- log:"
		tail -n 5 "$LOG" 2>/dev/null
	} >&2
}

# Sets CALL_TYPES to the calls in trace $1, in the order they first
# appear, and CALL_COUNT[TYPE] to how often each was made.  The loops fail
# each type's calls in turn (FAULT_CALLS=TYPE, FAULT_AT=1...): the number
# of reads from a pipe or a socket varies from run to run, and would
# shift the numbers of all the calls after them.
call_types() {
	local n call
	CALL_TYPES=()
	declare -gA CALL_COUNT=()
	while read -r n call _; do
		[ -n "${CALL_COUNT[$call]:-}" ] || CALL_TYPES+=("$call")
		CALL_COUNT[$call]=$(( ${CALL_COUNT[$call]:-0} + 1 ))
	done <"$1"
}

# Under valgrind (some 30 times slower) the loops fail every STRIDEth call (8th)
# of each kind, the first and the last included, not every one: the
# whole set took 21 minutes of CI's 90 there, and the plain fault build
# (make test) still fails every call in turn.  FAULT_STRIDE overrides.
STRIDE=${FAULT_STRIDE:-1}
[ -z "${SMTPQ_VALGRIND:-}" ] || STRIDE=${FAULT_STRIDE:-8}

# The fault build itself, not valgrind's wrapper of it (tests/run's
# FAULT_SMTPD, FAULT_SMTPSEND): for the runs memcheck would see nothing
# new in (the kill tests', below).
PLAIN_SMTPD=$BATS_TEST_DIRNAME/../build/fault/smtpd/smtpd
PLAIN_SMTPSEND=$BATS_TEST_DIRNAME/../build/fault/smtpsend/smtpsend

# fault_points COUNT: the call numbers to fail for a kind of call made
# COUNT times without faults: 1 to COUNT by STRIDE, and COUNT, the last;
# and COUNT + 1, COUNT + 2 when every call is failed (STRIDE 1), as a run
# may read its input in more pieces than the run without faults did.
# (Not under valgrind: there they seldom fire, a run that repeats the
# one without faults at some 0.6 s of memcheck's CPU each.)
fault_points() {
	local n
	for ((n = 1; n < $1; n += STRIDE)); do
		echo "$n"
	done
	echo "$1"
	[ "$STRIDE" -gt 1 ] || printf '%s\n' $(($1 + 1)) $(($1 + 2))
}

# --- smtpd ----------------------------------------------------------------

# The messages as a client sends them (dot-stuffed, final dot included):
# msg1 short, msg2 about 140 KB, so that it takes several reads and several
# writes of the queue file.
make_messages() {
	printf 'Subject: fault 1\r\n\r\nshort\r\n..leading dot\r\n.\r\n' \
	    >"$FAULT_WORK/msg1"
	{
		printf 'Subject: fault 2\r\n\r\n'
		awk 'BEGIN { for (i = 1; i <= 2000; i++)
		    printf "line %d of a message long enough to span" \
		    " reads and writes\r\n", i }'
		printf '..\r\n.\r\n'
	} >"$FAULT_WORK/msg2"
}

# send_line TEXT: one line to the session (in a subshell: smtpd gone must
# not kill the test with SIGPIPE).
send_line() {
	( printf '%s\r\n' "$1" >&"$CO_IN" ) 2>/dev/null
}

# Reads one reply (all its lines) from the session into $LAST, appending
# its lines to the replies; fails on end of input, or after 10 s
# (SLOWDOWN times that: a memcheck process on a loaded machine can take
# longer, and a baseline cut short there proved nothing).
get_reply() {
	local line
	while IFS= read -r -t $((10 * SLOWDOWN)) -u "$CO_OUT" line; do
		line=${line%$'\r'}
		REPLIES+=("$line")
		LAST=$line
		[[ "$line" == [0-9][0-9][0-9]-* ]] || return 0
	done
	LAST=
	return 1
}

# Sets, for message K, OUT_DATA[K] and OUT_DOT[K] to the codes of the
# replies to DATA and to the final dot ("-": none, the session ended) and
# OUT_ID[K] to the queue id of a 250.
outcome() {
	OUT_DATA[$1]=$2 OUT_DOT[$1]=$3 OUT_ID[$1]=-
	if [[ "$4" == "250 2.0.0 Ok: queued as "* ]]; then
		OUT_ID[$1]=${4##* }
		OUT_ID[$1]=${OUT_ID[$1]//_/.}	# the id is the name as an Atom
	fi
}

# One session of the fault build, driven as a careful client drives it:
# each command waits for its reply, a message goes only after 354, a
# refused transaction is reset.  The outcome of messages 1 and 2 as
# outcome() sets it, the replies in REPLIES, smtpd's exit status in $status.
session_lockstep() {
	local k data dot
	REPLIES=() OUT_DATA=() OUT_DOT=() OUT_ID=()
	rm -f "$FAULT_WORK/in" "$FAULT_WORK/out"
	mkfifo "$FAULT_WORK/in" "$FAULT_WORK/out"
	"$FAULT_SMTPD" -q "$Q" -n mx.test -l "$LOG" <"$FAULT_WORK/in" \
	    >"$FAULT_WORK/out" 3>&- &
	CO_PID=$!
	exec {CO_IN}>"$FAULT_WORK/in" {CO_OUT}<"$FAULT_WORK/out"
	LAST=
	if get_reply && [ "${LAST:0:3}" = 220 ] &&
	    send_line "EHLO client.test" && get_reply; then
		for k in 1 2; do
			data=- dot=- LAST=
			send_line "MAIL FROM:<a$k@src.test>" && get_reply &&
			    send_line "RCPT TO:<b$k@dst.test>" && get_reply &&
			    send_line "DATA" && get_reply && data=${LAST:0:3}
			if [ "$data" = 354 ]; then
				LAST=
				( cat "$FAULT_WORK/msg$k" >&"$CO_IN" ) \
				    2>/dev/null && get_reply && dot=${LAST:0:3}
			elif [ "$data" != - ]; then
				send_line RSET && get_reply
			fi
			outcome "$k" "${data:--}" "${dot:--}" "$LAST"
		done
		send_line QUIT && get_reply
	fi
	exec {CO_IN}>&- {CO_OUT}<&-
	status=0
	{ wait "$CO_PID"; } 2>/dev/null || status=$?
	CO_PID=
}

# One session from a file, the way a script pipes one: HELO to QUIT with
# msg2 in one go.  The outcome of message 2 as outcome() sets it.
session_pipelined() {
	local i
	REPLIES=() OUT_DATA=() OUT_DOT=() OUT_ID=()
	status=0
	"$FAULT_SMTPD" -q "$Q" -n mx.test -l "$LOG" <"$FAULT_WORK/input" \
	    >"$FAULT_WORK/raw" || status=$?
	mapfile -t REPLIES <"$FAULT_WORK/raw"
	for ((i = 0; i < ${#REPLIES[@]}; i++)); do
		REPLIES[i]=${REPLIES[i]%$'\r'}
	done
	if [ "${REPLIES[4]:0:3}" = 354 ]; then
		outcome 2 354 "${REPLIES[5]:0:3}" "${REPLIES[5]:-}"
	else
		outcome 2 "${REPLIES[4]:0:3}" - -
	fi
	[ -n "${OUT_DATA[2]}" ] || OUT_DATA[2]=-
	[ -n "${OUT_DOT[2]}" ] || OUT_DOT[2]=-
}

make_pipelined_input() {
	{
		printf 'HELO client.test\r\nMAIL FROM:<a2@src.test>\r\n'
		printf 'RCPT TO:<b2@dst.test>\r\nDATA\r\n'
		cat "$FAULT_WORK/msg2"
		printf 'QUIT\r\n'
	} >"$FAULT_WORK/input"
}

DATE_RE='; [A-Z][a-z][a-z], [0-9]{1,2} [A-Z][a-z][a-z] [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4}'$'\r'

# Reads queue file $1 into NORM with its id (its name) and the date of
# its Received: written as ID and DATE (as queue_normalised does), and
# sets MSGNO to the K of its "Subject: fault K" (0: none).
normalise() {
	local id=${1##*/}
	slurp "$1" NORM
	NORM=${NORM/" id ${id//./_}"/" id ID"}
	if [[ "$NORM" =~ $DATE_RE ]]; then
		NORM=${NORM/"${BASH_REMATCH[0]}"/"; DATE"$'\r'}
	fi
	MSGNO=0
	[[ "$NORM" != *$'\r\nSubject: fault 1\r\n'* ]] || MSGNO=1
	[[ "$NORM" != *$'\r\nSubject: fault 2\r\n'* ]] || MSGNO=2
}

# Runs SESSION once without faults, checks that every message was queued,
# and keeps each queue file, normalised, in BASE[K]; the calls counted in
# BASE_CALLS, the messages in BASE_MSGS.
receive_baseline() {
	local f k
	use_queue 0
	fault_run 0 "$1"
	BASE_CALLS=$FAULT_COUNTED BASE_MSGS=${#OUT_DATA[@]} BASE=()
	cp "$FAULT_WORK/trace" "$FAULT_WORK/base.trace"
	[ "$BASE_MSGS" -gt 0 ] || {
		printf '%s\n' "${REPLIES[@]}" >&2
		echo "the session without faults ended before a message" >&2
		return 1
	}
	for k in "${!OUT_DATA[@]}"; do
		[ "${OUT_DATA[k]} ${OUT_DOT[k]}" = "354 250" ] || {
			printf '%s\n' "${REPLIES[@]}" >&2
			echo "message $k not queued without faults" >&2
			return 1
		}
		normalise "$Q/new/${OUT_ID[k]}"
		[ "$MSGNO" = "$k" ] || return 1
		BASE[k]=$NORM
	done
	nfiles "$Q/new"
	[ "$NFILES" -eq "$BASE_MSGS" ]
	[ "$status" -eq 0 ]
}

# Classifies the call the last run failed (from its trace) as:
#   none     no call failed
#   harmless the log's write, closing the queue at exit: no change
#   logopen  opening the log: 421 instead of a greeting, and exit 75
#   setup    opening the queue or taking a session slot: 421 and exit
#   retried  opening tmp/ or failed/ at the start: queue_dirfd() opens
#            them again when a message needs them; no change
#   commit   the queue file (tmp/, rename, fsync of new/): 4xx for it
#   client   reading from or writing to the client: the session ends
# and sets CLASS, FAILED_CALL and FAILED_TARGET.
fault_class() {
	local fd
	read -r _ FAILED_CALL fd FAILED_TARGET _ <<<"${FAULT_FAILED:-- - - -}"
	case "$FAILED_CALL $FAILED_TARGET" in
	"- -")
		CLASS=none ;;
	"write $LOGREAL"|"close $QREAL"|"close $QREAL/new"|\
	"close $QREAL/tmp"|"close $QREAL/failed"|\
	"close $QREAL/smtpd.lock"|*" $QREAL/trigger")
		# The poke of QUEUE/trigger after a commit never fails it.
		CLASS=harmless ;;
	"open $LOGREAL")
		CLASS=logopen ;;
	"open /etc/smtpq/smtpq.conf")
		# smtpq.conf(5) that cannot be read: exit 78, before any SMTP
		CLASS=config ;;
	*" $QREAL/tmp/"*|"fsync $QREAL/new")
		CLASS=commit ;;
	"openat $QREAL/tmp"|"fstat $QREAL/tmp"|\
	"openat $QREAL/failed"|"fstat $QREAL/failed")
		CLASS=retried ;;
	"fstat $QREAL")
		# queue_subdir() checks each subdirectory's owner against the
		# queue's: the first fstat is new/'s (setup), later ones
		# tmp/'s and failed/'s (retried).
		if [ "$(awk -v q="$QREAL" -v n="${FAULT_FAILED%% *}" \
		    '$1 <= n && $2 == "fstat" && $4 == q' \
		    "$FAULT_WORK/trace" | wc -l)" -gt 1 ]; then
			CLASS=retried
		else
			CLASS=setup
		fi ;;
	*" $QREAL"|*" $QREAL/"*)
		CLASS=setup ;;
	*)
		case "$FAILED_CALL $fd" in
		"read 0"|"write 1")	CLASS=client ;;
		*)			CLASS=unexpected ;;
		esac ;;
	esac
}

# Checks the last run against the baseline; $1 is the reply that a local
# failure must give ("451 4.3.0" or "452 4.3.1").
check_receive() {
	local want=$1 k f files=0 refused=0 queued=0 seen=" " line has_want=0
	fault_class
	[ -z "${FAULT_KILL:-}" ] || [ -z "$FAULT_FAILED" ] || CLASS=killed
	# tmp/ is cleaned, whatever failed (a crash may leave a file there:
	# nothing reads tmp/).
	nfiles "$Q/tmp"
	[ "$NFILES" -eq 0 ] || [ "$CLASS" = killed ] || {
		echo "tmp/ not cleaned" >&2
		return 1
	}
	# Nothing partial or foreign in new/, nothing twice.
	for f in "$Q"/new/*; do
		[ -e "$f" ] || continue
		normalise "$f"
		if [ "$MSGNO" -eq 0 ] || [[ "$seen" == *" $MSGNO "* ]] ||
		    [ "$NORM" != "${BASE[MSGNO]}" ]; then
			echo "new/ holds a partial, unknown or second copy: $f" >&2
			return 1
		fi
		seen+="$MSGNO "
		files=$((files + 1))
	done
	# Each message: 250 only when it is in new/; else a 4xx or no reply.
	for k in "${!OUT_DATA[@]}"; do
		case "${OUT_DATA[k]} ${OUT_DOT[k]}" in
		"354 250")
			queued=$((queued + 1))
			[ -f "$Q/new/${OUT_ID[k]}" ] &&
			    [[ "$seen" == *" $k "* ]] || {
				echo "message $k: 250, but not in new/" >&2
				return 1
			} ;;
		"354 4"[0-9][0-9]|4[0-9][0-9]" -")
			refused=$((refused + 1))
			[[ "$seen" != *" $k "* ]] || {
				echo "message $k: 4xx, but it is in new/" >&2
				return 1
			} ;;
		*" -")
			# No reply: only when the session could not go on.
			case $CLASS in
			client|logopen|setup|killed|config) ;;
			*)	echo "message $k: no reply ($CLASS)" >&2
				return 1 ;;
			esac ;;
		*)
			echo "message $k: DATA ${OUT_DATA[k]}, dot ${OUT_DOT[k]}" >&2
			return 1 ;;
		esac
	done
	for line in "${REPLIES[@]}"; do
		[[ "$line" != "$want "* ]] || has_want=1
	done
	case $CLASS in
	none|harmless|retried)
		[ "$queued" -eq "$BASE_MSGS" ] && [ "$files" -eq "$BASE_MSGS" ] &&
		    [ "$status" -eq 0 ] || {
			echo "a fault that changes nothing changed the outcome" >&2
			return 1
		} ;;
	logopen)
		[ "$status" -eq 75 ] && [ "$files" -eq 0 ] &&
		    [ "${#REPLIES[@]}" -eq 1 ] &&
		    [[ "${REPLIES[0]}" == "421 4.3.0 "* ]] || {
			echo "a log that cannot be opened: not one 421" >&2
			return 1
		} ;;
	config)
		[ "$status" -eq 78 ] && [ "$files" -eq 0 ] &&
		    [ "${#REPLIES[@]}" -eq 0 ] || {
			echo "an unreadable smtpq.conf: not exit 78 and silence" >&2
			return 1
		} ;;
	setup)
		[ "$status" -eq 75 ] && [ "$files" -eq 0 ] &&
		    [ "${#REPLIES[@]}" -eq 1 ] &&
		    [[ "${REPLIES[0]}" == "421 4.3."[02]" "* ]] || {
			echo "a queue that cannot be opened: not one 421" >&2
			return 1
		} ;;
	commit)
		# One message refused, with the right reply; the rest queued.
		[ "$refused" -eq 1 ] && [ "$queued" -eq $((BASE_MSGS - 1)) ] &&
		    [ "$files" -eq "$queued" ] && [ "$status" -eq 0 ] &&
		    [ "$has_want" -eq 1 ] || {
			echo "a failed commit must give one '$want'" >&2
			return 1
		} ;;
	client)
		# Whatever was answered 250 is queued (above); one more file
		# only when its 250 was lost with the channel.
		[ "$files" -eq "$queued" ] || {
			[ "$FAILED_CALL" = write ]
			[ "$files" -eq $((queued + 1)) ]
		} || {
			echo "$files files in new/ for $queued replies 250" >&2
			return 1
		} ;;
	killed)
		# Whatever was answered 250 is queued (above); one more file
		# only when the crash came between its commit and its 250.
		[ "$status" -eq 137 ] && { [ "$files" -eq "$queued" ] ||
		    [ "$files" -eq $((queued + 1)) ]; } || {
			echo "killed: $files files in new/ for $queued replies 250" >&2
			return 1
		} ;;
	*)
		echo "a call this test does not know failed; classify it" >&2
		return 1 ;;
	esac
}

# Runs SESSION with each call failing in turn (of the calls in FAULT_CALLS
# if set), with FAULT_ERRNO, and checks each run; $2 is the reply a local
# failure must give.
receive_every_call() {
	local session=$1 want=$2 n type fired=0 runs=0
	make_messages
	make_pipelined_input
	receive_baseline "$session"
	call_types "$FAULT_WORK/base.trace"
	for type in "${CALL_TYPES[@]}"; do
		for n in $(fault_points "${CALL_COUNT[$type]}"); do
			runs=$((runs + 1))
			use_queue "$type$n"
			FAULT_CALLS=$type fault_run "$n" "$session"
			check_receive "$want" || {
				printf '%s\n' "${REPLIES[@]}" \
				    >"$FAULT_WORK/replies"
				FAULT_CALLS=$type explain "$n"
				return 1
			}
			fired=$((fired + FAULT_FIRED))
		done
	done
	echo "# $session: $BASE_CALLS calls (${CALL_TYPES[*]}), $fired failed in turn in $runs runs" >&3
	# Fewer only when a run read its input in fewer pieces.
	[ "$fired" -ge $((BASE_CALLS * 9 / 10 / STRIDE)) ]
}

@test "smtpd, a client that waits for each reply: every call failing in turn" {
	without_trace receive_every_call session_lockstep "451 4.3.0"
}

@test "smtpd, a 140 KB message piped in one go: every call failing in turn" {
	without_trace receive_every_call session_pipelined "451 4.3.0"
}

@test "smtpd: disk full on any write or fsync of the queue is 452 4.3.1" {
	local line commits=0
	export FAULT_CALLS=write,fsync FAULT_ERRNO=ENOSPC
	without_trace receive_every_call session_lockstep "452 4.3.1"
	# Among the calls failed in turn: writes and fsyncs of the queue.
	use_queue 0
	while read -r line; do
		FAULT_FAILED="$line FAIL"
		fault_class
		[ "$CLASS" != commit ] || commits=$((commits + 1))
	done <"$FAULT_WORK/base.trace"
	[ "$commits" -ge 6 ]
}

@test "the fault build counts calls and fails only the one it is told to" {
	make_messages
	make_pipelined_input
	use_queue 1
	fault_run 0 session_pipelined
	[ "$FAULT_COUNTED" -gt 10 ]
	[ "$FAULT_FIRED" -eq 0 ]
	[ "${OUT_DOT[2]}" = 250 ]
	# FAULT_CALLS: only fsyncs count, the queue file's and new/'s; when
	# the first fails, there is no second.
	use_queue 2
	FAULT_CALLS=fsync fault_run 0 session_pipelined
	[ "$FAULT_COUNTED" -eq 2 ]
	[ "$FAULT_FIRED" -eq 0 ]
	use_queue 3
	FAULT_CALLS=fsync fault_run 1 session_pipelined
	[ "$FAULT_COUNTED" -eq 1 ]
	[ "$FAULT_FIRED" -eq 1 ]
	fault_class
	[ "$CLASS" = commit ]
	[ "$FAILED_CALL" = fsync ]
	[ "${OUT_DOT[2]}" = 451 ]
	[[ "${REPLIES[5]}" == "451 4.3.0 "* ]]
	# The plain build has no such knob.
	use_queue 4
	FAULT_AT=1 FAULT_CALLS=fsync smtpd_session \
	    'HELO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 6 '250 2.0.0'
	[ "$(count_files "$Q/new")" -eq 1 ]
}

# --- smtpsend -------------------------------------------------------------

# Sets NRELAY to the number of messages the fake relay has accepted.
relay_count() {
	local f
	NRELAY=0
	for f in "$RELAY_DIR"/*.eml; do
		[ -e "$f" ] && NRELAY=$((NRELAY + 1))
	done
	return 0
}

# Writes, once per test, the message (about 100 KB: several reads of the
# queue file, several writes to the relay and the Maildir, a line to
# dot-stuff, a lone dot inside; $(...) strips the final LF, so it is
# added after)
# from a@src.test to RCPTS, and keeps it in ORIG, its message part in
# ORIG_BODY and what a Maildir must get for local recipient R in WANT_R.
# Each run then starts from a copy (queue_fresh).
make_send_message() {
	local r
	NAME=$(qname)
	use_queue orig
	BODY=$(printf 'Subject: fault\r\n\r\n.leading dot\r\n'
	    awk 'BEGIN { for (i = 1; i <= 2500; i++)
		printf "line %d of a message that spans reads\r\n", i }'
	    printf 'end\r\n.\r')$'\n'
	BODY=$BODY qmsg "$NAME" a@src.test "${RCPTS[@]}"
	slurp "$Q/new/$NAME" ORIG
	ORIG_BODY=${ORIG#*$'\n\n'}
	for r in "${RCPTS[@]}"; do
		# As local.c writes it: LF line ends.
		printf -v "WANT_${r%@*}" 'Return-Path: <a@src.test>\nDelivered-To: <%s>\n%s' \
		    "$r" "${ORIG_BODY//$'\r\n'/$'\n'}"
	done
}

# Run N's queue holding the message, its empty Maildir root in which
# v@local.test cannot be delivered (its mailbox's name is taken by a file
# until unblock_v), the relay's count before the run, and the flags.
queue_fresh() {
	use_queue "$1"
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed" "$MAILDIR"
	printf '%s' "$ORIG" >"$Q/new/$NAME"
	: >"$MAILDIR/v"
	relay_count
	RELAY_BEFORE=$NRELAY
	# -j 1: the fault build counts one process's calls; workers (-j)
	# would each count from the fork on, and call N fire in several
	SEND_FLAGS=(-q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" -j 1
	    "${SEND_EXTRA[@]}")
}

unblock_v() {
	rm -f "$MAILDIR/v"
}

# Sets COPIES to how often recipient $1 (x@dst.test: the relay; u@ and
# v@local.test: Maildirs) has the message since queue_fresh; fails if a
# copy is not whole, or a Maildir's tmp/ is not clean.
delivered() {
	local f k box=${1%@*} got want
	COPIES=0
	if [ "$1" = x@dst.test ]; then
		relay_count
		for ((k = RELAY_BEFORE + 1; k <= NRELAY; k++)); do
			slurp "$RELAY_DIR/$k.eml" got
			[ "$got" = "$ORIG_BODY" ] || {
				echo "the relay got a different message: $k.eml" >&2
				return 1
			}
			COPIES=$((COPIES + 1))
		done
		return 0
	fi
	want=WANT_$box
	for f in "$MAILDIR/$box"/new/*; do
		[ -e "$f" ] || continue
		slurp "$f" got
		[ "$got" = "${!want}" ] || {
			echo "a partial or foreign file in a Maildir: $f" >&2
			return 1
		}
		COPIES=$((COPIES + 1))
	done
	nfiles "$MAILDIR/$box/tmp"
	[ "$NFILES" -eq 0 ] || [ -n "${KILLED:-}" ] || {
		echo "Maildir $box/tmp/ not cleaned" >&2
		return 1
	}
}

# Whether the queue file (still in new/) lists recipient $1.
listed() {
	[ -f "$Q/new/$NAME" ] && [[ "$QUEUED" == *$'\nTo: <'"$1"$'>\n'* ]]
}

# Checks the queue after a run with a fault: the message still queued,
# whole (the original, or rewritten listing fewer recipients), or gone from
# new/; each recipient delivered at most once, or still listed, or both;
# nothing in failed/ or tmp/.  Keeps each recipient's copies in WANT, plus
# one if still listed: what the next run must leave.
check_send() {
	local r n
	read -r _ FAILED_CALL _ FAILED_TARGET _ <<<"${FAULT_FAILED:-- - - -}"
	WANT=() QUEUED='' KILLED='' CONF=75
	[ -z "${FAULT_KILL:-}" ] || [ -z "$FAULT_FAILED" ] || KILLED=1
	# smtpq.conf(5) that cannot be read: exit 78, the queue untouched
	[ "$FAILED_CALL $FAILED_TARGET" != "open /etc/smtpq/smtpq.conf" ] ||
	    CONF=78
	[ "$status" -eq 0 ] || [ "$status" -eq "$CONF" ] ||
	    { [ -n "$KILLED" ] && [ "$status" -eq 137 ]; } || {
		echo "exit status $status" >&2
		return 1
	}
	nfiles "$Q/failed"
	[ "$NFILES" -eq 0 ] || { echo "something in failed/" >&2; return 1; }
	# A crash may leave a file in tmp/: nothing reads tmp/.
	nfiles "$Q/tmp"
	[ "$NFILES" -eq 0 ] || [ -n "$KILLED" ] || {
		echo "something in tmp/" >&2
		return 1
	}
	nfiles "$Q/new"
	[ "$NFILES" -le 1 ] || {
		echo "new/ holds more than the message" >&2
		return 1
	}
	if [ -f "$Q/new/$NAME" ]; then
		slurp "$Q/new/$NAME" QUEUED
		QUEUED=$'\n'$QUEUED
		[ "$status" -eq "$CONF" ] || [ -n "$KILLED" ] || {
			echo "exit 0 with the message still queued" >&2
			return 1
		}
		[ "${QUEUED#$'\n'}" = "$ORIG" ] ||
		    [ "${QUEUED#*$'\n\n'}" = "$ORIG_BODY" ] || {
			echo "the queue file was changed, not rewritten whole" >&2
			return 1
		}
	fi
	# A Maildir delivery that failed before it was durable is not done.
	if { [[ "$FAILED_TARGET" == "$MAILREAL/u/tmp/"* ]] ||
	    [ "$FAILED_CALL $FAILED_TARGET" = "fsync $MAILREAL/u/new" ]; } &&
	    ! listed u@local.test; then
		echo "u@local.test: Maildir delivery failed, yet done" >&2
		return 1
	fi
	# Nor does it leave a copy in the Maildir for the retry to double.
	if [ "$FAILED_CALL $FAILED_TARGET" = "fsync $MAILREAL/u/new" ] &&
	    [ -z "$KILLED" ]; then
		delivered u@local.test || return 1
		[ "$COPIES" -eq 0 ] || {
			echo "u@local.test: a copy left after fsync of new/ failed" >&2
			return 1
		}
	fi
	# A rewrite that failed leaves the file as it was.
	# (Not tmp_sweep()'s listing of tmp/ itself, "tmp/.": trouble there
	# is logged and the run goes on.)
	if [[ "$FAILED_TARGET" == "$QREAL/tmp/"* ]] &&
	    [ "$FAILED_TARGET" != "$QREAL/tmp/." ] &&
	    [ "${QUEUED#$'\n'}" != "$ORIG" ]; then
		echo "a failed rewrite changed the queue file" >&2
		return 1
	fi
	for r in "${RCPTS[@]}"; do
		delivered "$r" || return 1
		[ "$COPIES" -le 1 ] || {
			echo "$r: delivered $COPIES times in one run" >&2
			return 1
		}
		if listed "$r"; then
			COPIES=$((COPIES + 1))
		elif [ "$COPIES" -eq 0 ]; then
			echo "$r: neither delivered nor queued: lost" >&2
			return 1
		fi
		WANT+=("$COPIES")
	done
}

# After check_send: a run without faults, not waiting for the next try,
# delivers exactly what was still queued, and empties new/.  Under
# valgrind it runs there only after a crash (FAULT_KILL): a call that
# failed leaves what a crash just before it leaves, less the crash's
# files in tmp/ (the message queued as it was or rewritten whole, each
# recipient delivered or not), and the kill test's next runs start from
# every such point under memcheck.
check_send_rest() {
	local i rest=$FAULT_SMTPSEND
	[ -n "${FAULT_KILL:-}" ] || [ -z "${SMTPQ_VALGRIND:-}" ] ||
	    rest=$PLAIN_SMTPSEND
	unblock_v
	status=0
	"$rest" -f "${SEND_FLAGS[@]}" || status=$?
	nfiles "$Q/new"
	[ "$status" -eq 0 ] && [ "$NFILES" -eq 0 ] || {
		echo "the run without faults left mail: status $status" >&2
		return 1
	}
	for ((i = 0; i < ${#RCPTS[@]}; i++)); do
		delivered "${RCPTS[i]}" || return 1
		[ "$COPIES" -eq "${WANT[i]}" ] || {
			echo "${RCPTS[i]}: $COPIES copies, expected ${WANT[i]}" >&2
			return 1
		}
	done
}

# Sends the message to RCPTS (an array), smtpsend's flags beyond the queue
# and Maildir in SEND_EXTRA, each call failing in turn; checks every run
# and the run after it.  A run without faults first: every recipient
# delivered but v@local.test, whose mailbox is blocked, so that the message
# is rewritten to list only v.
send_every_call() {
	local n i type fired=0 base runs=0
	make_send_message
	queue_fresh 0
	fault_run 0 "${SEND_FAULTED:-$FAULT_SMTPSEND}" "${SEND_FLAGS[@]}"
	base=$FAULT_COUNTED
	check_send || { explain 0; return 1; }
	for ((i = 0; i < ${#RCPTS[@]}; i++)); do
		if [ "${RCPTS[i]}" = v@local.test ]; then
			listed v@local.test && [ "${WANT[i]}" -eq 1 ] &&
			    ! listed u@local.test && ! listed x@dst.test || {
				echo "not rewritten to list only v@local.test" >&2
				return 1
			}
		elif [ "${WANT[i]}" -ne 1 ] || listed "${RCPTS[i]}"; then
			echo "${RCPTS[i]}: not delivered without faults" >&2
			return 1
		fi
	done
	call_types "$FAULT_WORK/trace"
	for type in "${CALL_TYPES[@]}"; do
		for n in $(fault_points "${CALL_COUNT[$type]}"); do
			runs=$((runs + 1))
			queue_fresh "$type$n"
			FAULT_CALLS=$type fault_run "$n" \
			    "${SEND_FAULTED:-$FAULT_SMTPSEND}" \
			    "${SEND_FLAGS[@]}" 2>>"$FAULT_WORK/stderr"
			{ check_send && check_send_rest; } || {
				FAULT_CALLS=$type explain "$n"
				return 1
			}
			fired=$((fired + FAULT_FIRED))
		done
	done
	echo "# smtpsend to ${RCPTS[*]}: $base calls (${CALL_TYPES[*]}), $fired failed in turn in $runs runs" >&3
	# Fewer only when a run got the relay's replies in fewer pieces.
	[ "$fired" -ge $((base * 9 / 10 / STRIDE)) ]
}

@test "smtpsend to the relay: every call failing in turn, nothing lost" {
	relay_start
	RCPTS=(x@dst.test)
	SEND_EXTRA=(-t 5s -r "127.0.0.1:$RELAY_PORT")
	without_trace send_every_call
}

@test "smtpsend into a Maildir: every call failing in turn, nothing lost" {
	RCPTS=(u@local.test)
	SEND_EXTRA=(-r local)
	without_trace send_every_call
}

@test "smtpsend, one message for the relay and two Maildirs, one blocked (a rewrite): every call failing in turn" {
	relay_start
	RCPTS=(x@dst.test u@local.test v@local.test)
	SEND_EXTRA=(-t 5s -d local.test -r "127.0.0.1:$RELAY_PORT")
	without_trace send_every_call
}

@test "smtpsend: a full disk (ENOSPC) at any write or fsync defers, loses nothing" {
	export FAULT_CALLS=write,fsync FAULT_ERRNO=ENOSPC
	relay_start
	RCPTS=(x@dst.test u@local.test v@local.test)
	SEND_EXTRA=(-t 5s -d local.test -r "127.0.0.1:$RELAY_PORT")
	without_trace send_every_call
	# Said so in the log, as RFC 3463 has it for a full mailbox.
	grep -q 'result=deferred: 451 4\.2\.2 <u@local\.test>: .*No space left' "$LOG"
}

@test "smtpsend: a stale tmp/ file that cannot be examined is logged, kept, and the run goes on" {
	local n
	use_queue 1
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed" "$MAILDIR"
	NAME=$(qname)
	qmsg "$NAME" a@src.test u@local.test
	printf 'From: <a@src.test>\nTo: <x@dst.test>\n\nhalf' >"$Q/tmp/crashed"
	touch -d '37 hours ago' "$Q/tmp/crashed"
	# Which fstatat is tmp_sweep()'s look at it: fail that one.
	# -j 1: one process's calls counted (see queue_fresh)
	FAULT_CALLS=fstatat fault_run 0 "$FAULT_SMTPSEND" -q "$Q" -n mx.test \
	    -r local -l "$LOG" -m "$MAILDIR" -j 1
	n=$(awk -v t="$QREAL/tmp/crashed" '$4 == t { print $1; exit }' \
	    "$FAULT_WORK/trace")
	[ -n "$n" ]
	use_queue 2
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed" "$MAILDIR"
	qmsg "$NAME" a@src.test u@local.test
	printf 'From: <a@src.test>\nTo: <x@dst.test>\n\nhalf' >"$Q/tmp/crashed"
	touch -d '37 hours ago' "$Q/tmp/crashed"
	FAULT_CALLS=fstatat fault_run "$n" "$FAULT_SMTPSEND" -q "$Q" \
	    -n mx.test -r local -l "$LOG" -m "$MAILDIR" -j 1
	[ "$FAULT_FIRED" -eq 1 ]
	[ "$status" -eq 0 ]
	[[ "$FAULT_FAILED" == *" $QREAL/tmp/crashed FAIL" ]]
	grep -q 'tmp=crashed result=error: unable to stat: Input/output error' "$LOG"
	[ -f "$Q/tmp/crashed" ]
	[ "$(count_files "$MAILDIR/u/new")" -eq 1 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

# Crashes: the fault build kills itself (SIGKILL) just before call N, for
# every N: the deterministic half of 61-crash.bats.

@test "smtpd killed before each call in turn: a 250 only for what is in new/, whole" {
	export FAULT_KILL=1
	# Not under valgrind: memcheck reports an error when it happens, and
	# what a killed run ran before call N, the run failing call N (above)
	# ran under memcheck; SIGKILL leaves it nothing to check after.
	FAULT_SMTPD=$PLAIN_SMTPD
	without_trace receive_every_call session_lockstep "451 4.3.0"
}

@test "smtpsend killed before each call in turn: nothing lost, nothing partial, the next run delivers" {
	export FAULT_KILL=1
	# The killed runs not under valgrind (as smtpd's, above); the next
	# run, which finds what the crash left, is.
	SEND_FAULTED=$PLAIN_SMTPSEND
	relay_start
	RCPTS=(x@dst.test u@local.test v@local.test)
	SEND_EXTRA=(-t 5s -d local.test -r "127.0.0.1:$RELAY_PORT")
	without_trace send_every_call
}
