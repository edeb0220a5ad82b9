/*
 * fuzz_route.c: smtpsend's route lines (smtpsend/route.c and url.c,
 * included): "route PATTERN TARGET" (-R), "route-sender PATTERN URL"
 * (-S) and the relay (-r), as smtpq.conf or the command line give them,
 * then the route of addresses made from the patterns taken.
 *
 * The input is lines; the first octet of each says what the rest is:
 * 'R' a route, 'S' a route-sender, 'r' a -r value, 'd' a -d domain; a
 * line is cut at a NUL (neither argv nor smtpq.conf carries one).
 *
 * Checked: nothing read or written outside its bounds (ASan); a refusal
 * says why in printable text; a line taken has a pattern that is "*", a
 * valid domain or a dot and one, and a relay target whose URL parses
 * again to the same destination name; then, for addresses in and around
 * each pattern (the domain, a subdomain, another case), route_of()
 * answers what a model of smtpsend(8)'s ROUTES order says: local for our
 * domains, else the first route whose pattern matches, else the first
 * route-sender matching the sender's domain, else the relay, else MX (or
 * the -r mx / -r local fallback), and a relay's destination is the one
 * its line made.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../smtpsend/url.c"
#include "../../smtpsend/route.c"

/* route.c's setup reads passwords; never called here. */
int
auth_secret(const char *file, const char *host, const char *user,
    char *pass, size_t size, char *err, size_t errsize)
{
	(void)file;
	(void)host;
	(void)user;
	(void)pass;
	(void)size;
	(void)err;
	(void)errsize;
	return -1;
}

#define LINES_MAX	(2 * ROUTES_MAX + DOMAINS_MAX + 8)
#define ARG_MAX		1024

struct taken {
	char		 pattern[HOST_MAX + 2];
	enum route_kind	 kind;
	struct dest	*dest;
};

static struct taken rmodel[ROUTES_MAX], smodel[ROUTES_MAX];
static size_t nrmodel, nsmodel;
static char dstore[DOMAINS_MAX][ARG_MAX];
static int is_relay;

/* Back to a fresh process's route.c. */
static void
reset(void)
{
	nroutes = nsenders = nurls = nurl_dests = ndomains = 0;
	memset(routes, 0, sizeof(routes));
	memset(senders, 0, sizeof(senders));
	memset(url_dests, 0, sizeof(url_dests));
	memset(urls, 0, sizeof(urls));
	relay.nurls = 0;
	snprintf(relay.name, sizeof(relay.name), "relay");
	fallback = ROUTE_MX;
	is_fallback_set = 0;
	myname = "mx.fuzz.test";
	route_begin();
	nrmodel = nsmodel = 0;
	is_relay = 0;
}

static void
check_err(const char *err)
{
	size_t k;

	if (err[0] == '\0')
		abort();
	for (k = 0; err[k] != '\0'; k++)
		if ((unsigned char)err[k] < ' ' || (unsigned char)err[k] > '~')
			abort();
}

/* The model's match: "*", ".d" (a subdomain of d), "d" (itself). */
static int
model_match(const char *p, const char *domain)
{
	size_t lp = strlen(p), ld = strlen(domain);

	if (strcmp(p, "*") == 0)
		return 1;
	if (p[0] == '.')
		return ld > lp && strcasecmp(domain + (ld - lp), p) == 0;
	return strcasecmp(p, domain) == 0;
}

static int
model_local(const char *domain)
{
	size_t i;

	if (strcasecmp(domain, "localhost") == 0 ||
	    strcasecmp(domain, myname) == 0)
		return 1;
	for (i = 0; i < ndomains; i++)
		if (strcasecmp(domain, domains[i]) == 0)
			return 1;
	return 0;
}

/* route_of(sender, rcpt) against the model. */
static void
probe(const char *sdomain, const char *rdomain)
{
	char from[ADDR_MAX + 1], to[ADDR_MAX + 1];
	enum route_kind kind, want;
	struct dest *d, *wantd = NULL;
	size_t i;
	int n;

	/* an address literal may hold "@" ("[)@]" passes
	 * addr_domain_valid()), and addr_domain() takes what follows the
	 * last one: such an address is not one this model can spell */
	if (strchr(sdomain, '@') != NULL || strchr(rdomain, '@') != NULL)
		return;
	n = snprintf(from, sizeof(from), "s@%s", sdomain);
	if (n < 0 || (size_t)n >= sizeof(from))
		return;
	n = snprintf(to, sizeof(to), "r@%s", rdomain);
	if (n < 0 || (size_t)n >= sizeof(to))
		return;
	d = route_of(from, to, &kind);
	if (model_local(rdomain))
		want = ROUTE_LOCAL;
	else {
		for (i = 0; i < nrmodel; i++)
			if (model_match(rmodel[i].pattern, rdomain))
				break;
		if (i < nrmodel) {
			want = rmodel[i].kind;
			wantd = rmodel[i].dest;
		} else {
			for (i = 0; i < nsmodel; i++)
				if (model_match(smodel[i].pattern, sdomain))
					break;
			if (i < nsmodel) {
				want = ROUTE_RELAY;
				wantd = smodel[i].dest;
			} else if (is_relay) {
				want = ROUTE_RELAY;
				wantd = &relay;
			} else
				want = fallback;
		}
	}
	if (kind != want)
		abort();
	if (want == ROUTE_LOCAL && d != NULL)
		abort();
	if (want == ROUTE_RELAY && (d != wantd || d == NULL || d->nurls == 0))
		abort();
	if (want == ROUTE_MX && (d == NULL || d->kind != ROUTE_MX ||
	    strcasecmp(d->name, rdomain) != 0))
		abort();
}

