/*
 * mx.c: where mail for a domain goes (RFC 5321 5.1, RFC 7505), for
 * smtpsend's direct delivery; mx.h says what it promises.
 *
 * mx_lookup() asks, through resolve.c (each query in a child, bounded in
 * time) and dns.c (the strict reader): the domain's MX records, then each
 * MX host's AAAA and A records (or, with no MX, the domain's own: the
 * implicit MX).  mx_choose() then decides, from those answers alone:
 * pruning at the first host of ours, IPv6 and IPv4 interleaved, at most
 * MX_ADDR_MAX addresses.  A result, failures included, is kept for the
 * rest of the run, so that a domain's mail costs one lookup, and a domain
 * whose servers do not answer costs its timeout once.
 *
 * The resolver is the C library's, configured by /etc/resolv.conf:
 * smtpsend.8, "DNS", says what glibc and musl do with it.
 */
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mx.h"

/* What a failed query costs at most beyond the first: the lookups of one
 * domain's MX hosts together take at most this many query timeouts. */
#define MX_HOST_TIMEOUTS	2

static const struct {
	int		code;
	const char	*dsn;
} mx_replies[] = {
	[MX_OK] =	{ 0,	"2.0.0" },
	[MX_NULL] =	{ 556,	"5.1.10" },	/* RFC 7505 3.3, RFC 7504 */
	[MX_NXDOMAIN] =	{ 550,	"5.1.2" },	/* RFC 3463: bad system */
	[MX_NOHOST] =	{ 554,	"5.4.4" },	/* unable to route */
	[MX_TEMP] =	{ 451,	"4.4.3" },	/* directory server failure */
	[MX_LOOP] =	{ 554,	"5.4.6" },	/* routing loop detected */
};

void
mx_cache_init(struct mx_cache *c, const char *hostname, int timeout,
    unsigned long seed)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	if (hostname != NULL && strlen(hostname) < sizeof(c->self.name)) {
		for (i = 0; hostname[i] != '\0'; i++)
			c->self.name[i] = (char)((hostname[i] >= 'A' &&
			    hostname[i] <= 'Z') ? hostname[i] - 'A' + 'a' :
			    hostname[i]);
		if (i > 0 && c->self.name[i - 1] == '.')
			c->self.name[i - 1] = '\0';
	}
	c->self.is_bind_probe = 1;
	c->timeout = timeout;
	c->seed = seed;
}

/* An address of 16 octets (dns_addr()'s) as a socket address, port 25;
 * an IPv4-mapped IPv6 address (RFC 4291 2.5.5.2) as the IPv4 one it
 * names, as connect() would reach it. */
static void
mx_sockaddr(int family, const unsigned char *bytes, struct net_addr *a)
{
	static const unsigned char mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(a, 0, sizeof(*a));
	if (family == AF_INET6 && memcmp(bytes, mapped, 12) == 0) {
		family = AF_INET;
		bytes += 12;
	}
	a->family = family;
	if (family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(25);
		memcpy(&sin.sin_addr, bytes, 4);
		a->len = sizeof(sin);
		memcpy(&a->ss, &sin, sizeof(sin));
	} else {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(25);
		memcpy(&sin6.sin6_addr, bytes, 16);
		a->len = sizeof(sin6);
		memcpy(&a->ss, &sin6, sizeof(sin6));
	}
}

/* The address's octets (4 or 16) at *bytes, their number returned. */
static size_t
mx_bytes(const struct net_addr *a, const unsigned char **bytes)
{
	if (a->family == AF_INET) {
		*bytes = (const unsigned char *)&((const struct sockaddr_in *)
		    (const void *)&a->ss)->sin_addr;
		return 4;
	}
	*bytes = (const unsigned char *)&((const struct sockaddr_in6 *)
	    (const void *)&a->ss)->sin6_addr;
	return 16;
}

static int
mx_same(const struct net_addr *x, const struct net_addr *y)
{
	const unsigned char *bx, *by;
	size_t nx, ny;

	if (x->family != y->family)
		return 0;
	nx = mx_bytes(x, &bx);
	ny = mx_bytes(y, &by);
	return nx == ny && memcmp(bx, by, nx) == 0;
}

