#!/usr/bin/env bats
# Deployment: make install and uninstall, the systemd units (checked by
# systemd-analyze, and run under systemd-socket-activate), and smtpd run
# for real by each launcher we document: systemd, openbsd-inetd, xinetd,
# tcpserver.  Each launcher gets the installed file, with only the port,
# user and paths changed for the test, on 127.0.0.1 and a free high port.
# tests/run: novalgrind
# tests/run: noasan (its smtpd sessions, a message and the session cap, are
# 10-14's and 30's, which run under ASan; the rest is launchers and units)

load helpers
load tls

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
INETD=${INETD:-/usr/sbin/inetd}
# xinetd and openbsd-inetd conflict as packages; .ci/run unpacks xinetd
# under /opt/xinetd when openbsd-inetd is installed.
XINETD=${XINETD:-$(command -v xinetd /usr/sbin/xinetd \
    /opt/xinetd/usr/sbin/xinetd 2>/dev/null | head -n 1)}

# The build that $SMTPD belongs to, for make O=.
build_dir() {
	case $SMTPD in
	"$TOP"/*/smtpd/smtpd) local o=${SMTPD#"$TOP"/}; echo "${o%/smtpd/smtpd}" ;;
	*) echo . ;;
	esac
}

# make in the top directory, untouched by an outer make's flags.
top_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$TOP" "$@"
}

# make install into $1 with the default paths, without rebuilding.
make_install() {
	top_make -o all O="$(build_dir)" PREFIX=/usr/local DESTDIR="$1" install
}

setup_file() {
	ROOT="$BATS_FILE_TMPDIR/root"
	export ROOT
	make_install "$ROOT" >/dev/null
}

setup() {
	UNITS="$ROOT/usr/local/lib/systemd/system"
	SHARE="$ROOT/usr/local/share/smtpq"
	sanitizer_env_flags
}

teardown() {
	launch_stop
}

# The installed file $1 with the installed paths made the test's: the
# programs the ones under test (smtpsend /bin/true while it is not
# built), the queue and Maildir root private.
test_copy() {
	local send=$SMTPSEND
	[ -x "$send" ] || send=/bin/true
	sed -e "s|/usr/local/sbin/smtpd|$SMTPD|g" \
	    -e "s|/usr/local/sbin/smtpsend|$send|g" \
	    -e "s|/var/spool/smtpq-mail|$BATS_TEST_TMPDIR/mail|g" \
	    -e "s|/var/spool/smtpq|$Q|g" "$1"
}

# Through the launcher listening on $PORT: a message is queued, and with
# two sessions held (smtpd -c 2) a third is answered 421 4.3.2 by smtpd.
assert_queues_and_caps() {
	local a b c

	sock_open 127.0.0.1 "$PORT"
	a=$SOCK
	sock_expect "$a" "220 mx.test ESMTP"
	sock_say "$a" 'EHLO client.test\r\n' "250 "
	sock_say "$a" 'MAIL FROM:<alice@example.org>\r\n' "250 2.1.0"
	sock_say "$a" 'RCPT TO:<bob@example.net>\r\n' "250 2.1.5"
	sock_say "$a" 'DATA\r\n' "354 "
	sock_say "$a" 'Subject: deployed\r\n\r\nhello\r\n.\r\n' \
	    "250 2.0.0 Ok: queued as "
	file=$(queued_file)
	# the id is the file name as an Atom, its dots written _
	[ "$(basename "$file" | tr . _)" = "${REPLY_LAST##* }" ]
	grep -q '^Received: from client.test (\[127.0.0.1\])' "$file"
	[ "$(sed -n '/^Subject:/,$p' "$file")" = $'Subject: deployed\r\n\r\nhello\r' ]

	sock_open 127.0.0.1 "$PORT"
	b=$SOCK
	sock_expect "$b" "220 mx.test"
	sock_open 127.0.0.1 "$PORT"
	c=$SOCK
	sock_expect "$c" "421 4.3.2 mx.test Service not available"
	sock_expect_eof "$c"
	sock_say "$a" 'QUIT\r\n' "221 "
	sock_say "$b" 'QUIT\r\n' "221 "
	sock_expect_eof "$a"
	sock_expect_eof "$b"
}

@test "make install fills every placeholder; make uninstall leaves DESTDIR empty" {
	dest="$BATS_TEST_TMPDIR/dest"
	mkdir "$dest"
	run make_install "$dest"
	[ "$status" -eq 0 ]
	for f in sbin/smtpd lib/systemd/system/smtpd.socket \
	    lib/systemd/system/smtpd@.service \
	    lib/systemd/system/smtpsend.service \
	    lib/systemd/system/smtpsend.timer lib/systemd/system/smtpsend.path \
	    lib/sysusers.d/smtpq.conf \
	    lib/tmpfiles.d/smtpq.conf share/man/man8/smtpd.8 \
	    share/smtpq/inetd.conf share/smtpq/xinetd.smtpd \
	    share/smtpq/tcpserver.run; do
		[ -f "$dest/usr/local/$f" ]
	done
	[ -f "$dest/etc/default/smtpq" ]
	[ -x "$dest/usr/local/sbin/smtpd" ]
	[ -x "$dest/usr/local/share/smtpq/tcpserver.run" ]
	cmp "$TOP/$(build_dir)/smtpd/smtpd" "$dest/usr/local/sbin/smtpd"
	! grep -rlE '@[A-Z]+@' "$dest" || false
	grep -q '^ExecStart=/usr/local/sbin/smtpd -q /var/spool/smtpq \$SMTPD_ARGS$' \
	    "$dest/usr/local/lib/systemd/system/smtpd@.service"
	grep -q '^EnvironmentFile=-/etc/default/smtpq$' \
	    "$dest/usr/local/lib/systemd/system/smtpd@.service"

	# Again over itself (an upgrade), then away.
	run make_install "$dest"
	[ "$status" -eq 0 ]
	run top_make PREFIX=/usr/local DESTDIR="$dest" uninstall
	[ "$status" -eq 0 ]
	run find "$dest" -mindepth 1
	[ "$output" = "" ]
}

@test "units: smtpd.socket, smtpd-tcpserver and smtpd-submission.socket check the configuration before they listen; IPv6 beside tcpserver" {
	dest="$BATS_TEST_TMPDIR/dest"
	mkdir "$dest"
	run make_install "$dest"
	[ "$status" -eq 0 ]
	local u="$dest/usr/local/lib/systemd/system"
	grep -qx 'ExecStartPre=/usr/local/sbin/smtpd -N -q /var/spool/smtpq $SMTPD_ARGS' "$u/smtpd.socket"
	# tcpserver's check runs as its sessions will (root there cannot search
	# the 0710 Maildir root); the submission socket checks its flags too
	grep -A1 -x 'ExecStartPre=/usr/bin/setpriv --reuid=smtpq-recv --regid=smtpq --clear-groups \\' "$u/smtpd-tcpserver.service" |
	    grep -qx '    /usr/local/sbin/smtpd -N -q /var/spool/smtpq $SMTPD_ARGS'
	grep -qx 'ExecStartPre=/usr/local/sbin/smtpd -N -q /var/spool/smtpq -S \\' "$u/smtpd-submission.socket"
	# tcpserver is IPv4 only: its service brings the IPv6 socket along
	grep -qx 'Also=smtpd-ipv6.socket' "$u/smtpd-tcpserver.service"
	grep -qx 'ListenStream=\[::\]:25' "$u/smtpd-ipv6.socket"
	grep -qx 'BindIPv6Only=ipv6-only' "$u/smtpd-ipv6.socket"
	grep -qx 'Accept=yes' "$u/smtpd-ipv6.socket"
	cmp "$u/smtpd@.service" "$u/smtpd-ipv6@.service"
}

@test "make install honours PREFIX; uninstall keeps an edited environment file" {
	dest="$BATS_TEST_TMPDIR/dest"
	mkdir "$dest"
	run top_make -o all O="$(build_dir)" DESTDIR="$dest" PREFIX=/opt/smtpq \
	    install
	[ "$status" -eq 0 ]
	[ -x "$dest/opt/smtpq/sbin/smtpd" ]
	grep -q '^ExecStart=/opt/smtpq/sbin/smtpd ' \
	    "$dest/opt/smtpq/lib/systemd/system/smtpd@.service"
	grep -q '/opt/smtpq/sbin/smtpd	smtpd -q /var/spool/smtpq$' \
	    "$dest/opt/smtpq/share/smtpq/inetd.conf"
	echo 'SMTPD_ARGS="-n mx.example.org"' >>"$dest/etc/default/smtpq"
	run top_make DESTDIR="$dest" PREFIX=/opt/smtpq uninstall
	[ "$status" -eq 0 ]
	[[ "$output" == *"kept $dest/etc/default/smtpq: edited"* ]]
	run find "$dest" -mindepth 1 -type f
	[ "$output" = "$dest/etc/default/smtpq" ]
}

@test "systemd-analyze verify passes every unit cleanly" {
	dir="$BATS_TEST_TMPDIR/units"
	mkdir "$dir"
	for u in smtpd.socket smtpd@.service smtpsend.service smtpsend.timer \
	    smtpsend.path; do
		test_copy "$UNITS/$u" >"$dir/$u"
	done
	cd "$dir"
	run systemd-analyze verify --man=no smtpd.socket smtpd@.service \
	    smtpsend.service smtpsend.timer smtpsend.path
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
}

@test "systemd-analyze security rates smtpd@ <= 1.6 and smtpsend <= 2.0 (OK, as the README says)" {
	cd "$UNITS"
	run systemd-analyze security --offline=yes --threshold=16 smtpd@.service
	echo "$output" | grep -E '✗|Overall'
	[ "$status" -eq 0 ]
	[[ "$output" == *"Overall exposure level for smtpd@"* ]]
	run systemd-analyze security --offline=yes --threshold=20 \
	    smtpsend.service
	echo "$output" | grep -E '✗|Overall'
	[ "$status" -eq 0 ]
	[[ "$output" == *"Overall exposure level for smtpsend.service"* ]]
}

@test "the services run as their roles (smtpd@ smtpq-recv, smtpsend smtpq) with the hardening we promise" {
	grep -qx 'User=smtpq-recv' "$UNITS/smtpd@.service"
	grep -qx 'Group=smtpq' "$UNITS/smtpd@.service"
	grep -qx 'UMask=0007' "$UNITS/smtpd@.service"
	grep -qx 'User=smtpq' "$UNITS/smtpsend.service"
	grep -qx 'Group=smtpq' "$UNITS/smtpsend.service"
	grep -qx 'UMask=0027' "$UNITS/smtpsend.service"
	for u in smtpd-submission@.service smtpd-submissions@.service \
	    smtpq-stunnel-465.service; do
		grep -qx 'User=smtpq-tls' "$UNITS/$u"
	done
	for u in smtpd@.service smtpsend.service; do
		f="$UNITS/$u"
		for line in NoNewPrivileges=yes \
		    ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
		    PrivateDevices=yes PrivateIPC=yes ProtectProc=invisible \
		    ProcSubset=pid \
		    RestrictNamespaces=yes LockPersonality=yes \
		    MemoryDenyWriteExecute=yes RestrictRealtime=yes \
		    RestrictSUIDSGID=yes CapabilityBoundingSet= \
		    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
		    SystemCallFilter=@system-service \
		    EnvironmentFile=-/etc/default/smtpq; do
			if ! grep -qxF -- "$line" "$f"; then
				echo "$u lacks $line" >&2
				false
			fi
		done
		! grep -q '^DynamicUser' "$f" || false
	done
	grep -qx 'ReadWritePaths=/var/spool/smtpq' "$UNITS/smtpd@.service"
	grep -qx 'ReadWritePaths=/var/spool/smtpq /var/spool/smtpq-mail' \
	    "$UNITS/smtpsend.service"
	grep -qx 'StandardInput=socket' "$UNITS/smtpd@.service"
	grep -qx 'StandardOutput=socket' "$UNITS/smtpd@.service"
	grep -qx 'StandardError=journal' "$UNITS/smtpd@.service"
	grep -qx 'PrivateNetwork=yes' "$UNITS/smtpd@.service"
	grep -qx 'Type=oneshot' "$UNITS/smtpsend.service"
	grep -qx 'SuccessExitStatus=75' "$UNITS/smtpsend.service"
	grep -qx 'ExecStart=/usr/local/sbin/smtpsend -q /var/spool/smtpq -m /var/spool/smtpq-mail $SMTPSEND_ARGS' \
	    "$UNITS/smtpsend.service"
}

@test "smtpd.socket accepts per connection above smtpd's cap; the timer runs every minute" {
	s="$UNITS/smtpd.socket"
	grep -qx 'ListenStream=25' "$s"
	grep -qx 'Accept=yes' "$s"
	max=$(sed -n 's/^MaxConnections=//p' "$s")
	# Above smtpd's default -c (30) with room to raise it; one source
	# below it, but not below a Postfix client's 20.
	[ "$max" -gt 30 ]
	[ "$(sed -n 's/^MaxConnectionsPerSource=//p' "$s")" -eq 20 ]
	t="$UNITS/smtpsend.timer"
	grep -qx 'OnCalendar=\*-\*-\* \*:\*:00' "$t"
	grep -qx 'Persistent=true' "$t"
	run systemd-analyze calendar --iterations=2 '*-*-* *:*:00'
	[ "$status" -eq 0 ]
	[[ "$output" == *"Normalized form: *-*-* *:*:00"* ]]
}

@test "sysusers.d and tmpfiles.d make one user per role and the queue's modes: setgid and sticky tmp and new, sendmail's group by ACL only" {
	alt="$BATS_TEST_TMPDIR/alt"
	mkdir -p "$alt/etc"
	run systemd-sysusers --root="$alt" "$ROOT/usr/local/lib/sysusers.d/smtpq.conf"
	[ "$status" -eq 0 ]
	grep -q '^smtpq:x:[0-9]*:[0-9]*:[^:]*:/var/spool/smtpq:' "$alt/etc/passwd"
	grep -q '^smtpq-recv:x:' "$alt/etc/passwd"
	grep -q '^smtpq-tls:x:' "$alt/etc/passwd"
	grep -q '^smtpq-submit:x:[0-9]*:$' "$alt/etc/group"
	# The queue's group: the receivers, not sendmail's group.
	grep -qx 'smtpq:x:[0-9]*:smtpq-recv,smtpq-tls' "$alt/etc/group"
	grep -qx 'smtpq-auth:x:[0-9]*:smtpq-tls' "$alt/etc/group"
	uid=$(awk -F: '$1 == "smtpq" { print $3 }' "$alt/etc/passwd")
	run systemd-tmpfiles --root="$alt" --create \
	    "$ROOT/usr/local/lib/tmpfiles.d/smtpq.conf"
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[ "$(stat -c '%a %u' "$alt/var/spool/smtpq")" = "2750 $uid" ]
	[ "$(stat -c '%a %u' "$alt/var/spool/smtpq/failed")" = "700 $uid" ]
	# the receivers (group smtpq) look names up, list nothing (smtpd.8)
	[ "$(stat -c '%a %u' "$alt/var/spool/smtpq-mail")" = "710 $uid" ]
	for d in smtpq/tmp smtpq/new; do
		[ "$(stat -c '%a %u' "$alt/var/spool/$d")" = "3770 $uid" ]
	done
	for f in smtpd smtpd-submission smtpd-submissions; do
		[ "$(stat -c '%a %u' "$alt/var/spool/smtpq/$f.lock")" = "660 $uid" ]
	done
	# AUTH's failures across sessions: the TLS role's alone.
	[ "$(stat -c '%a %u' "$alt/var/spool/smtpq/auth")" = \
	    "700 $(awk -F: '$1 == "smtpq-tls" { print $3 }' "$alt/etc/passwd")" ]
	# sendmail's group only in ACL entries: systemd-tmpfiles --root
	# resolves their group names on the host, so the entries are read
	# here, and tests/32 proves them under systemd.
	t="$ROOT/usr/local/lib/tmpfiles.d/smtpq.conf"
	grep -qE '^a\+\s+/var/spool/smtpq\s+(-\s+){4}group:smtpq-submit:r-x$' "$t"
	grep -qE '^a\+\s+/var/spool/smtpq/tmp\s+(-\s+){4}group:smtpq-submit:-wx$' "$t"
	grep -qE '^a\+\s+/var/spool/smtpq/new\s+(-\s+){4}group:smtpq-submit:rwx$' "$t"
	[ "$(grep -v '^#' "$t" | grep -c 'smtpq-submit')" -eq 3 ]
}

# The ExecStart= and ListenStream= of the installed units, under
# systemd-socket-activate: $SMTPD_ARGS becomes the test's flags.
installed_socket_activate() {
	local port=$1 exec
	exec=$(test_copy "$UNITS/smtpd@.service" | sed -n 's/^ExecStart=//p')
	exec=${exec/'$SMTPD_ARGS'/-n mx.test -l $LOG -c 2}
	grep -qx 'ListenStream=25' "$UNITS/smtpd.socket" || return 1
	# Word splitting, as systemd does for ExecStart (no quotes used).
	exec_launcher systemd-socket-activate -l "127.0.0.1:$port" -a --inetd \
	    "${SANITIZER_FLAGS[@]}" $exec
}

@test "systemd: the installed units run by systemd-socket-activate queue mail and cap sessions" {
	launch 127.0.0.1 installed_socket_activate
	assert_queues_and_caps
}

# Like installed_socket_activate, inside what smtpd@.service asks of
# systemd, as far as util-linux can give it without PID 1: a private
# network namespace (PrivateNetwork=yes), an empty capability bounding
# set (CapabilityBoundingSet=) and no new privileges.  A wrapper records
# what the session sees before it execs smtpd.
sandboxed_socket_activate() {
	local port=$1 exec seen="$BATS_TEST_TMPDIR/sandbox"
	exec=$(test_copy "$UNITS/smtpd@.service" | sed -n 's/^ExecStart=//p')
	exec=${exec/'$SMTPD_ARGS'/-n mx.test -l $LOG -c 2}
	exec_launcher systemd-socket-activate -l "127.0.0.1:$port" -a --inetd \
	    "${SANITIZER_FLAGS[@]}" unshare --net setpriv --no-new-privs \
	    --bounding-set=-all --inh-caps=-all sh -c '
		grep -E "^(CapEff|CapBnd|NoNewPrivs):" /proc/self/status >"$1"
		sed -n "s/^ *\([^:]*\):.*/\1/p" /proc/self/net/dev >>"$1"
		shift
		exec "$@"' sh "$seen" $exec
}

