# tests/sockets.bash: launchers, TCP clients and ports.  Loaded by
# tests/helpers.bash.

# sockets
#
# Launchers (systemd-socket-activate, inetd, xinetd, tcpserver) listen on
# 127.0.0.1 or ::1 on a free high port; clients are bash /dev/tcp
# descriptors or a few lines of Python (stdlib only) where one write
# matters.  Every wait is bounded by WAIT_SECONDS (default 10).

# Debian's python3 before any other on PATH (a pyenv shim costs a bash
# script per call); no subshell: this runs for every test.
if [ -z "${PYTHON:-}" ]; then
	PYTHON=python3
	[ ! -x /usr/bin/python3 ] || PYTHON=/usr/bin/python3
fi
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
