#!/usr/bin/env bats
# 33-systemd-path.bats: smtpsend.path under a real systemd (tests/systemd.bash,
# as tests/32-systemd.bats): mail into smtpd.socket leaves at once with the
# timer stopped, a burst never trips a start limit, and a deferred message
# in new/ never makes the path unit spin.  Needs root (nspawn).
# Its setup_file is tests/32's
# with smtpsend.path enabled and a relay that defers one recipient.
# serial (alone, after the others), not nspawn: it asserts a latency
# (mail leaves within 2 s), which other suites beside it would stretch.
# tests/run: once serial novalgrind

load helpers
load systemd

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	# The README's steps, in order, with its example settings.
	sd_install "-n mx.test -d local.test -c 30" \
	    --rcpt 'later@remote.test=451 4.3.0 try later' || return 1
	# The README's lines, the one for mail that leaves at once too.
	sd systemctl enable --now smtpd.socket smtpsend.timer smtpsend.path \
	    >"$BATS_FILE_TMPDIR/enable.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/enable.out" >&2; return 1; }
}

teardown_file() {
	if [ -n "${RELAY_PID:-}" ]; then
		kill "$RELAY_PID" 2>/dev/null || true
		wait "$RELAY_PID" 2>/dev/null || true
	fi
	sd_stop
}

setup() {
	if [ "$(id -u)" -ne 0 ]; then
		[ "${CI:-}" != true ] || { echo "needs root" >&2; return 1; }
		skip "needs root (systemd-nspawn)"
	fi
	[ -n "$SD_LEADER" ] && kill -0 "$SD_LEADER"
}

teardown() {
	:
}

prop() {
	sd systemctl show -P "$2" "$1"
}

relay_count_is() {
	[ "$(find "$SD_RELAY_DIR" -name '*.eml' 2>/dev/null | wc -l)" -eq "$1" ]
}

queue_count_is() {
	[ "$(find "/proc/$SD_LEADER/root/var/spool/smtpq/new" -type f |
	    wc -l)" -eq "$1" ]
}

# How many times smtpsend.service has started so far (its journal).
service_starts() {
	sd journalctl -q -o cat -u smtpsend.service | grep -c '^Starting' || true
}

@test "systemd: smtpsend.path is active and watches new/" {
	[ "$(prop smtpsend.path ActiveState)" = active ]
	[ "$(prop smtpsend.path UnitFileState)" = enabled ]
	[ "$(prop smtpsend.service StartLimitIntervalUSec)" = 0 ]
	run sd systemctl cat smtpsend.path
	[[ "$output" == *"PathChanged=/var/spool/smtpq/new"* ]]
}

@test "systemd: with the timer stopped, mail leaves within 2 s of the 250" {
	local t0 t1
	sd systemctl stop smtpsend.timer
	t0=$(date +%s%3N)
	run sd_smtp sender@client.test someone@remote.test
	[[ "$output" == *"250 2.0.0"* ]] || { echo "$output" >&2; false; }
	wait_for relay_count_is 1
	t1=$(date +%s%3N)
	echo "latency $((t1 - t0)) ms"
	[ $((t1 - t0)) -lt $((2000 * SLOWDOWN)) ]
	sd systemctl start smtpsend.timer
}

@test "systemd: a burst of 50 arrivals never trips a start limit" {
	local i n
	n=$(find "$SD_RELAY_DIR" -name '*.eml' | wc -l)
	# Ten at a time: below smtpd's -c and the socket's per-source cap,
	# so every one is taken (50 at once got 421s from -c, a lost message
	# the test then waited for in vain).
	for i in $(seq 1 50); do
		sd_smtp sender@client.test "r$i@remote.test" >/dev/null &
		[ $((i % 10)) -ne 0 ] || wait
	done
	wait
	WAIT_SECONDS=$((30 * SLOWDOWN)) wait_for relay_count_is $((n + 50))
	[ "$(prop smtpsend.path ActiveState)" = active ]
	[ "$(prop smtpsend.service Result)" = success ]
	run sd journalctl -q -o cat -u smtpsend.service -u smtpsend.path
	[[ "$output" != *"repeated too quickly"* ]]
	[[ "$output" != *"trigger-limit-hit"* ]]
}

@test "systemd: a deferred message in new/ does not make the path unit spin" {
	local before
	run sd_smtp sender@client.test later@remote.test
	[[ "$output" == *"250 2.0.0"* ]] || { echo "$output" >&2; false; }
	wait_for sd sh -c 'journalctl -q -o cat -t smtpsend | grep -q "result=deferred"'
	queue_count_is 1
	wait_for test "$(prop smtpsend.service ActiveState)" = inactive
	before=$(service_starts)
	sleep 5
	echo "starts in 5 s: $(( $(service_starts) - before ))"
	# The run its own rewrite of new/ may start, then nothing (the timer
	# may add one at the minute).
	[ $(( $(service_starts) - before )) -le 2 ]
	[ "$(prop smtpsend.path ActiveState)" = active ]
	queue_count_is 1
}
