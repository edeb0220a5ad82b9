/*
 * rptq.c: one TLS report count (RFC 8460) recorded as smtpsend records it,
 * tlsrpt_record() (smtpsend/tlsrpt.c), for the tests.
 *
 *	rptq QUEUE DOMAIN sts|tlsa|no-policy-found success|RESULT HOST|-
 *
 * Exits 0, 1 when tlsrpt_record() refused or failed (the reason on
 * stderr), 64 for bad arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tlspolicy.h"

int
main(int argc, char **argv)
{
	enum tlsrpt_policy policy;

	if (argc != 6)
		return 64;
	if (strcmp(argv[3], "sts") == 0)
		policy = TLSRPT_STS;
	else if (strcmp(argv[3], "tlsa") == 0)
		policy = TLSRPT_TLSA;
	else if (strcmp(argv[3], "no-policy-found") == 0)
		policy = TLSRPT_NONE;
	else
		return 64;
	if (tlsrpt_record(argv[1], argv[2], policy, strcmp(argv[4],
	    "success") == 0 ? NULL : argv[4], strcmp(argv[5], "-") == 0 ?
	    NULL : argv[5]) == -1) {
		fprintf(stderr, "rptq: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
