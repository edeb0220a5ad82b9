#!/usr/bin/env bats
# DKIM signing in smtpsend (smtpsend(8) DKIM; smtpsend/signq.c):
# our own mail (sendmail, a trusted or authenticated smtpd client) whose
# From: domain has "dkim DOMAIN SELECTOR KEYFILE" lines is signed once,
# before its first attempt, the signature kept in the queue file; mail
# from outside is not.  What tests/fakerelay received is checked by two
# verifiers we did not write, dkimpy and Mail::DKIM, which look the key
# up in DNS (unbound in a namespace: tests/dns.bash).

load helpers
load dns
load tls

SENDMAIL=${SENDMAIL:-$BATS_TEST_DIRNAME/../smtpd/sendmail}
SMTPQCTL=${SMTPQCTL:-$BATS_TEST_DIRNAME/../smtpsend/smtpqctl}
QSIGN=${QSIGN:-$BATS_TEST_DIRNAME/sign/qsign}

setup_file() {
	export KEYS="$BATS_FILE_TMPDIR/keys"
	mkdir -p "$KEYS"
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$KEYS/rsa.pem" 2>/dev/null
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$KEYS/other.pem" 2>/dev/null
	openssl genpkey -algorithm ed25519 -out "$KEYS/ed.pem"
	chmod 600 "$KEYS"/*.pem
	printf 'v=DKIM1; k=rsa; p=%s' "$(openssl pkey -in "$KEYS/rsa.pem" \
	    -pubout -outform DER | base64 -w0)" >"$KEYS/rsa.txt"
	printf 'v=DKIM1; k=ed25519; p=%s' "$(openssl pkey -in "$KEYS/ed.pem" \
	    -pubout -outform DER | tail -c 32 | base64 -w0)" >"$KEYS/ed.txt"
}

txt_strings() {
	local s=$1 out=""
	while [ -n "$s" ]; do
		out+="\"${s:0:255}\" "
		s=${s:255}
	done
	printf '%s' "$out"
}

setup() {
	unset REMOTE_ADDR TCPREMOTEIP REMOTE_HOST
	smtpsend_setup
	SMTPD_FLAGS=()
	DKIM_RSA=(-D "example.test rsa $KEYS/rsa.pem")
	DKIM_BOTH=("${DKIM_RSA[@]}" -D "example.test ed $KEYS/ed.pem")
	BODY=$'From: Alice <alice@example.test>\r\nTo: bob@example.org\r\nSubject: signed\r\nDate: Sun, 6 Dec 2026 15:00:00 +0000\r\nMessage-ID: <1@example.test>\r\n\r\nHello.\r\n'
}

teardown() {
	smtpsend_teardown
	smtpd_cleanup
	dns_stop
}

dns_up() {
	dns_start 'local-zone: "example.test." static' \
	    "local-data: 'rsa._domainkey.example.test. TXT $(txt_strings "$(cat "$KEYS/rsa.txt")")'" \
	    "local-data: 'ed._domainkey.example.test. TXT $(txt_strings "$(cat "$KEYS/ed.txt")")'"
}

# Every signature of message file $1, by dkimpy: one verdict a line.
dkimpy_verify() {
	dns_exec "$PYTHON" -c '
import dkim, sys
m = open(sys.argv[1], "rb").read()
n = sum(1 for h in dkim.rfc822_parse(m)[0] if h[0].lower() == b"dkim-signature")
for i in range(n):
    print("ok" if dkim.DKIM(m).verify(idx=i) else "fail")' "$1"
}

# Mail::DKIM's verdicts on $1, in one line.
perl_verify() {
	dns_exec perl -MMail::DKIM::Verifier -e '
		my $v = Mail::DKIM::Verifier->new();
		local $/; my $m = <STDIN>; $m =~ s/\r?\n/\r\n/g;
		$v->PRINT($m); $v->CLOSE();
		print join(" ", map { $_->result } $v->signatures), "\n";' \
	    <"$1" 2>/dev/null
}

# The DKIM-Signature fields of message file $1, as they stand.
signatures() {
	awk '/^\r?$/ { exit } /^[^ \t]/ { sig = /^DKIM-Signature:/ } sig' "$1"
}

# The message part of a queue file (its envelope ends at the first LF).
queued_message() {
	sed '1,/^$/d' "$1"
}

@test "mail from sendmail is delivered signed (RSA and Ed25519); both verifiers pass it" {
	printf '%s' "$BODY" | tr -d '\r' | "$SENDMAIL" -oQ"$Q" -f alice@example.test bob@example.org
	grep -qx 'Origin: local' "$(queued_file)"
	relay_start
	smtpsend_run "${DKIM_BOTH[@]}"
	[ "$status" -eq 0 ]
	log_has "$LOG" 'dkim=example.test selector=rsa,ed result=signed'
	[ "$(grep -c '^DKIM-Signature:' "$RELAY_DIR/1.eml")" -eq 2 ]
	dns_up
	run dkimpy_verify "$RELAY_DIR/1.eml"; echo "dkimpy: $output"
	[ "$output" = $'ok\nok' ]
	# Debian 12's Mail::DKIM knows no Ed25519 (tests/29-dkim-sign).
	run perl_verify "$RELAY_DIR/1.eml"
	[ "$output" = "pass invalid" ]
}

@test "mail from a trusted smtpd client is delivered signed and verifies" {
	SMTPD_FLAGS=(-R 192.0.2.0/24)
	REMOTE_ADDR=192.0.2.9 smtpd_session "EHLO c\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n${BODY//$'\r\n'/\\r\\n}.\r\nQUIT\r\n"
	grep -qx 'Origin: trusted' "$(queued_file)"
	relay_start
	smtpsend_run "${DKIM_RSA[@]}"
	[ "$status" -eq 0 ]
	dns_up
	run dkimpy_verify "$RELAY_DIR/1.eml"; echo "dkimpy: $output"
	[ "$output" = "ok" ]
	run perl_verify "$RELAY_DIR/1.eml"
	[ "$output" = "pass" ]
}

@test "mail from an authenticated smtpd client is delivered signed and verifies" {
	passwd_make
	SMTPD_FLAGS=(-E -A "$CHECKPASSWORD,$PASSWD")
	REMOTE_HOST=192.0.2.7 smtpd_session "EHLO c\r\nAUTH PLAIN $(printf '\0alice\0s3cret' | base64 -w0)\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n${BODY//$'\r\n'/\\r\\n}.\r\nQUIT\r\n"
	grep -qx 'Origin: auth' "$(queued_file)"
	relay_start
	smtpsend_run "${DKIM_RSA[@]}"
	[ "$status" -eq 0 ]
	dns_up
	run dkimpy_verify "$RELAY_DIR/1.eml"; echo "dkimpy: $output"
	[ "$output" = "ok" ]
	run perl_verify "$RELAY_DIR/1.eml"
	[ "$output" = "pass" ]
}

@test "mail from outside, with our From: domain, arrives unsigned" {
	SMTPD_FLAGS=(-d example.org)
	REMOTE_ADDR=198.51.100.1 smtpd_session "EHLO c\r\nMAIL FROM:<alice@example.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n${BODY//$'\r\n'/\\r\\n}.\r\nQUIT\r\n"
	replies | grep -q '^250 2.0.0 Ok: queued'
	refute grep -q '^Origin:' "$(queued_file)"
	# example.org is local to smtpd, not to smtpsend: it goes to the relay
	relay_start
	smtpsend_run "${DKIM_RSA[@]}"
	[ "$status" -eq 0 ]
	[ -f "$RELAY_DIR/1.eml" ]
	refute grep -qi '^DKIM-Signature:' "$RELAY_DIR/1.eml"
	refute grep -q 'result=signed' "$LOG"
}

@test "an aliased (forwarded) message is not signed, though it kept its Origin" {
	ENVELOPE_EXTRA=$'Origin: local\nAliased: root' qmsg "$(qname)" alice@example.test bob@example.org
	relay_start
	smtpsend_run "${DKIM_RSA[@]}"
	[ "$status" -eq 0 ]
	refute grep -qi '^DKIM-Signature:' "$RELAY_DIR/1.eml"
}

@test "a From: domain without a dkim line is sent unsigned" {
	BODY=${BODY//alice@example.test/alice@example.net}
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname)" alice@example.net bob@example.org
	relay_start
	smtpsend_run "${DKIM_RSA[@]}"
	[ "$status" -eq 0 ]
	refute grep -qi '^DKIM-Signature:' "$RELAY_DIR/1.eml"
}

@test "deferred at its first attempt, delivered at its third: the same signature, byte for byte" {
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname)" alice@example.test bob@example.org
	relay_start --dot '451 4.3.0 try later' --dot '451 4.3.0 try later' \
	    --dot '250 2.0.0 ok'
	smtpsend_run "${DKIM_RSA[@]}"
	[ "$status" -eq 75 ]
	f=$(queued_file)
	grep -qx 'Signed: yes' "$f"
	queued_message "$f" >"$BATS_TEST_TMPDIR/queued"
	signatures "$BATS_TEST_TMPDIR/queued" >"$BATS_TEST_TMPDIR/first"
	[ -s "$BATS_TEST_TMPDIR/first" ]
	# Another key in the same file now: signing again would change b=.
	cat "$KEYS/other.pem" >"$BATS_TEST_TMPDIR/rsa.pem"
	chmod 600 "$BATS_TEST_TMPDIR/rsa.pem"
	cp "$KEYS/rsa.pem" "$BATS_TEST_TMPDIR/orig.pem"
	smtpsend_run -f -D "example.test rsa $BATS_TEST_TMPDIR/rsa.pem"
	[ "$status" -eq 75 ]
	smtpsend_run -f -D "example.test rsa $BATS_TEST_TMPDIR/rsa.pem"
	[ "$status" -eq 0 ]
	[ "$(count_files "$Q/new")" -eq 0 ]
	[ "$(grep -c 'result=signed' "$LOG")" -eq 1 ]
	signatures "$RELAY_DIR/1.eml" >"$BATS_TEST_TMPDIR/delivered"
	cmp "$BATS_TEST_TMPDIR/first" "$BATS_TEST_TMPDIR/delivered"
	# the three DATA transactions carried the same bytes
	[ "$(grep -c '<data: ' "$RELAY_DIR/transcript")" -eq 3 ]
	[ "$(grep -o '<data: [0-9]* octets>' "$RELAY_DIR/transcript" | sort -u | wc -l)" -eq 1 ]
	dns_up
	run dkimpy_verify "$RELAY_DIR/1.eml"; echo "dkimpy: $output"
	[ "$output" = "ok" ]
	run perl_verify "$RELAY_DIR/1.eml"
	[ "$output" = "pass" ]
}

@test "the queue file keeps the signature in front of the message, rewritten through tmp/" {
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname)" alice@example.test bob@example.org
	before=$(queued_file)
	queued_message "$before" >"$BATS_TEST_TMPDIR/message"
	relay_start --dot '451 4.3.0 try later'
	smtpsend_run "${DKIM_RSA[@]}"
	[ "$status" -eq 75 ]
	after=$(queued_file)
	[ "$after" = "$before" ]
	[ "$(sed '/^$/q' "$after")" = "From: <alice@example.test>
Origin: local
Signed: yes
To: <bob@example.org>" ]
	queued_message "$after" | awk 'BEGIN { h = 1 } h && /^\r?$/ { h = 0 }
	    h && /^[^ \t]/ { sig = /^DKIM-Signature:/ } !(h && sig)' >"$BATS_TEST_TMPDIR/rest"
	cmp "$BATS_TEST_TMPDIR/message" "$BATS_TEST_TMPDIR/rest"
	[ "$(count_files "$Q/tmp")" -eq 0 ]
}

@test "signing that fails defers, with the reason in the log; nothing is sent" {
	# RSA's identifier, but no key: our check passes it, openssl cannot.
	printf -- '-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n' \
	    "$(printf '\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00' | base64 -w0)" \
	    >"$BATS_TEST_TMPDIR/bad.pem"
	chmod 600 "$BATS_TEST_TMPDIR/bad.pem"
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname)" alice@example.test bob@example.org
	relay_start
	smtpsend_run -D "example.test rsa $BATS_TEST_TMPDIR/bad.pem"
	[ "$status" -eq 75 ]
	log_has "$LOG" 'dkim=example.test selector=rsa result=deferred: unable to sign: openssl dgst failed'
	log_has "$LOG" 'to=<bob@example.org> .*result=deferred: 451 4.3.0 DKIM signing failed'
	refute grep -q '^Signed:' "$(queued_file)"
	refute grep -q 'MAIL FROM' "$RELAY_DIR/transcript"
}

@test "a key group or others can read: exit 78 naming it, smtpsend and smtpqctl check" {
	cp "$KEYS/rsa.pem" "$BATS_TEST_TMPDIR/open.pem"
	chmod 640 "$BATS_TEST_TMPDIR/open.pem"
	run "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -D "example.test rsa $BATS_TEST_TMPDIR/open.pem"
	[ "$status" -eq 78 ]
	[[ "$output" == *"$BATS_TEST_TMPDIR/open.pem: group or others may read or write it (chmod 600)"* ]]
	printf 'queue %s\ndkim example.test rsa %s\n' "$Q" "$BATS_TEST_TMPDIR/open.pem" >"$BATS_TEST_TMPDIR/smtpq.conf"
	SMTPQCTL_SMTPD=$SMTPD SMTPQCTL_SMTPSEND=$SMTPSEND run "$SMTPQCTL" -F "$BATS_TEST_TMPDIR/smtpq.conf" check
	[ "$status" -eq 78 ]
	[[ "$output" == *"smtpq.conf:2: dkim: $BATS_TEST_TMPDIR/open.pem: group or others may read"* ]]
	chmod 600 "$BATS_TEST_TMPDIR/open.pem"
	SMTPQCTL_SMTPD=$SMTPD SMTPQCTL_SMTPSEND=$SMTPSEND run "$SMTPQCTL" -F "$BATS_TEST_TMPDIR/smtpq.conf" check
	[ "$status" -eq 0 ]
}

@test "dkim lines: a bad one is exit 78 with the reason" {
	run "$SMTPSEND" -q "$Q" -N -D "example.test rsa"
	[ "$status" -eq 78 ]
	[[ "$output" == *"needs DOMAIN SELECTOR KEYFILE"* ]]
	run "$SMTPSEND" -q "$Q" -N -D "example.test bad_selector $KEYS/rsa.pem"
	[[ "$output" == *"bad selector bad_selector"* ]]
	cp "$KEYS/rsa.txt" "$BATS_TEST_TMPDIR/rsa.txt"
	chmod 600 "$BATS_TEST_TMPDIR/rsa.txt"
	run "$SMTPSEND" -q "$Q" -N -D "example.test rsa $BATS_TEST_TMPDIR/rsa.txt"
	[ "$status" -eq 78 ]
	[[ "$output" == *"rsa.txt: not an unencrypted RSA or Ed25519 private key in PEM"* ]]
	run "$SMTPSEND" -q "$Q" -N "${DKIM_RSA[@]}" -D "example.test other $KEYS/other.pem"
	[[ "$output" == *"a second RSA key for example.test"* ]]
	run "$SMTPSEND" -q "$Q" -N "${DKIM_BOTH[@]}"
	[ "$status" -eq 0 ]
}

# RSS of smtpsend and its children (the largest), in KiB, for one run.
max_rss() {
	"$PYTHON" -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}

@test "signing streams: memory is flat from a 1 KiB to a 20 MiB message" {
	local big=$((20 * 1048576)) name rss_small rss_big
	[ -z "${SMTPQ_VALGRIND:-}" ] || big=$((2 * 1048576))
	relay_start
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname 0 1)" alice@example.test bob@example.org
	rss_small=$(max_rss "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 60s -r "127.0.0.1:$RELAY_PORT" "${DKIM_RSA[@]}")
	name=$(qname 0 2)
	{
		ENVELOPE_EXTRA='Origin: local' queue_envelope alice@example.test bob@example.org
		printf 'From: alice@example.test\r\nSubject: big\r\n\r\n'
		head -c "$big" /dev/zero | tr '\0' 'y' | fold -w 76 | sed 's/$/\r/'
	} >"$Q/tmp/$name"
	mv "$Q/tmp/$name" "$Q/new/$name"
	rss_big=$(max_rss "$SMTPSEND" -q "$Q" -n mx.test -l "$LOG" -t 60s -r "127.0.0.1:$RELAY_PORT" "${DKIM_RSA[@]}")
	echo "max RSS: $rss_small KiB (1 KiB message), $rss_big KiB ($big octets)"
	[ "$(grep -c 'result=signed' "$LOG")" -eq 2 ]
	[ "$(stat -c %s "$RELAY_DIR/2.eml")" -gt "$big" ]
	# a copy of the message in memory would be big / 1024 KiB more
	[ "$rss_big" -lt $((rss_small + big / 1024 / 8)) ]
}

# smtpqctl dkim-keygen: the key for the queue's owner (nobody here), its
# record as printed, published, and a signature made with it verified.
keygen() {
	SMTPQCTL_DKIM_DIR=$BATS_TEST_TMPDIR/dkim run "$SMTPQCTL" -F /dev/null \
	    -q "$Q" dkim-keygen "$@"
}

@test "smtpqctl dkim-keygen: a 0600 key of the queue's owner whose printed TXT record verifies, RSA and Ed25519" {
	chown nobody "$Q"
	keygen example.test kg
	[ "$status" -eq 0 ]
	key=$BATS_TEST_TMPDIR/dkim/example.test.kg.key
	[ "$(stat -c '%U %a' "$key")" = "nobody 600" ]
	[ "$(stat -c '%U %a' "$BATS_TEST_TMPDIR/dkim")" = "nobody 700" ]
	grep -q 'BEGIN PRIVATE KEY' "$key"
	[ "$(openssl pkey -in "$key" -noout -text | head -n 1)" = "Private-Key: (2048 bit, 2 primes)" ]
	printf '%s\n' "$output" | grep -qx "dkim example.test kg $key"
	rsa_record=$(printf '%s\n' "$output" | grep '^kg._domainkey.example.test. IN TXT "v=DKIM1; k=rsa; p=')
	keygen example.test kged ed25519
	[ "$status" -eq 0 ]
	edkey=$BATS_TEST_TMPDIR/dkim/example.test.kged.key
	[ "$(stat -c '%U %a' "$edkey")" = "nobody 600" ]
	ed_record=$(printf '%s\n' "$output" | grep '^kged._domainkey.example.test. IN TXT "v=DKIM1; k=ed25519; p=')
	dns_start 'local-zone: "example.test." static' \
	    "local-data: '$rsa_record'" "local-data: '$ed_record'"
	printf '%s' "$BODY" >"$BATS_TEST_TMPDIR/msg"
	"$QSIGN" -d example.test -s kg -k "$key" "$BATS_TEST_TMPDIR/msg" >"$BATS_TEST_TMPDIR/signed"
	run dkimpy_verify "$BATS_TEST_TMPDIR/signed"
	[ "$output" = "ok" ]
	run perl_verify "$BATS_TEST_TMPDIR/signed"
	[ "$output" = "pass" ]
	"$QSIGN" -e -d example.test -s kged -k "$edkey" "$BATS_TEST_TMPDIR/msg" >"$BATS_TEST_TMPDIR/signed"
	run dkimpy_verify "$BATS_TEST_TMPDIR/signed"
	[ "$output" = "ok" ]
}

@test "smtpqctl dkim-keygen never replaces a key; bad arguments are usage errors" {
	keygen example.test kg ed25519
	[ "$status" -eq 0 ]
	cp "$BATS_TEST_TMPDIR/dkim/example.test.kg.key" "$BATS_TEST_TMPDIR/before"
	keygen example.test kg ed25519
	[ "$status" -eq 73 ]
	[[ "$output" == *"example.test.kg.key: File exists"* ]]
	cmp "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/dkim/example.test.kg.key"
	keygen example.test kg dsa
	[ "$status" -eq 64 ]
	keygen example.test ../kg
	[ "$status" -eq 64 ]
	keygen 'bad domain' kg
	[ "$status" -eq 64 ]
}

# smtpqctl doctor against zones of the test's own (unbound, tests/dns.bash):
# the domain example.test, sending from 192.0.2.25.
doctor() {
	printf 'dkim example.test rsa %s\ndkim example.test ed %s\n' \
	    "$KEYS/rsa.pem" "$KEYS/ed.pem" >"$BATS_TEST_TMPDIR/smtpq.conf"
	run dns_exec "$SMTPQCTL" -F "$BATS_TEST_TMPDIR/smtpq.conf" doctor "$@"
	printf '%s\n' "$output"
}

@test "smtpqctl doctor: a domain with everything published is ok on every line" {
	dns_start 'local-zone: "example.test." static' \
	    'local-data: "example.test. MX 10 mx.example.test."' \
	    'local-data: "mx.example.test. A 192.0.2.25"' \
	    "local-data: 'example.test. TXT \"v=spf1 a:other.example.test mx -all\"'" \
	    'local-data: "other.example.test. A 198.51.100.7"' \
	    "local-data: 'rsa._domainkey.example.test. TXT $(txt_strings "$(cat "$KEYS/rsa.txt")")'" \
	    "local-data: 'ed._domainkey.example.test. TXT $(txt_strings "$(cat "$KEYS/ed.txt")")'" \
	    "local-data: '_dmarc.example.test. TXT \"v=DMARC1; p=reject\"'" \
	    'local-zone: "2.0.192.in-addr.arpa." static' \
	    'local-data: "25.2.0.192.in-addr.arpa. PTR mx.example.test."'
	doctor example.test 192.0.2.25
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | awk '{ print $1, $2 }' | tr '\n' ,)" = "ptr ok,spf ok,dkim ok,dkim ok,dmarc ok,mx ok," ]
	printf '%s\n' "$output" | grep -qx 'ptr    ok       192.0.2.25 -> mx.example.test -> 192.0.2.25'
	printf '%s\n' "$output" | grep -q '^dkim   ok       ed._domainkey.example.test holds the key of '
	printf '%s\n' "$output" | grep -qx 'mx     ok       example.test: 10 mx.example.test'
	# the domain defaults to the first dkim line's; the address to the
	# one toward the Internet, which this namespace has no route to
	doctor
	[ "$status" -eq 75 ]
	printf '%s\n' "$output" | grep -qx 'ptr    unknown  no route out: name the sending address (smtpqctl doctor example.test ADDRESS)'
	printf '%s\n' "$output" | grep -q '^dkim   ok       rsa._domainkey.example.test'
}

@test "smtpqctl doctor: wrong records are wrong, absent ones missing, each with the record to publish" {
	dns_start 'local-zone: "example.test." static' \
	    'local-data: "example.test. A 192.0.2.80"' \
	    "local-data: 'example.test. TXT \"v=spf1 ip4:198.51.100.0/24 -all\"'" \
	    "local-data: 'rsa._domainkey.example.test. TXT $(txt_strings "v=DKIM1; k=rsa; p=$(openssl pkey -in "$KEYS/other.pem" -pubout -outform DER | base64 -w0)")'" \
	    'local-zone: "2.0.192.in-addr.arpa." static' \
	    'local-data: "25.2.0.192.in-addr.arpa. PTR other.example.test."' \
	    'local-data: "other.example.test. A 192.0.2.99"'
	doctor example.test 192.0.2.25
	[ "$status" -eq 1 ]
	[ "$(printf '%s\n' "$output" | grep -v '^ ' | awk '{ print $1, $2 }' | tr '\n' ,)" = "ptr wrong,spf wrong,dkim wrong,dkim missing,dmarc missing,mx missing," ]
	printf '%s\n' "$output" | grep -qx '       publish: other.example.test. IN A 192.0.2.25'
	printf '%s\n' "$output" | grep -qx '       add ip4:192.0.2.25 to it, before its "all"'
	# the record to publish is the configured key's, as keygen prints it
	printf '%s\n' "$output" | grep -q "^       publish: rsa._domainkey.example.test. IN TXT \"v=DKIM1; k=rsa; p=$(cut -c 19-40 "$KEYS/rsa.txt")"
	printf '%s\n' "$output" | grep -qx "       publish: ed._domainkey.example.test. IN TXT \"$(cat "$KEYS/ed.txt")\""
	printf '%s\n' "$output" | grep -qx '       publish: _dmarc.example.test. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.test"'
	printf '%s\n' "$output" | grep -q '^       publish: example.test. IN MX 10 '
}

@test "smtpqctl doctor: no PTR and no SPF record are missing, with the records to publish" {
	dns_start 'local-zone: "example.test." static' \
	    'local-data: "example.test. MX 10 mx.example.test."' \
	    'local-zone: "2.0.192.in-addr.arpa." static'
	doctor example.test 192.0.2.25
	[ "$status" -eq 1 ]
	printf '%s\n' "$output" | grep -qx 'ptr    missing  192.0.2.25 has no PTR record'
	printf '%s\n' "$output" | grep -q '^       publish: 25.2.0.192.in-addr.arpa. IN PTR '
	printf '%s\n' "$output" | grep -qx 'spf    missing  example.test has no SPF record'
	printf '%s\n' "$output" | grep -qx '       publish: example.test. IN TXT "v=spf1 ip4:192.0.2.25 ~all"'
}
