#!/usr/bin/env bats
# AUTH PLAIN and LOGIN (-A) with the checkpassword interface and the
# checker we ship, submission (-S), as transcripts over a pipe: -E with
# REMOTE_HOST stands for the TLS program in front.

load helpers
load tls

setup() {
	unset REMOTE_ADDR TCPREMOTEIP SMTPD_STARTTLS
	export REMOTE_HOST=192.0.2.7
	passwd_make
	SMTPD_FLAGS=(-E -A "$CHECKPASSWORD,$PASSWD")
}

b64() {
	printf -- "$1" | base64 -w0
}

MAILTO='MAIL FROM:<alice@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\n'

@test "AUTH is offered only over TLS; otherwise AUTH is 503 5.5.1" {
	SMTPD_FLAGS=(-A "$CHECKPASSWORD,$PASSWD")
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\nQUIT\r\n"
	! replies | grep -q AUTH || false
	replies | grep -q '^503 5.5.1'
	SMTPD_FLAGS=(-E -A "$CHECKPASSWORD,$PASSWD")
	smtpd_session 'EHLO c\r\nQUIT\r\n'
	replies | grep -qx '250-AUTH PLAIN LOGIN'
	SMTPD_FLAGS=(-E)
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\nQUIT\r\n"
	! replies | grep -q AUTH || false
	replies | grep -q '^503 5.5.1'
}

@test "AUTH PLAIN with an initial response: 235 2.7.0, may relay, ESMTPSA" {
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\n${MAILTO}DATA\r\nhi\r\n.\r\nQUIT\r\n"
	replies | grep -qx '235 2.7.0 Authentication successful'
	replies | grep -q '^250 2.0.0 Ok: queued'
	grep -q $'^\tby mx.test (smtpd) with ESMTPSA id ' "$(queued_file)"
	log_has "$LOG" 'peer=192.0.2.7 user=alice result=authenticated'
	! grep -q s3cret "$LOG" || false
	! replies | grep -q alice || false
}

@test "AUTH PLAIN with an empty challenge, and an authzid equal to the user" {
	smtpd_session "EHLO c\r\nAUTH PLAIN\r\n$(b64 'alice\0alice\0s3cret')\r\n${MAILTO}QUIT\r\n"
	replies | grep -qx '334 '
	replies | grep -q '^235 2.7.0'
	replies | grep -q '^250 2.1.5'
}

@test "AUTH PLAIN for someone else (another authzid) is 535 5.7.8" {
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 'bob\0alice\0s3cret')\r\nQUIT\r\n"
	replies | grep -q '^535 5.7.8'
}

@test "AUTH LOGIN asks Username: and Password: in base64" {
	smtpd_session "EHLO c\r\nAUTH LOGIN\r\n$(b64 bob)\r\n$(b64 'pw 2')\r\n${MAILTO}QUIT\r\n"
	replies | grep -qx '334 VXNlcm5hbWU6'
	replies | grep -qx '334 UGFzc3dvcmQ6'
	replies | grep -q '^235 2.7.0'
	replies | grep -q '^250 2.1.5'
	log_has "$LOG" 'user=bob result=authenticated'
}

@test "AUTH LOGIN with the user name as initial response" {
	smtpd_session "EHLO c\r\nAUTH LOGIN $(b64 alice)\r\n$(b64 s3cret)\r\nQUIT\r\n"
	[ "$(replies | grep -c '^334 ')" -eq 1 ]
	replies | grep -q '^235 2.7.0'
}

@test "a wrong password is 535 5.7.8 after a delay, and relaying stays denied" {
	local start end
	start=$(date +%s%N)
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0wrong')\r\n${MAILTO}QUIT\r\n"
	end=$(date +%s%N)
	replies | grep -qx '535 5.7.8 Error: authentication failed'
	replies | grep -q '^554 5.7.1'
	[ $(( (end - start) / 1000000 )) -ge 900 ]
	log_has "$LOG" 'user=alice result=auth failed'
	! grep -q wrong "$LOG" || false
	! replies | grep -q alice || false
}

@test "unknown and locked users are 535 5.7.8" {
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0mallory\0s3cret')\r\nAUTH PLAIN $(b64 '\0carol\0')\r\nQUIT\r\n"
	[ "$(replies | grep -c '^535 5.7.8')" -eq 2 ]
}

