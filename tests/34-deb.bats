#!/usr/bin/env bats
# The Debian package (README "The Debian package") under a real
# systemd: `make deb` once (with lintian), then one container
# (tests/systemd.bash) whose root is Debian 12 with exim4 running as its
# MTA (tests/deb.bash), taken through a sysadmin's life with the package,
# in order: install over exim4 of the package built from the commit
# before HEAD, with preseeded answers (a relay: a provider's Postfix,
# tests/provider.bash, that demands STARTTLS, AUTH and its own sender;
# root's mail to a Maildir and to the provider), mail from cron's and
# mail's side, an upgrade to this tree's package with a deferred message
# and an edited configuration, remove, purge with mail in the queue, a
# reinstall with debconf's defaults and a purge with none.  The
# container has no network but lo: apt installs from the cache the root
# was built with.
#
# "tests/run: once": it builds and installs the package, not the build
# under test; the binaries' paths run under valgrind in the other suites.
# tests/run: once nspawn novalgrind

load helpers
load systemd
load deb
# The provider's port in the container: not 587, so that "nothing
# listens" below still sees a submission socket of ours.
PROVIDER_PORT=2587
load provider

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
MAILNAME=mail.example.test
RELAY_URL=smtp+tls://$PROVIDER_USER@$PROVIDER_NAME:$PROVIDER_PORT
# Who gets root's mail: a mailbox here and one at the provider.
ROOT_ALIAS="admin, $PROVIDER_USER"

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	local root t0
	command -v postfix >/dev/null && command -v saslpasswd2 >/dev/null || {
		echo "needs postfix and sasl2-bin (.ci/packages)" >&2; return 1; }
	# Once per suite: the package, lintian's verdict, and the
	# previous package: the commit before HEAD's, built by its make deb.
	# SMTPQ_DEB_BUILT=1 takes build/deb as a make deb just left it.
	t0=$SECONDS
	if [ "${SMTPQ_DEB_BUILT:-}" != 1 ]; then
		make -s -C "$TOP" deb >"$BATS_FILE_TMPDIR/make-deb.out" 2>&1 || {
			cat "$BATS_FILE_TMPDIR/make-deb.out" >&2; return 1; }
	fi
	DEB_SECONDS=$((SECONDS - t0))
	DEBS=$BATS_FILE_TMPDIR/debs
	mkdir -m 755 "$DEBS"
	cp "$TOP"/build/deb/smtpq_*.deb "$DEBS/"
	NEW_DEB=$(cd "$DEBS" && ls smtpq_*.deb)
	NEW_VERSION=$(dpkg-deb -f "$DEBS/$NEW_DEB" Version)
	OLD_DEB=smtpq_previous.deb
	PREV_SECONDS=$(deb_previous "$TOP" "$NEW_VERSION" "$DEBS/$OLD_DEB") ||
	    return 1
	OLD_VERSION=$(dpkg-deb -f "$DEBS/$OLD_DEB" Version)
	export DEBS NEW_DEB NEW_VERSION OLD_DEB OLD_VERSION DEB_SECONDS \
	    PREV_SECONDS
	# The provider: its own directory, searchable by Postfix's daemons.
	PF_DIR=$(mktemp -d /tmp/smtpq-deb-pf.XXXXXX) || return 1
	export PF_DIR
	provider_prepare "$PF_DIR" || return 1
	root=$(deb_root) || return 1
	SD_NSPAWN_ARGS="--bind-ro=$DEBS:/debs" sd_boot "$root" || return 1
	export SD_PID SD_LEADER
	# The MTA the host had: exim4, as Debian installs it, running.
	SD_TIMEOUT=180 deb_apt --no-install-recommends install \
	    exim4-daemon-light >"$BATS_FILE_TMPDIR/exim.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/exim.out" >&2; return 1; }
	# The provider, up: the world outside, as the host will find it.
	provider_trust "$PF_DIR" && provider_start "$PF_DIR"
}