@test "systemd: smtpd works inside the unit's sandbox (private network, no capabilities)" {
	launch 127.0.0.1 sandboxed_socket_activate
	assert_queues_and_caps
	# Every session saw the sandbox; the last one is in the file.
	grep -qx $'CapEff:\t0000000000000000' "$BATS_TEST_TMPDIR/sandbox"
	grep -qx $'CapBnd:\t0000000000000000' "$BATS_TEST_TMPDIR/sandbox"
	grep -qx $'NoNewPrivs:\t1' "$BATS_TEST_TMPDIR/sandbox"
	# Its own network has only a loopback device, yet the peer was the
	# host's 127.0.0.1 (assert_queues_and_caps checked Received:).
	[ "$(grep -vE '^(Cap|NoNewPrivs|Inter|face)' "$BATS_TEST_TMPDIR/sandbox")" = lo ]
}

# The installed inetd.conf line under a private openbsd-inetd, in the
# foreground (-i), its environment kept (-E) for the sanitizers.
private_inetd() {
	local port=$1 conf="$BATS_TEST_TMPDIR/inetd.conf"
	grep -v '^#' "$SHARE/inetd.conf" | test_copy /dev/stdin |
	    sed -E "s/^smtp([[:space:]])/127.0.0.1:$port\\1/" |
	    sed -E "s/([[:space:]])smtpq-recv([[:space:]])/\\1$(id -un)\\2/" |
	    sed -E "s|\$| -n mx.test -l $LOG -c 2|" >"$conf"
	exec_launcher "$INETD" -i -E "$conf"
}

