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

# In the transcripts a comment above a base64 line says what it encodes
# (\0 a NUL, as in AUTH PLAIN's authzid NUL authcid NUL password).

# A session that is offered no AUTH and whose AUTH is refused: what -A
# without TLS and TLS without -A both get.
auth_refused() {
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> EHLO c
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 10485760
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250 HELP
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 503 5.5.1 Error: authentication not enabled
	> QUIT
	< 221 2.0.0
	END
}

@test "AUTH is offered only over TLS; otherwise AUTH is 503 5.5.1" {
	SMTPD_FLAGS=(-A "$CHECKPASSWORD,$PASSWD")
	auth_refused
	SMTPD_FLAGS=(-E -A "$CHECKPASSWORD,$PASSWD")
	transcript <<-'END'
	< 220 mx.test ESMTP smtpd
	> EHLO c
	< 250-mx.test
	< 250-PIPELINING
	< 250-SIZE 10485760
	< 250-8BITMIME
	< 250-ENHANCEDSTATUSCODES
	< 250-SMTPUTF8
	< 250-AUTH PLAIN LOGIN
	< 250 HELP
	> QUIT
	< 221 2.0.0
	END
	SMTPD_FLAGS=(-E)
	auth_refused
}

@test "AUTH PLAIN with an initial response: 235 2.7.0, may relay, ESMTPSA" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 235 2.7.0 Authentication successful
	@ send <alice@b.example> <x@elsewhere.example>
	> QUIT
	< 221 2.0.0
	END
	grep -q $'^\tby mx.test (smtpd) with ESMTPSA id ' "$(queued_file)"
	log_has "$LOG" 'peer=192.0.2.7 user=alice result=authenticated'
	! grep -q s3cret "$LOG" || false
	! replies | grep -q alice || false
}

@test "AUTH PLAIN with an empty challenge, and an authzid equal to the user" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> AUTH PLAIN
	< 334 
	# YWxpY2UAYWxpY2UAczNjcmV0: base64 of "alice\0alice\0s3cret"
	> YWxpY2UAYWxpY2UAczNjcmV0
	< 235 2.7.0 Authentication successful
	> MAIL FROM:<alice@b.example>
	< 250 2.1.0 Ok
	> RCPT TO:<x@elsewhere.example>
	< 250 2.1.5 Ok
	> QUIT
	< 221 2.0.0
	END
}

@test "AUTH PLAIN for someone else (another authzid) is 535 5.7.8" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# Ym9iAGFsaWNlAHMzY3JldA==: base64 of "bob\0alice\0s3cret"
	> AUTH PLAIN Ym9iAGFsaWNlAHMzY3JldA==
	< 535 5.7.8 Error: authentication failed
	> QUIT
	< 221 2.0.0
	END
}

@test "AUTH LOGIN asks Username: and Password: in base64" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> AUTH LOGIN
	< 334 VXNlcm5hbWU6
	# Ym9i: base64 of "bob"
	> Ym9i
	< 334 UGFzc3dvcmQ6
	# cHcgMg==: base64 of "pw 2"
	> cHcgMg==
	< 235 2.7.0 Authentication successful
	> MAIL FROM:<alice@b.example>
	< 250 2.1.0 Ok
	> RCPT TO:<x@elsewhere.example>
	< 250 2.1.5 Ok
	> QUIT
	< 221 2.0.0
	END
	log_has "$LOG" 'user=bob result=authenticated'
}

@test "AUTH LOGIN with the user name as initial response" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# YWxpY2U=: base64 of "alice"
	> AUTH LOGIN YWxpY2U=
	< 334 UGFzc3dvcmQ6
	# czNjcmV0: base64 of "s3cret"
	> czNjcmV0
	< 235 2.7.0 Authentication successful
	> QUIT
	< 221 2.0.0
	END
}

