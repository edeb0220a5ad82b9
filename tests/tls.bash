# tests/tls.bash: loaded by the TLS and AUTH suites after helpers.bash: a
# throwaway CA and a server certificate for localhost, 127.0.0.1 and
# 192.0.2.1 made with openssl, stunnel configurations, a password file.

CHECKPASSWORD=${CHECKPASSWORD:-$BATS_TEST_DIRNAME/../smtpd/checkpassword}
TLS_DIR=${BATS_FILE_TMPDIR:-$BATS_TMPDIR}/tls
PASSWD="$BATS_TEST_TMPDIR/passwd"

# Once per suite (from setup_file): the CA and the server's key and
# certificate in $TLS_DIR: ca.pem, key.pem, cert.pem.
tls_make_ca() {
	mkdir -p "$TLS_DIR"
	(
		cd "$TLS_DIR" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
		    -subj /CN=smtpq-test-CA -keyout ca.key -out ca.pem
		openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
		    -keyout key.pem -out req.pem
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1,IP:192.0.2.1\n' >ext
		openssl x509 -req -in req.pem -CA ca.pem -CAkey ca.key \
		    -CAcreateserial -days 2 -extfile ext -out cert.pem
		chmod 600 key.pem
	) >/dev/null 2>&1
}

# A password file with alice (password "s3cret", SHA-512) and bob ("pw 2",
# SHA-256), mode 600.
passwd_make() {
	{
		printf 'alice:%s\n' "$(openssl passwd -6 s3cret)"
		printf 'bob:%s\n' "$(openssl passwd -5 'pw 2')"
		printf 'carol:!\n'
	} >"$PASSWD"
	chmod 600 "$PASSWD"
}

# stunnel_conf FILE ARGS...: an inetd-mode stunnel configuration that runs
# "smtpd -E ARGS..." (words without blanks: execArgs cannot quote).
stunnel_conf() {
	local file=$1
	shift
	cat >"$file" <<CONF
foreground = yes
syslog = no
output = $BATS_TEST_TMPDIR/stunnel.log
pid =
TIMEOUTbusy = ${STUNNEL_BUSY:-$((10 * SLOWDOWN))}
TIMEOUTidle = $((30 * SLOWDOWN))
cert = $TLS_DIR/cert.pem
key = $TLS_DIR/key.pem
exec = $SMTPD
execArgs = smtpd -E -q $Q -n mx.test -l $LOG $*
CONF
}
