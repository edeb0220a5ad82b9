/*
 * smtpqctl-probe.c: "smtpqctl probe DOMAIN": what direct delivery to a
 * domain would find and require, without sending anything: its MX hosts
 * (resolve_mx()), whether DNSSEC vouches for them and whether the
 * resolver is trusted to say so, each host's TLSA records and DANE
 * decision (dane.c), the domain's MTA-STS policy (mtasts.c, fetched and
 * cached under the queue as smtpsend would), and per host the TLS
 * smtpsend would insist on.  DANE wins over MTA-STS (RFC 8461 2).
 *
 * Reads DNS and one HTTPS URL; writes only the MTA-STS cache.  Every name
 * printed comes from dns.c's checked host names or is escaped.
 *
 * "smtpqctl tlsrpt DAY": the day's TLS report (RFC 8460), counted by
 * tlsrpt.c from what smtpsend recorded under the queue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "smtpqctl.h"
#include "tlspolicy.h"

#define PROBE_TIMEOUT	10	/* seconds, per lookup and for the fetch */

/* domain's MTA-STS policy into p, printed: 1 there is one, else 0. */
static int
probe_mtasts(const char *domain, struct mtasts_policy *p)
{
	char why[512] = "";
	size_t i;
	int has_policy;

	has_policy = mtasts_lookup(queue_dir, domain, PROBE_TIMEOUT, p, why,
	    sizeof(why));
	if (has_policy) {
		printf("mta-sts: mode %s, id %s, max_age %ld, %s\n",
		    mtasts_mode_name(p->mode), p->id, p->max_age,
		    p->is_cached ? "cached" : "fetched");
		for (i = 0; i < p->nmx; i++)
			printf("mta-sts mx: %s\n", p->mx[i]);
	} else
		printf("mta-sts: none\n");
	printf("mta-sts why: ");
	print_esc(stdout, why, 1);
	printf("\n");
	return has_policy;
}

/* What smtpsend would do with host, in words; whether mail could go. */
static int
probe_require(const struct dane *d, const struct mtasts_policy *p,
    int has_policy, const char *host)
{
	enum mtasts_action act = mtasts_check(has_policy ? p : NULL, host);

	switch (d->state) {
	case DANE_REQUIRED:
		printf("    requires: tls=dane (STARTTLS, verified by the "
		    "TLSA records)\n");
		return 1;
	case DANE_ENCRYPT:
		printf("    requires: STARTTLS, not authenticated (RFC 7672 "
		    "2.2)\n");
		return 1;
	case DANE_DEFER:
		printf("    requires: nothing can go: the DNSSEC lookup "
		    "failed, mail is deferred\n");
		return 0;
	case DANE_NONE:
		break;
	}
	switch (act) {
	case MTASTS_ACT_VERIFY:
		printf("    requires: tls=verified (STARTTLS, the certificate "
		    "verified for %s: MTA-STS enforce)\n", host);
		return 1;
	case MTASTS_ACT_REFUSE:
		printf("    requires: not used (no mx: of the MTA-STS "
		    "policy matches it)\n");
		return 0;
	case MTASTS_ACT_TESTING:
	case MTASTS_ACT_TESTING_MISMATCH:
		printf("    requires: STARTTLS when offered, unverified "
		    "(MTA-STS testing: what enforce would do is logged%s)\n",
		    act == MTASTS_ACT_TESTING_MISMATCH ? "; it would not be "
		    "used" : "");
		return 1;
	case MTASTS_ACT_NONE:
		break;
	}
	printf("    requires: STARTTLS when offered, unverified; plaintext "
	    "otherwise\n");
	return 1;
}

int
cmd_probe_domain(const char *domain, const char *cafile)
{
	static const char *const names[] = {
		"ok", "no MX records (the domain's own address is used)",
		"no such domain", "null MX: the domain takes no mail",
		"lookup failed"
	};
	static struct dane d;
	static struct mtasts_policy p;
	struct dns_mx mx[DNS_MX_MAX];
	enum dns_status st;
	char err[512] = "", rr[2 * DNS_TLSA_DATA_MAX + 16];
	size_t n = 0, i, k;
	int is_authentic, has_policy, usable = 0;

	if (!mtasts_is_host_name(domain)) {
		fprintf(stderr, "smtpqctl: probe: not a domain name: ");
		print_esc(stderr, domain, 0);
		fputc('\n', stderr);
		return 64;
	}
	sig_init();
	printf("domain ");
	print_esc(stdout, domain, 0);
	printf("\n");
	st = resolve_mx(domain, PROBE_TIMEOUT, mx, DNS_MX_MAX, &n,
	    &is_authentic, err, sizeof(err));
	dns_mx_order(mx, n, (unsigned long)time(NULL));
	/* RFC 5321 5.1: no MX, the domain itself is the one host. */
	if (st == DNS_NODATA && mtasts_is_host_name(domain)) {
		mx[0].pref = 0;
		strcpy(mx[0].host, domain);
		n = 1;
		st = DNS_OK;
		is_authentic = 0;	/* XXX: its address records' AD bit */
	}
	printf("mx: %s", names[st]);
	if (st == DNS_TEMP) {
		printf(": ");
		print_esc(stdout, err, 1);
	}
	printf("\ndnssec: %s (the resolver is %strusted to validate)\n",
	    st != DNS_TEMP && is_authentic ? "signed" : "not signed",
	    resolve_is_trusted() ? "" : "not ");
	/* The system's CAs, as smtpsend: -C is no anchor for MTA-STS. */
	(void)cafile;
	has_policy = probe_mtasts(domain, &p);
	for (i = 0; i < n; i++) {
		printf("mx %u %s\n", mx[i].pref, mx[i].host);
		dane_lookup(mx[i].host, st == DNS_OK && is_authentic,
		    PROBE_TIMEOUT, &d);
		printf("    dane: %s (", dane_state_name(d.state));
		print_esc(stdout, d.why, 1);
		printf(")\n");
		for (k = 0; k < d.n; k++)
			if (dane_rrdata(&d.tlsa[k], rr, sizeof(rr)) == 0)
				printf("    tlsa %s\n", rr);
		usable += probe_require(&d, &p, has_policy, mx[i].host);
	}
	if (st == DNS_TEMP)
		return 75;
	if (st != DNS_OK)
		return 69;	/* no such domain, or a null MX */
	if (usable == 0) {
		printf("result: no MX host can be used now: mail would wait\n");
		return 75;
	}
	printf("result: %d of %zu MX hosts usable\n", usable, n);
	return 0;
}

int
cmd_tlsrpt(const char *day)
{
	char host[DNS_NAME_MAX + 1];
	int rc;

	if (gethostname(host, sizeof(host)) == -1)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	rc = tlsrpt_report(queue_dir, day, host, stdout);
	if (rc == -1 && errno == EINVAL) {
		fprintf(stderr, "smtpqctl: tlsrpt: a day is YYYY-MM-DD\n");
		return 64;
	}
	if (rc == -1) {
		fprintf(stderr, "smtpqctl: tlsrpt: %s\n", strerror(errno));
		return 75;
	}
	if (rc == 1) {
		fprintf(stderr, "smtpqctl: tlsrpt: nothing recorded on %s\n",
		    day);
		return 66;
	}
	return 0;
}
