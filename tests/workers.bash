# tests/workers.bash: smtpsend's worker processes (-j, the default 20),
# for the suites that kill smtpsend or wait for it to be gone.

# Whether process $1 is gone (a zombie counts: it holds no lock, and the
# init that adopted it reaps it in its own time).
# Read from /proc without a fork: a busy machine makes ps slow enough to
# blur a time measured in tenths of a second.
is_gone() {
	local pid comm st
	read -r pid comm st _ 2>/dev/null <"/proc/$1/stat" || return 0
	[ "$st" = Z ]
}

# Whether every process named ($@) is gone.
all_gone() {
	local p
	for p in "$@"; do
		is_gone "$p" || return 1
	done
}

# Kills (-9) smtpsend $1 and its workers, then waits until all are gone:
# a crash of the whole service, as systemd's kill of its cgroup.  The
# parent is stopped first so that it forks no worker after the list is
# taken; the parent's death alone would leave its workers to finish the
# message in hand (each exits at the parent's EOF).
kill_tree() {
	local p pids
	kill -STOP "$1" 2>/dev/null || true
	pids=$(ps -o pid= --ppid "$1" | tr -d ' ')
	# shellcheck disable=SC2086
	kill -KILL "$1" $pids 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	for p in $pids; do
		wait_for is_gone "$p"
	done
}
