/*
 * mx.h: where mail for a domain goes (RFC 5321 5.1, RFC 7505): the
 * addresses to try, in order, or the reason there are none.  smtpsend's
 * direct delivery asks mx_lookup() once per domain and run; common/mx.c
 * does the lookups (common/resolve.c: in a child, bounded in time) and
 * the choice (mx_choose(), pure, unit-tested).
 *
 * Use:
 *	static struct mx_cache mx;	(large: keep it static)
 *	mx_cache_init(&mx, hostname, timeout, seed);	once per run
 *	mx_lookup(&mx, "example.org", &list);		per recipient domain
 *	list.status MX_OK: try list.t[0 .. list.n - 1] in order, at most
 *	    MX_SESSIONS_MAX sessions an attempt;
 *	else: code = mx_reply(&list, reply, sizeof(reply)), the recipient's
 *	    outcome ("556 5.1.10 ...": bounce; "451 4.4.3 ...": retry).
 *
 * The cache lives in the process that fills it: a forked worker's own
 * lookups are not seen by its parent.
 */
#ifndef MX_H
#define MX_H

#include <netinet/in.h>

#include "common.h"

#define MX_ADDR_MAX	5	/* addresses an attempt (Postfix: 5) */
#define MX_SESSIONS_MAX	2	/* SMTP sessions an attempt (Postfix: 2) */
#define MX_HOST_ADDRS	8	/* addresses read per MX host and family */
#define MX_SELF_MAX	16	/* addresses of our host name, and added */
#define MX_CACHE_MAX	512	/* domains remembered per run; then evicted */
#define MX_WHY_MAX	255	/* the reason, for a reply text and the log */

enum mx_status {
	MX_OK,		/* addresses to try in t[] */
	MX_NULL,	/* RFC 7505 null MX: 556 5.1.10, never a fallback */
	MX_NXDOMAIN,	/* the domain does not exist: 550 5.1.2 */
	MX_NOHOST,	/* no MX host (or, implicit, the domain) has an
			 * address: 554 5.4.4, as Postfix and Exim bounce */
	MX_TEMP,	/* SERVFAIL, timeout, malformed: 451 4.4.3, retried,
			 * never bounced */
	MX_LOOP		/* we are the best MX: 554 5.4.6 "mail for X loops
			 * back to myself" */
};

struct mx_target {
	char		host[DNS_NAME_MAX + 1];	/* the MX host's name (the
					 * domain itself for implicit MX, the
					 * literal for [1.2.3.4]): SNI, logs */
	unsigned	pref;		/* its preference (0 when implicit) */
	struct net_addr	addr;		/* port 25 set */
	char		addrtext[INET6_ADDRSTRLEN];	/* for the log */
};

struct mx_list {
	enum mx_status	status;
	int		is_implicit;	/* no MX records: the domain's own */
	int		is_authentic;	/* AD bit on the MX answer (DANE) */
	int		is_pruned;	/* we were among the MX hosts: only
					 * better ones kept */
	size_t		n;		/* MX_OK: 1 .. MX_ADDR_MAX */
	struct mx_target t[MX_ADDR_MAX];
	char		why[MX_WHY_MAX + 1];	/* !MX_OK: "example.org: ..." */
};

/* Who we are, for the loop check: our host name, and addresses of ours:
 * its addresses (looked up once, lazily), any added (behind NAT: the
 * public address, as Postfix's proxy_interfaces), and any address bind()
 * accepts (POSIX: EADDRNOTAVAIL for an address not of this host), i.e.
 * every interface's, unless is_bind_probe is 0. */
struct mx_self {
	char		name[DNS_NAME_MAX + 1];	/* lower case; "": none */
	int		is_bind_probe;
	int		is_resolved;		/* name's addresses looked up */
	size_t		n;
	struct net_addr	a[MX_SELF_MAX];
};

struct mx_entry {
	char		domain[DNS_NAME_MAX + 1];	/* "": free */
	struct mx_list	list;
};

struct mx_cache {
	struct mx_self	self;
	int		timeout;	/* seconds per query (0: no bound) */
	unsigned long	seed;		/* order among equal preferences */
	size_t		n;		/* entries used */
	size_t		next;		/* the entry to evict when full */
	struct mx_entry	e[MX_CACHE_MAX];
};

/* One MX host and what the lookups of its addresses gave: mx_choose()'s
 * input, filled by mx_lookup() or by a unit test. */
struct mx_host {
	unsigned	pref;
	char		host[DNS_NAME_MAX + 1];
	enum dns_status	st6, st4;	/* AAAA, A: DNS_OK or why not */
	size_t		n6, n4;
	struct net_addr	a6[MX_HOST_ADDRS], a4[MX_HOST_ADDRS];
};

/* mx_cache_init(): an empty cache, our host name (NULL or "": none;
 * its addresses are looked up at the first lookup that needs them),
 * each DNS query bounded by timeout seconds, seed for the order of equal
 * preferences (e.g. time and pid).  mx_self_add(): an address of ours
 * (numeric), 0 or -1 (not an address, or full). */
void		mx_cache_init(struct mx_cache *, const char *hostname,
		    int timeout, unsigned long seed);
int		mx_self_add(struct mx_self *, const char *addr);

/* The addresses to try for mail to domain (a domain name, or an address
 * literal "[192.0.2.1]", "[IPv6:2001:db8::1]"), from the cache when it
 * was asked before in this run; the result in *out, also returned. */
enum mx_status	mx_lookup(struct mx_cache *, const char *domain,
		    struct mx_list *out);

/* For a result other than MX_OK: the recipient's reply, "556 5.1.10
 * example.org: ...", into reply; returns its code (0 for MX_OK). */
int		mx_reply(const struct mx_list *, char *reply, size_t size);

/* Whether addr is ours (mx_self's addresses, or bind() accepts it). */
int		mx_is_self(const struct mx_self *, const struct net_addr *);

/* The choice, given the MX hosts sorted by preference (dns_mx_order())
 * and their addresses: hosts from the first one of ours on pruned
 * (none left: MX_LOOP), addresses IPv6 and IPv4 interleaved within a
 * preference, at most MX_ADDR_MAX.  is_implicit: hosts[0] is the domain
 * itself.  Sets out's status, n, t[] and why (not the other flags). */
enum mx_status	mx_choose(const char *domain, const struct mx_host *hosts,
		    size_t n, int is_implicit, const struct mx_self *,
		    struct mx_list *out);

#endif