/* Domains in and around pattern p, each probed as a recipient's and as
 * a sender's, against the other made from q. */
static void
probe_around(const char *p, const char *q)
{
	char v[4][HOST_MAX + 16];
	size_t i, k;

	if (strcmp(p, "*") == 0)
		snprintf(v[0], sizeof(v[0]), "any.example");
	else if (p[0] == '.')
		snprintf(v[0], sizeof(v[0]), "sub%s", p);
	else
		snprintf(v[0], sizeof(v[0]), "%s", p);
	snprintf(v[1], sizeof(v[1]), "%s", p[0] == '.' ? p + 1 : "x.invalid");
	snprintf(v[2], sizeof(v[2]), "%s", v[0]);
	for (k = 0; v[2][k] != '\0'; k++)
		v[2][k] = (char)toupper((unsigned char)v[2][k]);
	snprintf(v[3], sizeof(v[3]), "%s", q[0] == '.' ? q + 1 : q);
	for (i = 0; i < 4; i++)
		for (k = 0; k < 4; k++)
			if (addr_domain_valid(v[i]) && addr_domain_valid(v[k]))
				probe(v[i], v[k]);
}

static int
is_pattern_ok(const char *p)
{
	return strcmp(p, "*") == 0 || addr_domain_valid(p[0] == '.' ? p + 1 :
	    p);
}

/* The line's arg, taken or refused, checked. */
static void
take(char what, const char *arg)
{
	char err[512];
	struct url u;
	struct taken *t;
	size_t n;
	int rc;

	err[0] = '\0';
	switch (what) {
	case 'R':
	case 'S':
		n = what == 'R' ? nroutes : nsenders;
		rc = route_add(arg, what == 'S', err, sizeof(err));
		if (rc == -1) {
			check_err(err);
			if ((what == 'R' ? nroutes : nsenders) != n)
				abort();
			return;
		}
		if ((what == 'R' ? nroutes : nsenders) != n + 1)
			abort();
		t = what == 'R' ? &rmodel[nrmodel++] : &smodel[nsmodel++];
		{
			const struct route_line *r = what == 'R' ?
			    &routes[n] : &senders[n];

			if (!is_pattern_ok(r->pattern) ||
			    strncmp(arg, r->pattern, strlen(r->pattern)) != 0)
				abort();
			if (what == 'S' && r->kind != ROUTE_RELAY)
				abort();
			if (r->kind == ROUTE_RELAY) {
				const char *target = arg + strlen(r->pattern);

				target += strspn(target, " \t");
				if (r->dest == NULL || r->dest->nurls != 1 ||
				    url_parse(target, &u, err, sizeof(err)) ==
				    -1 || strcmp(u.name, r->dest->name) != 0)
					abort();
			} else if (r->dest != NULL)
				abort();
			snprintf(t->pattern, sizeof(t->pattern), "%s",
			    r->pattern);
			t->kind = r->kind;
			t->dest = r->dest;
		}
		return;
	case 'r':
		rc = route_relay(arg, err, sizeof(err));
		if (rc == -1)
			check_err(err);
		else if (strcmp(arg, "mx") != 0 && strcmp(arg, "local") != 0)
			is_relay = 1;
		if (is_relay && relay.nurls == 0)
			abort();
		return;
	case 'd':
		if (!addr_domain_valid(arg) || ndomains == DOMAINS_MAX)
			return;	/* smtpsend refuses these (64) */
		snprintf(dstore[ndomains], sizeof(dstore[0]), "%s", arg);
		if (route_domain(dstore[ndomains]) == -1)
			abort();
		return;
	default:
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char arg[ARG_MAX];
	size_t off = 0, len, n, i, k, lines = 0;
	const uint8_t *nl;

	reset();
	while (off < size && lines++ < LINES_MAX) {
		nl = memchr(data + off, '\n', size - off);
		len = nl != NULL ? (size_t)(nl - data - off) : size - off;
		if (len > 0) {
			n = len - 1 < sizeof(arg) - 1 ? len - 1 :
			    sizeof(arg) - 1;
			memcpy(arg, data + off + 1, n);
			arg[n] = '\0';	/* and cut at a NUL, as argv is */
			take((char)data[off], arg);
		}
		off += len + 1;
	}
	probe("src.example", "dst.example");
	probe("src.example", "localhost");
	probe("src.example", myname);
	n = nrmodel + nsmodel;
	for (i = 0; i < n; i++)
		for (k = 0; k < n; k += 1 + n / 4)
			probe_around(i < nrmodel ? rmodel[i].pattern :
			    smodel[i - nrmodel].pattern, k < nrmodel ?
			    rmodel[k].pattern : smodel[k - nrmodel].pattern);
	return 0;
}
