/*
 * stsq.c: the MTA-STS decision smtpsend makes for a domain (RFC 8461), as
 * a command the tests run inside a network namespace whose resolver and
 * policy web server they control: mtasts_lookup() (smtpsend/mtasts.c:
 * the TXT record, the cache under the queue, the fetch by curl) and
 * mtasts_check() per MX host named.
 *
 *	stsq -q QUEUE [-t seconds] DOMAIN [MXHOST...]
 *
 * The policy host is verified against the system's CAs, as smtpsend does
 * (the tests point CURL_CA_BUNDLE at theirs).
 *
 * Prints "sts=enforce|testing|none id=ID max_age=N from=cache|fetch"
 * (just "sts=none" without a policy), then "why: WHAT", then per MX host
 * "HOST none|verify|refuse|testing|testing-mismatch".  Exits 0, or 64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tlspolicy.h"

int
main(int argc, char **argv)
{
	static struct mtasts_policy p;
	const char *queue = NULL;
	char why[512] = "";
	int c, timeout = 10, has_policy;

	while ((c = getopt(argc, argv, "q:t:")) != -1) {
		switch (c) {
		case 'q':
			queue = optarg;
			break;
		case 't':
			timeout = (int)strtol(optarg, NULL, 10);
			break;
		default:
			return 64;
		}
	}
	if (queue == NULL || optind >= argc)
		return 64;
	sig_init();
	has_policy = mtasts_lookup(queue, argv[optind], timeout, &p,
	    why, sizeof(why));
	if (has_policy)
		printf("sts=%s id=%s max_age=%ld from=%s\n",
		    mtasts_mode_name(p.mode), p.id, p.max_age,
		    p.is_cached ? "cache" : "fetch");
	else
		printf("sts=none\n");
	printf("why: %s\n", why);
	for (optind++; optind < argc; optind++)
		printf("%s %s\n", argv[optind], mtasts_action_name(
		    mtasts_check(has_policy ? &p : NULL, argv[optind])));
	return 0;
}