int
mx_self_add(struct mx_self *self, const char *text)
{
	unsigned char b[16];

	if (self->n == MX_SELF_MAX)
		return -1;
	memset(b, 0, sizeof(b));
	if (inet_pton(AF_INET, text, b) == 1)
		mx_sockaddr(AF_INET, b, &self->a[self->n]);
	else if (inet_pton(AF_INET6, text, b) == 1)
		mx_sockaddr(AF_INET6, b, &self->a[self->n]);
	else
		return -1;
	self->n++;
	return 0;
}

/*
 * Whether a socket can be bound to the address (port 0): POSIX bind()
 * fails with EADDRNOTAVAIL for an address that is not of this host, so
 * success means one of our interfaces has it (the loopback network
 * included).  Any other failure (no IPv6, no sockets left) counts as
 * not ours: the loop is then found one hop later, by the receiver.
 */
static int
mx_can_bind(const struct net_addr *a)
{
	struct net_addr local = *a;
	int fd, rc;

	if (a->family == AF_INET)
		((struct sockaddr_in *)(void *)&local.ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)(void *)&local.ss)->sin6_port = 0;
	if ((fd = socket(a->family, SOCK_DGRAM, 0)) == -1)
		return 0;
	rc = bind(fd, (struct sockaddr *)&local.ss, local.len);
	(void)close(fd);
	return rc == 0;
}

int
mx_is_self(const struct mx_self *self, const struct net_addr *a)
{
	static const unsigned char zero[16];
	const unsigned char *b;
	size_t i, n;

	/* 0.0.0.0 and :: reach this host when connected to. */
	n = mx_bytes(a, &b);
	if (memcmp(b, zero, n) == 0)
		return 1;
	for (i = 0; i < self->n; i++)
		if (mx_same(&self->a[i], a))
			return 1;
	return self->is_bind_probe && mx_can_bind(a);
}

/* Whether an MX host is us: our name, or an address of ours. */
static int
mx_host_is_self(const struct mx_host *h, const struct mx_self *self)
{
	size_t i;

	if (self->name[0] != '\0' && strcasecmp(h->host, self->name) == 0)
		return 1;
	for (i = 0; i < h->n6; i++)
		if (mx_is_self(self, &h->a6[i]))
			return 1;
	for (i = 0; i < h->n4; i++)
		if (mx_is_self(self, &h->a4[i]))
			return 1;
	return 0;
}

/* Appends addr of host h to out unless it is there already or out is
 * full. */
static void
mx_add(struct mx_list *out, const struct mx_host *h,
    const struct net_addr *addr)
{
	struct mx_target *t;
	const unsigned char *b;
	size_t i;

	if (out->n == MX_ADDR_MAX)
		return;
	for (i = 0; i < out->n; i++)
		if (mx_same(&out->t[i].addr, addr))
			return;	/* two hosts, one address: tried once */
	t = &out->t[out->n++];
	memset(t, 0, sizeof(*t));
	strcpy(t->host, h->host);
	t->pref = h->pref;
	t->addr = *addr;
	(void)mx_bytes(addr, &b);
	if (inet_ntop(addr->family, b, t->addrtext, sizeof(t->addrtext)) ==
	    NULL)
		strcpy(t->addrtext, "?");
}

/*
 * The addresses of the hosts [first, last) (one preference) into out:
 * IPv6 and IPv4 alternately, IPv6 first (RFC 8305 4), and within a family
 * round-robin over the hosts in their drawn order, so that the first
 * tries reach different hosts and both families.
 */
static void
mx_add_group(struct mx_list *out, const struct mx_host *hosts, size_t first,
    size_t last)
{
	size_t round, i, k, left6, left4;

	for (round = 0; round < MX_HOST_ADDRS; round++) {
		left6 = left4 = 0;
		for (i = first; i < last; i++) {
			left6 += hosts[i].n6 > round;
			left4 += hosts[i].n4 > round;
		}
		if (left6 == 0 && left4 == 0)
			break;
		/* Within a round: the k-th IPv6 of the round, then the
		 * k-th IPv4, ... */
		for (k = 0; k < (left6 > left4 ? left6 : left4); k++) {
			size_t seen6 = 0, seen4 = 0;

			for (i = first; i < last; i++) {
				if (hosts[i].n6 > round && seen6++ == k)
					mx_add(out, &hosts[i],
					    &hosts[i].a6[round]);
			}
			for (i = first; i < last; i++) {
				if (hosts[i].n4 > round && seen4++ == k)
					mx_add(out, &hosts[i],
					    &hosts[i].a4[round]);
			}
		}
	}
}

