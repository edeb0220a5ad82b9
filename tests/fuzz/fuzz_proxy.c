/*
 * fuzz_proxy.c: proxy_parse() (common/proxy.c), the PROXY header smtpd -P
 * reads from a load balancer, over arbitrary bytes.
 *
 * Input: the bytes as they arrive, in a malloc'd buffer of exactly that
 * length so ASan catches a read past it.  Checked, as smtpd/balancer.c relies
 * on it when it reads byte by byte and never past the header:
 *   - a length is at most the bytes given and the header's bound (v1 107
 *     octets, v2 PROXY_V2_MAX), and those bytes alone give the same
 *     result, whatever follows them;
 *   - no shorter prefix gives a length; once a prefix is refused, every
 *     longer one is; "not yet" never follows a refusal;
 *   - a client address is IPv4 or IPv6; other kinds carry no family.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy p, q;
	unsigned char *b;
	size_t i;
	int r, k, refused = 0;

	if (size > 4 * PROXY_V2_MAX)
		size = 4 * PROXY_V2_MAX;	/* prefixes cost size^2 */
	if ((b = malloc(size > 0 ? size : 1)) == NULL)
		abort();
	memcpy(b, data, size);
	r = proxy_parse(b, size, &p);
	if (r < -1 || (r > 0 && (size_t)r > size))
		abort();
	if (r > 0) {
		if (r > (b[0] == 'P' ? PROXY_V1_MAX : PROXY_V2_MAX))
			abort();
		if (p.kind == PROXY_CLIENT ? p.family != AF_INET &&
		    p.family != AF_INET6 : p.family != 0)
			abort();
		/* The header alone, in a buffer of its size. */
		if (proxy_parse(b, (size_t)r, &q) != r ||
		    memcmp(&p, &q, sizeof(p)) != 0)
			abort();
	}
	for (i = 0; i < (r > 0 ? (size_t)r : size); i++) {
		k = proxy_parse(b, i, &q);
		if (k > 0 || (k == 0 && refused) || (k == -1 && r != -1))
			abort();
		refused |= k == -1;
	}
	free(b);
	return 0;
}
