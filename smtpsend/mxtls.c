/*
 * mxtls.c: the TLS a delivery to an MX host must have (smtpsend(8)
 * TLS): DANE (dane.c, RFC 7672) when the host has
 * usable signed TLSA records, else MTA-STS (mtasts.c, RFC 8461) when its
 * domain publishes a policy, else opportunistic STARTTLS (smtp.c).  DANE
 * wins where both apply (RFC 8461 2).  A policy that cannot be met skips
 * the host with a 4xx reason: the mail waits, it never goes in plaintext
 * or unverified where a policy says otherwise.
 *
 * Lookups are made once per run: the DANE decision per MX host and the
 * MTA-STS policy per domain are kept in small tables until smtpsend
 * exits (the MTA-STS policy also on disk, under the queue).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smtpsend.h"
#include "tlspolicy.h"

#define MXTLS_HOSTS_MAX		32	/* DANE decisions kept in a run */
#define MXTLS_DOMAINS_MAX	32	/* MTA-STS policies kept in a run */

struct mxtls_host {
	char		host[HOST_MAX + 1];
	int		is_mx_secure;
	struct dane	dane;
};

struct mxtls_domain {
	char			domain[HOST_MAX + 10];
	int			has_policy;
	struct mtasts_policy	p;
};

static struct mxtls_host hosts[MXTLS_HOSTS_MAX];
static struct mxtls_domain domains[MXTLS_DOMAINS_MAX];
static size_t nhosts, ndomains;
static const char *mxtls_queue = ".";
static int mxtls_timeout = 60;

/*
 * cafile (-C) is not used here, on purpose: it is the relays' trust
 * anchor.  MTA-STS wants the Web PKI (RFC 8461 3.3, 4.2): the policy host
 * and the MX hosts are verified against the system's CAs alone, so that
 * a private relay CA neither replaces them for the world's MX hosts nor
 * vouches for one.  An operator who means a CA to vouch for MX hosts puts
 * it in the system's store (smtpsend.8, MTA-STS).
 */
void
mxtls_setup(const char *queue_dir, const char *cafile, int timeout)
{
	(void)cafile;
	mxtls_queue = queue_dir;
	mxtls_timeout = timeout;
}

/* The DANE decision for host, looked up once a run. */
static const struct dane *
mxtls_dane(const char *host, int is_mx_secure)
{
	struct mxtls_host *h;
	size_t i;

	for (i = 0; i < nhosts && i < MXTLS_HOSTS_MAX; i++)
		if (hosts[i].is_mx_secure == is_mx_secure &&
		    strcmp(hosts[i].host, host) == 0)
			return &hosts[i].dane;
	/* XXX: past MXTLS_HOSTS_MAX hosts the oldest entry is reused. */
	h = &hosts[nhosts++ % MXTLS_HOSTS_MAX];
	snprintf(h->host, sizeof(h->host), "%s", host);
	h->is_mx_secure = is_mx_secure;
	dane_lookup(host, is_mx_secure, mxtls_timeout, &h->dane);
	log_info("mx=%s dane=%s: %s", host, dane_state_name(h->dane.state),
	    h->dane.why);
	return &h->dane;
}

/* domain's MTA-STS policy, looked up once a run; NULL for none. */
static const struct mtasts_policy *
mxtls_sts(const char *domain)
{
	static char why[512];
	struct mxtls_domain *d;
	size_t i;

	for (i = 0; i < ndomains && i < MXTLS_DOMAINS_MAX; i++)
		if (strcmp(domains[i].domain, domain) == 0)
			return domains[i].has_policy ? &domains[i].p : NULL;
	d = &domains[ndomains++ % MXTLS_DOMAINS_MAX];
	snprintf(d->domain, sizeof(d->domain), "%s", domain);
	d->has_policy = mtasts_lookup(mxtls_queue, domain, mxtls_timeout,
	    &d->p, why, sizeof(why));
	log_info("domain=%s mta-sts=%s: %s", domain, d->has_policy ?
	    mtasts_mode_name(d->p.mode) : "none", why);
	return d->has_policy ? &d->p : NULL;
}

