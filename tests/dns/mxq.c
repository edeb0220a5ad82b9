/*
 * mxq.c: the MX lookup smtpsend's direct delivery makes, as a command the
 * tests run inside a network namespace whose resolver they control:
 * resolve_mx(): resolve_query() (a child, bounded in time) and dns_mx()
 * (the strict reader), nothing else.
 *
 *	mxq [-t seconds] [-s seed] DOMAIN
 *	mxq -l [-t seconds] [-s seed] [-n hostname] [-a address]... [-B]
 *	    DOMAIN...
 *
 * Prints "status=ok|nodata|nxdomain|nullmx|temp ad=0|1" and, for ok, one
 * line "PREFERENCE HOST" per MX host in the order they would be tried;
 * for temp, a line "why: REASON".
 *
 * With -l: mx_lookup() (common/mx.c), all of direct delivery's choice,
 * for each DOMAIN in turn through one cache, with -n as our host name, -a
 * as addresses of ours, and -B: no bind() probe for the others.  Prints
 * per domain "DOMAIN status=ok|null|nxdomain|nohost|temp|loop implicit=0|1
 * pruned=0|1", then for ok one line "PREFERENCE HOST ADDRESS" per address
 * in the order they would be tried, else "reply: CODE X.Y.Z REASON".
 * Exits 0, or 64 for bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mx.h"

/* -l: mx_lookup() for each domain, through one cache. */
static int
mxq_lookup(char **domains, int n, const char *hostname, char **self,
    int nself, int is_bind_probe, int timeout, unsigned long seed)
{
	static const char *const names[] = {
		"ok", "null", "nxdomain", "nohost", "temp", "loop"
	};
	static struct mx_cache cache;
	struct mx_list l;
	char reply[512];
	int i;
	size_t k;

	mx_cache_init(&cache, hostname, timeout, seed);
	for (i = 0; i < nself; i++)
		if (mx_self_add(&cache.self, self[i]) == -1)
			return 64;
	for (i = 0; i < n; i++) {
		/* Set again: the first lookup may have cleared it. */
		cache.self.is_bind_probe &= is_bind_probe;
		mx_lookup(&cache, domains[i], &l);
		printf("%s status=%s implicit=%d pruned=%d\n", domains[i],
		    names[l.status], l.is_implicit, l.is_pruned);
		if (l.status != MX_OK) {
			mx_reply(&l, reply, sizeof(reply));
			printf("reply: %s\n", reply);
		}
		for (k = 0; k < l.n; k++)
			printf("%u %s %s\n", l.t[k].pref, l.t[k].host,
			    l.t[k].addrtext);
	}
	return 0;
}

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
	int c, timeout = 10, is_authentic, is_lookup = 0, is_bind_probe = 1;
	int nself = 0;
	char *self[MX_SELF_MAX];
	const char *hostname = NULL;

	while ((c = getopt(argc, argv, "a:Bln:s:t:")) != -1) {
		switch (c) {
		case 'a':
			if (nself == MX_SELF_MAX)
				return 64;
			self[nself++] = optarg;
			break;
		case 'B':
			is_bind_probe = 0;
			break;
		case 'l':
			is_lookup = 1;
			break;
		case 'n':
			hostname = optarg;
			break;
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
	sig_init();
	if (is_lookup && optind < argc)
		return mxq_lookup(argv + optind, argc - optind, hostname, self,
		    nself, is_bind_probe, timeout, seed);
	if (optind != argc - 1)
		return 64;
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
