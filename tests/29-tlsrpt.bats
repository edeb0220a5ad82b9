#!/usr/bin/env bats
# TLS reporting counts (RFC 8460; smtpsend(8) ROUTES):
# smtpsend/tlsrpt.c appends one line per session to QUEUE/tlsrpt/DAY
# (tests/dns/rptq records as smtpsend would), and "smtpqctl tlsrpt DAY"
# prints the day's report, the JSON of RFC 8460 4.4, counted from those
# lines, which it reads as input.

load helpers

RPTQ=${RPTQ:-$BATS_TEST_DIRNAME/dns/rptq}
SMTPQCTL=${SMTPQCTL:-$BATS_TEST_DIRNAME/../smtpsend/smtpqctl}

setup() {
	mkdir -p "$Q"
	DAY=$(date -u +%Y-%m-%d)
}

# check_report: the report in $output, read by Python's json, against
# the expected policies given as JSON in $1.
check_report() {
	printf '%s' "$output" | "$PYTHON" -c '
import json, sys
r = json.load(sys.stdin)
want = json.loads(sys.argv[2])
assert r["date-range"]["start-datetime"] == sys.argv[1] + "T00:00:00Z", r
assert r["date-range"]["end-datetime"] == sys.argv[1] + "T23:59:59Z", r
assert r["contact-info"].startswith("postmaster@"), r
got = [{"type": p["policy"]["policy-type"], "domain": p["policy"]["policy-domain"],
        "ok": p["summary"]["total-successful-session-count"],
        "failed": p["summary"]["total-failure-session-count"],
        "details": sorted([d["result-type"], d.get("receiving-mx-hostname", "-"),
                           d["failed-session-count"]] for d in p["failure-details"])}
       for p in r["policies"]]
assert got == want, (got, want)
' "$DAY" "$1"
}

@test "tlsrpt DAY counts sessions per domain and policy, failures per result and MX host" {
	"$RPTQ" "$Q" example.org sts success mx1.example.org
	"$RPTQ" "$Q" example.org sts success mx1.example.org
	"$RPTQ" "$Q" example.org sts certificate-host-mismatch mx2.example.org
	"$RPTQ" "$Q" example.org sts certificate-host-mismatch mx2.example.org
	"$RPTQ" "$Q" example.org sts starttls-not-supported mx1.example.org
	"$RPTQ" "$Q" dane.example tlsa success mx.dane.example
	"$RPTQ" "$Q" dane.example tlsa dnssec-invalid -
	"$RPTQ" "$Q" plain.example no-policy-found success mx.plain.example
	[ "$(stat -c %a "$Q/tlsrpt/$DAY")" = 600 ]
	run "$SMTPQCTL" -q "$Q" -l - tlsrpt "$DAY"
	assert_status 0
	check_report '[
	 {"type": "sts", "domain": "example.org", "ok": 2, "failed": 3, "details":
	  [["certificate-host-mismatch", "mx2.example.org", 2], ["starttls-not-supported", "mx1.example.org", 1]]},
	 {"type": "tlsa", "domain": "dane.example", "ok": 1, "failed": 1, "details":
	  [["dnssec-invalid", "-", 1]]},
	 {"type": "no-policy-found", "domain": "plain.example", "ok": 1, "failed": 0, "details": []}]'
}

@test "a day's file is input: lines that are not four known tokens are skipped" {
	"$RPTQ" "$Q" example.org sts success mx1.example.org
	{
		printf 'example.org sts success mx1.example.org extra\n'
		printf 'example.org sts no-such-result mx1.example.org\n'
		printf 'example.org nopolicy success mx1.example.org\n'
		printf 'Ex"ample.org sts success mx1.example.org\n'
		printf 'example.org sts success mx1\\\\.example.org\n'
		printf 'example.org sts success\n'
		printf '%06000d sts success mx1.example.org\n' 0
		printf 'example.org sts validation-failure %s\n' "$(printf 'a%.0s' $(seq 300))"
		printf 'example.org sts validation-failure \001\n'
		printf 'example.org sts sts-policy-fetch-error mta-sts.example.org'	# no newline
	} >>"$Q/tlsrpt/$DAY"
	run "$SMTPQCTL" -q "$Q" -l - tlsrpt "$DAY"
	assert_status 0
	check_report '[{"type": "sts", "domain": "example.org", "ok": 1, "failed": 1, "details":
	  [["sts-policy-fetch-error", "mta-sts.example.org", 1]]}]'
}

@test "tlsrpt refuses a day that is not YYYY-MM-DD, says when nothing was recorded" {
	run "$SMTPQCTL" -q "$Q" -l - tlsrpt ../../etc/passwd
	assert_status 64
	run "$SMTPQCTL" -q "$Q" -l - tlsrpt 2026-1-011
	assert_status 64
	run "$SMTPQCTL" -q "$Q" -l - tlsrpt 2001-01-01
	assert_status 66
	[[ "$output" == *"nothing recorded on 2001-01-01"* ]]
}

@test "recording refuses what a report could not carry" {
	run "$RPTQ" "$Q" example.org sts made-up-result mx.example.org
	assert_status 1
	run "$RPTQ" "$Q" ../example.org sts success mx.example.org
	assert_status 1
	run "$RPTQ" "$Q" example.org sts success 'mx example.org'
	assert_status 1
	[ ! -e "$Q/tlsrpt/$DAY" ]
}

@test "sessions recorded at once by parallel workers are all counted, no line torn or lost" {
	local w pids=()
	# Eight writers, as smtpsend -j's workers: 500 sessions each, two
	# lengths of line, all appended to the day's one file at once.
	for w in 1 2 3 4 5 6 7 8; do
		"$RPTQ" "$Q" example.org sts success "mx$w.example.org" 250 &
		pids+=($!)
		"$RPTQ" "$Q" example.org sts certificate-host-mismatch \
		    "a-rather-longer-mx-host-name-$w.example.org" 250 &
		pids+=($!)
	done
	for w in "${pids[@]}"; do
		wait "$w"
	done
	[ "$(wc -l <"$Q/tlsrpt/$DAY")" -eq 4000 ]
	run "$SMTPQCTL" -q "$Q" -l - tlsrpt "$DAY"
	assert_status 0
	check_report '[{"type": "sts", "domain": "example.org", "ok": 2000, "failed": 2000, "details": [
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-1.example.org", 250],
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-2.example.org", 250],
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-3.example.org", 250],
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-4.example.org", 250],
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-5.example.org", 250],
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-6.example.org", 250],
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-7.example.org", 250],
	  ["certificate-host-mismatch", "a-rather-longer-mx-host-name-8.example.org", 250]]}]'
}
