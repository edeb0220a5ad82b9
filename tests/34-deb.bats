#!/usr/bin/env bats
# The Debian package (issue 27, DESIGN.md "Packaged") under a real
# systemd: `make deb` once (with lintian), then one container
# (tests/systemd.bash) whose root is Debian 12 with exim4 running as its
# MTA (tests/deb.bash), taken through a sysadmin's life with the package,
# in order: install over exim4 with preseeded answers, mail from cron's
# and mail's side, an upgrade with a deferred message and an edited
# configuration, remove, purge with mail in the queue, a reinstall with
# debconf's defaults and a purge with none.  The container has no
# network but lo: apt installs from the cache the root was built with.
#
# "tests/run: once": it builds and installs the package, not the build
# under test; the binaries' paths run under valgrind in the other suites.
# tests/run: once serial novalgrind

load helpers
load systemd
load deb

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
# The container's port where the relay will be (socat in front of
# tests/fakerelay, whose own port the kernel picks), and the preseed.
RELAY_PORT=2525
MAILNAME=mail.example.test

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	local root
	# Once per suite: the package, lintian's verdict, and the
	# "previous" package (the same files as version 0.1).
	# SMTPQ_DEB_BUILT=1 takes build/deb as a make deb just left it.
	if [ "${SMTPQ_DEB_BUILT:-}" != 1 ]; then
		make -s -C "$TOP" deb >"$BATS_FILE_TMPDIR/make-deb.out" 2>&1 || {
			cat "$BATS_FILE_TMPDIR/make-deb.out" >&2; return 1; }
	fi
	DEBS=$BATS_FILE_TMPDIR/debs
	mkdir -m 755 "$DEBS"
	cp "$TOP"/build/deb/smtpq_*.deb "$DEBS/"
	NEW_DEB=$(cd "$DEBS" && ls smtpq_*.deb)
	OLD_DEB=smtpq_0.1_$(dpkg-deb -f "$DEBS/$NEW_DEB" Architecture).deb
	deb_version_repack "$DEBS/$NEW_DEB" 0.1 "$DEBS/$OLD_DEB" || return 1
	export DEBS NEW_DEB OLD_DEB
	root=$(deb_root) || return 1
	SD_NSPAWN_ARGS="--bind-ro=$DEBS:/debs" sd_boot "$root" || return 1
	export SD_PID SD_LEADER
	# The MTA the host had: exim4, as Debian installs it, running.
	SD_TIMEOUT=180 deb_apt --no-install-recommends install \
	    exim4-daemon-light >"$BATS_FILE_TMPDIR/exim.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/exim.out" >&2; return 1; }
	# The relay, down until a test brings it up.
	sd_daemon nsenter -t "$SD_LEADER" -n "$BATS_TEST_DIRNAME/fakerelay" \
	    --port-file "$BATS_FILE_TMPDIR/relay.port" \
	    --dir "$BATS_FILE_TMPDIR/relay" \
	    >"$BATS_FILE_TMPDIR/relay.out" 2>&1 </dev/null
	RELAY_PID=$!
	export RELAY_PID
	wait_for test -s "$BATS_FILE_TMPDIR/relay.port"
}

teardown_file() {
	local p
	for p in ${RELAY_PID:-} $(cat "$BATS_FILE_TMPDIR/socat.pid" \
	    2>/dev/null); do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	sd_stop
}

setup() {
	if [ "$(id -u)" -ne 0 ]; then
		fail_or_skip "needs root (systemd-nspawn, dpkg-buildpackage)"
	fi
	[ -n "$SD_LEADER" ] && kill -0 "$SD_LEADER"
}

teardown() {
	:
}

CROOT() {
	echo "/proc/$SD_LEADER/root$1"
}

prop() {
	sd systemctl show -P "$2" "$1"
}

# The messages in Maildir $1 (a local part) under the package's root.
maildir_count_is() {
	[ "$(find "$(CROOT /var/spool/smtpq-mail/"$1"/new)" -type f \
	    2>/dev/null | wc -l)" -eq "$2" ]
}

queue_count_is() {
	[ "$(find "$(CROOT /var/spool/smtpq/new)" -type f 2>/dev/null |
	    wc -l)" -eq "$1" ]
}

