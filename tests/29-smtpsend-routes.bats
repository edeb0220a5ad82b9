#!/usr/bin/env bats
# Routes (smtpsend(8) ROUTES: local, relay, or the recipient's MX, with
# safe defaults): each recipient is local (-d, the
# host's own name, localhost), or goes where the first route (-R) of its
# domain, the first route-sender (-S) of its sender's domain, the relay
# (-r) or else its MX says.  A remote address never lands in a Maildir
# unless a route says so.

load helpers
load dns

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
}

teardown() {
	relay_stop
	if [ -n "${RELAY2_PID:-}" ]; then
		kill "$RELAY2_PID" 2>/dev/null || true
		wait "$RELAY2_PID" 2>/dev/null || true
	fi
	dns_stop
}

# route ADDRESS FLAGS...: what smtpsend -V prints for ADDRESS.
route() {
	local a=$1
	shift
	run "$SMTPSEND" -F /dev/null -n mx.test "$@" -V "$a"
}

@test "without a relay a remote recipient is not written into a Maildir: it waits for its MX (DNS fails: deferred 4.4.3)" {
	local name
	name=$(qname)
	qmsg "$name" a@src.test x@remote.test
	# A namespace whose only DNS server never answers for remote.test.
	dns_start 'local-zone: "remote.test." deny'
	run dns_exec "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" \
	    -t 3s
	assert_status 75
	[ ! -e "$MAILDIR/x" ]
	[ -f "$Q/new/$name" ]
	grep -q "to=<x@remote.test> .*result=deferred: 451 4\.4\.3 " "$LOG"
}

@test "the host's own name and localhost are local without -d: root's alias works on a null client" {
	local a=$BATS_TEST_TMPDIR/aliases
	printf 'root: me@provider.test\n' >"$a"
	qmsg "$(qname 0 1)" cron@mx.test root@mx.test
	qmsg "$(qname 0 2)" cron@mx.test u@localhost
	relay_start
	smtpsend_run -m "$MAILDIR" -A "$a"
	assert_status 0
	grep -q ' C: RCPT TO:<me@provider.test>' "$RELAY_DIR/transcript"
	refute grep -q 'RCPT TO:<root@' "$RELAY_DIR/transcript"
	refute grep -q 'RCPT TO:<u@localhost>' "$RELAY_DIR/transcript"
	[ "$(count_files "$MAILDIR/u/new")" -eq 1 ]
}

@test "-V: route patterns, exact, .sub and *, the first match wins; targets a URL, mx, local" {
	local r=(-R '.corp.test smtp+tls://in.corp.test' -R 'x.test local'
	    -R 'y.test mx' -R '* 127.0.0.1:2')
	route a@sub.corp.test "${r[@]}" -r 127.0.0.1:1
	[ "$output" = "a@sub.corp.test: relay in.corp.test:587" ]
	route a@deep.sub.corp.test "${r[@]}"
	[ "$output" = "a@deep.sub.corp.test: relay in.corp.test:587" ]
	# .corp.test is its subdomains only, as Postfix reads it
	route a@corp.test "${r[@]}"
	[ "$output" = "a@corp.test: relay 127.0.0.1:2" ]
	route a@X.Test "${r[@]}"
	[ "$output" = "a@X.Test: local" ]
	route a@y.test "${r[@]}" -r 127.0.0.1:1
	[ "$output" = "a@y.test: mx y.test" ]
	route a@other.test -r 127.0.0.1:1
	[ "$output" = "a@other.test: relay 127.0.0.1:1" ]
	route a@other.test
	[ "$output" = "a@other.test: mx other.test" ]
	route a@other.test -r mx
	[ "$output" = "a@other.test: mx other.test" ]
	route a@other.test -r local
	[ "$output" = "a@other.test: local" ]
	route a@other.test -d other.test -r 127.0.0.1:1
	[ "$output" = "a@other.test: local" ]
	route root
	[ "$output" = "root@mx.test: local" ]
	route a@LocalHost -r 127.0.0.1:1
	[ "$output" = "a@LocalHost: local" ]
}

@test "bad routes are usage errors: a bad pattern, no target, -r mx beside a URL" {
	route a@b.test -R 'b.test mx' -S '.b.test 127.0.0.1:1'
	assert_status 0
	route a@b.test -R 'bad..test mx'
	assert_status 64
	route a@b.test -R 'b.test'
	assert_status 64
	route a@b.test -R 'b.test mx extra'
	assert_status 64
	route a@b.test -r mx -r 127.0.0.1:1
	assert_status 64
	route a@b.test -r 127.0.0.1:1 -r local
	assert_status 64
	route a@b.test -S 'b.test mx'
	assert_status 64
}

