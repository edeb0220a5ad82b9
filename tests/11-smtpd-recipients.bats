#!/usr/bin/env bats
# smtpd: valid recipients at the MX (smtpd/rcptcheck.c; smtpq.conf(5)
# "maildir", "aliases", "recipients"; smtpd -D, -W, -U).  A local part of
# a local domain exists when it is postmaster, an alias name, a line of
# the recipients file or a Maildir under the root; any other is 550 5.1.1
# at RCPT.  Without any of the three, every local part is taken.

load helpers

MAIL="$BATS_TEST_TMPDIR/mail"
CONF="$BATS_TEST_TMPDIR/smtpq.conf"

setup() {
	unset REMOTE_ADDR TCPREMOTEIP
	mkdir -p "$MAIL/alice/new"
	SMTPD_FLAGS=(-F /dev/null -d ours.example -d second.example)
}

# rcpts ADDR...: a session from a network client (untrusted) with one RCPT
# for each address, then QUIT.
rcpts() {
	local cmds='EHLO c\r\nMAIL FROM:<x@far.example>\r\n' a
	for a in "$@"; do cmds+="RCPT TO:<$a>\\r\\n"; done
	REMOTE_ADDR=198.51.100.7 smtpd_session "${cmds}QUIT\\r\\n"
}

# The replies to the RCPTs only (after 220, the EHLO lines and MAIL's 250).
rcpt_replies() {
	replies | sed '1,/^250 2.1.0/d; $d'
}

