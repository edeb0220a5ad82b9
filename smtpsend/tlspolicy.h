/*
 * tlspolicy.h: what TLS a delivery to an MX host must have, from DNS
 * (DANE, RFC 7672: dane.c) and from the domain's web server (MTA-STS, RFC
 * 8461: mtasts.c).  Shared by smtpsend, which enforces it, and smtpqctl
 * probe, which shows it; neither needs the other's headers.
 */
#ifndef TLSPOLICY_H
#define TLSPOLICY_H

#include <stdio.h>
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
	/* RFC 7672 2.2.2: the TLSA base domain, the name the records were
	 * found at: the MX host's name, or its CNAME-expanded name.  The
	 * SNI and, for DANE-TA, the name the certificate must carry. */
	char		base[DNS_NAME_MAX + 1];
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

/* mtasts.c ---------------------------------------------------------------- */

#define MTASTS_MX_MAX		16	/* mx: lines kept */
#define MTASTS_ID_MAX		32	/* RFC 8461 3.1: 1*32(ALPHA / DIGIT) */
#define MTASTS_POLICY_MAX	65536	/* octets fetched, at most */
#define MTASTS_MAX_AGE_MAX	31557600L	/* RFC 8461 3.2: a year */

enum mtasts_mode { MTASTS_NONE, MTASTS_TESTING, MTASTS_ENFORCE };

struct mtasts_policy {
	enum mtasts_mode mode;
	long		 max_age;	/* seconds */
	size_t		 nmx;
	char		 mx[MTASTS_MX_MAX][DNS_NAME_MAX + 1];	/* lower case */
	char		 id[MTASTS_ID_MAX + 1];	/* of the TXT record */
	time_t		 fetched;
	int		 is_cached;	/* read from the cache, not fetched */
};

/* What a delivery to one MX host must do under the policy. */
enum mtasts_action {
	MTASTS_ACT_NONE,	/* no policy, or mode none */
	MTASTS_ACT_VERIFY,	/* enforce: TLS verified for the MX name */
	MTASTS_ACT_REFUSE,	/* enforce, the host matches no mx: skip it */
	MTASTS_ACT_TESTING,	/* testing, host matches: deliver, log */
	MTASTS_ACT_TESTING_MISMATCH	/* testing, no match: deliver, log */
};

/* The policy text (RFC 8461 3.2) into p: 0, or -1 with why. */
int	mtasts_parse(const char *text, size_t len, struct mtasts_policy *p,
	    char *why, size_t size);
/* A TXT record: 1 and its id when it is an STSv1 record, 0 when it is
 * not one (no "v=STSv1"), -1 when it is one but malformed. */
int	mtasts_txt(const char *txt, char *id, size_t size);
/* Whether host matches an mx: pattern (RFC 8461 4.1). */
int	mtasts_mx_match(const struct mtasts_policy *, const char *host);
/* domain's policy (RFC 8461 3, 5.1): its TXT record, the cache under
 * queue_dir/mta-sts/, a fetch over HTTPS by curl when the id differs or
 * the cache expired.  The policy host is verified against the system's
 * CAs alone, never smtpsend's -C (RFC 8461 3.3: Web PKI; smtpsend(8)).
 * 1 with p set, 0 for no policy; why says what was done or went wrong. */
int	mtasts_lookup(const char *queue_dir, const char *domain, int timeout,
	    struct mtasts_policy *p, char *why, size_t size);
/* Whether s is a host name (RFC 1123 2.1), as a policy domain must be. */
int	mtasts_is_host_name(const char *s);
enum mtasts_action mtasts_check(const struct mtasts_policy *,
	    const char *host);
const char *mtasts_mode_name(enum mtasts_mode);
const char *mtasts_action_name(enum mtasts_action);

/* tlsrpt.c: SMTP TLS Reporting counts (RFC 8460) ------------------------ */

enum tlsrpt_policy { TLSRPT_STS, TLSRPT_TLSA, TLSRPT_NONE };

/* Counts one session with domain's MX host under policy: result NULL for
 * a success, else an RFC 8460 4.3 result type ("certificate-not-trusted",
 * ...).  Appended to queue_dir/tlsrpt/YYYY-MM-DD (UTC), one line, one
 * write.  0, or -1 with errno. */
int	tlsrpt_record(const char *queue_dir, const char *domain,
	    enum tlsrpt_policy, const char *result, const char *host);
/* The RFC 8460 4.4 report of day (YYYY-MM-DD) as JSON on out, from org
 * (our host name).  0; 1 when the day has no file; -1 with errno. */
int	tlsrpt_report(const char *queue_dir, const char *day, const char *org,
	    FILE *out);

#endif