relay_count_is() {
	[ "$(find "$BATS_FILE_TMPDIR/relay" -name '*.eml' 2>/dev/null |
	    wc -l)" -eq "$1" ]
}

# The relay comes up on RELAY_PORT: socat forwards to the fake relay.
relay_up() {
	sd_daemon nsenter -t "$SD_LEADER" -n socat \
	    "TCP-LISTEN:$RELAY_PORT,bind=127.0.0.1,reuseaddr,fork" \
	    "TCP:127.0.0.1:$(cat "$BATS_FILE_TMPDIR/relay.port")" \
	    >"$BATS_FILE_TMPDIR/socat.out" 2>&1 </dev/null
	echo $! >"$BATS_FILE_TMPDIR/socat.pid"
	wait_for sd_net sh -c "ss -Hltn 'sport = :$RELAY_PORT' | grep -q ."
}

relay_down() {
	local p
	p=$(cat "$BATS_FILE_TMPDIR/socat.pid")
	kill "$p" && wait "$p" 2>/dev/null || true
	rm -f "$BATS_FILE_TMPDIR/socat.pid"
}

# Every TCP or UDP socket listening in the container (its own network)
# but the fake relay's (the test's own, from the host).
listeners() {
	sd_net ss -Hltun | grep -v ":$(cat "$BATS_FILE_TMPDIR/relay.port") " ||
	    true
}

# Links under /etc/systemd whose target is gone.
dangling_links() {
	sd find /etc/systemd -xtype l
}

# The units of ours enabled (by any link), one per line.
enabled_units() {
	local u
	for u in smtpsend.path smtpsend.timer smtpd.socket \
	    smtpd-submission.socket smtpd-submissions.socket \
	    smtpq-stunnel-465.socket smtpq-stunnel-465.service \
	    smtpd-tcpserver.service; do
		if [ "$(prop "$u" UnitFileState)" = enabled ]; then
			echo "$u"
		fi
	done
}

@test "deb: make deb builds the package; lintian reports no error and no warning" {
	local deb=$DEBS/$NEW_DEB
	[[ "$NEW_DEB" =~ ^smtpq_[0-9][^_]*_[a-z0-9]+\.deb$ ]]
	# What lintian said, all of it: every tag is overridden but the
	# informational ones; --fail-on error,warning (make deb) passed.
	run cat "$TOP/build/deb/lintian.txt"
	! grep -E '^[EW]: ' <<<"$output" || { echo "$output" >&2; false; }
	echo "# lintian: $(grep -c . <<<"$output") lines: $(tr '\n' ' ' \
	    <<<"$output")" >&3
	echo "# package: $(stat -c %s "$deb") bytes, installed" \
	    "$(dpkg-deb -f "$deb" Installed-Size) KiB" >&3
	[ "$(dpkg-deb -f "$deb" Provides)" = mail-transport-agent ]
	[ "$(dpkg-deb -f "$deb" Conflicts)" = mail-transport-agent ]
	[ "$(dpkg-deb -f "$deb" Replaces)" = mail-transport-agent ]
	run dpkg-deb -c "$deb"
	local f
	for f in ./usr/sbin/sendmail ./usr/sbin/smtpd ./usr/sbin/smtpsend \
	    ./usr/sbin/smtpqctl ./usr/sbin/smtpq-checkpassword \
	    ./usr/bin/newaliases ./usr/lib/systemd/system/smtpsend.path \
	    ./usr/lib/systemd/system/smtpd.socket \
	    ./usr/lib/sysusers.d/smtpq.conf ./usr/lib/tmpfiles.d/smtpq.conf \
	    ./usr/share/man/man8/sendmail.8.gz \
	    ./usr/share/man/man5/smtpq.conf.5.gz \
	    './usr/lib/sendmail -> ../sbin/sendmail' \
	    './usr/bin/mailq -> ../sbin/sendmail'; do
		grep -qF " $f" <<<"$output" || { echo "missing: $f" >&2; false; }
	done
	run dpkg-deb -I "$deb" conffiles
	[ "$output" = /etc/default/smtpq ]
}

