#!/usr/bin/env bats
# smtpsend -M: the envelope sender of relayed mail rewritten for a
# provider's smarthost, against tests/fakerelay; <> never.

load helpers

setup() {
	mkdir -p "$Q/new" "$Q/tmp" "$Q/failed"
}

teardown() {
	relay_stop
}

mail_from() {
	grep -o ' C: MAIL FROM:<[^>]*>' "$RELAY_DIR/transcript" | cut -d' ' -f3-
}

@test "-M ADDRESS: every relayed sender becomes the address" {
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname 0 1)" root@myhost.lan \
	    x@dst.test
	qmsg "$(qname 0 2)" ceo@outside.test x@dst.test
	relay_start
	smtpsend_run -M me@provider.example
	[ "$status" -eq 0 ]
	[ "$(mail_from | sort -u)" = "MAIL FROM:<me@provider.example>" ]
}

@test "-M @DOMAIN keeps the local part of mail that originated here (Origin:)" {
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname 0 1)" root@myhost.lan \
	    x@dst.test
	relay_start
	smtpsend_run -M @provider.example
	[ "$status" -eq 0 ]
	[ "$(mail_from)" = "MAIL FROM:<root@provider.example>" ]
}

@test "-M never rewrites the null sender" {
	qmsg "$(qname 0 1)" "" x@dst.test
	relay_start
	smtpsend_run -M me@provider.example
	[ "$status" -eq 0 ]
	[ "$(mail_from)" = "MAIL FROM:<>" ]
}

@test "-M @DOMAIN: mail from outside (no Origin:) goes from postmaster@DOMAIN, never a local part the outside chose" {
	local o
	for o in trusted auth; do
		ENVELOPE_EXTRA="Origin: $o" qmsg "$(qname 0 "${#o}")" \
		    "$o@myhost.lan" x@dst.test
	done
	qmsg "$(qname 0 9)" ceo@outside.test x@dst.test
	relay_start
	smtpsend_run -M @provider.example
	[ "$status" -eq 0 ]
	[ "$(mail_from | sort | tr '\n' ' ')" = "MAIL FROM:<auth@provider.example> MAIL FROM:<postmaster@provider.example> MAIL FROM:<trusted@provider.example> " ]
	! grep -q 'ceo@provider' "$RELAY_DIR/transcript" || false
}

@test "-M @DOMAIN through an alias: Origin: goes along; mail from outside forwarded from postmaster@DOMAIN" {
	local A=$BATS_TEST_TMPDIR/aliases
	printf 'fwd: ops@remote.test\n' >"$A"
	ENVELOPE_EXTRA='Origin: local' qmsg "$(qname 0 1)" alice@myhost.lan \
	    fwd@local.test
	qmsg "$(qname 0 2)" ceo@outside.test fwd@local.test
	relay_start
	smtpsend_run -M @provider.example -A "$A" -d local.test \
	    -m "$BATS_TEST_TMPDIR/mail"
	[ "$status" -eq 0 ]
	[ "$(mail_from | sort | tr '\n' ' ')" = "MAIL FROM:<alice@provider.example> MAIL FROM:<postmaster@provider.example> " ]
	! grep -q 'ceo@provider' "$RELAY_DIR/transcript" || false
}

@test "-M @DOMAIN too long for postmaster@DOMAIN is a usage error" {
	local l60 d
	l60=$(printf 'a%.0s' $(seq 60))
	d=$l60.$l60.$l60.$l60.example		# 251 octets: x@ fits, postmaster@ not
	run "$SMTPSEND" -q "$Q" -n mx.test -M "@$d" -p
	[ "$status" -eq 64 ]
	[[ $output == *"bad -M address or @domain"* ]]
}

@test "-M with a bad address is a usage error" {
	run "$SMTPSEND" -q "$Q" -M 'not an address'
	[ "$status" -eq 64 ]
	run "$SMTPSEND" -q "$Q" -M '@'
	[ "$status" -eq 64 ]
}
