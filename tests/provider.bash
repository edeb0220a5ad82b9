# tests/provider.bash: a mail provider's submission server for the suites
# on a real systemd (tests/systemd.bash): a private Postfix
# (tests/postfix-instance, the host's binaries) listening on
# 127.0.0.1:$PROVIDER_PORT (587 unless set) in the container's network as smtp.provider.test, with a
# certificate from a test CA the container trusts.  Like a real provider
# it demands STARTTLS (smtpd_tls_security_level=encrypt), AUTH (Cyrus
# SASL) and its own sender (reject_sender_login_mismatch: 553 for any
# other).  tests/35-readme.bats sets up the same provider by hand.
#
#   provider_prepare DIR  the CA and smtp.provider.test's certificate in
#                         DIR/pki, the user me@provider.test with
#                         PROVIDER_PASSWORD; DIR must be searchable by
#                         everyone (Postfix drops privileges)
#   provider_trust        in the container (SD_LEADER): the name in
#                         /etc/hosts, the CA among the system's
#                         (ca-certificates.crt, as a public CA would be,
#                         and in /usr/local/share/ca-certificates, so that
#                         installing ca-certificates, which the package
#                         recommends, keeps it)
#   provider_start DIR    starts it in the container's network (again
#                         after provider_stop: same queue, same Maildirs)
#   provider_stop DIR     stops it (nothing listens on its port after)
#   provider_mail DIR     the messages delivered to me@provider.test, one
#                         file a line
#
# Needs postfix and sasl2-bin (.ci/packages).

PROVIDER_NAME=smtp.provider.test
PROVIDER_DOMAIN=provider.test
PROVIDER_USER=me@provider.test
PROVIDER_PASSWORD='pr0vider s3cret'
PROVIDER_PORT=${PROVIDER_PORT:-587}

provider_prepare() {
	local dir=$1 pki=$1/pki
	mkdir -p "$pki" && chmod 755 "$dir" "$pki" || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
	    -subj /CN=smtpq-provider-test-CA -keyout "$pki/ca.key" \
	    -out "$pki/ca.pem" >/dev/null 2>&1 &&
	    openssl req -newkey rsa:2048 -nodes -subj "/CN=$PROVIDER_NAME" \
	    -keyout "$pki/server.key" -out "$pki/server.csr" \
	    >/dev/null 2>&1 &&
	    printf 'subjectAltName=DNS:%s\n' "$PROVIDER_NAME" >"$pki/ext" &&
	    openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" \
	    -CAkey "$pki/ca.key" -CAcreateserial -days 2 -extfile "$pki/ext" \
	    -out "$pki/server.pem" >/dev/null 2>&1 || return 1
	chown postfix "$pki/server.key" &&
	    printf '%s %s\n' "${PROVIDER_USER%@*}" "$PROVIDER_PASSWORD" \
	    >"$dir/sasl-users"
}

provider_trust() {
	local root=/proc/$SD_LEADER/root
	echo "127.0.0.1 $PROVIDER_NAME" >>"$root/etc/hosts" &&
	    mkdir -p "$root/etc/ssl/certs" \
	    "$root/usr/local/share/ca-certificates" &&
	    cat "$1/pki/ca.pem" >>"$root/etc/ssl/certs/ca-certificates.crt" &&
	    cp "$1/pki/ca.pem" \
	    "$root/usr/local/share/ca-certificates/smtpq-provider-test.crt"
}

provider_start() {
	local dir=$1
	PF_DOMAIN=$PROVIDER_DOMAIN PF_USERS=${PROVIDER_USER%@*} \
	    PF_SASL=$dir/sasl-users PF_INSTANCE_PORT=$PROVIDER_PORT \
	    sd_net "$BATS_TEST_DIRNAME/postfix-instance" start "$dir" \
	    "myhostname=$PROVIDER_NAME" \
	    "smtpd_tls_cert_file=$dir/pki/server.pem" \
	    "smtpd_tls_key_file=$dir/pki/server.key" \
	    smtpd_tls_security_level=encrypt smtpd_tls_auth_only=yes \
	    smtpd_tls_received_header=yes smtpd_sasl_authenticated_header=yes \
	    "smtpd_sender_login_maps=inline:{$PROVIDER_USER=$PROVIDER_USER}" \
	    "smtpd_sender_restrictions=reject_sender_login_mismatch, permit_sasl_authenticated, reject" \
	    "smtpd_relay_restrictions=permit_sasl_authenticated, reject" \
	    >/dev/null
}

provider_stop() {
	"$BATS_TEST_DIRNAME/postfix-instance" stop "$1"
}

provider_mail() {
	find "$1/mail/${PROVIDER_USER%@*}/new" -type f 2>/dev/null
}