enum mx_status
mx_choose(const char *domain, const struct mx_host *hosts, size_t n,
    int is_implicit, const struct mx_self *self, struct mx_list *out)
{
	size_t cut, i, j;

	out->n = 0;
	out->why[0] = '\0';
	/* RFC 5321 5.1: "If the SMTP client finds its own name among
	 * the MX hosts, it MUST discard it and every host of a worse (or
	 * equal) preference"; none left: the mail would loop. */
	for (cut = 0; cut < n; cut++)
		if (mx_host_is_self(&hosts[cut], self))
			break;
	if (cut < n) {
		out->is_pruned = 1;
		while (cut > 0 && hosts[cut - 1].pref == hosts[cut].pref)
			cut--;
	}
	if (cut == 0 && n > 0 && out->is_pruned) {
		snprintf(out->why, sizeof(out->why), "mail for %.200s loops "
		    "back to myself", domain);
		return out->status = MX_LOOP;
	}
	for (i = 0; i < cut && out->n < MX_ADDR_MAX; i = j) {
		for (j = i + 1; j < cut && hosts[j].pref == hosts[i].pref; j++)
			;
		mx_add_group(out, hosts, i, j);
	}
	if (out->n > 0)
		return out->status = MX_OK;
	/* No address: temporary when any lookup was; else for good. */
	for (i = 0; i < cut; i++)
		if (hosts[i].st6 == DNS_TEMP || hosts[i].st4 == DNS_TEMP) {
			snprintf(out->why, sizeof(out->why), "%.100s: no "
			    "answer for the address of %s%.100s", domain,
			    is_implicit ? "" : "its MX host ", hosts[i].host);
			return out->status = MX_TEMP;
		}
	if (is_implicit)
		snprintf(out->why, sizeof(out->why), "%.200s: no MX record "
		    "and no address", domain);
	else
		snprintf(out->why, sizeof(out->why), "%.200s: no MX host "
		    "has an address%s", domain, out->is_pruned ? " (better "
		    "than us)" : "");
	return out->status = MX_NOHOST;
}

/* Looks up our name's addresses, once, and checks that bind() tells an
 * address of ours from another (not with Linux's ip_nonlocal_bind). */
static void
mx_self_resolve(struct mx_cache *c)
{
	static const int types[2] = { DNS_TYPE_AAAA, DNS_TYPE_A };
	unsigned char addr[MX_SELF_MAX][16], test[16];
	struct net_addr a;
	char err[256];
	size_t n, i, t;

	if (c->self.is_resolved)
		return;
	c->self.is_resolved = 1;
	/* 192.0.2.1 (RFC 5737) is nobody's. */
	memset(test, 0, sizeof(test));
	test[0] = 192, test[2] = 2, test[3] = 1;
	mx_sockaddr(AF_INET, test, &a);
	if (mx_can_bind(&a))
		c->self.is_bind_probe = 0;
	if (c->self.name[0] == '\0')
		return;
	for (t = 0; t < 2; t++) {
		if (resolve_addr(c->self.name, (unsigned)types[t], c->timeout,
		    addr, MX_SELF_MAX, &n, err, sizeof(err)) != DNS_OK)
			continue;
		for (i = 0; i < n && c->self.n < MX_SELF_MAX; i++)
			mx_sockaddr(types[t] == DNS_TYPE_A ? AF_INET : AF_INET6,
			    addr[i], &c->self.a[c->self.n++]);
	}
}

/* A domain as looked up and cached: lower case, no final dot, a host
 * name's characters; 0, or -1 when it cannot be one. */
static int
mx_domain(const char *domain, char *out, size_t size)
{
	size_t len = strlen(domain), i;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX || len >= size)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)domain[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch - 'A' + 'a');
		/* XXX an internationalised domain (RFC 6531) would need
		 * its A-label (IDNA); as it stands it is not a host name. */
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_') ||
		    (ch == '.' && (i == 0 || domain[i - 1] == '.')))
			return -1;
		out[i] = (char)ch;
	}
	out[len] = '\0';
	return 0;
}

/* An address literal (RFC 5321 4.1.3): its one address, no DNS; a
 * literal of ours loops.  MX_OK, MX_LOOP or MX_NXDOMAIN (malformed). */
