#!/usr/bin/env bats
# MTA-STS for direct delivery (smtpsend(8) TLS; RFC
# 8461): the TXT record from unbound (tests/dns.bash), the policy served
# over HTTPS by nginx with certificates of a CA made here, both in a
# network namespace.  tests/dns/stsq runs smtpsend's code:
# mtasts_lookup() (smtpsend/mtasts.c: TXT, cache under the queue, curl)
# and mtasts_check() per MX host.
# Under valgrind too: no other suite runs mtasts.c.

load helpers
load dns

STSQ=${STSQ:-$BATS_TEST_DIRNAME/dns/stsq}
W=$BATS_FILE_TMPDIR/www

# policy HOST TEXT: what nginx serves for mta-sts.HOST.
policy() {
	mkdir -p "$W/mta-sts.$1/.well-known"
	printf '%b' "$2" >"$W/mta-sts.$1/.well-known/mta-sts.txt"
}

# txt NAME RECORD: the TXT record of NAME becomes RECORD, at once.
txt() {
	unbound-control -c "$DNS_DIR/unbound.conf" local_data_remove "$1" >/dev/null &&
	    unbound-control -c "$DNS_DIR/unbound.conf" local_data "$1 TXT \"$2\"" >/dev/null
}

setup_file() {
	local d=$BATS_FILE_TMPDIR/pki n lines=()
	command -v nginx >/dev/null || { fail_or_skip "nginx is not installed"; return; }
	mkdir -p "$d" "$W"
	(
		cd "$d" || exit 1
		key() { openssl genpkey -algorithm EC -pkeyopt \
		    ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
		key ca.key && openssl req -x509 -new -key ca.key -out ca.pem \
		    -days 2 -subj /CN=smtpq-sts-ca 2>/dev/null || exit 1
		key web.key && openssl req -new -key web.key -out web.csr \
		    -subj /CN=mta-sts 2>/dev/null || exit 1
		printf 'subjectAltName=%s\n' "DNS:mta-sts.enforce.test,DNS:mta-sts.testing.test,DNS:mta-sts.refresh.test,DNS:mta-sts.down.test,DNS:mta-sts.redirect.test,DNS:mta-sts.bad.test,DNS:mta-sts.big.test" >web.ext
		openssl x509 -req -in web.csr -CA ca.pem -CAkey ca.key \
		    -CAcreateserial -out web.pem -days 2 -extfile web.ext \
		    2>/dev/null || exit 1
		key mx.key && openssl req -new -key mx.key -out mx.csr \
		    -subj /CN=mx.enforce.test 2>/dev/null &&
		    printf 'subjectAltName=DNS:mx.enforce.test,DNS:only.other.test\n' >mx.ext &&
		    openssl x509 -req -in mx.csr -CA ca.pem -CAkey ca.key \
		    -CAcreateserial -out mx.pem -days 2 -extfile mx.ext \
		    2>/dev/null || exit 1
		key evil.key && openssl req -x509 -new -key evil.key \
		    -out evil.pem -days 2 -subj /CN=mta-sts.evil.test \
		    -addext subjectAltName=DNS:mta-sts.evil.test 2>/dev/null
	) || return 1
	policy enforce.test 'version: STSv1\r\nmode: enforce\r\nmx: mx.enforce.test\r\nmx: *.pool.enforce.test\r\nmax_age: 86400\r\n'
	policy testing.test 'version: STSv1\nmode: testing\nmx: mx.testing.test\nmax_age: 86400\n'
	policy refresh.test 'version: STSv1\nmode: enforce\nmx: old.refresh.test\nmax_age: 86400\n'
	policy down.test 'version: STSv1\nmode: enforce\nmx: mx.down.test\nmax_age: 86400\n'
	policy evil.test 'version: STSv1\nmode: none\nmax_age: 86400\n'
	policy bad.test 'version: STSv1\nmode: enforce\nmax_age: 86400\n'
	# Valid, then padded past the 64 KiB a policy may have.
	policy big.test "version: STSv1\nmode: none\nmax_age: 86400\nx: $(head -c 70000 /dev/zero | tr '\0' a)\n"
	export DNS_DIR=$BATS_FILE_TMPDIR/dns
	for n in enforce testing refresh down redirect evil bad big; do
		lines+=("local-data: \"mta-sts.$n.test. A 127.0.0.1\""
		    "local-data: '_mta-sts.$n.test. TXT \"v=STSv1; id=1\"'")
	done
	dns_start 'local-zone: "test." static' "${lines[@]}" \
	    'local-data: "_mta-sts.other.test. TXT \"v=spf1 -all\""' \
	    'local-data: "enforce.test. MX 10 mx.enforce.test."' \
	    'local-data: "enforce.test. MX 20 backup.elsewhere.test."' \
	    'local-data: "testing.test. MX 10 mx.elsewhere.test."' \
	    'local-data: "mx.enforce.test. A 198.51.100.25"' \
	    'local-data: "backup.elsewhere.test. A 198.51.100.25"' \
	    'local-data: "bad.test. MX 10 only.other.test."' \
	    'local-data: "only.other.test. A 198.51.100.25"' \
	    'remote-control:' '  control-enable: yes' \
	    "  control-interface: $DNS_DIR/control.sock" \
	    '  control-use-cert: no' || return 1
	export DNS_NS DNS_PID
	# MX hosts in a namespace of their own (198.51.100.25 over a veth
	# pair): an address of the sender's would be "ours" to its loop check.
	MX_NS=smtpq-stsmx-$$
	ip netns add "$MX_NS" || return 1
	export MX_NS
	ip -n "$MX_NS" link set lo up &&
	    ip link add "sq$$" netns "$DNS_NS" type veth peer name "sm$$" \
	    netns "$MX_NS" &&
	    ip -n "$DNS_NS" addr add 198.51.100.1/24 dev "sq$$" &&
	    ip -n "$DNS_NS" link set "sq$$" up &&
	    ip -n "$MX_NS" addr add 198.51.100.25/24 dev "sm$$" &&
	    ip -n "$MX_NS" addr add 198.51.100.26/24 dev "sm$$" &&
	    ip -n "$MX_NS" link set "sm$$" up || return 1
	mkdir -p "$BATS_FILE_TMPDIR/nginx"
	cat >"$BATS_FILE_TMPDIR/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $BATS_FILE_TMPDIR/nginx/nginx.pid;
error_log $BATS_FILE_TMPDIR/nginx/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $BATS_FILE_TMPDIR/nginx/body;
	proxy_temp_path $BATS_FILE_TMPDIR/nginx/proxy;
	fastcgi_temp_path $BATS_FILE_TMPDIR/nginx/fastcgi;
	uwsgi_temp_path $BATS_FILE_TMPDIR/nginx/uwsgi;
	scgi_temp_path $BATS_FILE_TMPDIR/nginx/scgi;
	types { text/plain txt; }
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:443 ssl default_server;
		ssl_certificate $d/web.pem;
		ssl_certificate_key $d/web.key;
		root $W/\$host;
	}
	server {
		listen 127.0.0.1:443 ssl;
		server_name mta-sts.redirect.test;
		ssl_certificate $d/web.pem;
		ssl_certificate_key $d/web.key;
		return 301 https://mta-sts.enforce.test\$request_uri;
	}
	server {
		listen 127.0.0.1:443 ssl;
		server_name mta-sts.evil.test;
		ssl_certificate $d/evil.pem;
		ssl_certificate_key $d/evil.key;
		root $W/\$host;
	}
}
CONF
	ip netns exec "$DNS_NS" setsid nginx -c "$BATS_FILE_TMPDIR/nginx/nginx.conf" \
	    >"$BATS_FILE_TMPDIR/nginx/out" 2>&1 </dev/null 3>&- &
	NGINX_PID=$!
	export NGINX_PID
	wait_for nginx_listening ||
	    { cat "$BATS_FILE_TMPDIR/nginx/out" "$BATS_FILE_TMPDIR/nginx/error.log" >&2; return 1; }
}

