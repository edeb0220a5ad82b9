/*
 * dns.c: DNS answers read strictly (RFC 1035 4.1), for the lookups direct
 * delivery makes: MX (RFC 5321 5.1, RFC 7505), TLSA (RFC 6698, for DANE)
 * and TXT (for MTA-STS).
 *
 * The message is what res_query() left in a buffer, in a child of ours,
 * from a resolver we do not control: nothing in it is trusted.  Every
 * offset is checked against the message's length before it is read,
 * names are expanded by dn_expand() (which bounds compression pointers
 * and lengths) and then checked as host names, counts are bounded, and
 * anything inconsistent makes the whole answer malformed: DNS_TEMP, which
 * the caller defers on (RFC 5321 5.1: a temporary failure, never a
 * bounce).  Nothing here allocates or blocks.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>

#include <resolv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common.h"

/* RFC 1035 4.1.1: the header's fields and flags. */
#define DNS_HEADER	12
#define DNS_FLAG_TC	0x02	/* third octet: truncated */
#define DNS_FLAG_AD	0x20	/* fourth octet: authentic data, RFC 4035 3.2.3 */
#define DNS_RCODE(b)	((b)[3] & 0x0f)
#define DNS_CLASS_IN	1
/* CNAMEs followed from the name asked for; more is a loop or an attack. */
#define DNS_CHAIN_MAX	8

static unsigned
dns_u16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/*
 * A name in the message at pos, expanded into out (at least
 * DNS_NAME_MAX + 1 bytes), lower case, without the root's dot ("" for the
 * root itself).  Returns the octets it takes at pos, or -1: a bad pointer,
 * a name too long, or characters no host name has.
 */
static int
dns_name(const struct dns_answer *a, size_t pos, char *out, size_t size)
{
	char name[NS_MAXDNAME];
	int used;
	size_t i, n, label = 0;

	if (pos >= a->len)
		return -1;
	used = dn_expand(a->msg, a->msg + a->len, a->msg + pos, name,
	    (int)sizeof(name));
	if (used < 0)
		return -1;
	n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		name[--n] = '\0';
	if (n > DNS_NAME_MAX || n + 1 > size)
		return -1;
	/* RFC 1123 2.1 host names; dn_expand() writes other octets as
	 * \DDD escapes, which this refuses with the rest. */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return -1;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0) ||
		    c == '_') {
			if (++label > 63)
				return -1;
			if (c >= 'A' && c <= 'Z')
				name[i] = (char)(c - 'A' + 'a');
		} else
			return -1;
	}
	if (n > 0 && (label == 0 || name[n - 1] == '-'))
		return -1;
	memcpy(out, name, n + 1);
	return used;
}

/* Steps over a name at *pos without expanding it.  0 or -1. */
static int
dns_skip_name(const struct dns_answer *a, size_t *pos)
{
	char name[DNS_NAME_MAX + 1];
	int used = dns_name(a, *pos, name, sizeof(name));

	if (used < 0)
		return -1;
	*pos += (size_t)used;
	return 0;
}

enum dns_status
dns_open(struct dns_answer *a, const unsigned char *msg, size_t len)
{
	size_t pos = DNS_HEADER;
	unsigned questions, i;

	memset(a, 0, sizeof(*a));
	a->msg = msg;
	a->len = len;
	if (len < DNS_HEADER || len > DNS_MSG_MAX || (msg[2] & 0x80) == 0)
		return DNS_TEMP;	/* not a response */
	/* A truncated answer is not all of it: res_query() retries over
	 * TCP itself when it can, so one that still is cut is a failure. */
	if (msg[2] & DNS_FLAG_TC)
		return DNS_TEMP;
	a->is_authentic = (msg[3] & DNS_FLAG_AD) != 0;
	switch (DNS_RCODE(msg)) {
	case 0:
		break;
	case 3:				/* RFC 1035 4.1.1: name error */
		return DNS_NXDOMAIN;
	default:			/* SERVFAIL, REFUSED, ... */
		return DNS_TEMP;
	}
	questions = dns_u16(msg + 4);
	a->left = dns_u16(msg + 6);
	if (questions > 1)
		return DNS_TEMP;
	for (i = 0; i < questions; i++) {
		if (dns_skip_name(a, &pos) == -1 || len - pos < 4)
			return DNS_TEMP;
		pos += 4;		/* QTYPE, QCLASS */
	}
	a->pos = pos;
	return a->left == 0 ? DNS_NODATA : DNS_OK;
}

