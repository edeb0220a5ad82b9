#!/usr/bin/env bats
# sendmail(8) setgid to the queue group: an ordinary user, made by the
# test, submits mail, and can neither read, change nor delete queued mail,
# nor put a file of its own into new/.  Needs root (useradd).
#
# The plain build only: neither LeakSanitizer nor valgrind can run in a
# setgid (non-dumpable) process; 70-sendmail.bats runs the same code
# under both.
# tests/run: once novalgrind

load helpers

SENDMAIL=$BATS_TEST_DIRNAME/../smtpd/sendmail

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to make a user"
	TAG=$(printf 'smq%05d%04d' $$ $((RANDOM % 10000)))
	USR=${TAG}u GRP=${TAG}g OWNER=${TAG}o
	groupadd "$GRP"
	useradd -M -N -g nogroup -d /nonexistent -s /usr/sbin/nologin \
	    -c 'Plain User,,,' "$USR"
	useradd -M -N -g "$GRP" -d /nonexistent -s /usr/sbin/nologin "$OWNER"
	# A place the user can reach (the bats tmpdir is root's alone).
	TOP=$(mktemp -d /tmp/smtpq-priv.XXXXXX)
	chmod 755 "$TOP"
	cp "$SENDMAIL" "$TOP/sendmail"
	chown "root:$GRP" "$TOP/sendmail"
	chmod 2755 "$TOP/sendmail"
	Q=$TOP/queue
	mkdir -m 750 "$Q"
	mkdir -m 770 "$Q/tmp" "$Q/new"
	mkdir -m 750 "$Q/failed"
	chown -R "$OWNER:$GRP" "$Q"
}

teardown() {
	rm -rf "$TOP"
	userdel "$USR" 2>/dev/null || true
	userdel "$OWNER" 2>/dev/null || true
	groupdel "$GRP" 2>/dev/null || true
}

# Runs "$@" as the plain user (no supplementary groups).
as_user() {
	run setpriv --reuid="$USR" --regid=nogroup --clear-groups -- "$@"
}

# The same, with $Q as /var/spool/smtpq, sendmail's built-in queue (-oQ
# would give the group up): in a mount namespace of its own, on a tmpfs
# over /var/spool there, so the host's spool is never touched.
submit_as_user() {
	run unshare -m sh -c '
		mount -t tmpfs smtpq-test /var/spool || exit 99
		mkdir /var/spool/smtpq && mount --bind "$1" /var/spool/smtpq ||
		    exit 99
		shift
		exec setpriv --reuid="$0" --regid=nogroup --clear-groups -- "$@"
	' "$USR" "$Q" "$@"
}

@test "a user made by the test submits mail through the setgid sendmail" {
	submit_as_user sh -c 'printf "Subject: mine\n\nhello\n" | "$1" a@example.net' _ "$TOP/sendmail"
	[ "$status" -eq 0 ]
	f=$(queued_file)
	[ "$(stat -c '%U %G %a' "$f")" = "$USR $GRP 660" ]
	grep -qx "From: <$USR@$(uname -n)>" "$f"
	grep -q "from userid $(id -u "$USR"), user $USR)" "$f"
	grep -q '^From: "Plain User" <' "$f"
}

@test "the setgid sendmail reads no smtpq.conf a user names (SMTPQ_CONF): its queue and name stay the installed ones" {
	mkdir -m 777 "$TOP/mine"
	mkdir -m 777 "$TOP/mine/tmp" "$TOP/mine/new"
	printf 'hostname evil.example\nqueue %s\n' "$TOP/mine" >"$TOP/mine.conf"
	chmod 644 "$TOP/mine.conf"
	submit_as_user sh -c 'printf "x\n" | SMTPQ_CONF=$2 "$1" a@example.net' _ "$TOP/sendmail" "$TOP/mine.conf"
	[ "$status" -eq 0 ]
	f=$(queued_file)
	grep -qx "From: <$USR@$(uname -n)>" "$f"
	[ "$(count_files "$TOP/mine/new")" -eq 0 ]
}