@test "openbsd-inetd: the installed inetd.conf line queues mail and caps sessions" {
	[ -x "$INETD" ]
	launch 127.0.0.1 private_inetd
	assert_queues_and_caps
}

# The installed xinetd service under a private xinetd: an unlisted
# service on the test's port, user and group the test's.
private_xinetd() {
	local port=$1 conf="$BATS_TEST_TMPDIR/xinetd.conf"
	{
		printf 'defaults\n{\n\tlog_type = FILE %s\n}\n' \
		    "$BATS_TEST_TMPDIR/xinetd.log"
		test_copy "$SHARE/xinetd.smtpd" |
		    sed -e 's/^service smtp$/service smtpq-test/' \
		    -e "s/^\\(\\s*user\\s*=\\).*/\\1 $(id -un)/" \
		    -e "s/^\\(\\s*group\\s*=\\).*/\\1 $(id -gn)/" \
		    -e "s|^\\(\\s*server_args\\s*=.*\\)|\\1 -n mx.test -l $LOG -c 2|" \
		    -e "s/^{\$/{\\n\\ttype = UNLISTED\\n\\tport = $port\\n\\tbind = 127.0.0.1\\n\\tpassenv = ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS/"
	} >"$conf"
	exec_launcher "$XINETD" -dontfork -f "$conf" \
	    -pidfile "$BATS_TEST_TMPDIR/xinetd.pid"
}