int
dns_next(struct dns_answer *a, struct dns_rr *rr)
{
	size_t pos = a->pos;
	int used;

	if (a->left == 0)
		return 0;
	used = dns_name(a, pos, rr->owner, sizeof(rr->owner));
	if (used < 0)
		return -1;
	pos += (size_t)used;
	/* TYPE, CLASS, TTL, RDLENGTH: 10 octets, then RDATA. */
	if (a->len - pos < 10)
		return -1;
	rr->type = dns_u16(a->msg + pos);
	rr->class = dns_u16(a->msg + pos + 2);
	rr->rdlen = dns_u16(a->msg + pos + 8);
	pos += 10;
	if (a->len - pos < rr->rdlen)
		return -1;
	rr->rdata = pos;
	a->pos = pos + rr->rdlen;
	a->left--;
	return 1;
}

/* Whether name is one of the chain's names (the one asked for and the
 * CNAME targets met so far). */
static int
dns_in_chain(char (*chain)[DNS_NAME_MAX + 1], size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(chain[i], name) == 0)
			return 1;
	return 0;
}

/*
 * The chain of names that answer the question: the name asked for, then
 * each CNAME target met (RFC 1034 3.6.2).  dns_chain_init() starts it at
 * name (at most DNS_NAME_MAX octets, a final dot dropped): 0, or -1 for a
 * name too long.  dns_chain_rr() judges one record: 1 when it answers
 * (class IN, owned by a name of the chain, not a CNAME: the caller reads
 * it), 0 when it is skipped (another owner, or a CNAME, whose target then
 * joins the chain), -1 when it is malformed or the chain too long.
 */
struct dns_chain {
	char	name[DNS_CHAIN_MAX][DNS_NAME_MAX + 1];
	size_t	n;
};

static int
dns_chain_init(struct dns_chain *c, const char *name)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len > DNS_NAME_MAX)
		return -1;
	(void)snprintf(c->name[0], sizeof(c->name[0]), "%.*s", (int)len,
	    name);
	c->n = 1;
	return 0;
}

static int
dns_chain_rr(struct dns_chain *c, const struct dns_answer *a,
    const struct dns_rr *rr)
{
	if (rr->class != DNS_CLASS_IN || !dns_in_chain(c->name, c->n,
	    rr->owner))
		return 0;	/* not an answer to our question */
	if (rr->type != DNS_TYPE_CNAME)
		return 1;
	if (c->n == DNS_CHAIN_MAX || dns_name(a, rr->rdata, c->name[c->n],
	    sizeof(c->name[c->n])) != (int)rr->rdlen)
		return -1;
	c->n++;
	return 0;
}

/* After an answer with no record of the type asked for: the chain's last
 * target, when a CNAME led there, into cname (else ""), for the caller to
 * ask for in turn: the resolver did not follow it. */
static void
dns_chain_end(const struct dns_chain *c, char *cname, size_t cnamesize)
{
	cname[0] = '\0';
	if (c->n > 1 && strlen(c->name[c->n - 1]) < cnamesize)
		strcpy(cname, c->name[c->n - 1]);
}

enum dns_status
dns_mx(const unsigned char *msg, size_t len, const char *domain,
    struct dns_mx *mx, size_t max, size_t *n, char *cname, size_t cnamesize)
{
	struct dns_chain chain;
	struct dns_answer a;
	struct dns_rr rr;
	enum dns_status st;
	size_t i;
	int has_null = 0, rc;

	*n = 0;
	cname[0] = '\0';
	if (dns_chain_init(&chain, domain) == -1)
		return DNS_TEMP;
	st = dns_open(&a, msg, len);
	if (st != DNS_OK)
		return st;
	while ((rc = dns_next(&a, &rr)) == 1) {
		if ((rc = dns_chain_rr(&chain, &a, &rr)) == -1)
			goto malformed;
		if (rc == 0 || rr.type != DNS_TYPE_MX)
			continue;	/* RRSIGs and the like */
		if (rr.rdlen < 3)
			goto malformed;
		if (*n == max)
			continue;	/* keep the first max; the rest unused */
		mx[*n].pref = dns_u16(msg + rr.rdata);
		if (dns_name(&a, rr.rdata + 2, mx[*n].host,
		    sizeof(mx[*n].host)) != (int)rr.rdlen - 2)
			goto malformed;
		/* RFC 7505 3: "." is the null MX, the domain takes no mail. */
		if (mx[*n].host[0] == '\0') {
			has_null = 1;
			continue;
		}
		for (i = 0; i < *n; i++)
			if (strcmp(mx[i].host, mx[*n].host) == 0)
				break;
		if (i == *n)
			(*n)++;		/* a host listed twice counts once */
	}
	if (rc == -1)
		goto malformed;
	/* RFC 7505 3: a null MX stands alone; next to real hosts it is a
	 * mistake of the domain's, and the real hosts are tried. */
	if (*n == 0 && has_null)
		return DNS_NULLMX;
	if (*n == 0) {
		dns_chain_end(&chain, cname, cnamesize);
		return DNS_NODATA;
	}
	return DNS_OK;

malformed:
	*n = 0;		/* nothing of a malformed answer is used */
	cname[0] = '\0';
	return DNS_TEMP;
}