static enum mx_status
mx_literal(const char *domain, const struct mx_self *self,
    struct mx_list *out)
{
	static struct mx_host h;
	char text[INET6_ADDRSTRLEN + 8];
	unsigned char b[16];
	size_t len = strlen(domain);
	int family = AF_INET;
	const char *p = domain + 1;

	memset(&h, 0, sizeof(h));
	if (len < 3 || len - 2 >= sizeof(text) || domain[len - 1] != ']')
		goto bad;
	if (strncasecmp(p, "IPv6:", 5) == 0) {
		family = AF_INET6;
		p += 5;
	}
	memcpy(text, p, (size_t)(domain + len - 1 - p));
	text[domain + len - 1 - p] = '\0';
	memset(b, 0, sizeof(b));
	if (inet_pton(family, text, b) != 1)
		goto bad;
	if (strlen(domain) >= sizeof(h.host))
		goto bad;
	strcpy(h.host, domain);
	h.st6 = h.st4 = DNS_NODATA;
	if (family == AF_INET6) {
		mx_sockaddr(AF_INET6, b, &h.a6[0]);
		h.n6 = 1;
		h.st6 = DNS_OK;
	} else {
		mx_sockaddr(AF_INET, b, &h.a4[0]);
		h.n4 = 1;
		h.st4 = DNS_OK;
	}
	out->is_implicit = 1;
	return mx_choose(domain, &h, 1, 1, self, out);

bad:
	out->status = MX_NXDOMAIN;
	snprintf(out->why, sizeof(out->why), "%.200s: not an address "
	    "literal", domain);
	return MX_NXDOMAIN;
}

/* Seconds left until due (line_now()'s clock), at least 1, at most
 * timeout; 0 when timeout is 0 (no bound). */
static int
mx_left(int timeout, long long due)
{
	long long left = (due - line_now()) / 1000000000LL;

	if (timeout == 0)
		return 0;
	if (left < 1)
		return -1;
	return left < timeout ? (int)left : timeout;
}

/* Host h's AAAA and A records, each query bounded by the time left
 * until due; a host whose AAAA query got no answer at all is not asked
 * again for its A (its servers are down, and the time better spent on
 * the next host). */
static void
mx_host_addrs(struct mx_host *h, int timeout, long long due)
{
	static unsigned char addr[MX_HOST_ADDRS][16];
	char err[256];
	size_t n, i;
	int left;

	h->n6 = h->n4 = 0;
	h->st6 = h->st4 = DNS_TEMP;
	if ((left = mx_left(timeout, due)) == -1)
		return;
	h->st6 = resolve_addr(h->host, DNS_TYPE_AAAA, left, addr,
	    MX_HOST_ADDRS, &n, err, sizeof(err));
	for (i = 0; h->st6 == DNS_OK && i < n; i++)
		mx_sockaddr(AF_INET6, addr[i], &h->a6[h->n6++]);
	if (h->st6 == DNS_TEMP && strstr(err, "(timeout)") != NULL)
		return;
	if ((left = mx_left(timeout, due)) == -1)
		return;
	h->st4 = resolve_addr(h->host, DNS_TYPE_A, left, addr, MX_HOST_ADDRS,
	    &n, err, sizeof(err));
	for (i = 0; h->st4 == DNS_OK && i < n; i++) {
		/* An A record is 4 octets: never "mapped". */
		mx_sockaddr(AF_INET, addr[i], &h->a4[h->n4++]);
	}
	/* A mapped AAAA (mx_sockaddr()) counts with the IPv4 ones. */
	for (i = 0; i < h->n6; i++)
		if (h->a6[i].family == AF_INET && h->n4 < MX_HOST_ADDRS) {
			h->a4[h->n4++] = h->a6[i];
			memmove(&h->a6[i], &h->a6[i + 1], (h->n6 - i - 1) *
			    sizeof(h->a6[0]));
			h->n6--;
			i--;
		}
}