@test "xinetd: the installed service file queues mail and caps sessions" {
	[ -x "$XINETD" ]
	grep -qE '^\s*instances\s*=\s*40$' "$SHARE/xinetd.smtpd"
	grep -qE '^\s*per_source\s*=\s*20$' "$SHARE/xinetd.smtpd"
	launch 127.0.0.1 private_xinetd
	assert_queues_and_caps
}

# The installed tcpserver run script, on the test's port and user.
private_tcpserver() {
	local port=$1 run="$BATS_TEST_TMPDIR/tcpserver.run"
	test_copy "$SHARE/tcpserver.run" |
	    sed -e 's/"$(id -u smtpq-recv)"/"$(id -u)"/' \
	    -e 's/"$(getent group smtpq | cut -d: -f3)"/"$(id -g)"/' \
	    -e "s/ 0 25 / 127.0.0.1 $port /" \
	    -e "s|-q $Q\$|-q $Q -n mx.test -l $LOG -c 2|" >"$run"
	grep -q "127.0.0.1 $port .* -c 2\$" "$run" || return 1
	exec_launcher sh "$run"
}

@test "tcpserver: the installed run script queues mail and caps sessions" {
	command -v tcpserver
	launch 127.0.0.1 private_tcpserver
	assert_queues_and_caps
}