@test "deb: the root starts with exim4 running as its MTA, on port 25" {
	[ "$(prop exim4.service ActiveState)" = active ] || {
		sd systemctl status exim4.service >&2
		cat "$BATS_FILE_TMPDIR/exim.out" >&2; false; }
	run sd dpkg-query -W -f '${Status}' exim4-daemon-light
	[ "$output" = "install ok installed" ]
	run listeners
	[[ "$output" == *"127.0.0.1:25 "* ]] || { echo "$output" >&2; false; }
}

@test "deb: apt install over exim4 with preseeded answers: exim4 goes, nothing listens, sendmail is setgid, the sender's units are on" {
	printf '%s\n' "smtpq shared/mailname string $MAILNAME" \
	    "smtpq smtpq/relay string smtp+notls://127.0.0.1:$RELAY_PORT" \
	    "smtpq smtpq/root string admin" >"$(CROOT /tmp/preseed)"
	sd debconf-set-selections /tmp/preseed
	local t0 t1
	t0=$(date +%s.%N)
	SD_TIMEOUT=120 deb_apt install "/debs/$OLD_DEB" \
	    >"$BATS_FILE_TMPDIR/install.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/install.out" >&2; false; }
	# The first mail, at once: from sendmail to the mailbox root's
	# alias names.
	printf 'Subject: first\n\nhello\n' >"$(CROOT /tmp/first)"
	sd sh -c '/usr/sbin/sendmail root </tmp/first'
	wait_for maildir_count_is admin 1 || {
		sd journalctl -q -t smtpsend --no-pager >&2; false; }
	t1=$(date +%s.%N)
	echo "# apt install to the first delivered mail: $(awk \
	    "BEGIN { printf \"%.2f\", $t1 - $t0 }") s" >&3
	grep -q 'Removing exim4-daemon-light' "$BATS_FILE_TMPDIR/install.out"
	run sd dpkg-query -W -f '${Status}' exim4-daemon-light
	[[ "$output" != "install ok installed" ]]
	run sd dpkg-query -W -f '${Status} ${Version}' smtpq
	[ "$output" = "install ok installed 0.1" ]
	# Nothing listens: not exim, not us.
	run listeners
	[ -z "$output" ] || { echo "$output" >&2; false; }
	[ "$(enabled_units | xargs)" = "smtpsend.path smtpsend.timer" ]
	[ "$(prop smtpsend.path ActiveState)" = active ]
	[ "$(prop smtpsend.timer ActiveState)" = active ]
	run sd stat -c '%U:%G %a' /usr/sbin/sendmail
	[ "$output" = "root:smtpq-submit 2755" ]
	run sd stat -c '%U:%G %a' /var/spool/smtpq
	[ "$output" = "smtpq:smtpq 2750" ]
	# The answers, written out.
	[ "$(cat "$(CROOT /etc/mailname)")" = "$MAILNAME" ]
	run grep -v '^#' "$(CROOT /etc/smtpq/smtpq.conf)"
	[ "${lines[0]}" = "hostname $MAILNAME" ]
	[[ "$output" == *"relay smtp+notls://127.0.0.1:$RELAY_PORT"* ]]
	[[ "$output" == *"aliases /etc/aliases"* ]]
	grep -qx 'root: admin' "$(CROOT /etc/aliases)"
	run sd smtpqctl check
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
}