teardown_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	if [ -n "${PF_DIR:-}" ]; then
		provider_stop "$PF_DIR" || true
		rm -rf "$PF_DIR"
	fi
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

# The messages at the provider for me@provider.test: $1 of them, each
# sent as that user (masquerade), logged in (AUTH), over TLS, and one
# of them matching the regular expression $2 (a line).
provider_has() {
	local files f
	files=$(provider_mail "$PF_DIR")
	[ "$(grep -c . <<<"$files")" -eq "$1" ] || return 1
	for f in $files; do
		grep -q "^Return-Path: <$PROVIDER_USER>" "$f" &&
		    grep -q "Authenticated sender: $PROVIDER_USER" "$f" &&
		    grep -Eq '^[[:space:]]+\(using TLSv1\.[23]' "$f" || {
			echo "not as the provider demands: $f" >&2
			cat "$f" >&2; return 1; }
	done
	grep -l -x -e "$2" $files | grep -q .
}

# Every TCP or UDP socket listening in the container (its own network)
# but the provider's (the test's own, from the host).
listeners() {
	sd_net ss -Hltun | grep -v ":$PROVIDER_PORT " || true
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
	# smtpsend speaks TLS through the openssl program (STARTTLS to a
	# relay or an MX): without it every TLS session fails.
	[[ ",$(dpkg-deb -f "$deb" Depends | tr -d ' ')," == *,openssl,* ]]
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

@test "deb: apt install over exim4 of the previous commit's package with preseeded answers: exim4 goes, nothing listens, sendmail is setgid, the sender's units are on; root's mail reaches the provider" {
	echo "# make deb: ${DEB_SECONDS} s; the previous commit's: ${PREV_SECONDS} s ($OLD_VERSION)" >&3
	printf '%s\n' "smtpq shared/mailname string $MAILNAME" \
	    "smtpq smtpq/relay string $RELAY_URL" \
	    "smtpq smtpq/root string $ROOT_ALIAS" >"$(CROOT /tmp/preseed)"
	sd debconf-set-selections /tmp/preseed
	local t0 t1
	t0=$(date +%s.%N)
	SD_TIMEOUT=120 deb_apt install "/debs/$OLD_DEB" \
	    >"$BATS_FILE_TMPDIR/install.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/install.out" >&2; false; }
	# What the relay question says to do next: the password in
	# /etc/smtpq/secrets (smtpsend(8)), and the sender the provider
	# takes (masquerade, as the README's null client has it).
	install -m 0600 /dev/null "$(CROOT /etc/smtpq/secrets)"
	sd chown smtpq:smtpq /etc/smtpq/secrets
	printf '%s %s %s\n' "$PROVIDER_NAME" "$PROVIDER_USER" \
	    "$PROVIDER_PASSWORD" >"$(CROOT /etc/smtpq/secrets)"
	# (the package writes the secrets line itself since 2026-12-07)
	grep -q '^secrets' "$(CROOT /etc/smtpq/smtpq.conf)" ||
	    echo 'secrets /etc/smtpq/secrets' >>"$(CROOT /etc/smtpq/smtpq.conf)"
	echo "masquerade $PROVIDER_USER" >>"$(CROOT /etc/smtpq/smtpq.conf)"
	# The first mail, at once: from sendmail to the mailbox root's
	# alias names, and to the provider.
	printf 'Subject: first\n\nhello\n' >"$(CROOT /tmp/first)"
	sd sh -c '/usr/sbin/sendmail root </tmp/first'
	wait_for maildir_count_is admin 1 || {
		sd journalctl -q -t smtpsend --no-pager >&2; false; }
	t1=$(date +%s.%N)
	WAIT_SECONDS=30 wait_for provider_has 1 hello || {
		sd journalctl -q -t smtpsend --no-pager >&2
		cat "$PF_DIR/maillog" >&2; false; }
	echo "# apt install to the first delivered mail: $(awk \
	    "BEGIN { printf \"%.2f\", $t1 - $t0 }") s, at the provider" \
	    "$(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $t0 }") s" >&3
	grep -q 'Removing exim4-daemon-light' "$BATS_FILE_TMPDIR/install.out"
	run sd dpkg-query -W -f '${Status}' exim4-daemon-light
	[[ "$output" != "install ok installed" ]]
	run sd dpkg-query -W -f '${Status} ${Version}' smtpq
	[ "$output" = "install ok installed $OLD_VERSION" ]
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
	[[ "$output" == *"relay $RELAY_URL"* ]]
	[[ "$output" == *"aliases /etc/aliases"* ]]
	grep -qx "root: $ROOT_ALIAS" "$(CROOT /etc/aliases)"
	run sd smtpqctl check
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
}

