#!/usr/bin/env bats
# 35-readme.bats: the README's quick starts, run as they stand.  Each test
# boots a fresh Debian (tests/systemd.bash: systemd as PID 1 of an nspawn
# container, the worktree bound read-only), runs `make install` and `make
# install-sendmail` there as the README's "Build and run it" says (with
# -o all: the tree is built already, and read-only), then takes the
# README's ```sh blocks marked <!-- quickstart: NAME --> and runs them in
# the container with bash -e as root, nothing changed but the
# placeholders of PLACEHOLDERS below.  What the test adds around them
# stands for the world outside the host: a provider, DNS, a CA, certbot.
#
#   null-client   the provider is a private Postfix (tests/postfix-instance,
#                 the host's binaries) listening on 127.0.0.1:587 in the
#                 container's network namespace as smtp.provider.test (a
#                 line in the container's /etc/hosts), with a certificate
#                 from a test CA that the container trusts (its
#                 ca-certificates.crt, as a public CA would be).  It
#                 demands STARTTLS (smtpd_tls_security_level=encrypt),
#                 AUTH (Cyrus SASL, nothing without it) and its own
#                 sender (reject_sender_login_mismatch: 553 for any
#                 other).  root's mail must land in its Maildir.
#   mx            the certificate block (certbot stand-in: the files in
#                 /etc/letsencrypt/live/NAME/), then the MX block; swaks
#                 from the container's network: STARTTLS, a message for
#                 alice in her Maildir, 550 5.1.1 for an unknown name.
#   submission    the certificate block, then the submission block; swaks
#                 with AUTH on 587 (STARTTLS) and 465 (TLS at once).
#
# Each prints, on fd 3, how long the boot and make install took, how long
# its blocks took, and how long until the mail was where it should be
# (seconds, wall clock, from the first block).
# tests/run: once nspawn novalgrind
# nspawn: it boots containers.  novalgrind: the only binaries
# of ours it runs are the top build's, installed in the container and
# started by systemd, as tests/32 and 33 do; the paths they take (smtpd
# with -T and a recipients file, smtpsend relaying with TLS and AUTH,
# masquerade, aliases, smtpqctl check and probe) run under valgrind in
# 11-smtpd-recipients, 17, 18, 27-smtpqctl, 42, 73 and 74.

load helpers
load systemd

TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# The README's placeholders and what this suite puts in their place, in
# this order (each a literal string, replaced everywhere in a block).
PLACEHOLDERS=(
	'smtp.provider.example=smtp.provider.test'
	'provider.example=provider.test'
	'example.org=example.test'
	'PROVIDER-PASSWORD=pr0vider s3cret'
	'ALICE-PASSWORD=al1ce s3cret'
)