nginx_listening() {
	kill -0 "$NGINX_PID" 2>/dev/null || return 1
	ip netns exec "$DNS_NS" ss -Hltn 'sport = :443' | grep -q .
}

teardown_file() {
	[ -z "${MX_NS:-}" ] || ip netns del "$MX_NS"
	if [ -n "${NGINX_PID:-}" ]; then
		kill "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	fi
	dns_stop
}

setup() {
	CA=$BATS_FILE_TMPDIR/pki/ca.pem
	# The system's CAs, for this test world: OpenSSL's default store
	# (SSL_CERT_FILE) and curl's (CURL_CA_BUNDLE) hold the test CA.
	STORE=$CA
	RELAY_CA=
	mkdir -p "$Q"
}

teardown() {
	mitm_stop
	relay_stop
}

# mx25: the fake relay as every MX host, on 198.51.100.25:25 in $MX_NS,
# STARTTLS with a certificate of the CA for mx.enforce.test and
# only.other.test.  ip netns exec execs it: $! is the relay.
mx25() {
	local portfile="$BATS_TEST_TMPDIR/relay.port" d=$BATS_FILE_TMPDIR/pki
	rm -f "$portfile"
	ip netns exec "$MX_NS" "$BATS_TEST_DIRNAME/fakerelay" \
	    --port-file "$portfile" --bind 198.51.100.25 --port 25 \
	    --dir "$RELAY_DIR" --tls "$d/mx.pem:$d/mx.key" 3>&- &
	RELAY_PID=$!
	wait_for test -s "$portfile"
}