@test "deb: apt install mailutils pulls in no other MTA; mail -s t root reaches root's alias" {
	SD_TIMEOUT=120 deb_apt install mailutils \
	    >"$BATS_FILE_TMPDIR/mailutils.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/mailutils.out" >&2; false; }
	# Nothing that provides mail-transport-agent but us, nothing
	# removed.
	! grep -E -i 'exim|postfix|nullmailer|msmtp|dma|sendmail-bin|Removing' \
	    "$BATS_FILE_TMPDIR/mailutils.out"
	run sd dpkg-query -W -f '${Status} ${Version}' smtpq
	[ "$output" = "install ok installed 0.1" ]
	sd sh -c 'echo hi | mail -s t root'
	wait_for maildir_count_is admin 2
	grep -l '^Subject: t$' "$(CROOT /var/spool/smtpq-mail/admin/new)"/* |
	    grep -q .
}

@test "deb: cron's output reaches root's alias" {
	echo '* * * * * root echo from-cron' >"$(CROOT /etc/cron.d/smtpq-test)"
	chmod 644 "$(CROOT /etc/cron.d/smtpq-test)"
	WAIT_SECONDS=75 wait_for maildir_count_is admin 3
	rm -f "$(CROOT /etc/cron.d/smtpq-test)"
	grep -l '^from-cron$' "$(CROOT /var/spool/smtpq-mail/admin/new)"/* |
	    grep -q .
}

@test "deb: newaliases checks /etc/aliases and says what it found" {
	local n
	n=$(grep -c '^[^#[:space:]]' "$(CROOT /etc/aliases)")
	run sd newaliases
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "newaliases: /etc/aliases: $n aliases; root: admin" ]
	[ "${lines[1]}" = "newaliases: no database to build: smtpsend reads /etc/aliases at every run" ]
	echo 'broken line' >>"$(CROOT /etc/aliases)"
	n=$(wc -l <"$(CROOT /etc/aliases)")
	run sd newaliases
	sed -i '$d' "$(CROOT /etc/aliases)"
	[ "$status" -eq 1 ]
	[[ "$output" == *"smtpsend: -A: /etc/aliases:$n: "* ]]
	[[ "$output" == *"newaliases: /etc/aliases: smtpsend would refuse it"* ]]
}

@test "deb: upgrade keeps a deferred message, an edited smtpq.conf and the units' state; the message leaves once the relay is back" {
	printf 'Subject: deferred\n\nfor later\n' >"$(CROOT /tmp/deferred)"
	sd sh -c '/usr/sbin/sendmail someone@remote.test </tmp/deferred'
	sd systemctl start smtpsend.service || true
	queue_count_is 1
	# The sysadmin's edit and choice of receiver.
	echo 'connection-messages 5' >>"$(CROOT /etc/smtpq/smtpq.conf)"
	sd systemctl enable --now smtpd.socket
	SD_TIMEOUT=120 deb_apt install "/debs/$NEW_DEB" \
	    >"$BATS_FILE_TMPDIR/upgrade.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/upgrade.out" >&2; false; }
	run sd dpkg-query -W -f '${Status} ${Version}' smtpq
	[ "$output" = "install ok installed ${NEW_DEB#smtpq_}" ] ||
	    [ "$output" = "install ok installed $(dpkg-deb -f \
	    "$DEBS/$NEW_DEB" Version)" ]
	queue_count_is 1
	grep -qx 'connection-messages 5' "$(CROOT /etc/smtpq/smtpq.conf)"
	[ "$(enabled_units | xargs)" = "smtpsend.path smtpsend.timer smtpd.socket" ]
	[ "$(prop smtpd.socket ActiveState)" = active ]
	relay_up
	sd smtpqctl flush
	wait_for relay_count_is 1
	wait_for queue_count_is 0
	grep -q 'for later' "$BATS_FILE_TMPDIR"/relay/*.eml
	sd systemctl disable --now smtpd.socket
}

@test "deb: apt remove with mail in the queue: every unit stopped and disabled, no dangling link; queue, configuration and users kept" {
	relay_down
	sd sh -c '/usr/sbin/sendmail someone@remote.test </tmp/deferred'
	sd systemctl start smtpsend.service || true
	queue_count_is 1
	# An administrator's own link, made with systemctl.
	sd systemctl enable smtpd-submission.socket
	SD_TIMEOUT=120 deb_apt remove smtpq >"$BATS_FILE_TMPDIR/remove.out" \
	    2>&1 || { cat "$BATS_FILE_TMPDIR/remove.out" >&2; false; }
	# Said: nothing of ours.
	! grep '^smtpq:' "$BATS_FILE_TMPDIR/remove.out"
	run sd dpkg-query -W -f '${Status}' smtpq
	[ "$output" = "deinstall ok config-files" ]
	run dangling_links
	[ -z "$output" ] || { echo "$output" >&2; false; }
	run sd systemctl list-units --all --no-legend --plain 'smtp*'
	[[ "$output" != *" active "* ]] || { echo "$output" >&2; false; }
	run listeners
	[ -z "$output" ]
	# Left: the queue with its message, the configuration, the users.
	queue_count_is 1
	[ -f "$(CROOT /etc/smtpq/smtpq.conf)" ]
	[ -f "$(CROOT /etc/default/smtpq)" ]
	sd getent passwd smtpq
	[ ! -e "$(CROOT /usr/sbin/sendmail)" ]
}

@test "deb: apt purge with mail in the queue and the Maildirs: configuration goes, mail and its users stay, and it says so exactly" {
	SD_TIMEOUT=120 deb_apt purge smtpq >"$BATS_FILE_TMPDIR/purge.out" \
	    2>&1 || { cat "$BATS_FILE_TMPDIR/purge.out" >&2; false; }
	run grep '^smtpq:' "$BATS_FILE_TMPDIR/purge.out"
	[ "${lines[0]}" = "smtpq: kept /var/spool/smtpq: it holds 1 messages (new: 1, hold: 0, failed: 0, tmp: 0); remove it by hand once they are dealt with" ]
	[ "${lines[1]}" = "smtpq: kept /var/spool/smtpq-mail: 3 delivered messages in 1 mailboxes (admin)" ]
	[ "${lines[2]}" = "smtpq: kept the users smtpq, smtpq-recv, smtpq-tls and their groups: they own what was kept" ]
	[ "${#lines[@]}" -eq 3 ]
	run sd dpkg-query -W -f '${Status}' smtpq
	[ "$status" -ne 0 ] || [ "$output" = "unknown ok not-installed" ]
	[ ! -e "$(CROOT /etc/smtpq)" ] || { ls -la "$(CROOT /etc/smtpq)" >&2
		cat "$BATS_FILE_TMPDIR/purge.out" >&2; false; }
	[ ! -e "$(CROOT /etc/default/smtpq)" ]
	[ ! -e "$(CROOT /var/lib/smtpq)" ]
	queue_count_is 1
	maildir_count_is admin 3
	sd getent passwd smtpq
	run sd dpkg-statoverride --list /usr/sbin/sendmail
	[ -z "$output" ]
	run dangling_links
	[ -z "$output" ]
}

@test "deb: installed again with debconf's defaults (noninteractive), local mail works; its units on" {
	local id
	SD_TIMEOUT=120 deb_apt install "/debs/$NEW_DEB" \
	    >"$BATS_FILE_TMPDIR/reinstall.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/reinstall.out" >&2; false; }
	run grep -v '^#' "$(CROOT /etc/smtpq/smtpq.conf)"
	[[ "$output" != *relay* ]]
	[ "$(enabled_units | xargs)" = "smtpsend.path smtpsend.timer" ]
	sd sh -c 'echo hello | mail -s again root'
	wait_for maildir_count_is admin 4
	# The kept message is for a remote domain: with no relay it goes to
	# its MX, never into a Maildir (DESIGN, Routes); the container has
	# no DNS, so it waits (4.4.3), even when flushed.
	sd smtpqctl flush
	queue_count_is 1
	[ ! -e "$(CROOT /var/spool/smtpq-mail/someone)" ]
	# Dealt with by hand, as an operator would, before the purge below.
	id=$(basename "$(find "$(CROOT /var/spool/smtpq/new)" -type f)")
	sd smtpqctl delete "$id"
	queue_count_is 0
	run listeners
	[ -z "$output" ]
}

@test "deb: purge with no mail left: the queue, the Maildirs, the users and the configuration go, and nothing is said" {
	rm -rf "$(CROOT /var/spool/smtpq-mail)"/*
	queue_count_is 0
	SD_TIMEOUT=120 deb_apt purge smtpq >"$BATS_FILE_TMPDIR/purge2.out" \
	    2>&1 || { cat "$BATS_FILE_TMPDIR/purge2.out" >&2; false; }
	! grep '^smtpq:' "$BATS_FILE_TMPDIR/purge2.out"
	[ ! -e "$(CROOT /var/spool/smtpq)" ]
	[ ! -e "$(CROOT /var/spool/smtpq-mail)" ]
	[ ! -e "$(CROOT /etc/smtpq)" ]
	run sd getent passwd smtpq smtpq-recv smtpq-tls
	[ -z "$output" ]
	run sd getent group smtpq smtpq-submit smtpq-auth
	[ -z "$output" ]
	run dangling_links
	[ -z "$output" ]
	# What stays is every MTA's: /etc/aliases and /etc/mailname.
	[ -f "$(CROOT /etc/aliases)" ]
	[ -f "$(CROOT /etc/mailname)" ]
}