@test "the third failure is followed by 421 4.7.0 and the end" {
	local bad
	bad="AUTH PLAIN $(b64 '\0alice\0no')\r\n"
	smtpd_session "EHLO c\r\n$bad$bad$bad$bad\r\nNOOP\r\n"
	[ "$(replies | grep -c '^535 5.7.8')" -eq 3 ]
	replies | tail -n 1 | grep -q '^421 4.7.0 mx.test Error: too many authentication failures'
	! replies | grep -q '^250 2.0.0 Ok$' || false
}

@test "bad base64 is 501 5.5.2, in the initial response and after 334" {
	smtpd_session 'EHLO c\r\nAUTH PLAIN AHRpbQ=\r\nAUTH LOGIN\r\nnot base64!\r\nAUTH PLAIN\r\nAHR\r\nQUIT\r\n'
	[ "$(replies | grep -c '^501 5.5.2')" -eq 3 ]
	replies | grep -q '^221 '
}

@test "* cancels: 501 5.0.0" {
	smtpd_session 'EHLO c\r\nAUTH LOGIN\r\n*\r\nAUTH PLAIN\r\n*\r\nQUIT\r\n'
	[ "$(replies | grep -c '^501 5.0.0')" -eq 2 ]
}

@test "an unknown mechanism is 504 5.5.4; AUTH alone 501 5.5.4" {
	smtpd_session 'EHLO c\r\nAUTH CRAM-MD5\r\nAUTH\r\nQUIT\r\n'
	replies | grep -q '^504 5.5.4'
	replies | grep -q '^501 5.5.4'
}

@test "AUTH twice, inside a transaction, or before EHLO is 503 5.5.1" {
	local good
	good="AUTH PLAIN $(b64 '\0alice\0s3cret')\r\n"
	smtpd_session "${good}EHLO c\r\n$good${good}QUIT\r\n"
	[ "$(replies | grep -c '^503 5.5.1')" -eq 2 ]
	smtpd_session "EHLO c\r\nMAIL FROM:<a@b.example>\r\n${good}QUIT\r\n"
	replies | grep -q '^503 5.5.1'
	! replies | grep -q '^235' || false
}

@test "the checker gets user NUL password NUL timestamp NUL on fd 3" {
	cat >"$BATS_TEST_TMPDIR/check" <<SCRIPT
#!/bin/sh
od -An -c <&3 | tr -s ' \n' ' ' >"$BATS_TEST_TMPDIR/fd3"
exit 0
SCRIPT
	chmod 755 "$BATS_TEST_TMPDIR/check"
	SMTPD_FLAGS=(-E -A "$BATS_TEST_TMPDIR/check")
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0u\0p w')\r\nQUIT\r\n"
	replies | grep -q '^235 2.7.0'
	grep -Eq '^ ?u \\0 p w \\0 < [0-9 .]+ @ s m t p d > \\0 ?$' "$BATS_TEST_TMPDIR/fd3"
}

@test "checker exit 1 is 535 5.7.8; any other exit 454 4.7.0" {
	printf '#!/bin/sh\nexit 111\n' >"$BATS_TEST_TMPDIR/check"
	chmod 755 "$BATS_TEST_TMPDIR/check"
	SMTPD_FLAGS=(-E -A /bin/false)
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\nQUIT\r\n"
	replies | grep -q '^535 5.7.8'
	SMTPD_FLAGS=(-E -A "$BATS_TEST_TMPDIR/check")
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\nQUIT\r\n"
	replies | grep -q '^454 4.7.0'
	SMTPD_FLAGS=(-E -A "$BATS_TEST_TMPDIR/no-such-checker")
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\nQUIT\r\n"
	replies | grep -q '^454 4.7.0'
}

@test "the shipped checker refuses a password file others can read: 454" {
	chmod 644 "$PASSWD"
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\nQUIT\r\n"
	replies | grep -q '^454 4.7.0'
	chmod 640 "$PASSWD"
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\nQUIT\r\n"
	replies | grep -q '^235 2.7.0'
}

@test "the shipped checker, alone: 0 good, 1 bad, 111 trouble, execs a program" {
	run bash -c 'printf "alice\0s3cret\0t\0" | "$1" "$2" 3<&0' _ "$CHECKPASSWORD" "$PASSWD"
	[ "$status" -eq 0 ]
	run bash -c 'printf "alice\0s3creT\0t\0" | "$1" "$2" 3<&0' _ "$CHECKPASSWORD" "$PASSWD"
	[ "$status" -eq 1 ]
	run bash -c 'printf "al\0s3cret\0t\0" | "$1" "$2" 3<&0' _ "$CHECKPASSWORD" "$PASSWD"
	[ "$status" -eq 1 ]
	run bash -c 'printf "alice\0s3cret\0t\0" | "$1" /nonexistent 3<&0' _ "$CHECKPASSWORD"
	[ "$status" -eq 111 ]
	run bash -c 'printf "alice\0s3cret\0t\0" | "$1" "$2" sh -c "echo ran" 3<&0' _ "$CHECKPASSWORD" "$PASSWD"
	[ "$status" -eq 0 ]
	[ "$output" = ran ]
}