# The installed stunnel file $1 made the test's: test_copy's paths, the
# test CA's certificate in place of certbot's live directory (fullchain,
# chain, privkey), a log file of its own instead of syslog, smtpd -E
# logging to $LOG.
stunnel_copy() {
	local le="$BATS_TEST_TMPDIR/le"

	mkdir -p "$le"
	cat "$TLS_DIR/cert.pem" "$TLS_DIR/ca.pem" >"$le/fullchain.pem"
	cp "$TLS_DIR/ca.pem" "$le/chain.pem"
	cp "$TLS_DIR/key.pem" "$le/privkey.pem"
	test_copy "$1" | sed \
	    -e "s|/etc/smtpq/tls|$le|" \
	    -e "s|^syslog = yes|syslog = no\noutput = $BATS_TEST_TMPDIR/stunnel.log|" \
	    -e "s|^execArgs = smtpd -E|execArgs = smtpd -E -n mx.test -l $LOG|"
}

# stunnel_activate ADDRESS PORT: 465.conf's stunnel per connection, as
# smtpd-submissions.socket runs it.
stunnel_activate() {
	exec_launcher systemd-socket-activate -l "$1:$2" -a --inetd \
	    "${SANITIZER_FLAGS[@]}" stunnel "$BATS_TEST_TMPDIR/465.conf"
}