# quickstart NAME: the README's blocks marked NAME, in order, with the
# placeholders replaced; fails when there is none.
quickstart() {
	local p old new script
	script=$(awk -v mark="<!-- quickstart: $1 -->" '
	    $0 == mark { want = 1; next }
	    want && /^```sh$/ { inside = 1; want = 0; next }
	    inside && /^```$/ { inside = 0; next }
	    inside { print }' "$TOP/README.md")
	[ -n "$script" ] || { echo "README.md has no quickstart: $1" >&2; return 1; }
	for p in "${PLACEHOLDERS[@]}"; do
		old=${p%%=*} new=${p#*=}
		script=${script//"$old"/"$new"}
	done
	printf '%s\n' "$script"
}

# run_quickstart NAME...: runs the blocks in the container as a root
# login shell would (bash -e, in /root, root's PATH); shows them and
# what they printed on failure.
run_quickstart() {
	local name script
	for name; do
		script=$(quickstart "$name") || return 1
		printf '%s\n' "$script" >"$BATS_TEST_TMPDIR/$name.sh"
		SD_TIMEOUT=120 sd env -i HOME=/root LANG=C.UTF-8 \
		    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		    bash -e -c "cd /root; $script" \
		    >"$BATS_TEST_TMPDIR/$name.out" 2>&1 || {
			echo "quick start $name failed:" >&2
			cat "$BATS_TEST_TMPDIR/$name.sh" >&2
			echo "--- it printed:" >&2
			cat "$BATS_TEST_TMPDIR/$name.out" >&2
			return 1
		}
	done
}

CROOT() {
	printf '/proc/%s/root%s\n' "$SD_LEADER" "$1"
}

now() {
	date +%s.%N
}

# seconds since $1, one decimal
since() {
	awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'
}

# A CA and, for each NAME given, NAME.pem and NAME.key with NAME (and
# 127.0.0.1) as subjectAltName, in $PKI (made).
make_pki() {
	local name
	mkdir -p "$PKI"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	    -subj /CN=smtpq-readme-test-CA -keyout "$PKI/ca.key" \
	    -out "$PKI/ca.pem" >/dev/null 2>&1 || return 1
	for name; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" \
		    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" \
		    >/dev/null 2>&1 &&
		    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$name" \
		    >"$PKI/$name.ext" &&
		    openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.pem" \
		    -CAkey "$PKI/ca.key" -CAcreateserial -days 2 \
		    -extfile "$PKI/$name.ext" -out "$PKI/$name.pem" \
		    >/dev/null 2>&1 || return 1
	done
}

# certbot's files for NAME in the container, as certbot leaves them.
certbot_standin() {
	local live
	live=$(CROOT "/etc/letsencrypt/live/$1")
	mkdir -p "$live" &&
	    cat "$PKI/$1.pem" "$PKI/ca.pem" >"$live/fullchain.pem" &&
	    cp "$PKI/ca.pem" "$live/chain.pem" &&
	    install -m 0600 "$PKI/$1.key" "$live/privkey.pem"
}

setup() {
	if [ "$(id -u)" -ne 0 ]; then
		[ "${CI:-}" != true ] || { echo "needs root" >&2; return 1; }
		skip "needs root (systemd-nspawn)"
	fi
	local root
	PF_DIR=
	root=$(sd_root) || return 1
	BOOT_T0=$(now)
	SD_OUT=$BATS_TEST_TMPDIR/nspawn.out SD_NSPAWN_ARGS="--bind-ro=$TOP" \
	    sd_boot "$root" || return 1
	# "Build and run it": make install, make install-sendmail, as root.
	SD_TIMEOUT=120 sd make -s -C "$TOP" -o all install install-sendmail \
	    >"$BATS_TEST_TMPDIR/install.out" 2>&1 || {
		cat "$BATS_TEST_TMPDIR/install.out" >&2; return 1; }
	BOOTED=$(since "$BOOT_T0")
}

teardown() {
	[ "$(id -u)" -eq 0 ] || return 0
	if [ -n "${PF_DIR:-}" ]; then
		"$TOP/tests/postfix-instance" stop "$PF_DIR" || true
		rm -rf "$PF_DIR"
	fi
	sd_stop
}

maildir_file() {
	find "$1" -type f 2>/dev/null | head -n 1 | grep .
}

@test "README quick start: null client, root's mail through a provider that demands STARTTLS, AUTH and its own sender" {
	local t0 ran
	command -v postfix >/dev/null && command -v saslpasswd2 >/dev/null || {
		[ "${CI:-}" != true ] || { echo "postfix, sasl2-bin missing" >&2; false; }
		skip "needs postfix and sasl2-bin"
	}
	PF_DIR=$(mktemp -d /tmp/smtpq-readme-pf.XXXXXX)
	chmod 755 "$PF_DIR"
	PKI=$PF_DIR/pki
	make_pki smtp.provider.test
	chmod 755 "$PKI"
	# The world: the provider's name, its CA among the system's.
	echo '127.0.0.1 smtp.provider.test' >>"$(CROOT /etc/hosts)"
	mkdir -p "$(CROOT /etc/ssl/certs)"
	cat "$PKI/ca.pem" >>"$(CROOT /etc/ssl/certs/ca-certificates.crt)"
	chown postfix "$PKI/smtp.provider.test.key"
	printf 'me pr0vider s3cret\n' >"$PF_DIR/sasl-users"
	PF_DOMAIN=provider.test PF_USERS=me PF_SASL=$PF_DIR/sasl-users \
	    PF_INSTANCE_PORT=587 sd_net "$TOP/tests/postfix-instance" start \
	    "$PF_DIR" myhostname=smtp.provider.test \
	    "smtpd_tls_cert_file=$PKI/smtp.provider.test.pem" \
	    "smtpd_tls_key_file=$PKI/smtp.provider.test.key" \
	    smtpd_tls_security_level=encrypt smtpd_tls_auth_only=yes \
	    smtpd_tls_received_header=yes smtpd_sasl_authenticated_header=yes \
	    "smtpd_sender_login_maps=inline:{me@provider.test=me@provider.test}" \
	    "smtpd_sender_restrictions=reject_sender_login_mismatch, permit_sasl_authenticated, reject" \
	    "smtpd_relay_restrictions=permit_sasl_authenticated, reject" \
	    >/dev/null
	t0=$(now)
	run_quickstart null-client
	ran=$(since "$t0")
	# root's mail, in the provider's mailbox of me@provider.test.
	WAIT_SECONDS=60 wait_for maildir_file "$PF_DIR/mail/me/new"
	echo "# null-client: boot and make install ${BOOTED} s, blocks ${ran} s, mail at the provider $(since "$t0") s" >&3
	f=$(maildir_file "$PF_DIR/mail/me/new")
	cat "$f" >&2
	grep -q '^it works' "$f"
	# Sent as me@provider.test (masquerade), logged in (AUTH), over TLS.
	grep -q '^Return-Path: <me@provider.test>' "$f"
	grep -q 'Authenticated sender: me@provider.test' "$f"
	grep -Eq '^[[:space:]]+\(using TLSv1\.[23]' "$f"
	grep -q "sasl_username=me@provider.test" "$PF_DIR/maillog"
	# root's mail (sendmail's From: names root at this host), which
	# root's alias sent on to me@provider.test.
	grep -q '^From: "root" <root@' "$f"
	grep -q '^Delivered-To: root@' "$f"
	grep -q '^Delivered-To: me@provider.test' "$f"
}

# swaks from the container's network to 127.0.0.1:PORT with the test CA;
# the rest of the arguments are swaks's.
swaks_in() {
	local port=$1
	shift
	sd_net swaks --server "127.0.0.1:$port" --tls-verify \
	    --tls-ca-path "$PKI/ca.pem" --timeout 30 "$@"
}

@test "README quick start: MX with STARTTLS into a Maildir, 550 5.1.1 for a name that does not exist" {
	local t0 ran f
	PKI=$BATS_TEST_TMPDIR/pki
	make_pki mx.example.test
	certbot_standin mx.example.test
	t0=$(now)
	run_quickstart certificate mx
	ran=$(since "$t0")
	run swaks_in 25 --tls --from someone@elsewhere.test \
	    --to alice@example.test --header 'Subject: readme mx'
	[ "$status" -eq 0 ] || { echo "$output" >&2
		sd journalctl -q --no-pager -t smtpd -t stunnel >&2; false; }
	[[ "$output" == *"220 2.0.0"*"250 2.0.0"* ]]
	WAIT_SECONDS=60 wait_for maildir_file "$(CROOT /var/spool/smtpq-mail/alice/new)"
	echo "# mx: boot and make install ${BOOTED} s, blocks ${ran} s, in alice's Maildir $(since "$t0") s" >&3
	f=$(maildir_file "$(CROOT /var/spool/smtpq-mail/alice/new)")
	grep -q '^Subject: readme mx' "$f"
	grep -q 'by mx.example.test (smtpd) with ESMTPS id' "$f"
	# A name in none of recipients, aliases, Maildirs: refused at RCPT.
	run swaks_in 25 --tls --from someone@elsewhere.test \
	    --to nobody@example.test
	[[ "$output" == *"<~* 550 5.1.1"* ]] || { echo "$output" >&2; false; }
	[ ! -e "$(CROOT /var/spool/smtpq-mail/nobody)" ]
	# Port 25 on IPv6 too, as the README says.
	run sd_net "$PYTHON" -c 'import socket
s = socket.create_connection(("::1", 25), timeout=30)
print(s.makefile("rb").readline().decode().rstrip())
s.sendall(b"QUIT\r\n")'
	[[ "$output" == "220 mx.example.test ESMTP smtpd" ]] || { echo "$output" >&2; false; }
}

@test "README quick start: submission takes alice's mail after AUTH on 587 (STARTTLS) and 465 (TLS)" {
	local t0 ran
	PKI=$BATS_TEST_TMPDIR/pki
	make_pki mx.example.test
	certbot_standin mx.example.test
	t0=$(now)
	run_quickstart certificate submission
	ran=$(since "$t0")
	run swaks_in 587 --tls --auth PLAIN --auth-user alice \
	    --auth-password 'al1ce s3cret' --from alice@example.test \
	    --to bob@example.net
	[ "$status" -eq 0 ] || { echo "$output" >&2
		sd journalctl -q --no-pager -t smtpd -t stunnel >&2; false; }
	[[ "$output" == *"235 2.7.0"*"250 2.0.0"* ]]
	echo "# submission: boot and make install ${BOOTED} s, blocks ${ran} s, 587 took a message $(since "$t0") s" >&3
	run swaks_in 465 --tlsc --auth LOGIN --auth-user alice \
	    --auth-password 'al1ce s3cret' --from alice@example.test \
	    --to bob@example.net
	[ "$status" -eq 0 ] || { echo "$output" >&2; false; }
	[[ "$output" == *"235 2.7.0"*"250 2.0.0"* ]]
	# Without AUTH, no mail (MAIL needs it on the submission ports).
	run swaks_in 587 --tls --from alice@example.test --to bob@example.net
	[[ "$output" == *"<~* 530 5.7.0"* ]] || { echo "$output" >&2; false; }
}
