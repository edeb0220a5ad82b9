#!/usr/bin/env bats
# DANE for direct delivery (smtpsend(8) TLS; RFC 7672):
# a zone signed by ldns-signzone, served by nsd, validated by unbound with
# the zone's key as trust anchor (tests/dns.bash), all in a network
# namespace; MX hosts are tests/fakerelay with STARTTLS and certificates
# made here.  tests/dns/daneq runs smtpsend's code: resolve_mx(),
# dane_lookup() (smtpsend/dane.c) and tls_start_dane() (smtpsend/tls.c,
# openssl s_client -dane_tlsa_rrdata); its last tests run smtpsend itself
# (-r mx) against an MX host in a second namespace.
# It runs under valgrind too (27 s of CPU there; 213 s of wall time on a
# loaded machine): dane.c and mxtls.c run under valgrind nowhere else.

load helpers
load dns

DANEQ=${DANEQ:-$BATS_TEST_DIRNAME/dns/daneq}

# Once: a CA, an end-entity certificate "ee" (self-signed, a name that is
# no MX host's: DANE-EE checks no name), "ta" (from the CA, named
# ta.dane.test) and "wrong" (from the CA, another name); their TLSA data;
# the zones, dane.test signed (with _25._tcp.bogus's record altered after
# signing: a bogus RRset), plain.test not.
setup_file() {
	local d=$BATS_FILE_TMPDIR/pki z=$BATS_FILE_TMPDIR/zones ee other ca
	mkdir -p "$d" "$z"
	(
		cd "$d" || exit 1
		key() { openssl genpkey -algorithm EC -pkeyopt \
		    ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
		key ca.key && openssl req -x509 -new -key ca.key -out ca.pem \
		    -days 2 -subj /CN=smtpq-dane-ca 2>/dev/null || exit 1
		key ee.key && openssl req -x509 -new -key ee.key -out ee.pem \
		    -days 2 -subj /CN=not-the-mx.example 2>/dev/null || exit 1
		key other.key || exit 1
		for c in ta wrong; do
			key "$c.key"
			openssl req -new -key "$c.key" -subj "/CN=$c" -out "$c.csr"
			printf 'subjectAltName=DNS:%s\n' "$([ $c = ta ] &&
			    echo ta.dane.test || echo other.test)" >"$c.ext"
			openssl x509 -req -in "$c.csr" -CA ca.pem -CAkey ca.key \
			    -CAcreateserial -out "$c.pem" -days 2 \
			    -extfile "$c.ext" && cat ca.pem >>"$c.pem"
		done >/dev/null 2>&1
	) || return 1
	spki() { openssl pkey -in "$1" -pubout -outform DER | sha256sum | cut -c1-64; }
	ee=$(spki "$d/ee.key") other=$(spki "$d/other.key")
	ca=$(openssl x509 -in "$d/ca.pem" -outform DER | sha256sum | cut -c1-64)
	cat >"$z/dane.test.zone" <<ZONE
\$ORIGIN dane.test.
\$TTL 300
@ SOA ns admin 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.2
ee MX 10 ee
ee A 198.51.100.25
_25._tcp.ee TLSA 3 1 1 $ee
eebad MX 10 eebad
eebad A 198.51.100.25
_25._tcp.eebad TLSA 3 1 1 $other
ta MX 10 ta
ta A 198.51.100.25
_25._tcp.ta TLSA 2 0 1 $ca
pkix MX 10 pkix
pkix A 198.51.100.25
_25._tcp.pkix TLSA 1 1 1 $ee
none MX 10 none
none A 198.51.100.25
bogus MX 10 bogus
bogus A 198.51.100.25
_25._tcp.bogus TLSA 3 1 1 $ee
cn MX 10 alias
alias CNAME ta
cn2 MX 10 alias2
alias2 CNAME none
_25._tcp.alias2 TLSA 3 1 1 $ee
cn3 MX 10 alias3
alias3 CNAME bogus
ZONE
	cat >"$z/plain.test.zone" <<ZONE
\$ORIGIN plain.test.
\$TTL 300
@ SOA ns admin 1 3600 600 86400 300
@ NS ns
ns A 127.0.0.2
@ MX 10 @
@ A 198.51.100.25
_25._tcp TLSA 3 1 1 $ee
ZONE
	: >"$z/anchors"
	dnssec_sign "$z" dane.test || return 1
	# An attacker's record under the zone's signature.
	sed -i "/^_25\._tcp\.bogus\.dane\.test\..*TLSA/s/$ee/$other/" \
	    "$z/dane.test.signed"
	grep -q "^_25\._tcp\.bogus\.dane\.test\..*TLSA.*$other" \
	    "$z/dane.test.signed" || return 1
	printf '%s\n' "$ee" >"$d/ee.hash"
	# One namespace, nsd and unbound for the whole file: each test
	# only reads.
	export DNS_DIR=$BATS_FILE_TMPDIR/dns
	DNSSEC_LINES=('interface: 192.0.2.53' 'access-control: 192.0.2.0/24 allow')
	dnssec_start "$z" dane.test plain.test || return 1
	export DNS_NS DNS_PID NSD_PID
	# The MX hosts live in a namespace of their own, 198.51.100.25,
	# reached over a veth pair: an address of the sender's own would be
	# "ours" to smtpsend's loop check (RFC 5321 5.1).
	MX_NS=smtpq-mx-$$
	ip netns add "$MX_NS" || return 1
	export MX_NS
	ip -n "$MX_NS" link set lo up &&
	    ip link add "dq$$" netns "$DNS_NS" type veth peer name "dm$$" \
	    netns "$MX_NS" &&
	    ip -n "$DNS_NS" addr add 198.51.100.1/24 dev "dq$$" &&
	    ip -n "$DNS_NS" link set "dq$$" up &&
	    ip -n "$MX_NS" addr add 198.51.100.25/24 dev "dm$$" &&
	    ip -n "$MX_NS" link set "dm$$" up || return 1
}

