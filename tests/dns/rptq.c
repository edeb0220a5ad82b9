/*
 * rptq.c: one TLS report count (RFC 8460) recorded as smtpsend records it,
 * tlsrpt_record() (smtpsend/tlsrpt.c), for the tests.
 *
 *	rptq QUEUE DOMAIN sts|tlsa|no-policy-found success|RESULT HOST|- [N]
 *
 * N times (1 by default, at most 100000): parallel rptq runs are
 * workers recording at once, without an exec per session.
 * Exits 0, 1 when tlsrpt_record() refused or failed (the reason on
 * stderr), 64 for bad arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlspolicy.h"

int
main(int argc, char **argv)
{
	enum tlsrpt_policy policy;
	long n = 1;
	char *end;

	if (argc != 6 && argc != 7)
		return 64;
	if (argc == 7 && ((n = strtol(argv[6], &end, 10)) < 1 ||
	    n > 100000 || *end != '\0'))
		return 64;
	if (strcmp(argv[3], "sts") == 0)
		policy = TLSRPT_STS;
	else if (strcmp(argv[3], "tlsa") == 0)
		policy = TLSRPT_TLSA;
	else if (strcmp(argv[3], "no-policy-found") == 0)
		policy = TLSRPT_NONE;
	else
		return 64;
	for (; n > 0; n--)
		if (tlsrpt_record(argv[1], argv[2], policy, strcmp(argv[4],
		    "success") == 0 ? NULL : argv[4], strcmp(argv[5], "-") == 0 ?
		    NULL : argv[5]) == -1) {
			fprintf(stderr, "rptq: %s\n", strerror(errno));
			return 1;
		}
	return 0;
}