# send RCPT: one message to RCPT queued, one smtpsend run to the MX.
send() {
	NAME=$(qname)
	qmsg "$NAME" a@client.test "$1"
	run dns_exec env SSL_CERT_FILE="$STORE" CURL_CA_BUNDLE="$STORE" \
	    "$SMTPSEND" -q "$Q" -n client.test -l "$LOG" -t 10s \
	    -r mx ${RELAY_CA:+-C "$RELAY_CA"} -m "$BATS_TEST_TMPDIR/maildir"
}

# mxset RR...: enforce.test's MX records (and more) become these, at once.
mxset() {
	unbound-control -c "$DNS_DIR/unbound.conf" local_data_remove enforce.test. >/dev/null &&
	    printf '%s\n' "$@" |
	    unbound-control -c "$DNS_DIR/unbound.conf" local_datas >/dev/null
}

sts() {
	run dns_exec env CURL_CA_BUNDLE="$STORE" "$STSQ" -q "$Q" -t 10 "$@"
	assert_status 0
}

@test "enforce: listed MX hosts are verified by name, others refused, *. is one label" {
	sts enforce.test mx.enforce.test a.pool.enforce.test a.b.pool.enforce.test pool.enforce.test other.test
	[ "${lines[0]}" = "sts=enforce id=1 max_age=86400 from=fetch" ]
	[ "${lines[1]}" = "why: fetched id 1" ]
	[ "${lines[2]}" = "mx.enforce.test verify" ]
	[ "${lines[3]}" = "a.pool.enforce.test verify" ]
	[ "${lines[4]}" = "a.b.pool.enforce.test refuse" ]
	[ "${lines[5]}" = "pool.enforce.test refuse" ]
	[ "${lines[6]}" = "other.test refuse" ]
}

@test "the policy is cached under the queue (tmp and rename) and used while the id stays" {
	sts enforce.test
	[ "${lines[0]}" = "sts=enforce id=1 max_age=86400 from=fetch" ]
	[ -f "$Q/mta-sts/enforce.test" ]
	[ "$(find "$Q/mta-sts" -type f | wc -l)" -eq 1 ]	# no tmp file left
	sts enforce.test mx.enforce.test
	[ "${lines[0]}" = "sts=enforce id=1 max_age=86400 from=cache" ]
	[ "${lines[2]}" = "mx.enforce.test verify" ]
}

@test "testing: delivery as usual, the mismatch only said" {
	sts testing.test mx.testing.test other.test
	[ "${lines[0]}" = "sts=testing id=1 max_age=86400 from=fetch" ]
	[ "${lines[2]}" = "mx.testing.test testing" ]
	[ "${lines[3]}" = "other.test testing-mismatch" ]
}