enum dns_status
dns_addr(const unsigned char *msg, size_t len, const char *name,
    unsigned type, unsigned char (*addr)[16], size_t max, size_t *n,
    char *cname, size_t cnamesize)
{
	struct dns_chain chain;
	struct dns_answer a;
	struct dns_rr rr;
	enum dns_status st;
	size_t size = type == DNS_TYPE_AAAA ? 16 : 4, i;
	int rc;

	*n = 0;
	cname[0] = '\0';
	if ((type != DNS_TYPE_A && type != DNS_TYPE_AAAA) ||
	    dns_chain_init(&chain, name) == -1)
		return DNS_TEMP;
	st = dns_open(&a, msg, len);
	if (st != DNS_OK)
		return st;
	while ((rc = dns_next(&a, &rr)) == 1) {
		if ((rc = dns_chain_rr(&chain, &a, &rr)) == -1)
			goto malformed;
		if (rc == 0 || rr.type != type)
			continue;
		/* RFC 1035 3.4.1, RFC 3596 2.2: exactly 4 or 16 octets. */
		if (rr.rdlen != size)
			goto malformed;
		if (*n == max)
			continue;
		memset(addr[*n], 0, 16);
		memcpy(addr[*n], msg + rr.rdata, size);
		for (i = 0; i < *n; i++)
			if (memcmp(addr[i], addr[*n], 16) == 0)
				break;
		if (i == *n)
			(*n)++;		/* an address twice counts once */
	}
	if (rc == -1)
		goto malformed;
	if (*n == 0) {
		dns_chain_end(&chain, cname, cnamesize);
		return DNS_NODATA;
	}
	return DNS_OK;

malformed:
	*n = 0;
	cname[0] = '\0';
	return DNS_TEMP;
}

/*
 * Sorts mx by preference (RFC 5321 5.1), the hosts of one preference in
 * an order drawn from seed, so that load spreads over equal hosts.
 */
void
dns_mx_order(struct dns_mx *mx, size_t n, unsigned long seed)
{
	struct dns_mx t;
	size_t i, j, start, k;
	uint32_t x = (uint32_t)seed;

	if (x == 0)
		x = 1;		/* xorshift's one fixed point */
	/* Insertion sort: at most DNS_MX_MAX entries. */
	for (i = 1; i < n; i++) {
		t = mx[i];
		for (j = i; j > 0 && mx[j - 1].pref > t.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = t;
	}
	for (start = 0; start < n; start = i) {
		i = start + 1;
		while (i < n && mx[i].pref == mx[start].pref)
			i++;
		/* Fisher-Yates over [start, i), xorshift32 for the draws. */
		for (j = i - 1; j > start; j--) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			k = start + x % (j - start + 1);
			t = mx[j];
			mx[j] = mx[k];
			mx[k] = t;
		}
	}
}

/* The records of one type answering name, read in turn along its CNAME
 * chain (dns_chain, as dns_mx() and dns_addr() read theirs). */
struct dns_walk {
	struct dns_answer	a;
	struct dns_chain	c;
};

/* Opens msg for the records answering name: as dns_open(). */
static enum dns_status
dns_walk_open(struct dns_walk *w, const unsigned char *msg, size_t len,
    const char *name)
{
	if (dns_chain_init(&w->c, name) == -1)
		return DNS_TEMP;
	return dns_open(&w->a, msg, len);
}

/* The next record of type for the chain's names into rr: 1, 0 at the
 * end, -1 for a malformed answer (a CNAME chain too long included). */
static int
dns_walk_next(struct dns_walk *w, unsigned type, struct dns_rr *rr)
{
	int rc;

	while ((rc = dns_next(&w->a, rr)) == 1) {
		if ((rc = dns_chain_rr(&w->c, &w->a, rr)) == -1)
			return -1;
		if (rc == 1 && rr->type == type)
			return 1;
	}
	return rc;
}