teardown_file() {
	[ -z "${MX_NS:-}" ] || ip netns del "$MX_NS"
	dns_stop
}

setup() {
	PKI=$BATS_FILE_TMPDIR/pki
}

teardown() {
	mitm_stop
	relay_stop
	[ -z "${DNS_NS:-}" ] ||
	    printf 'nameserver 127.0.0.1\n' >"/etc/netns/$DNS_NS/resolv.conf"
}

# mx CERT: the fake relay as MX host, STARTTLS with CERT, in $MX_NS.
mx() {
	local portfile="$BATS_TEST_TMPDIR/relay.port"
	rm -f "$portfile"
	# ip netns exec execs it: $! is the relay, for relay_stop.
	ip netns exec "$MX_NS" "$BATS_TEST_DIRNAME/fakerelay" --port-file "$portfile" \
	    --bind 198.51.100.25 --dir "$RELAY_DIR" --tls "$PKI/$1.pem:$PKI/$1.key" 3>&- &
	RELAY_PID=$!
	wait_for test -s "$portfile" || return 1
	RELAY_PORT=$(cat "$portfile")
}

# mx25 CERT: the same, on port 25.
mx25() {
	local portfile="$BATS_TEST_TMPDIR/relay.port"
	rm -f "$portfile"
	# ip netns exec execs it: $! is the relay, for relay_stop.
	ip netns exec "$MX_NS" "$BATS_TEST_DIRNAME/fakerelay" --port-file "$portfile" \
	    --bind 198.51.100.25 --port 25 --dir "$RELAY_DIR" --tls "$PKI/$1.pem:$PKI/$1.key" 3>&- &
	RELAY_PID=$!
	wait_for test -s "$portfile"
}

# send RCPT: one message to RCPT queued, one smtpsend run to the MX.
send() {
	NAME=$(qname)
	qmsg "$NAME" a@client.test "$1"
	run dns_exec "$SMTPSEND" -q "$Q" -n client.test -l "$LOG" -t 10s -r mx \
	    -m "$BATS_TEST_TMPDIR/maildir"
}

# No EHLO reached the relay: no SMTP went through an unverified channel.
assert_no_ehlo_through() {
	if grep -q 'C: EHLO client.test' "$RELAY_DIR/transcript" 2>/dev/null &&
	    [ "$(grep -c 'C: EHLO' "$RELAY_DIR/transcript")" -gt 1 ]; then
		cat "$RELAY_DIR/transcript" >&2
		return 1
	fi
}

