/*
 * dns.c: DNS answers read strictly (RFC 1035 4.1), for the lookups direct
 * delivery makes: MX (RFC 5321 5.1, RFC 7505), and later TLSA and TXT.
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

enum dns_status
dns_mx(const unsigned char *msg, size_t len, const char *domain,
    struct dns_mx *mx, size_t max, size_t *n, char *cname, size_t cnamesize)
{
	char chain[DNS_CHAIN_MAX][DNS_NAME_MAX + 1];
	struct dns_answer a;
	struct dns_rr rr;
	enum dns_status st;
	size_t nchain = 1, dlen = strlen(domain), i;
	int has_null = 0, rc;

	*n = 0;
	cname[0] = '\0';
	if (dlen > 0 && domain[dlen - 1] == '.')
		dlen--;
	if (dlen > DNS_NAME_MAX)
		return DNS_TEMP;
	memcpy(chain[0], domain, dlen);
	chain[0][dlen] = '\0';
	st = dns_open(&a, msg, len);
	if (st != DNS_OK)
		return st;
	while ((rc = dns_next(&a, &rr)) == 1) {
		if (rr.class != DNS_CLASS_IN ||
		    !dns_in_chain(chain, nchain, rr.owner))
			continue;	/* not an answer to our question */
		if (rr.type == DNS_TYPE_CNAME) {
			if (nchain == DNS_CHAIN_MAX ||
			    dns_name(&a, rr.rdata, chain[nchain],
			    sizeof(chain[nchain])) != (int)rr.rdlen)
				goto malformed;
			nchain++;
			continue;
		}
		if (rr.type != DNS_TYPE_MX)
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
	/* A CNAME with no MX of its target's: the resolver did not follow
	 * it (RFC 1034 3.6.2 lets it); the caller asks for the target. */
	if (*n == 0 && nchain > 1 && strlen(chain[nchain - 1]) < cnamesize)
		strcpy(cname, chain[nchain - 1]);
	if (*n == 0)
		return DNS_NODATA;
	return DNS_OK;

malformed:
	*n = 0;		/* nothing of a malformed answer is used */
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

/*
 * The character-strings of a TXT record (RFC 1035 3.3.14), joined as
 * RFC 7208 3.3 and RFC 6376 3.6.2.2 read them, into out, NUL-terminated:
 * their length, or -1 for a record that is not one (a length past its
 * end), holds a NUL, or does not fit in size - 1.
 */
int
dns_txt(const struct dns_answer *a, const struct dns_rr *rr, char *out,
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