@test "a changed id fetches the policy again" {
	sts refresh.test old.refresh.test
	[ "${lines[2]}" = "old.refresh.test verify" ]
	policy refresh.test 'version: STSv1\nmode: enforce\nmx: new.refresh.test\nmax_age: 3600\n'
	sts refresh.test old.refresh.test	# same id: the cache
	[ "${lines[0]}" = "sts=enforce id=1 max_age=86400 from=cache" ]
	[ "${lines[2]}" = "old.refresh.test verify" ]
	txt _mta-sts.refresh.test. "v=STSv1; id=2"
	sts refresh.test old.refresh.test new.refresh.test
	[ "${lines[0]}" = "sts=enforce id=2 max_age=3600 from=fetch" ]
	[ "${lines[2]}" = "old.refresh.test refuse" ]
	[ "${lines[3]}" = "new.refresh.test verify" ]
}

@test "an unreachable policy host: the cached policy holds; without a cache there is none" {
	local fresh=$BATS_TEST_TMPDIR/fresh
	sts down.test mx.down.test
	[ "${lines[0]}" = "sts=enforce id=1 max_age=86400 from=fetch" ]
	# An attacker blocks the policy host and changes the id.
	unbound-control -c "$DNS_DIR/unbound.conf" local_data_remove mta-sts.down.test. >/dev/null
	unbound-control -c "$DNS_DIR/unbound.conf" local_data 'mta-sts.down.test. A 127.0.0.9' >/dev/null
	txt _mta-sts.down.test. "v=STSv1; id=2"
	sts down.test evil.down.test
	[ "${lines[0]}" = "sts=enforce id=1 max_age=86400 from=cache" ]
	[[ "${lines[1]}" == "why: fetch failed: curl failed (exit 7: the policy host refused the connection); the cached policy id 1 holds" ]]
	[ "${lines[2]}" = "evil.down.test refuse" ]
	mkdir -p "$fresh"
	run dns_exec env CURL_CA_BUNDLE="$STORE" "$STSQ" -q "$fresh" down.test mx.down.test
	[ "${lines[0]}" = "sts=none" ]
	[ "${lines[2]}" = "mx.down.test none" ]
}

@test "a policy host whose certificate does not verify gives no policy" {
	sts evil.test
	[ "${lines[0]}" = "sts=none" ]
	[ "${lines[1]}" = "why: fetch failed: curl failed (exit 60: TLS failed or the certificate is not trusted)" ]
	[ ! -e "$Q/mta-sts/evil.test" ]
}

@test "a redirect is not followed (RFC 8461 3.3)" {
	sts redirect.test
	[ "${lines[0]}" = "sts=none" ]
	[ "${lines[1]}" = "why: fetch failed: HTTP status 301, not 200" ]
}

@test "an invalid policy is not used, a non-STS TXT record is no policy" {
	sts bad.test
	[ "${lines[0]}" = "sts=none" ]
	[ "${lines[1]}" = "why: policy invalid: no mx in a policy that is not mode none" ]
	sts other.test
	[ "${lines[0]}" = "sts=none" ]
	[ "${lines[1]}" = "why: no MTA-STS policy (no TXT record)" ]
}

@test "smtpqctl probe DOMAIN shows the MX hosts, the policy and what each host requires" {
	run dns_exec env CURL_CA_BUNDLE="$STORE" "$SMTPQCTL" -q "$Q" -l - probe enforce.test
	assert_status 0
	[ "${lines[0]}" = "domain enforce.test" ]
	[ "${lines[1]}" = "mx: ok" ]
	[ "${lines[2]}" = "dnssec: not signed (the resolver is trusted to validate)" ]
	[ "${lines[3]}" = "mta-sts: mode enforce, id 1, max_age 86400, fetched" ]
	[ "${lines[4]}" = "mta-sts mx: mx.enforce.test" ]
	[ "${lines[5]}" = "mta-sts mx: *.pool.enforce.test" ]
	[ "${lines[6]}" = "mta-sts why: fetched id 1" ]
	[ "${lines[7]}" = "mx 10 mx.enforce.test" ]
	[ "${lines[8]}" = "    dane: none (the MX records are not DNSSEC-signed)" ]
	[ "${lines[9]}" = "    requires: tls=verified (STARTTLS, the certificate verified for mx.enforce.test: MTA-STS enforce)" ]
	[ "${lines[10]}" = "mx 20 backup.elsewhere.test" ]
	[ "${lines[12]}" = "    requires: not used (no mx: of the MTA-STS policy matches it)" ]
	[ "${lines[13]}" = "result: 1 of 2 MX hosts usable" ]
	[ -f "$Q/mta-sts/enforce.test" ]
	run dns_exec env CURL_CA_BUNDLE="$STORE" "$SMTPQCTL" -q "$Q" -l - probe testing.test
	assert_status 0
	[ "${lines[6]}" = "mx 10 mx.elsewhere.test" ]
	[ "${lines[8]}" = "    requires: STARTTLS when offered, unverified (MTA-STS testing: what enforce would do is logged; it would not be used)" ]
	run dns_exec "$SMTPQCTL" -q "$Q" -l - probe 'bad/name'
	assert_status 64
}

