#!/usr/bin/env bats
# 26-smtpsend-reap.bats: a delivered queue file's last close is not the
# sending thread's (smtpsend/reap.c).  Freeing the file's blocks happens
# in that close, and on ext4 with "discard" it waits for the device: the
# drain must not wait with it.  strace -f -y names each descriptor's file,
# "(deleted)" once unlinked, and each line starts with the thread's id.

load helpers

setup() {
	smtpsend_setup
}

teardown() {
	smtpsend_teardown
}

@test "a drain of 20: each delivered file is unlinked, then closed by a thread other than the sender's" {
	local i name
	for i in $(seq 1 20); do
		name=$(qname 0 "$i")
		qmsg "$name" a@src.test "x$i@dst.test"
	done
	relay_start
	# LeakSanitizer cannot work under ptrace (the other test checks).
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    run strace -f -y -qq -e trace=unlinkat,close \
	    -o "$BATS_TEST_TMPDIR/strace" \
	    "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 10s \
	    -r "127.0.0.1:$RELAY_PORT"
	[ "$status" -eq 0 ]
	# Everything delivered once, nothing left.
	[ "$(find "$RELAY_DIR" -name '*.env' | wc -l)" -eq 20 ]
	[ "$(count_lines 'result=done' "$LOG")" -eq 20 ]
	[ -z "$(ls "$Q/new")" ]
	# Who unlinked the files in new/, and who closed them once deleted.
	awk '
	/unlinkat\(.*\/new>, "[0-9]+\.M/ { sender[$1] = 1; unlinked++ }
	/close\(.*\/new\/[0-9]+\.M.*\(deleted\)/ { closer[n++] = $1 }
	END {
		for (i = 0; i < n; i++)
			if (closer[i] in sender) {
				print "closed by the sending thread " closer[i]
				exit 1
			}
		if (unlinked != 20 || n != 20) {
			print unlinked " unlinked, " n " closed"
			exit 1
		}
	}' "$BATS_TEST_TMPDIR/strace" || {
		grep -E 'unlinkat|deleted' "$BATS_TEST_TMPDIR/strace" | head -20 >&2
		return 1
	}
}

@test "a drain under -w: the sleep after it holds no closing thread" {
	local i name task
	for i in $(seq 1 5); do
		name=$(qname 0 "$i")
		qmsg "$name" a@src.test "x$i@dst.test"
	done
	relay_start
	"$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 10s \
	    -r "127.0.0.1:$RELAY_PORT" -w 1h 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	all_done() {
		[ "$(count_lines 'result=done' "$LOG")" -eq 5 ]
	}
	wait_for all_done
	# The threads leave at the run's end (reap_wait()); what a sanitizer
	# or valgrind runs of its own is not smtpsend's: count ours by name.
	threads_left() {
		local n=0
		for task in /proc/"$BG_PID"/task/*; do
			[ "$task" = "/proc/$BG_PID/task/$BG_PID" ] && continue
			grep -q '^smtpsend' "$task/comm" 2>/dev/null && n=$((n + 1))
		done
		[ "$n" -eq 0 ]
	}
	wait_for threads_left
}