@test "DANE-EE: a secure MX and a matching 3 1 1 record: verified, no name checked" {
	mx ee
	run dns_exec "$DANEQ" -p "$RELAY_PORT" ee.dane.test
	assert_status 0
	[ "${lines[0]}" = "status=ok ad=1" ]
	[ "${lines[1]}" = "host=ee.dane.test dane=required (1 usable TLSA records)" ]
	[ "${lines[2]}" = "tlsa 3 1 1 $(cat "$PKI/ee.hash")" ]
	[ "${lines[3]}" = "tls=verified" ]
}

@test "DANE-EE: a certificate no record matches fails the handshake, nothing goes through" {
	mx ee
	run dns_exec "$DANEQ" -p "$RELAY_PORT" eebad.dane.test
	assert_status 0
	[ "${lines[1]}" = "host=eebad.dane.test dane=required (1 usable TLSA records)" ]
	[[ "${lines[3]}" == "tls=failed: "* ]]
	[ ! -e "$RELAY_DIR/1.env" ]
	assert_no_ehlo_through
}

@test "DANE-TA: a chain to the 2 0 1 CA, named as the MX host: verified" {
	mx ta
	run dns_exec "$DANEQ" -p "$RELAY_PORT" ta.dane.test
	[ "${lines[1]}" = "host=ta.dane.test dane=required (1 usable TLSA records)" ]
	[ "${lines[3]}" = "tls=verified" ]
}

@test "DANE-TA: the CA's certificate for another name fails (RFC 7672 3.2.2)" {
	mx wrong
	run dns_exec "$DANEQ" -p "$RELAY_PORT" ta.dane.test
	[ "${lines[1]}" = "host=ta.dane.test dane=required (1 usable TLSA records)" ]
	[[ "${lines[3]}" == "tls=failed: "* ]]
	assert_no_ehlo_through
}

@test "DANE-TA: a certificate from no CA of the records fails" {
	mx ee
	run dns_exec "$DANEQ" -p "$RELAY_PORT" ta.dane.test
	[[ "${lines[3]}" == "tls=failed: "* ]]
}

@test "PKIX-EE records only: TLS stays mandatory, unauthenticated (RFC 7672 2.2, 3.1.3)" {
	run dns_exec "$DANEQ" pkix.dane.test
	[ "${lines[1]}" = "host=pkix.dane.test dane=encrypt (1 TLSA records, none usable: TLS required, not authenticated)" ]
	[ "${#lines[@]}" -eq 2 ]
}

@test "a secure zone without TLSA records: opportunistic TLS" {
	run dns_exec "$DANEQ" none.dane.test
	[ "${lines[0]}" = "status=ok ad=1" ]
	[ "${lines[1]}" = "host=none.dane.test dane=none (no TLSA records)" ]
}

@test "a bogus TLSA record (its signature does not verify): deferred" {
	run dns_exec "$DANEQ" bogus.dane.test
	[ "${lines[0]}" = "status=ok ad=1" ]
	[[ "${lines[1]}" == "host=bogus.dane.test dane=defer (TLSA lookup failed (bogus, or no answer): "* ]]
}

@test "an unsigned zone's TLSA records are not used: opportunistic TLS" {
	run dns_exec "$DANEQ" plain.test
	[ "${lines[0]}" = "status=ok ad=0" ]
	[ "${lines[1]}" = "host=plain.test dane=none (the MX records are not DNSSEC-signed)" ]
}

@test "the AD bit of a resolver not on loopback is believed only with options trust-ad" {
	ip netns exec "$DNS_NS" ip addr add 192.0.2.53/32 dev lo
	printf 'nameserver 192.0.2.53\n' >"/etc/netns/$DNS_NS/resolv.conf"
	run dns_exec "$DANEQ" ee.dane.test
	[ "${lines[0]}" = "status=ok ad=0" ]
	[ "${lines[1]}" = "host=ee.dane.test dane=none (the resolver is not trusted to validate (not on loopback, no options trust-ad))" ]
	printf 'nameserver 192.0.2.53\noptions trust-ad\n' >"/etc/netns/$DNS_NS/resolv.conf"
	run dns_exec "$DANEQ" ee.dane.test
	[ "${lines[0]}" = "status=ok ad=1" ]
	[ "${lines[1]}" = "host=ee.dane.test dane=required (1 usable TLSA records)" ]
}