@test "a wrong password is 535 5.7.8 after a delay, and relaying stays denied" {
	local start end
	start=$(date +%s%N)
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHdyb25n: base64 of "\0alice\0wrong"
	> AUTH PLAIN AGFsaWNlAHdyb25n
	< 535 5.7.8 Error: authentication failed
	> MAIL FROM:<alice@b.example>
	< 250 2.1.0 Ok
	> RCPT TO:<x@elsewhere.example>
	< 554 5.7.1 <x@elsewhere.example>: Relay access denied
	> QUIT
	< 221 2.0.0
	END
	end=$(date +%s%N)
	[ $(( (end - start) / 1000000 )) -ge 900 ]
	log_has "$LOG" 'user=alice result=auth failed'
	! grep -q wrong "$LOG" || false
	! replies | grep -q alice || false
}

@test "unknown and locked users are 535 5.7.8" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AG1hbGxvcnkAczNjcmV0: base64 of "\0mallory\0s3cret"
	> AUTH PLAIN AG1hbGxvcnkAczNjcmV0
	< 535 5.7.8 Error: authentication failed
	# AGNhcm9sAA==: base64 of "\0carol\0"
	> AUTH PLAIN AGNhcm9sAA==
	< 535 5.7.8 Error: authentication failed
	> QUIT
	< 221 2.0.0
	END
}

@test "the third failure is followed by 421 4.7.0 and the end" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAG5v: base64 of "\0alice\0no"
	> AUTH PLAIN AGFsaWNlAG5v
	< 535 5.7.8 Error: authentication failed
	> AUTH PLAIN AGFsaWNlAG5v
	< 535 5.7.8 Error: authentication failed
	> AUTH PLAIN AGFsaWNlAG5v
	< 535 5.7.8 Error: authentication failed
	> AUTH PLAIN AGFsaWNlAG5v
	< 421 4.7.0 mx.test Error: too many authentication failures
	>
	> NOOP
	END
}

@test "bad base64 is 501 5.5.2, in the initial response and after 334" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> AUTH PLAIN AHRpbQ=
	< 501 5.5.2 Error: invalid base64 data
	> AUTH LOGIN
	< 334 VXNlcm5hbWU6
	> not base64!
	< 501 5.5.2 Error: invalid base64 data
	> AUTH PLAIN
	< 334 
	> AHR
	< 501 5.5.2 Error: invalid base64 data
	> QUIT
	< 221 2.0.0
	END
}

@test "* cancels: 501 5.0.0" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> AUTH LOGIN
	< 334 VXNlcm5hbWU6
	> *
	< 501 5.0.0 Authentication cancelled
	> AUTH PLAIN
	< 334 
	> *
	< 501 5.0.0 Authentication cancelled
	> QUIT
	< 221 2.0.0
	END
}

@test "an unknown mechanism is 504 5.5.4; AUTH alone 501 5.5.4" {
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> AUTH CRAM-MD5
	< 504 5.5.4 Error: unsupported authentication mechanism
	> AUTH
	< 501 5.5.4 Syntax: AUTH mechanism
	> QUIT
	< 221 2.0.0
	END
}

@test "AUTH twice, inside a transaction, or before EHLO is 503 5.5.1" {
	transcript <<-'END'
	@ greeting
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 503 5.5.1 Error: send HELO/EHLO first
	@ ehlo c + AUTH PLAIN LOGIN
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 235 2.7.0 Authentication successful
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 503 5.5.1 Error: already authenticated
	> QUIT
	< 221 2.0.0
	END
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> MAIL FROM:<a@b.example>
	< 250 2.1.0 Ok
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 503 5.5.1 Error: MAIL transaction in progress
	> QUIT
	< 221 2.0.0
	END
}