@test "a user's 101st message in an hour is 75 with a clear line; root has no such budget" {
	submit_as_user sh -c 'i=0; while [ $i -lt 100 ]; do printf "x\n" | "$1" a@example.net || exit 1; i=$((i + 1)); done; printf "x\n" | "$1" a@example.net' _ "$TOP/sendmail"
	[ "$status" -eq 75 ]
	[[ "$output" == *"sendmail: too much mail: uid $(id -u "$USR") has queued 100 messages, "*" octets this hour; the limit is 100 messages, 52428800 octets an hour; try again later"* ]]
	[ "$(count_files "$Q/new")" -eq 100 ]
	for i in 1 2 3; do
		run sh -c 'printf "x\n" | "$1" -oQ"$2" a@example.net' _ "$TOP/sendmail" "$Q"
		[ "$status" -eq 0 ]
	done
}

@test "-f changes the envelope sender, never the uid in Received:" {
	submit_as_user sh -c 'printf "x\n" | "$1" -f boss@example.org a@example.net' _ "$TOP/sendmail"
	[ "$status" -eq 0 ]
	f=$(queued_file)
	grep -qx 'From: <boss@example.org>' "$f"
	grep -q "from userid $(id -u "$USR"), user $USR)" "$f"
}

@test "the user cannot list, read, change or delete queued mail" {
	printf 'Subject: secret\n\nfor root\n' | "$TOP/sendmail" -oQ"$Q" b@example.net
	submit_as_user sh -c 'printf "x\n" | "$1" a@example.net' _ "$TOP/sendmail"
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 2 ]
	for f in "$Q"/new/*; do
		as_user cat "$f"
		[ "$status" -ne 0 ]
		as_user sh -c 'echo more >>"$1"' _ "$f"
		[ "$status" -ne 0 ]
		as_user rm -f "$f"
		[ "$status" -ne 0 ]
		as_user mv "$f" "$Q/failed/"
		[ "$status" -ne 0 ]
		[ -f "$f" ]
	done
	as_user ls "$Q/new"
	[ "$status" -ne 0 ]
	# nor through sendmail: mailq and -oQ run with the user's own rights
	submit_as_user "$TOP/sendmail" -bp
	[[ "$output" != *"b@example.net"* ]]
	as_user sh -c 'printf "x\n" | "$1" -oQ"$2" a@example.net' _ "$TOP/sendmail" "$Q"
	[ "$status" -eq 75 ]
	[ "$(count_files "$Q/new")" -eq 2 ]
	grep -q 'for root' "$Q"/new/*
}

@test "a hard link to the setgid sendmail beside the user's own smtpd runs nothing of the user's" {
	# The link's directory is the user's; /proc/self/exe would point
	# there.  Only the compiled-in SBINDIR/smtpd may run.
	mkdir -m 777 "$TOP/own"
	ln "$TOP/sendmail" "$TOP/own/sendmail"
	printf '#!/bin/sh\nid -g >%s/own/ran\n' "$TOP" >"$TOP/own/smtpd"
	chmod 755 "$TOP/own/smtpd"
	submit_as_user sh -c '"$1" -bs </dev/null' _ "$TOP/own/sendmail"
	[ ! -e "$TOP/own/ran" ]
	[[ "$output" != *"$TOP/own"* ]]
}

@test "run by root, sendmail queues as the queue's owner; Received: still names root" {
	run sh -c 'printf "Subject: r\n\nx\n" | "$1" -oQ"$2" a@example.net' _ "$TOP/sendmail" "$Q"
	[ "$status" -eq 0 ]
	f=$(queued_file)
	[ "$(stat -c '%U %G' "$f")" = "$OWNER $GRP" ]
	grep -q "from userid 0, user root)" "$f"
}

@test "run by root, sendmail refuses a queue whose tmp/ is a link, and writes nothing through it" {
	mkdir -m 700 "$TOP/rootonly"
	rmdir "$Q/tmp"
	ln -s "$TOP/rootonly" "$Q/tmp"
	chown -h "$OWNER:$GRP" "$Q/tmp"
	run sh -c 'printf "x\n" | "$1" -oQ"$2" a@example.net' _ "$TOP/sendmail" "$Q"
	[ "$status" -eq 75 ]
	[ "$(count_files "$TOP/rootonly")" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
}

@test "run by root, mailq reads the queue with the owner's rights only" {
	printf 'From: <s@example.org>\nTo: <rootonly@example.org>\n\nx\n' >"$Q/new/1.M1P1.rootonly"
	chmod 600 "$Q/new/1.M1P1.rootonly"
	run "$TOP/sendmail" -bp -oQ"$Q"
	[[ "$output" == *"1.M1P1.rootonly  unreadable: Permission denied"* ]]
	[[ "$output" != *"rootonly@example.org"* ]]
}

@test "the user cannot drop a file of its own into new/ or tmp/" {
	as_user sh -c 'printf "From: <x>\nTo: <y@z>\n\n" >"$1/new/forged"' _ "$Q"
	[ "$status" -ne 0 ]
	as_user sh -c 'printf "junk" >"$1/tmp/forged"' _ "$Q"
	[ "$status" -ne 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "the queue's owner defers a user's message with its next try set" {
	submit_as_user sh -c 'printf "x\n" | "$1" a@example.net' _ "$TOP/sendmail"
	[ "$status" -eq 0 ]
	port=$(free_port)
	# The plain smtpsend, as the header says: under tests/run valgrind:
	# $SMTPSEND is a wrapper whose log directory the owner cannot write.
	run setpriv --reuid="$OWNER" --regid="$GRP" --clear-groups -- \
	    "$BATS_TEST_DIRNAME/../smtpsend/smtpsend" -q "$Q" -n mx.test -l - -r "127.0.0.1:$port" -t 5
	[ "$status" -eq 75 ]
	[[ "$output" != *"unable to set next try"* ]]
	f=$(queued_file)
	[ "$(stat -c %Y "$f")" -gt "$(date +%s)" ]
	[ "$(stat -c %U "$f")" = "$OWNER" ]
}

@test "make install puts sendmail setgid to the queue group, mailq beside it" {
	dest=$TOP/dest
	run make -s -C "$BATS_TEST_DIRNAME/.." -o all DESTDIR="$dest" \
	    PREFIX=/usr/local QUEUE_GROUP="$GRP" install
	[ "$status" -eq 0 ]
	[ "$(stat -c '%G %a' "$dest/usr/local/sbin/sendmail")" = "$GRP 2755" ]
	[ "$(readlink "$dest/usr/local/sbin/mailq")" = sendmail ]
	grep -qx /usr/local/sbin/sendmail "$dest/usr/local/share/smtpq/installed"
	run make -s -C "$BATS_TEST_DIRNAME/.." DESTDIR="$dest" install-sendmail
	[ "$status" -eq 0 ]
	[ "$(readlink "$dest/usr/sbin/sendmail")" = /usr/local/sbin/sendmail ]
	[ "$(readlink "$dest/usr/bin/mailq")" = /usr/local/sbin/mailq ]
	run make -s -C "$BATS_TEST_DIRNAME/.." DESTDIR="$dest" uninstall-sendmail
	[ ! -e "$dest/usr/sbin/sendmail" ]
	[ ! -L "$dest/usr/bin/mailq" ]
	run make -s -C "$BATS_TEST_DIRNAME/.." DESTDIR="$dest" PREFIX=/usr/local uninstall
	[ "$status" -eq 0 ]
	[ ! -e "$dest/usr/local/sbin/sendmail" ]
	[ ! -L "$dest/usr/local/sbin/mailq" ]
}