@test "the shipped stunnel files: a STARTTLS session on 25 and one on 465 log nothing at error priority (no 'No trusted certificates found')" {
	tls_make_ca
	stunnel_copy "$SHARE/stunnel/stunnel-25.conf" >"$BATS_TEST_TMPDIR/25.conf"
	stunnel_copy "$SHARE/stunnel/stunnel-465.conf" >"$BATS_TEST_TMPDIR/465.conf"
	passwd_make
	sed -i "s|/etc/smtpq/passwd|$PASSWD|; s|/usr/local/sbin/smtpq-checkpassword|$CHECKPASSWORD|" \
	    "$BATS_TEST_TMPDIR/465.conf"
	SMTPD_FLAGS=(-T "stunnel,$BATS_TEST_TMPDIR/25.conf")
	launch 127.0.0.1 socket_activate 127.0.0.1
	swaks --server "127.0.0.1:$PORT" --tls --tls-verify \
	    --tls-ca-path "$TLS_DIR/ca.pem" --tls-sni localhost \
	    --from a@b.example --to x@elsewhere.example \
	    --timeout $((20 * SLOWDOWN)) >/dev/null
	grep -q $'^\tby mx.test (smtpd) with ESMTPS id ' "$(queued_file)"
	launch_stop
	launch 127.0.0.1 stunnel_activate 127.0.0.1
	swaks --server "127.0.0.1:$PORT" --tlsc --tls-verify \
	    --tls-ca-path "$TLS_DIR/ca.pem" --tls-sni localhost \
	    --quit-after AUTH --auth PLAIN --auth-user alice \
	    --auth-password s3cret --timeout $((20 * SLOWDOWN)) >/dev/null
	log_has "$LOG" 'user=alice result=authenticated'
	# Both sessions worked (above), and neither stunnel logged at err
	# (LOG3) or worse, nor its ten notice lines (LOG5) per connection:
	# debug = warning.
	if grep -sE 'LOG[0-5]' "$BATS_TEST_TMPDIR/stunnel.log"; then false; fi
}

@test "the shipped stunnel files take the certificate from one place, @SYSCONFDIR@/smtpq/tls, and log at warning and worse" {
	local f n=0
	for f in "$SHARE"/stunnel/*.conf; do
		n=$((n + 1))
		[ "$(grep -cE '^(cert|key|CAfile) = /etc/smtpq/tls/(fullchain|privkey|chain)\.pem$' "$f")" -eq 3 ] ||
		    { grep -E '^(cert|key|CAfile)' "$f" >&2; false; }
		grep -qx 'debug = warning' "$f"
		# smtpd -E reads smtpq.conf: no site flags in the file
		! grep -E '^execArgs = .* -[nd] ' "$f"
	done
	[ "$n" -eq 4 ]
}
