/*
 * mx.c: unit tests for common/mx.c's choice (mx_choose()): given MX hosts
 * in preference order and the addresses their lookups gave, the order
 * the addresses are tried in (IPv6 and IPv4 interleaved, at most
 * MX_ADDR_MAX, each once), the pruning at a host of ours (RFC 5321 5.1),
 * the loop, and the replies of a domain with no address to try.  No DNS:
 * the answers are made up here, and the bind() probe is off.
 */
#include <stdio.h>
#include <string.h>

#include "mx.h"
#include "tap.h"

static struct mx_host hosts[8];
static struct mx_self self;

/* An address from text, port 25 (through mx_self_add()). */
static struct net_addr
addr(const char *text)
{
	struct mx_self s;

	memset(&s, 0, sizeof(s));
	if (mx_self_add(&s, text) == -1)
		printf("# bad address in the test: %s\n", text);
	return s.a[0];
}

/* Host i: pref, name, and its AAAA and A addresses, space separated
 * ("" none, "TEMP": that lookup failed). */
static void
host(size_t i, unsigned pref, const char *name, const char *v6,
    const char *v4)
{
	char buf[256], *p, *save;
	struct mx_host *h = &hosts[i];

	memset(h, 0, sizeof(*h));
	h->pref = pref;
	snprintf(h->host, sizeof(h->host), "%s", name);
	h->st6 = strcmp(v6, "TEMP") == 0 ? DNS_TEMP : *v6 ? DNS_OK :
	    DNS_NODATA;
	h->st4 = strcmp(v4, "TEMP") == 0 ? DNS_TEMP : *v4 ? DNS_OK :
	    DNS_NODATA;
	snprintf(buf, sizeof(buf), "%s", h->st6 == DNS_OK ? v6 : "");
	for (p = strtok_r(buf, " ", &save); p != NULL;
	    p = strtok_r(NULL, " ", &save))
		h->a6[h->n6++] = addr(p);
	snprintf(buf, sizeof(buf), "%s", h->st4 == DNS_OK ? v4 : "");
	for (p = strtok_r(buf, " ", &save); p != NULL;
	    p = strtok_r(NULL, " ", &save))
		h->a4[h->n4++] = addr(p);
}

/* The chosen list as "host addr, host addr, ...", or the reply. */
static const char *
show(const struct mx_list *l)
{
	static char buf[1024];
	size_t i, len = 0;

	buf[0] = '\0';
	if (l->status != MX_OK) {
		mx_reply(l, buf, sizeof(buf));
		return buf;
	}
	for (i = 0; i < l->n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s %s",
		    i > 0 ? ", " : "", l->t[i].host, l->t[i].addrtext);
	return buf;
}

static const char *
choose(size_t n, int is_implicit, struct mx_list *l)
{
	memset(l, 0, sizeof(*l));
	mx_choose("example.org", hosts, n, is_implicit, &self, l);
	return show(l);
}