/* FNV-1a, to draw a different order of equal preferences per domain. */
static unsigned long
mx_hash(const char *s, unsigned long seed)
{
	uint32_t h = 2166136261u ^ (uint32_t)seed;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The lookup itself, uncached. */
static enum mx_status
mx_resolve(struct mx_cache *c, const char *domain, struct mx_list *out)
{
	static struct dns_mx mx[DNS_MX_MAX];
	static struct mx_host hosts[DNS_MX_MAX];
	long long due;
	enum dns_status st;
	char err[MX_WHY_MAX + 1];
	size_t n = 0, i, j = 0, have;
	int is_authentic = 0, is_self;

	if (domain[0] == '[')
		return mx_literal(domain, &c->self, out);
	err[0] = '\0';
	st = resolve_mx(domain, c->timeout, mx, DNS_MX_MAX, &n,
	    &is_authentic, err, sizeof(err));
	out->is_authentic = is_authentic;
	switch (st) {
	case DNS_NULLMX:
		snprintf(out->why, sizeof(out->why), "%.200s: the domain "
		    "accepts no mail (null MX, RFC 7505)", domain);
		return out->status = MX_NULL;
	case DNS_NXDOMAIN:
		snprintf(out->why, sizeof(out->why), "%.200s: no such domain",
		    domain);
		return out->status = MX_NXDOMAIN;
	case DNS_TEMP:
		snprintf(out->why, sizeof(out->why), "MX lookup: %.200s",
		    err[0] != '\0' ? err : domain);
		return out->status = MX_TEMP;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain itself is the one host,
		 * "with a preference of 0". */
		out->is_implicit = 1;
		n = 1;
		memset(&hosts[0], 0, sizeof(hosts[0]));
		strcpy(hosts[0].host, domain);
		break;
	case DNS_OK:
		dns_mx_order(mx, n, mx_hash(domain, c->seed));
		for (i = 0; i < n; i++) {
			memset(&hosts[i], 0, sizeof(hosts[i]));
			hosts[i].pref = mx[i].pref;
			strcpy(hosts[i].host, mx[i].host);
		}
		break;
	}
	mx_self_resolve(c);
	due = line_now() + (long long)c->timeout * MX_HOST_TIMEOUTS *
	    1000000000LL;
	/* Hosts by preference, a preference at a time: once the better
	 * ones give MX_ADDR_MAX addresses, or one is ours (nothing worse
	 * is tried then), the rest are not looked up. */
	for (have = 0, i = 0; i < n && have < MX_ADDR_MAX; i = j) {
		is_self = 0;
		for (j = i; j < n && hosts[j].pref == hosts[i].pref; j++) {
			/* Ours by name: no lookup needed. */
			if (c->self.name[0] == '\0' ||
			    strcmp(hosts[j].host, c->self.name) != 0)
				mx_host_addrs(&hosts[j], c->timeout, due);
			have += hosts[j].n6 + hosts[j].n4;
			is_self |= mx_host_is_self(&hosts[j], &c->self);
		}
		if (is_self)
			break;
	}
	/* mx_choose() sees the hosts looked up, ours included. */
	return mx_choose(domain, hosts, j, out->is_implicit, &c->self, out);
}

enum mx_status
mx_lookup(struct mx_cache *c, const char *domain, struct mx_list *out)
{
	struct mx_entry *e;
	char name[DNS_NAME_MAX + 3];
	size_t i;

	memset(out, 0, sizeof(*out));
	if (domain[0] == '[') {
		if (strlen(domain) >= sizeof(name))
			return mx_literal(domain, &c->self, out);
		strcpy(name, domain);
	} else if (mx_domain(domain, name, sizeof(name)) == -1) {
		snprintf(out->why, sizeof(out->why), "%.200s: not a domain "
		    "name", domain);
		return out->status = MX_NXDOMAIN;
	}
	for (i = 0; i < c->n; i++)
		if (strcmp(c->e[i].domain, name) == 0) {
			*out = c->e[i].list;
			return out->status;
		}
	if (domain[0] == '[')
		mx_self_resolve(c);
	mx_resolve(c, name, out);
	/* Kept for the run; when full, the oldest entry makes room. */
	if (c->n < MX_CACHE_MAX)
		e = &c->e[c->n++];
	else {
		e = &c->e[c->next];
		c->next = (c->next + 1) % MX_CACHE_MAX;
	}
	if (strlen(name) < sizeof(e->domain)) {
		strcpy(e->domain, name);
		e->list = *out;
	} else
		e->domain[0] = '\0';
	return out->status;
}

int
mx_reply(const struct mx_list *l, char *reply, size_t size)
{
	if (l->status == MX_OK)
		return 0;
	snprintf(reply, size, "%d %s %s", mx_replies[l->status].code,
	    mx_replies[l->status].dsn, l->why);
	return mx_replies[l->status].code;
}
