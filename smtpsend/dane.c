/*
 * dane.c: DANE for SMTP (RFC 7672): whether an MX host's TLS must be
 * verified by TLSA records, and which.  Reads DNS only, through
 * resolve.c's bounded child and dns.c's strict reader; the handshake
 * itself is tls.c's (openssl s_client -dane_tlsa_rrdata).
 *
 * The AD bit is all DNSSEC tells us here, and it is believed only from
 * a resolver resolve_is_trusted() trusts (loopback, or "options
 * trust-ad"): smtpsend validates no signature itself.  A failed lookup
 * of a secure zone (a validating resolver answers SERVFAIL to a bogus
 * one) defers: RFC 7672 2.1.1 forbids falling back to plaintext there.
 */
#include <stdio.h>
#include <string.h>

#include "tlspolicy.h"

const char *
dane_state_name(enum dane_state st)
{
	static const char *const names[] = {
		"none", "required", "encrypt", "defer"
	};

	return names[st];
}

int
dane_is_usable(const struct dns_tlsa *t)
{
	/* RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP,
	 * where no CA list is agreed on: such records are unusable. */
	if (t->usage != 2 && t->usage != 3)
		return 0;
	if (t->selector > 1 || t->len == 0)
		return 0;
	/* RFC 6698 2.1.3; RFC 7671 10.1.2: a digest of the wrong length
	 * can match nothing. */
	switch (t->mtype) {
	case 0:
		return 1;
	case 1:
		return t->len == 32;
	case 2:
		return t->len == 64;
	default:
		return 0;
	}
}

int
dane_rrdata(const struct dns_tlsa *t, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	int n;
	size_t i, pos;

	n = snprintf(buf, size, "%u %u %u ", t->usage, t->selector, t->mtype);
	if (n < 0 || (size_t)n >= size || size - (size_t)n <= 2 * t->len)
		return -1;
	pos = (size_t)n;
	for (i = 0; i < t->len; i++) {
		buf[pos++] = hex[t->data[i] >> 4];
		buf[pos++] = hex[t->data[i] & 0xf];
	}
	buf[pos] = '\0';
	return 0;
}

/*
 * The name host's CNAME chain in an answer ends at (RFC 1034 3.6.2), in
 * out: 1 when it differs from host, 0 when host is no alias (or the
 * chain is longer than a resolver follows), -1 when a CNAME record is
 * malformed.
 */
static int
dane_expand(const unsigned char *msg, size_t len, const char *host,
    char *out, size_t size)
{
	struct dns_answer a;
	struct dns_rr rr;
	char target[DNS_NAME_MAX + 1];
	int hops, rc, is_moved;

	snprintf(out, size, "%s", host);
	/* Each pass follows one link; a chain in any order is walked in
	 * as many passes as it has links, at most 8 (a loop ends too). */
	for (hops = 0; hops < 8; hops++) {
		if (dns_open(&a, msg, len) != DNS_OK)
			return 0;
		is_moved = 0;
		while ((rc = dns_next(&a, &rr)) == 1) {
			if (rr.type != DNS_TYPE_CNAME ||
			    strcmp(rr.owner, out) != 0)
				continue;
			if (dns_rdata_name(&a, &rr, target, sizeof(target))
			    == -1)
				return -1;
			snprintf(out, size, "%s", target);
			is_moved = 1;
			break;
		}
		if (rc == -1)
			return -1;
		if (!is_moved)
			break;
	}
	return strcmp(out, host) != 0;
}

/* The TLSA records at _25._tcp.name into all[]: as resolve_tlsa(). */
static enum dns_status
dane_tlsa(const char *name, int timeout, struct dns_tlsa *all, size_t *n,
    int *is_authentic, char *err, size_t errsize)
{
	char qname[DNS_NAME_MAX + 1];

	if (snprintf(qname, sizeof(qname), "_25._tcp.%s", name) >=
	    (int)sizeof(qname)) {
		snprintf(err, errsize, "%s: name too long", name);
		*n = 0;
		return DNS_NXDOMAIN;
	}
	return resolve_tlsa(qname, timeout, all, DNS_TLSA_MAX, n,
	    is_authentic, err, errsize);
}

