#!/usr/bin/env bats
# 80-ci-install.bats: .ci/install, make test's first step.  Quick and
# silent when every package is there; as a user other than root it names
# the one command that installs what is missing, and fails.  (As root it
# runs apt-get: CI's own run is that test.)  It runs no binary of the
# build, so only once, and not under valgrind.
# tests/run: once novalgrind

load helpers

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

teardown() {
	if [ -n "${COPY:-}" ]; then rm -rf "$COPY"; fi
}

@test ".ci/install: all of .ci/packages installed: silent, and quick" {
	local t0 t1
	t0=$(date +%s%3N)
	run bash "$TOP/.ci/install"
	t1=$(date +%s%3N)
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	[ $((t1 - t0)) -lt $((3000 * SLOWDOWN)) ]
}

@test ".ci/install: a package missing, not root: the command to run, and failure" {
	local list="$BATS_TEST_TMPDIR/packages" user=nobody
	printf '# a comment\nbash  coreutils\t# and one\nsmtpq-no-such-package\n' >"$list"
	# The list on stdin: nobody may not enter our test directory, nor
	# the checkout when it lies under root's home or a 0700 directory:
	# nobody runs a copy of .ci/install from a directory of its own.
	if [ "$(id -u)" -eq 0 ]; then
		COPY=$(mktemp -d /tmp/smtpq-ci.XXXXXX)
		chmod 755 "$COPY"
		mkdir "$COPY/.ci"
		cp "$TOP/.ci/install" "$COPY/.ci/install"
		run setpriv --reuid="$user" --regid=nogroup --clear-groups \
		    env -C / CI_PACKAGES=/dev/stdin bash "$COPY/.ci/install" \
		    <"$list"
	else
		CI_PACKAGES=/dev/stdin run bash "$TOP/.ci/install" <"$list"
	fi
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not installed here: smtpq-no-such-package"* ]]
	[[ "$output" != *coreutils* ]]
	[[ "$output" == *"install them with: sudo bash .ci/install"* ]]
}