@test "with a Maildir root: a Maildir's name is taken, any other local part of a local domain is 550 5.1.1" {
	SMTPD_FLAGS+=(-D "$MAIL")
	rcpts alice@ours.example bob@ours.example ALICE@second.example \
	    postmaster@ours.example Postmaster@second.example
	[ "$status" -eq 0 ]
	[ "$(rcpt_replies)" = "250 2.1.5 Ok
550 5.1.1 Error: no such user here
250 2.1.5 Ok
250 2.1.5 Ok
250 2.1.5 Ok" ]
	grep -q 'to=<bob@ours.example> result=rejected: 550 5.1.1' "$LOG"
	# no Maildir is made for the refused one
	[ ! -e "$MAIL/bob" ]
}

@test "without maildir, aliases or recipients, every local part is taken (as before)" {
	rcpts bob@ours.example nobody@second.example
	[ "$(rcpt_replies)" = "250 2.1.5 Ok
250 2.1.5 Ok" ]
}

@test "remote recipients are not checked: a trusted client relays, an untrusted one is refused as before" {
	SMTPD_FLAGS+=(-D "$MAIL")
	rcpts bob@far.example
	[ "$(rcpt_replies)" = "554 5.7.1 <bob@far.example>: Relay access denied" ]
	SMTPD_FLAGS+=(-R 198.51.100.0/24)
	rcpts bob@far.example bob@ours.example
	[ "$(rcpt_replies)" = "250 2.1.5 Ok
550 5.1.1 Error: no such user here" ]
}

@test "an alias name exists (any case); a continuation line, a comment or a target does not" {
	printf '%s\n' '# the aliases' 'root: alice, ops@far.example' \
	    'Sales : carol,' '  dave' 'team:alice' '#ghost: alice' \
	    >"$BATS_TEST_TMPDIR/aliases"
	SMTPD_FLAGS+=(-D "$MAIL" -W "$BATS_TEST_TMPDIR/aliases")
	rcpts root@ours.example sales@second.example TEAM@ours.example \
	    carol@ours.example dave@ours.example ghost@ours.example \
	    ops@ours.example
	[ "$(rcpt_replies)" = "250 2.1.5 Ok
250 2.1.5 Ok
250 2.1.5 Ok
550 5.1.1 Error: no such user here
550 5.1.1 Error: no such user here
550 5.1.1 Error: no such user here
550 5.1.1 Error: no such user here" ]
}

@test "the recipients file: a local part at every local domain, an address at its own, @domain for all of one" {
	printf '%s\n' '# who exists' 'carol' '  Dave@ours.example  ' \
	    '@second.example' '' >"$BATS_TEST_TMPDIR/rcpts"
	SMTPD_FLAGS+=(-U "$BATS_TEST_TMPDIR/rcpts")
	rcpts carol@ours.example CAROL@second.example dave@ours.example \
	    eve@ours.example anyone@second.example alice@ours.example
	[ "$(rcpt_replies)" = "250 2.1.5 Ok
250 2.1.5 Ok
250 2.1.5 Ok
550 5.1.1 Error: no such user here
250 2.1.5 Ok
550 5.1.1 Error: no such user here" ]
}

@test "smtpq.conf: maildir, aliases and recipients are smtpd's keys too; the file's lists work" {
	printf '%s\n' 'root: alice' >"$BATS_TEST_TMPDIR/aliases"
	printf '%s\n' 'carol' >"$BATS_TEST_TMPDIR/rcpts"
	printf '%s\n' "hostname mx.test" "queue $Q" "log $LOG" \
	    "domain ours.example" "maildir $MAIL" \
	    "aliases $BATS_TEST_TMPDIR/aliases" \
	    "recipients $BATS_TEST_TMPDIR/rcpts" >"$CONF"
	SMTPD_FLAGS=(-F "$CONF")
	rcpts alice@ours.example root@ours.example carol@ours.example \
	    bob@ours.example
	[ "$(rcpt_replies)" = "250 2.1.5 Ok
250 2.1.5 Ok
250 2.1.5 Ok
550 5.1.1 Error: no such user here" ]
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 0 ]
}

@test "-N: a recipients file or aliases file that cannot be read, or a root that is no directory, is 78 with its line" {
	printf '%s\n' "queue $Q" "domain ours.example" \
	    "recipients $BATS_TEST_TMPDIR/none" >"$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:3: recipients: "*"$BATS_TEST_TMPDIR/none: No such file"* ]]
	touch "$BATS_TEST_TMPDIR/file"
	printf '%s\n' "queue $Q" "maildir $BATS_TEST_TMPDIR/file" >"$CONF"
	run "$SMTPD" -F "$CONF" -N
	[ "$status" -eq 78 ]
	[[ "$output" == *"$CONF:2: maildir: "*"not a directory"* ]]
}

@test "trouble looking (a root that is a file, an unreadable list) is 451 4.3.0, never 550: the client retries" {
	touch "$BATS_TEST_TMPDIR/file"
	SMTPD_FLAGS+=(-D "$BATS_TEST_TMPDIR/file")
	rcpts alice@ours.example
	[ "$(rcpt_replies)" = "451 4.3.0 Error: local error in checking the recipient" ]
	grep -q 'result=deferred: unable to check recipients: Maildir root' "$LOG"
	SMTPD_FLAGS=(-F /dev/null -d ours.example -U "$BATS_TEST_TMPDIR/none")
	rcpts alice@ours.example
	[ "$(rcpt_replies)" = "451 4.3.0 Error: local error in checking the recipient" ]
}

@test "a link in the Maildir root is no Maildir: refused, as smtpsend would never deliver through it" {
	ln -s /tmp "$MAIL/mallory"
	SMTPD_FLAGS+=(-D "$MAIL")
	rcpts mallory@ours.example
	[ "$(rcpt_replies)" = "550 5.1.1 Error: no such user here" ]
}

@test "guessing names costs the client: unknown users count as errors and end the session" {
	SMTPD_FLAGS+=(-D "$MAIL")
	local a=() i
	for i in $(seq 1 30); do a+=("u$i@ours.example"); done
	rcpts "${a[@]}"
	replies | grep -q '^421 '
	[ "$(replies | grep -c '^550 5.1.1')" -lt 30 ]
}

@test "smtpsend makes the Maildir root 0710: the receivers' group may look a name up, not list it" {
	rm -rf "$MAIL"
	SMTPD_FLAGS=(-F /dev/null -d ours.example)
	smtpd_session 'HELO c\r\nMAIL FROM:<x@far.example>\r\nRCPT TO:<alice@ours.example>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n'
	assert_reply 6 '250 2.0.0'
	run "$SMTPSEND" -F /dev/null -q "$Q" -l "$LOG" -m "$MAIL" -d ours.example
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$MAIL")" = 710 ]
	[ "$(stat -c %a "$MAIL/alice")" = 700 ]
}
