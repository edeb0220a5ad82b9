#!/usr/bin/env bats
# sendmail(8) under the programs that run it: each hands a message to our
# sendmail (through a wrapper that adds the test's queue), smtpsend
# delivers it into a Maildir, and the message is checked there.

load helpers

SENDMAIL=${SENDMAIL:-$BATS_TEST_DIRNAME/../smtpd/sendmail}

setup() {
	unset REMOTE_ADDR TCPREMOTEIP
	MD=$BATS_TEST_TMPDIR/mail
	W=$BATS_TEST_TMPDIR/bin/sendmail
	mkdir -p "$BATS_TEST_TMPDIR/bin" "$MD"
	printf '#!/bin/sh\nexec "%s" -oQ"%s" "$@"\n' "$SENDMAIL" "$Q" >"$W"
	chmod 755 "$W"
	export HOME=$BATS_TEST_TMPDIR
}

teardown() {
	relay_stop
	smtpd_cleanup
}

# Delivers the queue into $MD and prints the one message for $1 (local
# part), CR removed.
delivered() {
	"$SMTPSEND" -q "$Q" -n mx.test -r local -l "$LOG" -m "$MD" >&2 || return 1
	local files=("$MD/$1"/new/*)
	[ ${#files[@]} -eq 1 ] && [ -f "${files[0]}" ] || {
		echo "no single message for $1: ${files[*]}" >&2; return 1; }
	tr -d '\r' <"${files[0]}"
}

@test "mail (bsd-mailx) sends through sendmail" {
	printf 'set sendmail=%s\n' "$W" >"$BATS_TEST_TMPDIR/mailrc"
	run bash -c 'echo "from mailx" | MAILRC="$1" mail -s "mailx test" alice@example.net' _ "$BATS_TEST_TMPDIR/mailrc"
	[ "$status" -eq 0 ]
	m=$(delivered alice)
	grep -qx 'Subject: mailx test' <<<"$m"
	grep -qx 'from mailx' <<<"$m"
}

@test "s-nail sends through sendmail" {
	run bash -c 'echo "from s-nail" | s-nail -n -S mta="$1" -s "s-nail test" bob@example.net' _ "$W"
	[ "$status" -eq 0 ]
	m=$(delivered bob)
	grep -qx 'Subject: s-nail test' <<<"$m"
	grep -qx 'from s-nail' <<<"$m"
}

@test "mutt in sendmail mode sends through sendmail" {
	run bash -c 'echo "from mutt" | mutt -n -F /dev/null -e "set sendmail=\"$1\"" -e "set from=m@example.org" -s "mutt test" carol@example.net' _ "$W"
	[ "$status" -eq 0 ]
	m=$(delivered carol)
	grep -qx 'Subject: mutt test' <<<"$m"
	grep -qx 'from mutt' <<<"$m"
}

@test "git send-email --sendmail-cmd sends a patch through sendmail" {
	repo=$BATS_TEST_TMPDIR/repo
	git init -q "$repo"
	echo change >"$repo/file"
	git -C "$repo" add file
	git -C "$repo" -c user.name=Dev -c user.email=dev@example.org \
	    commit -q -m 'a patch by mail'
	git -C "$repo" format-patch -q -1 -o "$BATS_TEST_TMPDIR/p"
	export GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.org \
	    GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.org
	run git -C "$repo" send-email --sendmail-cmd="$W" --to=dave@example.net \
	    --from=dev@example.org --confirm=never --quiet "$BATS_TEST_TMPDIR"/p/*.patch
	[ "$status" -eq 0 ]
	m=$(delivered dave)
	grep -q '^Subject: \[PATCH\] a patch by mail' <<<"$m"
	grep -qx 'From: dev@example.org' <<<"$m"
}

@test "PHP's mail() runs sendmail -t -i" {
	run php -n -d sendmail_path="$W -t -i" -r \
	    'exit(mail("erin@example.net", "php test", "from php\n.\nstill php", "From: web@example.org") ? 0 : 1);'
	[ "$status" -eq 0 ]
	m=$(delivered erin)
	grep -qx 'Subject: php test' <<<"$m"
	grep -qx 'still php' <<<"$m"
}

@test "Python's subprocess with sendmail -t -oi" {
	run python3 -c '
import subprocess, sys
msg = b"To: Frank <frank@example.net>\nBcc: grace@example.net\nSubject: python test\n\nfrom python\n.\n"
sys.exit(subprocess.run([sys.argv[1], "-t", "-oi"], input=msg).returncode)' "$W"
	[ "$status" -eq 0 ]
	m=$(delivered frank)
	grep -qx 'Subject: python test' <<<"$m"
	grep -qx '.' <<<"$m"
	[ "$(grep -ci '^Bcc:' <<<"$m")" -eq 0 ]
	g=$(ls "$MD/grace/new")
	[ -n "$g" ]
}

# cron itself: a private cron daemon in a mount namespace of its own, where
# /usr/sbin/sendmail is our wrapper and /etc/cron.d, /etc/crontab,
# /var/spool/cron and /run are empty tmpfs (the host's cron jobs and pid
# file are never seen, ours never reach the host).  The job is @reboot:
# cron runs it as it starts, since its mark /run/crond.reboot is not in
# the empty /run (a "* * * * *" job waited for the minute, 30 s on
# average); the wait stays bounded at 75 s.  The job's output
# goes to root, as cron sends it; root is aliased to a remote address,
# and smtpsend relays it there (cron mail reaching a person).
@test "cron mails a job's output to root, aliased to a remote address, at the relay" {
	CRON_TOP=$BATS_TEST_TMPDIR/cron
	mkdir -p "$CRON_TOP"
	cat >"$CRON_TOP/job" <<-EOF2
	SHELL=/bin/sh
	@reboot root echo "cron says hi from \$(id -un)"
	EOF2
	unshare -m --propagation private sh -c '
		for d in /etc/cron.d /var/spool/cron /run; do
			mount -t tmpfs smtpq-cron "$d" || exit 99
		done
		mkdir -p /var/spool/cron/crontabs
		cp "$1/job" /etc/cron.d/smtpq-test
		chmod 644 /etc/cron.d/smtpq-test
		: >"$1/crontab"
		mount --bind "$1/crontab" /etc/crontab
		mount --bind "$2" /usr/sbin/sendmail
		exec cron -f -L 15
	' _ "$CRON_TOP" "$W" >"$CRON_TOP/log" 2>&1 &
	CRON_PID=$!
	WAIT_SECONDS=$((75 * SLOWDOWN)) wait_for compgen -G "$Q/new/*"
	kill "$CRON_PID"
	wait "$CRON_PID" || true
	printf 'root: ops@remote.test\n' >"$BATS_TEST_TMPDIR/aliases"
	relay_start
	"$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MD" \
	    -A "$BATS_TEST_TMPDIR/aliases" -d "$(hostname)" \
	    -r "127.0.0.1:$RELAY_PORT" -t 10s
	grep -q ' C: RCPT TO:<ops@remote.test>' "$RELAY_DIR/transcript"
	m=$(cat "$RELAY_DIR"/*.eml | tr -d '\r')
	grep -qx 'cron says hi from root' <<<"$m"
	grep -q '^Subject: Cron <root@' <<<"$m"
	grep -q '^From: "CronDaemon" <root@' <<<"$m" ||
	    grep -q '^From: root' <<<"$m"
}

# Python's email parser (policy default) on the queued message: prints
# each address field's defects and addresses without a domain; nothing
# when all are clean.
header_defects() {
	sed '1,/^$/d' "$1" | "$PYTHON" -c '
import email, email.policy, sys
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.default)
for name in ("From", "To", "Cc", "Reply-To", "Sender"):
    for v in m.get_all(name) or []:
        for d in v.defects:
            print(name, "defect:", d)
        for a in v.addresses:
            if not a.domain:
                print(name, "no domain:", a)
'
}

@test "cron's bare names are qualified in From: and To:, nothing else touched; Python finds no defect" {
	HOST=$(uname -n)
	run bash -c 'printf "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@%s> echo To: root\nMIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nX-Cron-Env: <SHELL=/bin/sh>\n\nTo: root\nFrom: root\n" "$2" | "$1" -FCronDaemon -i -B8BITMIME -oem root' _ "$W" "$HOST"
	[ "$status" -eq 0 ]
	f=$(queued_file)
	m=$(sed '1,/^$/d' "$f" | tr -d '\r')
	grep -qx "From: root@$HOST (Cron Daemon)" <<<"$m"
	grep -qx "To: root@$HOST" <<<"$m"
	grep -qx "Subject: Cron <root@$HOST> echo To: root" <<<"$m"
	grep -qx 'X-Cron-Env: <SHELL=/bin/sh>' <<<"$m"
	# the body is never touched
	[ "$(sed '1,/^$/d' <<<"$m")" = "To: root
From: root" ]
	[ -z "$(header_defects "$f")" ]
}

@test "mailx's To: root, and Cc:, Reply-To:, Sender: shapes are qualified; groups, quotes and comments kept" {
	HOST=$(uname -n)
	printf 'set sendmail=%s\n' "$W" >"$BATS_TEST_TMPDIR/mailrc"
	run bash -c 'echo "from mailx" | MAILRC="$1" mail -s "mailx test" root' _ "$BATS_TEST_TMPDIR/mailrc"
	[ "$status" -eq 0 ]
	f=$(queued_file)
	grep -qx "To: root@$HOST"$'\r' "$f"
	[ -z "$(header_defects "$f")" ]
	rm -f "$Q"/new/*
	run bash -c 'printf "From: \"Ops, Team\" <ops>\nCc: alice, \"Bob B\" <bob>, carol@example.org, team: dave, erin (E);,\n undisclosed-recipients:;\nReply-To: help\nSender: daemon\nSubject: s\n\nx\n" | "$1" -t' _ "$W"
	[ "$status" -eq 0 ]
	f=$(queued_file)
	m=$(sed '1,/^$/d' "$f" | tr -d '\r')
	grep -qx "From: \"Ops, Team\" <ops@$HOST>" <<<"$m"
	grep -qx "Cc: alice@$HOST, \"Bob B\" <bob@$HOST>, carol@example.org, team: dave@$HOST, erin@$HOST (E);," <<<"$m"
	grep -qx ' undisclosed-recipients:;' <<<"$m"
	grep -qx "Reply-To: help@$HOST" <<<"$m"
	grep -qx "Sender: daemon@$HOST" <<<"$m"
	[ -z "$(header_defects "$f")" ]
}