@test "smtpsend, MTA-STS enforce: mail goes to the policy's MX host over TLS verified for its name" {
	mx25
	send rcpt@enforce.test
	assert_status 0
	[ -f "$RELAY_DIR/1.eml" ]
	grep -q "to=<rcpt@enforce.test> route=mx relay=mx.enforce.test\[198.51.100.25\]:25 tls=verified .*result=sent" "$LOG"
	grep -q "domain=enforce.test mta-sts=enforce" "$LOG"
}

@test "smtpsend, MTA-STS enforce: mail whose only MX host the policy does not list waits, never connecting" {
	mx25
	# bad.test's policy is invalid: none; enforce.test's lists no
	# only.other.test, so a policy made to say so is served here.
	policy bad.test 'version: STSv1\nmode: enforce\nmx: mx.bad.test\nmax_age: 600\n'
	txt _mta-sts.bad.test. "v=STSv1; id=9"
	send rcpt@bad.test
	assert_status 75
	[ -f "$Q/new/$NAME" ]
	[ ! -s "$RELAY_DIR/transcript" ]
	grep -q "mx=only.other.test result=skipped: 451 4.7.5 only.other.test: not an MX host of bad.test's MTA-STS policy (enforce)" "$LOG"
}

@test "smtpsend records each MX session for the TLS report: an MTA-STS host with the wrong name, one verified, one the policy refuses" {
	local d=$BATS_FILE_TMPDIR/pki pf=$BATS_TEST_TMPDIR/relay26.port pid26
	mx25
	# a.pool.enforce.test matches the policy's *.pool.enforce.test, but
	# the MX certificate does not name it: a host mismatch, then the
	# next MX host takes the mail.
	mxset 'enforce.test. MX 5 a.pool.enforce.test.' \
	    'enforce.test. MX 10 mx.enforce.test.' \
	    'a.pool.enforce.test. A 198.51.100.26'
	ip netns exec "$MX_NS" "$BATS_TEST_DIRNAME/fakerelay" \
	    --port-file "$pf" --bind 198.51.100.26 --port 25 \
	    --dir "$BATS_TEST_TMPDIR/relay26" --tls "$d/mx.pem:$d/mx.key" 3>&- &
	pid26=$!
	wait_for test -s "$pf"
	send rcpt@enforce.test
	kill "$pid26"
	wait "$pid26" || true
	mxset 'enforce.test. MX 10 mx.enforce.test.' \
	    'enforce.test. MX 20 backup.elsewhere.test.'
	assert_status 0
	grep -q "to=<rcpt@enforce.test> route=mx relay=mx.enforce.test\[198.51.100.25\]:25 tls=verified .*result=sent" "$LOG"
	policy bad.test 'version: STSv1\nmode: enforce\nmx: mx.bad.test\nmax_age: 600\n'
	txt _mta-sts.bad.test. "v=STSv1; id=9"
	send rcpt@bad.test
	assert_status 75
	tlsrpt_check "$Q" '[
	 {"type": "sts", "domain": "enforce.test", "ok": 1, "failed": 1, "details":
	  [["certificate-host-mismatch", "a.pool.enforce.test", 1]]},
	 {"type": "sts", "domain": "bad.test", "ok": 0, "failed": 1, "details":
	  [["validation-failure", "only.other.test", 1]]}]'
}