int
mxtls_apply(const char *domain, int is_mx_secure, struct url *u, char *why,
    size_t size)
{
	const struct dane *dn;
	const struct mtasts_policy *p;
	enum mtasts_action act;

	u->dane = NULL;
	u->is_tls_required = 0;
	u->is_webpki = 0;
	/* An address literal ([192.0.2.1]) has no name to look up. */
	if (u->host[0] == '[' || u->is_ip)
		return 0;
	dn = mxtls_dane(u->host, is_mx_secure);
	switch (dn->state) {
	case DANE_DEFER:
		snprintf(why, size, "451 4.7.5 %s: DANE: %s", u->host, dn->why);
		log_info("mx=%s result=skipped: %s", u->host, why);
		return -1;
	case DANE_REQUIRED:
		u->dane = dn;
		return 0;
	case DANE_ENCRYPT:
		u->is_tls_required = 1;
		return 0;
	case DANE_NONE:
		break;
	}
	p = mxtls_sts(domain);
	act = mtasts_check(p, u->host);
	switch (act) {
	case MTASTS_ACT_VERIFY:
		/* RFC 8461 4.2: STARTTLS, the chain (to the system's CAs,
		 * not -C's) and the MX name. */
		u->tls = URL_TLS_STARTTLS;
		u->is_webpki = 1;
		return 0;
	case MTASTS_ACT_REFUSE:
		snprintf(why, size, "451 4.7.5 %s: not an MX host of %s's "
		    "MTA-STS policy (enforce)", u->host, domain);
		log_info("mx=%s result=skipped: %s", u->host, why);
		return -1;
	case MTASTS_ACT_TESTING:
	case MTASTS_ACT_TESTING_MISMATCH:
		/* RFC 8461 5: testing delivers as usual; what enforce
		 * would have done goes to the log (and the TLS report). */
		log_info("mx=%s mta-sts=testing result=%s", u->host,
		    act == MTASTS_ACT_TESTING ? "would require verified TLS" :
		    "would be skipped: not an MX host of the policy");
		return 0;
	case MTASTS_ACT_NONE:
		break;
	}
	return 0;
}

/*
 * RFC 8460 4.3: the result type of a failed session with an MX host,
 * from why (tls.c's words for what s_client said); NULL when nothing of
 * TLS failed (the host unreachable, or refusing us before any TLS).
 * "wrong version number" is a peer that answered STARTTLS with anything
 * but 220 (a 454, a 502) and went on in plaintext: it has no STARTTLS.
 */
static const char *
mxtls_result(const char *why)
{
	char low[REPLY_LINE_MAX + 1];
	size_t i;

	for (i = 0; i + 1 < sizeof(low) && why[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)why[i]);
	low[i] = '\0';
	if (strstr(low, "starttls not offered") != NULL ||
	    strstr(low, "wrong version number") != NULL)
		return "starttls-not-supported";
	if (strstr(low, "certificate not trusted") != NULL) {
		if (strstr(low, "expired") != NULL)
			return "certificate-expired";
		if (strstr(low, "hostname mismatch") != NULL)
			return "certificate-host-mismatch";
		if (strstr(low, "tlsa") != NULL)
			return "tlsa-invalid";
		return "certificate-not-trusted";
	}
	if (strstr(low, "tls failed") != NULL ||
	    strstr(low, "no tls session") != NULL)
		return "validation-failure";
	return NULL;
}

void
mxtls_report(const char *domain, int is_mx_secure, const struct url *u,
    int is_ok, const char *why)
{
	char dom[DNS_NAME_MAX + 1];
	const struct dane *dn;
	const struct mtasts_policy *p = NULL;
	enum tlsrpt_policy policy = TLSRPT_NONE;
	enum mtasts_action act = MTASTS_ACT_NONE;
	const char *result = NULL;
	size_t i;

	if (u->host[0] == '[' || u->is_ip)
		return;
	for (i = 0; i + 1 < sizeof(dom) && domain[i] != '\0'; i++)
		dom[i] = (char)tolower((unsigned char)domain[i]);
	dom[i] = '\0';
	/* The decisions mxtls_apply() made: from the run's tables. */
	dn = mxtls_dane(u->host, is_mx_secure);
	if (dn->state != DANE_NONE)
		policy = TLSRPT_TLSA;
	else if ((p = mxtls_sts(domain)) != NULL && p->mode != MTASTS_NONE) {
		policy = TLSRPT_STS;
		act = mtasts_check(p, u->host);
	}
	if (dn->state == DANE_DEFER)
		result = "dnssec-invalid";
	else if (act == MTASTS_ACT_REFUSE ||
	    act == MTASTS_ACT_TESTING_MISMATCH)
		/* RFC 8461 4.1: the host matches no mx: of the policy (in
		 * testing mode a failure reported, the mail still sent). */
		result = "validation-failure";
	else if (!is_ok && (result = mxtls_result(why)) == NULL)
		return;		/* no TLS was tried: nothing to report */
	if (tlsrpt_record(mxtls_queue, dom, policy, result, u->host) == -1)
		log_error("domain=%s mx=%s result=error: TLS report not "
		    "recorded: %s", dom, u->host, strerror(errno));
}