@test "smtpqctl probe DOMAIN shows DNSSEC, the TLSA records and that DANE is required" {
	local q=$BATS_TEST_TMPDIR/q
	mkdir -p "$q"
	run dns_exec "$SMTPQCTL" -q "$q" -l - probe ee.dane.test
	assert_status 0
	[ "${lines[0]}" = "domain ee.dane.test" ]
	[ "${lines[1]}" = "mx: ok" ]
	[ "${lines[2]}" = "dnssec: signed (the resolver is trusted to validate)" ]
	[ "${lines[3]}" = "mta-sts: none" ]
	[ "${lines[5]}" = "mx 10 ee.dane.test" ]
	[ "${lines[6]}" = "    dane: required (1 usable TLSA records)" ]
	[ "${lines[7]}" = "    tlsa 3 1 1 $(cat "$PKI/ee.hash")" ]
	[ "${lines[8]}" = "    requires: tls=dane (STARTTLS, verified by the TLSA records)" ]
	run dns_exec "$SMTPQCTL" -q "$q" -l - probe bogus.dane.test
	assert_status 75
	[ "${lines[7]}" = "    requires: nothing can go: the DNSSEC lookup failed, mail is deferred" ]
	[ "${lines[8]}" = "result: no MX host can be used now: mail would wait" ]
}

@test "smtpsend: mail to a DANE domain goes over TLS verified by its TLSA records (tls=dane)" {
	mx25 ee
	send rcpt@ee.dane.test
	assert_status 0
	[ -f "$RELAY_DIR/1.eml" ]
	[ ! -e "$Q/new/$NAME" ]
	grep -q "to=<rcpt@ee.dane.test> route=mx relay=ee.dane.test\[198.51.100.25\]:25 tls=dane .*result=sent" "$LOG"
}

@test "smtpsend: a certificate no TLSA record matches: nothing sent, not even in plaintext; the mail waits" {
	mx25 ee
	send rcpt@eebad.dane.test
	assert_status 75
	[ ! -e "$RELAY_DIR/1.eml" ]
	[ -f "$Q/new/$NAME" ]
	! grep -q "MAIL FROM" "$RELAY_DIR/transcript"
	assert_no_ehlo_through
	grep -q "to=<rcpt@eebad.dane.test> .*result=deferred" "$LOG"
}

@test "smtpsend: a bogus TLSA record defers without connecting" {
	mx25 ee
	send rcpt@bogus.dane.test
	assert_status 75
	[ -f "$Q/new/$NAME" ]
	[ ! -s "$RELAY_DIR/transcript" ]
	grep -q "mx=bogus.dane.test result=skipped: 451 4.7.5 bogus.dane.test: DANE: TLSA lookup failed" "$LOG"
}

@test "smtpsend records each MX session for the TLS report: tlsrpt DAY counts DANE successes and failures by type" {
	mx25 ee
	send rcpt@ee.dane.test
	assert_status 0
	send rcpt@none.dane.test
	assert_status 0
	send rcpt@eebad.dane.test
	assert_status 75
	# The message to eebad waits its next try: this run does not count
	# its host again.
	send rcpt@bogus.dane.test
	assert_status 75
	tlsrpt_check "$Q" '[
	 {"type": "tlsa", "domain": "ee.dane.test", "ok": 1, "failed": 0, "details": []},
	 {"type": "tlsa", "domain": "eebad.dane.test", "ok": 0, "failed": 1, "details":
	  [["tlsa-invalid", "eebad.dane.test", 1]]},
	 {"type": "tlsa", "domain": "bogus.dane.test", "ok": 0, "failed": 1, "details":
	  [["dnssec-invalid", "bogus.dane.test", 1]]},
	 {"type": "no-policy-found", "domain": "none.dane.test", "ok": 1, "failed": 0, "details": []}]'
}