@test "deb: apt install mailutils pulls in no other MTA; mail -s t root reaches root's alias, here and at the provider" {
	SD_TIMEOUT=120 deb_apt install mailutils \
	    >"$BATS_FILE_TMPDIR/mailutils.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/mailutils.out" >&2; false; }
	# Nothing that provides mail-transport-agent but us, nothing
	# removed.
	! grep -E -i 'exim|postfix|nullmailer|msmtp|dma|sendmail-bin|Removing' \
	    "$BATS_FILE_TMPDIR/mailutils.out"
	run sd dpkg-query -W -f '${Status} ${Version}' smtpq
	[ "$output" = "install ok installed $OLD_VERSION" ]
	sd sh -c 'echo hi | mail -s t root'
	wait_for maildir_count_is admin 2
	grep -l '^Subject: t$' "$(CROOT /var/spool/smtpq-mail/admin/new)"/* |
	    grep -q .
	WAIT_SECONDS=30 wait_for provider_has 2 'Subject: t'
}

@test "deb: cron's output reaches root's alias, here and at the provider" {
	echo '* * * * * root echo from-cron' >"$(CROOT /etc/cron.d/smtpq-test)"
	chmod 644 "$(CROOT /etc/cron.d/smtpq-test)"
	WAIT_SECONDS=75 wait_for maildir_count_is admin 3
	rm -f "$(CROOT /etc/cron.d/smtpq-test)"
	grep -l '^from-cron$' "$(CROOT /var/spool/smtpq-mail/admin/new)"/* |
	    grep -q .
	WAIT_SECONDS=30 wait_for provider_has 3 from-cron
}

@test "deb: newaliases checks /etc/aliases and says what it found" {
	local n
	n=$(grep -c '^[^#[:space:]]' "$(CROOT /etc/aliases)")
	run sd newaliases
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "newaliases: /etc/aliases: $n aliases; root: $ROOT_ALIAS" ]
	[ "${lines[1]}" = "newaliases: no database to build: smtpsend reads /etc/aliases at every run" ]
	echo 'broken line' >>"$(CROOT /etc/aliases)"
	n=$(wc -l <"$(CROOT /etc/aliases)")
	run sd newaliases
	sed -i '$d' "$(CROOT /etc/aliases)"
	[ "$status" -eq 1 ]
	[[ "$output" == *"smtpsend: -A: /etc/aliases:$n: "* ]]
	[[ "$output" == *"newaliases: /etc/aliases: smtpsend would refuse it"* ]]
}

@test "deb: upgrade to this tree's package keeps a deferred message, an edited smtpq.conf and the units' state; the message leaves once the provider is back" {
	local before
	provider_stop "$PF_DIR"
	printf 'Subject: deferred\n\nfor later\n' >"$(CROOT /tmp/deferred)"
	sd sh -c "/usr/sbin/sendmail $PROVIDER_USER </tmp/deferred"
	sd systemctl start smtpsend.service || true
	queue_count_is 1
	# The sysadmin's edits (the provider's lines, made after the
	# install, and one more) and choice of receiver.
	echo 'connection-messages 5' >>"$(CROOT /etc/smtpq/smtpq.conf)"
	cp "$(CROOT /etc/smtpq/smtpq.conf)" "$BATS_FILE_TMPDIR/conf.before"
	sd systemctl enable --now smtpd.socket
	before=$(enabled_units | xargs)
	[ "$before" = "smtpsend.path smtpsend.timer smtpd.socket" ]
	SD_TIMEOUT=120 deb_apt install "/debs/$NEW_DEB" \
	    >"$BATS_FILE_TMPDIR/upgrade.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/upgrade.out" >&2; false; }
	grep -q "Unpacking smtpq ($NEW_VERSION) over ($OLD_VERSION)" \
	    "$BATS_FILE_TMPDIR/upgrade.out" || {
		cat "$BATS_FILE_TMPDIR/upgrade.out" >&2; false; }
	run sd dpkg-query -W -f '${Status} ${Version}' smtpq
	[ "$output" = "install ok installed $NEW_VERSION" ]
	queue_count_is 1
	cmp "$BATS_FILE_TMPDIR/conf.before" "$(CROOT /etc/smtpq/smtpq.conf)"
	[ "$(enabled_units | xargs)" = "$before" ]
	[ "$(prop smtpd.socket ActiveState)" = active ]
	[ "$(prop smtpsend.path ActiveState)" = active ]
	[ "$(prop smtpsend.timer ActiveState)" = active ]
	provider_start "$PF_DIR"
	sd smtpqctl flush
	WAIT_SECONDS=30 wait_for provider_has 4 'for later' || {
		sd journalctl -q -t smtpsend --no-pager >&2; false; }
	wait_for queue_count_is 0
	sd systemctl disable --now smtpd.socket
}

@test "deb: apt remove with mail in the queue: every unit stopped and disabled, no dangling link; queue, configuration and users kept" {
	provider_stop "$PF_DIR"
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
	# The kept message is for a remote domain, and so is root's copy
	# for the provider (/etc/aliases stays): with no relay they go to
	# their MX, never into a Maildir (smtpsend(8) ROUTES); the container has
	# no DNS, so they wait (4.4.3), even when flushed.
	sd smtpqctl flush
	queue_count_is 2
	[ ! -e "$(CROOT /var/spool/smtpq-mail/someone)" ]
	[ ! -e "$(CROOT /var/spool/smtpq-mail/me)" ]
	# Dealt with by hand, as an operator would, before the purge below.
	for id in $(find "$(CROOT /var/spool/smtpq/new)" -type f); do
		sd smtpqctl delete "$(basename "$id")"
	done
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

@test "deb: a preseeded relay that names a user: smtpq.conf names the secrets file, made empty 0600 smtpq, and the installer says which line to add" {
	printf '%s\n' "smtpq shared/mailname string $MAILNAME" \
	    "smtpq smtpq/relay string $RELAY_URL" >"$(CROOT /tmp/preseed)"
	sd debconf-set-selections /tmp/preseed
	SD_TIMEOUT=120 deb_apt install "/debs/$NEW_DEB" \
	    >"$BATS_FILE_TMPDIR/relay.out" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/relay.out" >&2; false; }
	grep -qx 'secrets /etc/smtpq/secrets' "$(CROOT /etc/smtpq/smtpq.conf)"
	[ "$(sd stat -c '%a %U %G %s' /etc/smtpq/secrets)" = "600 smtpq smtpq 0" ]
	grep -qx "smtpq:   $PROVIDER_NAME $PROVIDER_USER PASSWORD" \
	    "$BATS_FILE_TMPDIR/relay.out" || {
		cat "$BATS_FILE_TMPDIR/relay.out" >&2; false; }
	SD_TIMEOUT=120 deb_apt purge smtpq >/dev/null 2>&1
}
