# tests/systemd.bash: a real systemd, booted as PID 1 of a container, for
# tests/32-systemd.bats (and tests/bench/systemd).  Needs root,
# systemd-container and debootstrap (.ci/packages).
#
#   sd_root            the container's root: a Debian minbase with systemd,
#                      dbus, make (make install runs inside), ucspi-tcp
#                      (smtpd-tcpserver.service) and stunnel4
#                      (smtpq-stunnel-465.service), made once by debootstrap from the mirror
#                      this machine's apt uses, cached as a directory under
#                      $SD_CACHE keyed on the release and the package list
#                      (a tarball there, an older cache's, is unpacked);
#                      prints its directory
#   sd_boot ROOT       boots it with systemd-nspawn: --volatile=overlay (the
#                      cached root is never written: every change goes to
#                      a tmpfs that goes with the container), a private
#                      network (only lo), not registered with any machined
#                      and staying in a cgroup of our own (--keep-unit in
#                      sd_cgroup_make's), so the host's systemd, if there
#                      is one, never hears of it; SD_NSPAWN_ARGS adds
#                      options (--bind-ro=DIR).
#                      Sets SD_PID (nspawn) and SD_LEADER (the container's
#                      PID 1, as the host sees it) and waits until the boot
#                      is finished
#   sd ARGS...         runs a command inside (all its namespaces), stdin
#                      /dev/null, no pager, killed after SD_TIMEOUT (60) s
#   sd_net ARGS...     runs a host command in the container's network,
#                      bounded the same way
#   sd_daemon CMD...   starts CMD in the background holding none of bats's
#                      descriptors ($! is its pid)
#   sd_stop            powers off, waits for nspawn, kills by pid what is
#                      left, and removes our cgroups and what nspawn left
#                      in them (payload/, supervisor/)
#
# The host's PID 1 need not be systemd (on the CI machines it is not);
# nspawn needs only the cgroup hierarchy mounted under /sys/fs/cgroup.

SD_RELEASE=${SD_RELEASE:-bookworm}
SD_PACKAGES=${SD_PACKAGES:-systemd,dbus,make,ucspi-tcp,stunnel4}
SD_CACHE=${SD_CACHE:-/var/cache/smtpq-tests}
SD_PID=${SD_PID:-} SD_LEADER=${SD_LEADER:-}

# The first Debian mirror in this machine's apt sources (the only network
# there may be), deb822 or one-line format.
sd_mirror() {
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++)
		    if ($i ~ /\/debian\/?$/) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++)
		    if ($i ~ /^[a-z]+:\/\// && $i ~ /\/debian\/?$/) {
		    print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	echo http://deb.debian.org/debian
}

sd_root() {
	local key dir tarball tmp
	key=$(printf '%s %s\n' "$SD_RELEASE" "$SD_PACKAGES" | sha256sum |
	    cut -c1-12)
	tarball=$SD_CACHE/root-$SD_RELEASE-$key.tar
	dir=$SD_CACHE/root-$SD_RELEASE-$key
	mkdir -p "$SD_CACHE" || return 1
	(
		# Two suites at once (two worktrees) build it once.
		flock 9 || exit 1
		[ -f "$dir/.complete" ] && exit 0
		rm -rf "$dir"
		if [ -f "$tarball" ]; then
			mkdir "$dir" && tar -C "$dir" -xf "$tarball" &&
			    touch "$dir/.complete"
			exit
		fi
		# Straight into the cache: no tarball of 300 MB written and
		# unpacked again (2 s of CPU, 600 MB of writes, on a fresh
		# machine such as CI's; debootstrap itself takes some 95 s).
		tmp=$(mktemp -d "$SD_CACHE/build.XXXXXX") || exit 1
		if ! debootstrap --variant=minbase \
		    --include="$SD_PACKAGES" "$SD_RELEASE" "$tmp" \
		    "$(sd_mirror)" >"$SD_CACHE/debootstrap.log" 2>&1; then
			echo "debootstrap failed:" >&2
			tail -n 20 "$SD_CACHE/debootstrap.log" >&2
			rm -rf "$tmp"; exit 1
		fi
		mv "$tmp" "$dir" && touch "$dir/.complete"
	) 9>"$SD_CACHE/lock" || return 1
	echo "$dir"
}

# The host pid of the container's PID 1: the process nspawn's child runs
# as init, whose /proc/PID/comm is "systemd" and whose parent is nspawn's.
sd_find_leader() {
	local p c
	for p in $(pgrep -P "$SD_PID"); do
		for c in "$p" $(pgrep -P "$p"); do
			if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then
				SD_LEADER=$c
				return 0
			fi
		done
	done
	return 1
}