int
main(void)
{
	struct mx_list l;
	struct net_addr a;

	memset(&self, 0, sizeof(self));
	strcpy(self.name, "mail.example.net");

	host(0, 10, "mx1", "2001:db8::1", "192.0.2.1 192.0.2.2");
	host(1, 20, "mx2", "2001:db8::2", "192.0.2.3");
	is_str(choose(2, 0, &l), "mx1 2001:db8::1, mx1 192.0.2.1, "
	    "mx1 192.0.2.2, mx2 2001:db8::2, mx2 192.0.2.3",
	    "by preference; a host's IPv6 and IPv4 addresses alternate");
	ok(l.status == MX_OK && l.n == 5 && l.t[3].pref == 20 &&
	    !l.is_pruned, "MX_OK, preferences kept, nothing pruned");

	/* One preference, two hosts: each family round-robin over the
	 * hosts, the families alternating, IPv6 first. */
	host(0, 10, "a", "2001:db8::a1 2001:db8::a2", "192.0.2.11");
	host(1, 10, "b", "2001:db8::b1", "192.0.2.21 192.0.2.22");
	host(2, 20, "c", "", "192.0.2.31");
	is_str(choose(3, 0, &l), "a 2001:db8::a1, a 192.0.2.11, "
	    "b 2001:db8::b1, b 192.0.2.21, a 2001:db8::a2",
	    "equal preferences: hosts and families interleaved, at most 5");

	host(0, 10, "v6only", "2001:db8::1 2001:db8::2", "");
	host(1, 10, "v4only", "", "192.0.2.1 192.0.2.2");
	is_str(choose(2, 0, &l), "v6only 2001:db8::1, v4only 192.0.2.1, "
	    "v6only 2001:db8::2, v4only 192.0.2.2",
	    "an IPv6-only and an IPv4-only host of one preference alternate");

	host(0, 10, "a", "", "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4 "
	    "192.0.2.5 192.0.2.6 192.0.2.7");
	host(1, 20, "b", "", "192.0.2.9");
	is_str(choose(2, 0, &l), "a 192.0.2.1, a 192.0.2.2, a 192.0.2.3, "
	    "a 192.0.2.4, a 192.0.2.5", "at most MX_ADDR_MAX addresses");

	host(0, 10, "a", "", "192.0.2.1");
	host(1, 20, "b", "", "192.0.2.1 192.0.2.2");
	is_str(choose(2, 0, &l), "a 192.0.2.1, b 192.0.2.2",
	    "an address two hosts share is tried once");

	/* Ours by address, at 20: 20 and worse go, "b" too. */
	memset(&a, 0, sizeof(a));
	self.n = 0;
	mx_self_add(&self, "192.0.2.99");
	host(0, 10, "a", "", "192.0.2.1");
	host(1, 20, "b", "", "192.0.2.2");
	host(2, 20, "us", "", "192.0.2.99");
	host(3, 30, "c", "", "192.0.2.3");
	is_str(choose(4, 0, &l), "a 192.0.2.1",
	    "a host of ours: it, its equals and worse hosts are pruned");
	ok(l.is_pruned, "is_pruned says so");
	host(1, 20, "us", "", "192.0.2.99");
	host(2, 20, "b", "", "192.0.2.2");
	is_str(choose(4, 0, &l), "a 192.0.2.1",
	    "the same when ours comes first among its equals");
	host(0, 10, "us", "2001:db8::5", "192.0.2.99");
	is_str(choose(4, 0, &l), "554 5.4.6 mail for example.org loops back "
	    "to myself", "we are the best MX: the mail would loop");
	ok(l.status == MX_LOOP && l.n == 0, "MX_LOOP, no address");
	host(0, 10, "other", "", "192.0.2.1");
	host(1, 10, "us", "", "192.0.2.99");
	is_str(choose(2, 0, &l), "554 5.4.6 mail for example.org loops back "
	    "to myself", "ours at the best preference, beside another: "
	    "a loop too");

	/* Ours by name, whatever (no) addresses were looked up. */
	host(0, 10, "a", "", "192.0.2.1");
	host(1, 20, "MAIL.example.net", "", "");
	is_str(choose(2, 0, &l), "a 192.0.2.1", "our host name is ours, in "
	    "any case");
	self.n = 0;
	mx_self_add(&self, "::ffff:192.0.2.77");
	a = addr("192.0.2.77");
	ok(mx_is_self(&self, &a), "an IPv4-mapped address of ours is the "
	    "IPv4 one");
	a = addr("0.0.0.0");
	ok(mx_is_self(&self, &a), "0.0.0.0 is this host");
	a = addr("::");
	ok(mx_is_self(&self, &a), ":: is this host");
	a = addr("192.0.2.78");
	ok(!mx_is_self(&self, &a), "another address is not ours");
	host(0, 10, "zero", "", "0.0.0.0");
	is_str(choose(1, 0, &l), "554 5.4.6 mail for example.org loops back "
	    "to myself", "an MX at 0.0.0.0 loops");

	/* No address to try. */
	host(0, 10, "a", "", "");
	host(1, 20, "b", "TEMP", "TEMP");
	is_str(choose(2, 0, &l), "451 4.4.3 example.org: no answer for the "
	    "address of its MX host b", "no address, a lookup failed: "
	    "temporary");
	host(1, 20, "b", "", "");
	is_str(choose(2, 0, &l), "554 5.4.4 example.org: no MX host has an "
	    "address", "no address, every lookup answered: for good");
	host(0, 0, "example.org", "", "");
	is_str(choose(1, 1, &l), "554 5.4.4 example.org: no MX record and no "
	    "address", "implicit MX, no address: for good");
	host(0, 0, "example.org", "2001:db8::1", "TEMP");
	is_str(choose(1, 1, &l), "example.org 2001:db8::1",
	    "implicit MX: one family is enough");
	self.n = 0;
	mx_self_add(&self, "192.0.2.99");
	host(0, 10, "a", "", "");
	host(1, 20, "us", "", "192.0.2.99");
	host(2, 30, "c", "TEMP", "TEMP");
	is_str(choose(3, 0, &l), "554 5.4.4 example.org: no MX host has an "
	    "address (better than us)", "pruned hosts' failures do not "
	    "count");

	/* The replies. */
	memset(&l, 0, sizeof(l));
	l.status = MX_NULL;
	strcpy(l.why, "x");
	is_str(show(&l), "556 5.1.10 x", "null MX: 556 5.1.10 (RFC 7505)");
	l.status = MX_NXDOMAIN;
	is_str(show(&l), "550 5.1.2 x", "NXDOMAIN: 550 5.1.2");
	l.status = MX_TEMP;
	is_str(show(&l), "451 4.4.3 x", "temporary: 451 4.4.3");
	l.status = MX_OK;
	is_int(mx_reply(&l, l.why, sizeof(l.why)), 0, "MX_OK has no reply");
	return tap_done();
}