/* host's TLSA records into d, its address answer (len octets, secure) in
 * hand for the alias it may name. */
static void
dane_records(const char *host, const unsigned char *answer, size_t len,
    int timeout, struct dane *d)
{
	struct dns_tlsa all[DNS_TLSA_MAX];
	char name[DNS_NAME_MAX + 1], err[256];
	enum dns_status st;
	int is_authentic;
	size_t n, i;

	/* RFC 7672 2.2.2: an MX host that is an alias, its chain secure
	 * (the answer authentic), has its TLSA records looked for at the
	 * expanded name first, then at its own name. */
	snprintf(d->base, sizeof(d->base), "%s", host);
	st = DNS_NODATA;
	n = 0;
	is_authentic = 0;
	if (dane_expand(answer, len, host, name, sizeof(name)) == 1) {
		st = dane_tlsa(name, timeout, all, &n, &is_authentic, err,
		    sizeof(err));
		if (st == DNS_OK && is_authentic)
			snprintf(d->base, sizeof(d->base), "%s", name);
	}
	if (st != DNS_TEMP && (st != DNS_OK || !is_authentic))
		st = dane_tlsa(host, timeout, all, &n, &is_authentic, err,
		    sizeof(err));
	if (st == DNS_TEMP) {
		d->state = DANE_DEFER;
		snprintf(d->why, sizeof(d->why), "TLSA lookup failed (bogus, "
		    "or no answer): %s", err);
		return;
	}
	if (st != DNS_OK || !is_authentic) {
		snprintf(d->why, sizeof(d->why), "%s", st != DNS_OK ?
		    "no TLSA records" : "the TLSA records are not "
		    "DNSSEC-signed");
		return;
	}
	for (i = 0; i < n; i++) {
		if (!dane_is_usable(&all[i]))
			continue;
		d->tlsa[d->n++] = all[i];
	}
	if (d->n == 0) {
		d->state = DANE_ENCRYPT;
		snprintf(d->why, sizeof(d->why), "%zu TLSA records, none "
		    "usable: TLS required, not authenticated", n);
		return;
	}
	d->state = DANE_REQUIRED;
	snprintf(d->why, sizeof(d->why), "%zu usable TLSA records%s%s", d->n,
	    strcmp(d->base, host) != 0 ? " at the CNAME target " : "",
	    strcmp(d->base, host) != 0 ? d->base : "");
}

void
dane_lookup(const char *host, int is_mx_secure, int timeout, struct dane *d)
{
	static unsigned char answer[DNS_MSG_MAX];
	struct dns_answer a;
	char err[256];
	int len;

	memset(d, 0, sizeof(*d));
	d->state = DANE_NONE;
	if (!resolve_is_trusted()) {
		snprintf(d->why, sizeof(d->why), "the resolver is not trusted "
		    "to validate (not on loopback, no options trust-ad)");
		return;
	}
	/* RFC 7672 2.2.1: an MX RRset that is not secure could name any
	 * host, whose TLSA records then prove nothing. */
	if (!is_mx_secure) {
		snprintf(d->why, sizeof(d->why), "the MX records are not "
		    "DNSSEC-signed");
		return;
	}
	/* RFC 7672 2.2.2: the host's address records first; in an
	 * insecure zone no TLSA is asked for (its servers may fail that
	 * query, which must not hold mail up). */
	len = resolve_query(host, DNS_TYPE_A, timeout, answer, sizeof(answer),
	    err, sizeof(err));
	if (len == -1 || dns_open(&a, answer, (size_t)len) == DNS_TEMP) {
		d->state = DANE_DEFER;
		snprintf(d->why, sizeof(d->why), "address lookup of %s failed "
		    "(bogus, or no answer): %s", host, len == -1 ? err :
		    "a server failure");
		return;
	}
	if (!a.is_authentic) {
		snprintf(d->why, sizeof(d->why), "the address records of %s "
		    "are not DNSSEC-signed", host);
		return;
	}
	dane_records(host, answer, (size_t)len, timeout, d);
}