# sd_daemon CMD...: CMD in the background with no descriptor of ours but
# 0-2 (bats waits for whoever holds its fd 3 or its pipes), as a child of
# this shell, so that $! is CMD's own pid.
sd_daemon() {
	(
		local fd
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
		done
		exec "$@"
	) &
}

# A cgroup of our own in each hierarchy nspawn uses (the name=systemd one
# of a hybrid host, the unified one), for the shell that execs nspawn:
# nspawn --keep-unit makes its payload/ and supervisor/ in it, so two
# containers at once (two worktrees, the suite and the bench) never share
# them, and sd_stop removes all of it.  Prints nothing; sets SD_CGROUPS.
sd_cgroup_make() {
	local base rel name=smtpq-nspawn.$$.$RANDOM
	SD_CGROUPS=()
	for base in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -f "$base/cgroup.procs" ] || continue
		case $base in
		*/systemd) rel=$(awk -F: '$2 == "name=systemd" { print $3 }' \
		    /proc/self/cgroup) ;;
		*) rel=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup) ;;
		esac
		[ -n "$rel" ] || continue
		rel=${rel%/}
		# A pure cgroup2 host mounts the unified hierarchy at the top.
		[ "$base" = /sys/fs/cgroup ] && [ ${#SD_CGROUPS[@]} -gt 0 ] && continue
		mkdir "$base$rel/$name" 2>/dev/null || continue
		SD_CGROUPS+=("$base$rel/$name")
	done
}

sd_boot() {
	local root=$1 state
	SD_OUT=${SD_OUT:-$BATS_FILE_TMPDIR/nspawn.out}
	sd_cgroup_make
	sd_daemon sh -c 'for g; do echo $$ >"$g/cgroup.procs" || exit 1; done
	    exec setsid systemd-nspawn -q -D "$0" --volatile=overlay -b \
	    --register=no --keep-unit --private-network --console=passive \
	    ${SD_NSPAWN_ARGS:-}' "$root" "${SD_CGROUPS[@]}" \
	    >"$SD_OUT" 2>&1 </dev/null
	SD_PID=$!
	WAIT_SECONDS=30 wait_for sd_find_leader || {
		echo "the container did not start:" >&2; cat "$SD_OUT" >&2
		return 1
	}
	# Its manager answers once its private socket is there; then
	# "running" or "degraded" (a unit of the minimal root failing is
	# not ours to judge) means the boot is done.
	WAIT_SECONDS=30 wait_for test -S "/proc/$SD_LEADER/root/run/systemd/private"
	state=$(SD_TIMEOUT=60 sd systemctl is-system-running --wait 2>/dev/null) ||
	    true
	case $state in
	running|degraded) return 0 ;;
	esac
	echo "the container's boot ended '$state':" >&2
	cat "$SD_OUT" >&2
	return 1
}

# Every call into the container is bounded (SD_TIMEOUT, default 60 s):
# one that hangs fails its test instead of the whole run.  No pager, no
# colours, no terminal: systemd-analyze and systemctl write plain text.
sd() {
	SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 SYSTEMD_LESS= \
	    timeout -k 5 "${SD_TIMEOUT:-60}" nsenter -t "$SD_LEADER" -a "$@" \
	    </dev/null
}

# A host command in the container's network (only its lo), bounded too.
sd_net() {
	timeout -k 5 "${SD_TIMEOUT:-60}" nsenter -t "$SD_LEADER" -n "$@"
}

# Our cgroups (sd_cgroup_make) with what nspawn made in them (payload/,
# supervisor/): empty once it has gone; removed deepest first.
sd_cgroups_clean() {
	local g
	for g in "${SD_CGROUPS[@]}"; do
		[ -d "$g" ] || continue
		find "$g" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	SD_CGROUPS=()
}

sd_stop() {
	[ -n "$SD_PID" ] || return 0
	if [ -n "$SD_LEADER" ] && kill -0 "$SD_LEADER" 2>/dev/null; then
		SD_TIMEOUT=10 sd systemctl poweroff >/dev/null 2>&1 || true
	fi
	WAIT_SECONDS=30 wait_for sd_gone || {
		# The container's PID 1 takes its whole pid namespace with it
		# (killing nspawn alone would leave it running); then nspawn.
		[ -z "$SD_LEADER" ] || kill -KILL "$SD_LEADER" 2>/dev/null || true
		WAIT_SECONDS=10 wait_for sd_gone ||
		    kill -KILL "$SD_PID" 2>/dev/null || true
		WAIT_SECONDS=10 wait_for sd_gone || true
	}
	wait "$SD_PID" 2>/dev/null || true
	SD_PID= SD_LEADER=
	sd_cgroups_clean
}