@test "-S: MAIL needs AUTH (530 5.7.0), over TLS and from loopback alike" {
	SMTPD_FLAGS=(-E -S -A "$CHECKPASSWORD,$PASSWD")
	smtpd_session "EHLO c\r\n${MAILTO}QUIT\r\n"
	replies | grep -qx '530 5.7.0 Authentication required'
	REMOTE_HOST=127.0.0.1 smtpd_session "EHLO c\r\n${MAILTO}QUIT\r\n"
	replies | grep -qx '530 5.7.0 Authentication required'
	smtpd_session "EHLO c\r\nAUTH PLAIN $(b64 '\0alice\0s3cret')\r\n${MAILTO}QUIT\r\n"
	replies | grep -q '^250 2.1.5'
	unset REMOTE_HOST
	SMTPD_FLAGS=(-S -A "$CHECKPASSWORD,$PASSWD")
	REMOTE_ADDR=127.0.0.1 smtpd_session "EHLO c\r\n${MAILTO}QUIT\r\n"
	replies | grep -qx '530 5.7.0 Authentication required'
}

@test "-S: a local user on a pipe needs no AUTH" {
	unset REMOTE_HOST
	SMTPD_FLAGS=(-S -A "$CHECKPASSWORD,$PASSWD")
	smtpd_session "EHLO c\r\n${MAILTO}QUIT\r\n"
	replies | grep -q '^250 2.1.5'
}

@test "-S without -A is a usage error" {
	SMTPD_FLAGS=(-S)
	smtpd_session 'QUIT\r\n'
	[ "$status" -eq 64 ]
}

# check_ms USER PASSWORD: how long the shipped checker takes, in ms.
check_ms() {
	local start end
	start=${EPOCHREALTIME/./}
	printf '%s\0%s\0t\0' "$1" "$2" | "$CHECKPASSWORD" "$PASSWD" 3<&0 || true
	end=${EPOCHREALTIME/./}
	echo $(( (end - start) / 1000 ))
}

# The median of the numbers on stdin.
median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# timing_alike METHOD [MKPASSWD ARGS]: with alice's and bob's hashes made
# as given, a failure for a known user (wrong password), an unknown one and
# a locked one take alike long: medians of 7 tries, interleaved so that
# load hits each kind alike, within a factor of 2 of each other.  The old
# fixed $6$ stand-in cost a tenth of a yescrypt, a ratio no load hid.
timing_alike() {
	local i known=() unknown=() locked=() k u l
	command -v mkpasswd >/dev/null || fail_or_skip "mkpasswd (whois) not installed"
	{
		printf 'alice:%s\n' "$(printf s3cret | mkpasswd -s "$@")"
		printf 'bob:%s\n' "$(printf 'pw 2' | mkpasswd -s "$@")"
		printf 'carol:!\n'
	} >"$PASSWD"
	for i in 1 2 3 4 5 6 7; do
		known+=("$(check_ms alice wrong)")
		unknown+=("$(check_ms mallory wrong)")
		locked+=("$(check_ms carol wrong)")
	done
	k=$(printf '%s\n' "${known[@]}" | median)
	u=$(printf '%s\n' "${unknown[@]}" | median)
	l=$(printf '%s\n' "${locked[@]}" | median)
	echo "$*: medians: known $k ms, unknown $u ms, locked $l ms" >&2
	[ "$k" -gt 0 ]
	[ $(( u * 2 )) -ge "$k" ]
	[ $(( k * 2 )) -ge "$u" ]
	[ $(( l * 2 )) -ge "$k" ]
	[ $(( k * 2 )) -ge "$l" ]
	# and the good password still works
	run bash -c 'printf "alice\0s3cret\0t\0" | "$1" "$2" 3<&0' _ "$CHECKPASSWORD" "$PASSWD"
	[ "$status" -eq 0 ]
}

@test "with yescrypt hashes (the README's recipe) an unknown or locked user's failure takes as long as a known user's" {
	timing_alike -m yescrypt
}

@test "with \$6\$ hashes of 200000 rounds an unknown or locked user's failure takes as long as a known user's" {
	timing_alike -m sha512crypt -R 200000
}