@test "the checker gets user NUL password NUL timestamp NUL on fd 3" {
	cat >"$BATS_TEST_TMPDIR/check" <<SCRIPT
#!/bin/sh
od -An -c <&3 | tr -s ' \n' ' ' >"$BATS_TEST_TMPDIR/fd3"
exit 0
SCRIPT
	chmod 755 "$BATS_TEST_TMPDIR/check"
	SMTPD_FLAGS=(-E -A "$BATS_TEST_TMPDIR/check")
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AHUAcCB3: base64 of "\0u\0p w"
	> AUTH PLAIN AHUAcCB3
	< 235 2.7.0 Authentication successful
	> QUIT
	< 221 2.0.0
	END
	grep -Eq '^ ?u \\0 p w \\0 < [0-9 .]+ @ s m t p d > \\0 ?$' "$BATS_TEST_TMPDIR/fd3"
}

@test "checker exit 1 is 535 5.7.8; any other exit 454 4.7.0" {
	printf '#!/bin/sh\nexit 111\n' >"$BATS_TEST_TMPDIR/check"
	chmod 755 "$BATS_TEST_TMPDIR/check"
	SMTPD_FLAGS=(-E -A /bin/false)
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 535 5.7.8 Error: authentication failed
	> QUIT
	< 221 2.0.0
	END
	SMTPD_FLAGS=(-E -A "$BATS_TEST_TMPDIR/check")
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 454 4.7.0 Temporary authentication failure
	> QUIT
	< 221 2.0.0
	END
	SMTPD_FLAGS=(-E -A "$BATS_TEST_TMPDIR/no-such-checker")
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 454 4.7.0 Temporary authentication failure
	> QUIT
	< 221 2.0.0
	END
}

@test "the shipped checker refuses a password file others can read: 454" {
	chmod 644 "$PASSWD"
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 454 4.7.0 Temporary authentication failure
	> QUIT
	< 221 2.0.0
	END
	chmod 640 "$PASSWD"
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 235 2.7.0 Authentication successful
	> QUIT
	< 221 2.0.0
	END
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
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> MAIL FROM:<alice@b.example>
	< 530 5.7.0 Authentication required
	> RCPT TO:<x@elsewhere.example>
	< 503 5.5.1 Error: need MAIL command
	> QUIT
	< 221 2.0.0
	END
	REMOTE_HOST=127.0.0.1 transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	> MAIL FROM:<alice@b.example>
	< 530 5.7.0 Authentication required
	> RCPT TO:<x@elsewhere.example>
	< 503 5.5.1 Error: need MAIL command
	> QUIT
	< 221 2.0.0
	END
	transcript <<-'END'
	@ greeting
	@ ehlo c + AUTH PLAIN LOGIN
	# AGFsaWNlAHMzY3JldA==: base64 of "\0alice\0s3cret"
	> AUTH PLAIN AGFsaWNlAHMzY3JldA==
	< 235 2.7.0 Authentication successful
	> MAIL FROM:<alice@b.example>
	< 250 2.1.0 Ok
	> RCPT TO:<x@elsewhere.example>
	< 250 2.1.5 Ok
	> QUIT
	< 221 2.0.0
	END
	unset REMOTE_HOST
	SMTPD_FLAGS=(-S -A "$CHECKPASSWORD,$PASSWD")
	REMOTE_ADDR=127.0.0.1 transcript <<-'END'
	@ greeting
	@ ehlo c
	> MAIL FROM:<alice@b.example>
	< 530 5.7.0 Authentication required
	> RCPT TO:<x@elsewhere.example>
	< 503 5.5.1 Error: need MAIL command
	> QUIT
	< 221 2.0.0
	END
}

@test "-S: a local user on a pipe needs no AUTH" {
	unset REMOTE_HOST
	SMTPD_FLAGS=(-S -A "$CHECKPASSWORD,$PASSWD")
	transcript <<-'END'
	@ greeting
	@ ehlo c
	> MAIL FROM:<alice@b.example>
	< 250 2.1.0 Ok
	> RCPT TO:<x@elsewhere.example>
	< 250 2.1.5 Ok
	> QUIT
	< 221 2.0.0
	END
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
