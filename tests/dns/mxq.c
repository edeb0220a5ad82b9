/*
 * mxq.c: the MX lookup smtpsend's direct delivery makes, as a command the
 * tests run inside a network namespace whose resolver they control:
 * resolve_mx(): resolve_query() (a child, bounded in time) and dns_mx()
 * (the strict reader), nothing else.
 *
 *	mxq [-t seconds] [-s seed] DOMAIN
 *
 * Prints "status=ok|nodata|nxdomain|nullmx|temp ad=0|1" and, for ok, one
 * line "PREFERENCE HOST" per MX host in the order they would be tried;
 * for temp, a line "why: REASON".  Exits 0, or 64 for bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

int
main(int argc, char **argv)
{
	static const char *const names[] = {
		"ok", "nodata", "nxdomain", "nullmx", "temp"
	};
	struct dns_mx mx[DNS_MX_MAX];
	enum dns_status st;
	char err[512] = "";
	unsigned long seed = 1;
	size_t n = 0, i;
	int c, timeout = 10, is_authentic;

	while ((c = getopt(argc, argv, "s:t:")) != -1) {
		switch (c) {
		case 's':
			seed = strtoul(optarg, NULL, 10);
			break;
		case 't':
			timeout = (int)strtol(optarg, NULL, 10);
			break;
		default:
			return 64;
		}
	}
	if (optind != argc - 1)
		return 64;
	sig_init();
	st = resolve_mx(argv[optind], timeout, mx, DNS_MX_MAX, &n,
	    &is_authentic, err, sizeof(err));
	dns_mx_order(mx, n, seed);
	printf("status=%s ad=%d\n", names[st], st == DNS_TEMP ? 0 :
	    is_authentic);
	if (st == DNS_TEMP)
		printf("why: %s\n", err);
	for (i = 0; i < n; i++)
		printf("%u %s\n", mx[i].pref, mx[i].host);
	return 0;
}
