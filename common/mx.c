/*
 * mx.c: where mail for a domain goes (RFC 5321 5.1, RFC 7505), for
 * smtpsend's direct delivery: mx.h says what it promises.
 *
 * XXX a stub: every lookup is MX_TEMP until the lookups are written.
 */
#include <stdio.h>
#include <string.h>

#include "mx.h"

void
mx_cache_init(struct mx_cache *c, const char *hostname, int timeout,
    unsigned long seed)
{
	memset(c, 0, sizeof(*c));
	if (hostname != NULL && strlen(hostname) < sizeof(c->self.name))
		strcpy(c->self.name, hostname);
	c->self.is_bind_probe = 1;
	c->timeout = timeout;
	c->seed = seed;
}

int
mx_self_add(struct mx_self *self, const char *addr)
{
	(void)self;
	(void)addr;
	return -1;
}

int
mx_is_self(const struct mx_self *self, const struct net_addr *a)
{
	(void)self;
	(void)a;
	return 0;
}

enum mx_status
mx_choose(const char *domain, const struct mx_host *hosts, size_t n,
    int is_implicit, const struct mx_self *self, struct mx_list *out)
{
	(void)hosts;
	(void)n;
	(void)is_implicit;
	(void)self;
	memset(out, 0, sizeof(*out));
	out->status = MX_TEMP;
	snprintf(out->why, sizeof(out->why), "%.200s: MX lookups not written",
	    domain);
	return out->status;
}

enum mx_status
mx_lookup(struct mx_cache *c, const char *domain, struct mx_list *out)
{
	return mx_choose(domain, NULL, 0, 0, &c->self, out);
}

int
mx_reply(const struct mx_list *l, char *reply, size_t size)
{
	if (l->status == MX_OK)
		return 0;
	snprintf(reply, size, "451 4.4.3 %s", l->why);
	return 451;
}