# mitm MODE: the fake relay as MX host on a port of its own, and
# tests/dns/mitm.py on 198.51.100.25:25 in front of it.
mitm() {
	local portfile="$BATS_TEST_TMPDIR/relay.port" d=$BATS_FILE_TMPDIR/pki
	rm -f "$portfile"
	ip netns exec "$MX_NS" "$BATS_TEST_DIRNAME/fakerelay" \
	    --port-file "$portfile" --bind 198.51.100.25 \
	    --dir "$RELAY_DIR" --tls "$d/mx.pem:$d/mx.key" 3>&- &
	RELAY_PID=$!
	wait_for test -s "$portfile" || return 1
	mitm_start "$MX_NS" "$1" 198.51.100.25 "$(cat "$portfile")"
}

@test "MTA-STS enforce, a man in the middle strips STARTTLS or answers 454: the mail waits, nothing in plaintext" {
	local mode
	for mode in strip 454; do
		mitm "$mode"
		send rcpt@enforce.test
		assert_status 75
		[ -f "$Q/new/$NAME" ]
		[ ! -e "$RELAY_DIR/1.eml" ]
		grep -q 'C: EHLO' "$RELAY_DIR/transcript"
		if grep -q 'MAIL FROM' "$RELAY_DIR/transcript"; then
			cat "$RELAY_DIR/transcript" >&2
			return 1
		fi
		rm -f "$Q/new/$NAME"
		mitm_stop
		relay_stop
	done
	grep -q "relay=mx.enforce.test\[198.51.100.25\]:25 result=unusable: .*STARTTLS not offered" "$LOG"
	tlsrpt_check "$Q" '[{"type": "sts", "domain": "enforce.test", "ok": 0, "failed": 2, "details":
	  [["starttls-not-supported", "mx.enforce.test", 2]]}]'
}

@test "MTA-STS and -C: a relay CA alone vouches for no MX host nor policy host; the system's CAs do" {
	mx25
	# The system's CAs trust the test CA: the policy is fetched and
	# cached, the MX host verified, the mail sent (no -C needed).
	send rcpt@enforce.test
	assert_status 0
	grep -q "to=<rcpt@enforce.test> route=mx relay=mx.enforce.test\[198.51.100.25\]:25 tls=verified .*result=sent" "$LOG"
	relay_stop
	# Now the system's CAs are another set, and the test CA is only
	# smtpsend's -C, the relays' anchor: the cached policy (enforce)
	# holds, and the MX host's certificate does not verify.
	RELAY_DIR=$BATS_TEST_TMPDIR/relay2
	mx25
	STORE=$BATS_FILE_TMPDIR/pki/evil.pem RELAY_CA=$CA
	txt _mta-sts.enforce.test. "v=STSv1; id=3"
	send rcpt@enforce.test
	txt _mta-sts.enforce.test. "v=STSv1; id=1"
	assert_status 75
	[ -f "$Q/new/$NAME" ]
	if grep -q 'MAIL FROM' "$RELAY_DIR/transcript"; then
		cat "$RELAY_DIR/transcript" >&2
		return 1
	fi
	grep -q "domain=enforce.test mta-sts=enforce: fetch failed: curl failed (exit 60: TLS failed or the certificate is not trusted); the cached policy id 1 holds" "$LOG"
	grep -q "relay=mx.enforce.test\[198.51.100.25\]:25 result=unusable: .*certificate not trusted" "$LOG"
	# smtpqctl probe fetches as smtpsend does: -C is no anchor there.
	mkdir -p "$BATS_TEST_TMPDIR/fresh"
	run dns_exec env CURL_CA_BUNDLE="$STORE" "$SMTPQCTL" -q "$BATS_TEST_TMPDIR/fresh" -l - -C "$CA" probe enforce.test
	[[ "$output" == *"mta-sts why: fetch failed: curl failed (exit 60"* ]] ||
	    { printf '%s\n' "$output" >&2; return 1; }
}

@test "a policy longer than 64 KiB is not taken (RFC 8461 3.3: bounded)" {
	sts big.test
	[ "${lines[0]}" = "sts=none" ]
	[ "${lines[1]}" = "why: fetch failed: curl failed (exit 63: policy too long)" ]
	[ ! -e "$Q/mta-sts/big.test" ]
}
