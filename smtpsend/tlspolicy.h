/*
 * tlspolicy.h: what TLS a delivery to an MX host must have, from DNS
 * (DANE, RFC 7672: dane.c) and from the domain's web server (MTA-STS, RFC
 * 8461: mtasts.c).  Shared by smtpsend, which enforces it, and smtpqctl
 * probe, which shows it; neither needs the other's headers.
 */
#ifndef TLSPOLICY_H
#define TLSPOLICY_H

#include <time.h>

#include "common.h"

/* dane.c ---------------------------------------------------------------- */

enum dane_state {
	DANE_NONE,	/* no usable secure TLSA: opportunistic TLS */
	DANE_REQUIRED,	/* usable TLSA records: TLS verified by them */
	DANE_ENCRYPT,	/* RFC 7672 2.2: secure TLSA, none usable: TLS,
			 * unauthenticated, still mandatory */
	DANE_DEFER	/* the lookups failed (a bogus answer): defer */
};

struct dane {
	enum dane_state	state;
	size_t		n;		/* usable records in tlsa[] */
	struct dns_tlsa	tlsa[DNS_TLSA_MAX];
	char		why[320];	/* for logs and smtpqctl probe */
};

/* The DANE policy of host, an MX host of a domain whose MX RRset was
 * secure (is_mx_secure: resolve_mx()'s *is_authentic) or not, each lookup
 * bounded by timeout seconds. */
void	dane_lookup(const char *host, int is_mx_secure, int timeout,
	    struct dane *);
/* RFC 7672 3.1: DANE-TA(2) and DANE-EE(3), selector 0 or 1, matching
 * type 0, 1 (32 octets) or 2 (64 octets). */
int	dane_is_usable(const struct dns_tlsa *);
/* A record as s_client's -dane_tlsa_rrdata takes it: "3 1 1 HEX".  0, or
 * -1 when size is too small. */
int	dane_rrdata(const struct dns_tlsa *, char *buf, size_t size);
const char *dane_state_name(enum dane_state);

#endif