# nspawn has exited (a zombie not yet reaped counts as gone).
sd_gone() {
	local stat
	stat=$(cat "/proc/$SD_PID/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

SD_CGROUPS=()

# sd_smtp FROM RCPT [MARK]: one SMTP session with the container's port 25
# (at SD_SMTP_HOST, 127.0.0.1 by default), from the host, in the
# container's network; the replies on stdout.  With
# MARK, the session stops after the greeting, touches the file MARK and
# then prints whatever comes until the server closes (for SIGTERM tests).
sd_smtp() {
	sd_net env SD_SMTP_HOST="${SD_SMTP_HOST:-127.0.0.1}" "$PYTHON" - "$@" <<'PY'
import socket, sys, os
s = socket.create_connection((os.environ["SD_SMTP_HOST"], 25), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if not line:
            return
        sys.stdout.write(line.decode(errors="replace").rstrip("\r\n") + "\n")
        if line[3:4] != b"-":
            return
reply()
if len(sys.argv) > 3:
    sys.stdout.flush()
    open(sys.argv[3], "w").close()
    for line in f:
        sys.stdout.write(line.decode(errors="replace").rstrip("\r\n") + "\n")
    sys.exit(0)
for cmd in ["EHLO client.test", "MAIL FROM:<%s>" % sys.argv[1],
            "RCPT TO:<%s>" % sys.argv[2], "DATA"]:
    s.sendall((cmd + "\r\n").encode())
    reply()
s.sendall(b"Subject: via systemd\r\n\r\nhello from the real systemd\r\n.\r\nQUIT\r\n")
reply(); reply()
PY
}

# sd_burst N: N connections to port 25 opened as fast as the kernel lets
# us, each closed at once; prints how many were accepted.
sd_burst() {
	sd_net "$PYTHON" - "$1" <<'PY'
import socket, sys
ok = 0
for i in range(int(sys.argv[1])):
    try:
        s = socket.create_connection(("127.0.0.1", 25), timeout=10)
        ok += 1
        s.close()
    except OSError:
        pass
print(ok)
PY
}

# sd_install SMTPD_ARGS [FAKERELAY_FLAG]...: setup_file's common part for
# the suites on a real systemd (tests/32, 33): boots the cached root with
# the worktree bound read-only at its own path, runs make install inside,
# starts tests/fakerelay (with the flags given) in the container's
# network, makes the user and the queue with sysusers and tmpfiles as the
# README says, and writes /etc/default/smtpq (smtpd's arguments given,
# smtpsend relaying to the fake relay).  Sets and exports SD_PID,
# SD_LEADER, RELAY_PID and SD_RELAY_DIR; the caller enables the units.
sd_install() {
	local smtpd_args=$1 root top
	shift
	top=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	root=$(sd_root) || return 1
	SD_NSPAWN_ARGS="--bind-ro=$top" sd_boot "$root" || return 1
	export SD_PID SD_LEADER
	SD_TIMEOUT=120 sd make -s -C "$top" -o all install \
	    >"$BATS_FILE_TMPDIR/install.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/install.out" >&2; return 1; }
	SD_RELAY_DIR=$BATS_FILE_TMPDIR/relay
	sd_daemon nsenter -t "$SD_LEADER" -n "$BATS_TEST_DIRNAME/fakerelay" \
	    --port-file "$BATS_FILE_TMPDIR/relay.port" --dir "$SD_RELAY_DIR" \
	    "$@" >"$BATS_FILE_TMPDIR/relay.out" 2>&1 </dev/null
	RELAY_PID=$!
	export RELAY_PID SD_RELAY_DIR
	wait_for test -s "$BATS_FILE_TMPDIR/relay.port" || return 1
	sd systemd-sysusers /usr/local/lib/sysusers.d/smtpq.conf || return 1
	sd systemd-tmpfiles --create /usr/local/lib/tmpfiles.d/smtpq.conf ||
	    return 1
	cat >"/proc/$SD_LEADER/root/etc/default/smtpq" <<EOF
SMTPD_ARGS="$smtpd_args"
SMTPSEND_ARGS="-r 127.0.0.1:$(cat "$BATS_FILE_TMPDIR/relay.port") -d local.test"
EOF
	sd systemctl daemon-reload
}
