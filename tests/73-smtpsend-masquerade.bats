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
	qmsg "$(qname 0 1)" root@myhost.lan x@dst.test
	relay_start
	smtpsend_run -M me@provider.example
	[ "$status" -eq 0 ]
	[ "$(mail_from)" = "MAIL FROM:<me@provider.example>" ]
}

@test "-M @DOMAIN keeps the local part" {
	qmsg "$(qname 0 1)" root@myhost.lan x@dst.test
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

@test "-M with a bad address is a usage error" {
	run "$SMTPSEND" -q "$Q" -M 'not an address'
	[ "$status" -eq 64 ]
	run "$SMTPSEND" -q "$Q" -M '@'
	[ "$status" -eq 64 ]
}