enum dns_status
dns_tlsa(const unsigned char *msg, size_t len, const char *name,
    struct dns_tlsa *t, size_t max, size_t *n)
{
	struct dns_walk w;
	struct dns_rr rr;
	enum dns_status st;
	const unsigned char *p;
	int rc;

	*n = 0;
	if ((st = dns_walk_open(&w, msg, len, name)) != DNS_OK)
		return st;
	while ((rc = dns_walk_next(&w, DNS_TYPE_TLSA, &rr)) == 1) {
		/* RFC 6698 2.1: three octets, then at least one of data. */
		if (rr.rdlen < 4)
			goto malformed;
		if (*n == max)
			continue;
		p = msg + rr.rdata;
		t[*n].usage = p[0];
		t[*n].selector = p[1];
		t[*n].mtype = p[2];
		t[*n].len = rr.rdlen - 3 <= DNS_TLSA_DATA_MAX ? rr.rdlen - 3 : 0;
		memcpy(t[*n].data, p + 3, t[*n].len);
		(*n)++;
	}
	if (rc == -1)
		goto malformed;
	return *n == 0 ? DNS_NODATA : DNS_OK;

malformed:
	*n = 0;
	return DNS_TEMP;
}

enum dns_status
dns_txt(const unsigned char *msg, size_t len, const char *name,
    char (*txt)[DNS_TXT_MAX + 1], size_t max, size_t *n)
{
	struct dns_walk w;
	struct dns_rr rr;
	enum dns_status st;
	size_t pos, end, used, k;
	int rc, is_bad;

	*n = 0;
	if ((st = dns_walk_open(&w, msg, len, name)) != DNS_OK)
		return st;
	while ((rc = dns_walk_next(&w, DNS_TYPE_TXT, &rr)) == 1) {
		/* RFC 1035 3.3.14: one or more <character-string>s, each a
		 * length octet and that many octets, filling RDATA exactly;
		 * RFC 7208 3.3 and RFC 8461 3.1 join them without a space. */
		if (rr.rdlen == 0)
			goto malformed;
		used = 0;
		is_bad = 0;
		for (pos = rr.rdata, end = rr.rdata + rr.rdlen; pos < end;
		    pos += 1 + msg[pos]) {
			if (msg[pos] > end - pos - 1)
				goto malformed;
			for (k = 0; k < msg[pos] && !is_bad; k++) {
				unsigned char c = msg[pos + 1 + k];

				if (c < 0x20 || c == 0x7f || used == DNS_TXT_MAX)
					is_bad = 1;
				else if (*n < max)
					txt[*n][used++] = (char)c;
			}
		}
		if (*n == max)
			continue;
		txt[*n][is_bad ? 0 : used] = '\0';
		(*n)++;
	}
	if (rc == -1)
		goto malformed;
	return *n == 0 ? DNS_NODATA : DNS_OK;

malformed:
	*n = 0;
	return DNS_TEMP;
}

/*
 * The character-strings of a TXT record (RFC 1035 3.3.14), joined as
 * RFC 7208 3.3 and RFC 6376 3.6.2.2 read them, into out, NUL-terminated:
 * their length, or -1 for a record that is not one (a length past its
 * end), holds a NUL, or does not fit in size - 1.
 */
int
dns_rr_txt(const struct dns_answer *a, const struct dns_rr *rr, char *out,
    size_t size)
{
	size_t pos = rr->rdata, end = rr->rdata + rr->rdlen, n = 0, len;

	if (rr->type != DNS_TYPE_TXT || end > a->len || size == 0)
		return -1;
	while (pos < end) {
		len = a->msg[pos++];
		if (len > end - pos || n + len >= size ||
		    memchr(a->msg + pos, '\0', len) != NULL)
			return -1;
		memcpy(out + n, a->msg + pos, len);
		n += len;
		pos += len;
	}
	out[n] = '\0';
	return (int)n;
}

/* The host name a PTR or CNAME record holds (RFC 1035 3.3.12, 3.3.1),
 * lower case, into out (DNS_NAME_MAX + 1): 0, or -1 when it is none or
 * does not fill the record exactly. */
int
dns_rdata_name(const struct dns_answer *a, const struct dns_rr *rr,
    char *out, size_t size)
{
	int used;

	if (rr->type != DNS_TYPE_PTR && rr->type != DNS_TYPE_CNAME)
		return -1;
	used = dns_name(a, rr->rdata, out, size);
	return used < 0 || (size_t)used != rr->rdlen || out[0] == '\0' ?
	    -1 : 0;
}