@test "route and route-sender in smtpq.conf; smtpqctl route prints the route" {
	printf 'hostname mx.test\nqueue %s\nroute .corp.test local\nroute * mx\nroute-sender b.test 127.0.0.1:9\nrelay 127.0.0.1:8\n' \
	    "$Q" >"$BATS_TEST_TMPDIR/smtpq.conf"
	run "$SMTPSEND" -F "$BATS_TEST_TMPDIR/smtpq.conf" -V a@in.corp.test
	[ "$output" = "a@in.corp.test: local" ]
	SMTPQCTL_SMTPSEND=$SMTPSEND run "$SMTPQCTL" \
	    -F "$BATS_TEST_TMPDIR/smtpq.conf" route a@far.test
	assert_status 0
	[ "$output" = "a@far.test: mx far.test" ]
}

@test "a route to local or to another relay, per recipient domain, in one message" {
	local port1
	relay_start
	port1=$RELAY_PORT
	# A second fake relay for corp.test.
	"$BATS_TEST_DIRNAME/fakerelay" --port-file "$BATS_TEST_TMPDIR/r2.port" \
	    --dir "$BATS_TEST_TMPDIR/relay2" 3>&- &
	RELAY2_PID=$!
	wait_for test -s "$BATS_TEST_TMPDIR/r2.port"
	qmsg "$(qname)" a@src.test x@dst.test u@here.test b@corp.test
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" -t 10s \
	    -r "127.0.0.1:$port1" -R 'here.test local' \
	    -R "corp.test 127.0.0.1:$(cat "$BATS_TEST_TMPDIR/r2.port")"
	assert_status 0
	[ "$(count_files "$MAILDIR/u/new")" -eq 1 ]
	grep -q ' C: RCPT TO:<x@dst.test>' "$RELAY_DIR/transcript"
	refute grep -q 'RCPT TO:<b@corp.test>' "$RELAY_DIR/transcript"
	grep -q ' C: RCPT TO:<b@corp.test>' "$BATS_TEST_TMPDIR/relay2/transcript"
	refute grep -q 'RCPT TO:<x@dst.test>' "$BATS_TEST_TMPDIR/relay2/transcript"
}

@test "route-sender: the smarthost is chosen by the sender's domain, each with its own credentials" {
	local port1
	relay_start
	port1=$RELAY_PORT
	"$BATS_TEST_DIRNAME/fakerelay" --port-file "$BATS_TEST_TMPDIR/r2.port" \
	    --dir "$BATS_TEST_TMPDIR/relay2" 3>&- &
	RELAY2_PID=$!
	wait_for test -s "$BATS_TEST_TMPDIR/r2.port"
	qmsg "$(qname 0 1)" me@one.test x@dst.test
	qmsg "$(qname 0 2)" me@two.test y@dst.test
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" -t 10s \
	    -r "127.0.0.1:$port1" \
	    -S "two.test 127.0.0.1:$(cat "$BATS_TEST_TMPDIR/r2.port")"
	assert_status 0
	grep -q ' C: RCPT TO:<x@dst.test>' "$RELAY_DIR/transcript"
	refute grep -q 'RCPT TO:<y@dst.test>' "$RELAY_DIR/transcript"
	grep -q ' C: RCPT TO:<y@dst.test>' "$BATS_TEST_TMPDIR/relay2/transcript"
	# A user in a route-sender URL needs its own password from -a.
	run "$SMTPSEND" -q "$Q" -n mx.test -l - -r "127.0.0.1:$port1" \
	    -S 'two.test smtp+tls://me@two.test@smtp.two.test'
	assert_status 78
	[[ $output == *"smtp.two.test:587: user me@two.test, but no -a file"* ]]
	printf 'smtp.one.test me@one.test pw1\n' >"$BATS_TEST_TMPDIR/secrets"
	chmod 600 "$BATS_TEST_TMPDIR/secrets"
	run "$SMTPSEND" -q "$Q" -n mx.test -l - -r "127.0.0.1:$port1" \
	    -a "$BATS_TEST_TMPDIR/secrets" \
	    -S 'two.test smtp+tls://me@two.test@smtp.two.test'
	assert_status 78
	[[ $output == *"smtp.two.test"* ]]
}

@test "-r local delivers every recipient into a Maildir (the demo of make run)" {
	qmsg "$(qname)" a@src.test x@remote.test
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -m "$MAILDIR" -r local
	assert_status 0
	[ "$(count_files "$MAILDIR/x/new")" -eq 1 ]
	grep -q 'run:.*-r local' "$BATS_TEST_DIRNAME/../Makefile" ||
	    grep -q -- '-r local) & sender' "$BATS_TEST_DIRNAME/../Makefile"
}