# No MAIL FROM reached the MX host: nothing went in plaintext.
assert_no_mail_from() {
	if grep -q 'MAIL FROM' "$RELAY_DIR/transcript" 2>/dev/null; then
		cat "$RELAY_DIR/transcript" >&2
		return 1
	fi
}

@test "a man in the middle strips STARTTLS from a DANE host: the mail waits, nothing in plaintext" {
	mx ee
	mitm_start "$MX_NS" strip 198.51.100.25 "$RELAY_PORT"
	send rcpt@ee.dane.test
	assert_status 75
	[ -f "$Q/new/$NAME" ]
	[ ! -e "$RELAY_DIR/1.eml" ]
	assert_no_mail_from
	# The attack was met: the relay saw EHLO, then the ClientHello.
	grep -q 'C: EHLO' "$RELAY_DIR/transcript"
	grep -q "relay=ee.dane.test\[198.51.100.25\]:25 result=unusable: .*STARTTLS not offered" "$LOG"
	grep -q "ee.dane.test tlsa starttls-not-supported ee.dane.test" "$Q/tlsrpt/$(date -u +%Y-%m-%d)"
}

@test "a man in the middle answers 454 to a DANE host's STARTTLS: the mail waits, nothing in plaintext" {
	mx ee
	mitm_start "$MX_NS" 454 198.51.100.25 "$RELAY_PORT"
	send rcpt@ee.dane.test
	assert_status 75
	[ -f "$Q/new/$NAME" ]
	[ ! -e "$RELAY_DIR/1.eml" ]
	assert_no_mail_from
	grep -q 'C: EHLO' "$RELAY_DIR/transcript"
	grep -q "ee.dane.test tlsa starttls-not-supported ee.dane.test" "$Q/tlsrpt/$(date -u +%Y-%m-%d)"
}

@test "a man in the middle strips STARTTLS where no policy applies: delivered in plaintext, tls=none logged" {
	mx ee
	mitm_start "$MX_NS" strip 198.51.100.25 "$RELAY_PORT"
	send rcpt@none.dane.test
	assert_status 0
	[ -f "$RELAY_DIR/1.eml" ]
	grep -q "to=<rcpt@none.dane.test> route=mx relay=none.dane.test\[198.51.100.25\]:25 tls=none .*result=sent" "$LOG"
	grep -q "none.dane.test no-policy-found success none.dane.test" "$Q/tlsrpt/$(date -u +%Y-%m-%d)"
}

@test "an MX host that is a CNAME: TLSA at the expanded name first, its name the one a DANE-TA certificate must carry (RFC 7672 2.2.2)" {
	mx25 ta
	send rcpt@cn.dane.test
	assert_status 0
	[ -f "$RELAY_DIR/1.eml" ]
	grep -q "mx=alias.dane.test dane=required: 1 usable TLSA records at the CNAME target ta.dane.test" "$LOG"
	grep -q "to=<rcpt@cn.dane.test> route=mx relay=alias.dane.test\[198.51.100.25\]:25 tls=dane .*result=sent" "$LOG"
	relay_stop
	# The target's records hold: a certificate of the CA for another
	# name does not pass.
	RELAY_DIR=$BATS_TEST_TMPDIR/relay-wrong
	mx25 wrong
	send rcpt@cn.dane.test
	assert_status 75
	[ ! -e "$RELAY_DIR/1.eml" ]
	assert_no_mail_from
}

@test "an MX host that is a CNAME to a name without TLSA records: those at its own name are used" {
	mx25 ee
	send rcpt@cn2.dane.test
	assert_status 0
	grep -q "mx=alias2.dane.test dane=required: 1 usable TLSA records$" "$LOG"
	grep -q "to=<rcpt@cn2.dane.test> route=mx relay=alias2.dane.test\[198.51.100.25\]:25 tls=dane .*result=sent" "$LOG"
}

@test "an MX host that is a CNAME to a name whose TLSA record is bogus: deferred, not a fallback to its own name" {
	mx25 ee
	send rcpt@cn3.dane.test
	assert_status 75
	[ -f "$Q/new/$NAME" ]
	[ ! -s "$RELAY_DIR/transcript" ]
	grep -q "mx=alias3.dane.test dane=defer: TLSA lookup failed" "$LOG"
}
