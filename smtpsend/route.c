/*
 * route.c: where each recipient of a message goes (smtpsend(8) ROUTES).
 *
 * A recipient is local when its domain is one of ours: a -d domain, the
 * host's own name (-n) or localhost; or it has no domain at all
 * (<postmaster>).  Else the first "route PATTERN TARGET" (-R) whose
 * pattern matches its domain decides; else the first "route-sender
 * PATTERN URL" (-S) whose pattern matches the envelope sender's domain
 * (a smarthost per sending domain, each with its own credentials); else
 * the relay (-r) when there is one; else the domain's MX.  A pattern is a
 * domain (itself only), ".domain" (its subdomains only, as Postfix reads
 * it) or "*" (any).  A TARGET is a relay URL, "mx" or "local"; "-r mx"
 * means direct delivery, "-r local" delivers every recipient locally.
 * Never is a remote address delivered into a local Maildir unless a
 * route says so.
 *
 * Holds the destinations (struct dest) remote.c delivers to: the relay,
 * one per route URL, one per MX domain in hand (evicted when the table
 * is full, never one the message in hand uses), and the passwords of the
 * URLs from the secrets file (-a).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtpsend.h"

#define ROUTES_MAX	64	/* route and route-sender lines, each */
#define ROUTE_URLS_MAX	32	/* of them with a URL as their target */
#define MX_DESTS_MAX	(RCPT_MAX + 28)	/* MX domains in hand at once */

struct route_line {
	char		 pattern[HOST_MAX + 2];	/* "d", ".d" or "*" */
	enum route_kind	 kind;
	struct dest	*dest;			/* ROUTE_RELAY */
};

static const char *domains[DOMAINS_MAX];
static size_t ndomains;
static const char *myname = "";
static struct route_line routes[ROUTES_MAX], senders[ROUTES_MAX];
static size_t nroutes, nsenders;

/* The URLs, their passwords, and the destinations made of them: the
 * relay's (-r) first, then one per route URL. */
static struct url urls[DEST_URLS_MAX + ROUTE_URLS_MAX];
static char passes[DEST_URLS_MAX + ROUTE_URLS_MAX][AUTH_PASS_MAX + 1];
static size_t nurls;
static struct dest relay = { .kind = ROUTE_RELAY, .name = "relay",
    .policy = TLS_POLICY_OPPORTUNISTIC };
static struct dest url_dests[ROUTE_URLS_MAX];
static size_t nurl_dests;
static enum route_kind fallback = ROUTE_MX;	/* without a relay */
static int is_fallback_set;

/* MX destinations, one per domain in hand; stamp: the message that last
 * used one, so that none of the message in hand is evicted. */
static struct dest mx_dests[MX_DESTS_MAX];
static unsigned long mx_stamp[MX_DESTS_MAX], msg_stamp;

/* A URL for d, parsed into the next free one.  0, or -1 (err). */
static int
route_url(struct dest *d, const char *arg, char *err, size_t errsize)
{
	struct url *u;

	if (d->nurls == DEST_URLS_MAX || nurls == sizeof(urls) /
	    sizeof(urls[0])) {
		snprintf(err, errsize, "too many relay URLs");
		return -1;
	}
	u = &urls[nurls];
	if (url_parse(arg, u, err, errsize) == -1)
		return -1;
	if (d->nurls == 0) {
		snprintf(d->name, sizeof(d->name), "%s", u->name);
		/* smtp+tls://, smtps://: verified; never plaintext */
		d->policy = u->tls == URL_TLS_STARTTLS ||
		    u->tls == URL_TLS_IMPLICIT ? TLS_POLICY_VERIFIED :
		    u->tls == URL_TLS_NONE ? TLS_POLICY_NONE :
		    TLS_POLICY_OPPORTUNISTIC;
	}
	d->pass[d->nurls] = passes[nurls];
	d->urls[d->nurls++] = u;
	nurls++;
	return 0;
}

/* -r URL, once more; or "mx" (direct delivery) or "local" (every
 * recipient local), alone.  0, or -1 with err saying why. */
int
route_relay(const char *arg, char *err, size_t errsize)
{
	if (strcmp(arg, "mx") == 0 || strcmp(arg, "local") == 0) {
		if (relay.nurls > 0 || is_fallback_set) {
			snprintf(err, errsize, "\"%s\" is -r's only value, "
			    "not one of several", arg);
			return -1;
		}
		fallback = strcmp(arg, "mx") == 0 ? ROUTE_MX : ROUTE_LOCAL;
		is_fallback_set = 1;
		return 0;
	}
	if (is_fallback_set) {
		snprintf(err, errsize, "-r mx or -r local is -r's only value");
		return -1;
	}
	return route_url(&relay, arg, err, errsize);
}

/* Whether p is a pattern: "*", a domain, or a dot and a domain. */
static int
is_pattern(const char *p)
{
	return strcmp(p, "*") == 0 || addr_domain_valid(p[0] == '.' ?
	    p + 1 : p);
}

/* "PATTERN TARGET" (-R, route) or "PATTERN URL" (-S, route-sender). */
static int
route_parse(struct route_line *r, const char *arg, int is_sender,
    char *err, size_t errsize)
{
	size_t n = strcspn(arg, " \t");
	const char *target = arg + n;

	/* nothing kept from a line refused before in this slot (its URL's
	 * destination): an mx or local line has none */
	memset(r, 0, sizeof(*r));
	target += strspn(target, " \t");
	if (n == 0 || n >= sizeof(r->pattern) || *target == '\0' ||
	    target[strcspn(target, " \t")] != '\0') {
		snprintf(err, errsize, "not \"PATTERN %s\"", is_sender ?
		    "URL" : "TARGET");
		return -1;
	}
	memcpy(r->pattern, arg, n);
	r->pattern[n] = '\0';
	if (!is_pattern(r->pattern)) {
		char safe[sizeof(r->pattern) * 4];

		snprintf(err, errsize, "bad pattern %s (a domain, .domain "
		    "or *)", log_esc(r->pattern, safe, sizeof(safe)));
		return -1;
	}
	if (is_sender && (strcmp(target, "mx") == 0 ||
	    strcmp(target, "local") == 0)) {
		snprintf(err, errsize, "a route-sender goes to a relay URL, "
		    "not %s", target);	/* "mx" or "local" */
		return -1;
	}
	if (!is_sender && strcmp(target, "mx") == 0) {
		r->kind = ROUTE_MX;
		return 0;
	}
	if (!is_sender && strcmp(target, "local") == 0) {
		r->kind = ROUTE_LOCAL;
		return 0;
	}
	if (nurl_dests == ROUTE_URLS_MAX) {
		snprintf(err, errsize, "more than %d routes to URLs",
		    ROUTE_URLS_MAX);
		return -1;
	}
	r->kind = ROUTE_RELAY;
	r->dest = &url_dests[nurl_dests];
	r->dest->kind = ROUTE_RELAY;
	if (route_url(r->dest, target, err, errsize) == -1)
		return -1;
	nurl_dests++;
	return 0;
}

/* -R "PATTERN TARGET" (route) or, is_sender, -S "PATTERN URL"
 * (route-sender).  0, or -1 with err saying why. */
int
route_add(const char *arg, int is_sender, char *err, size_t errsize)
{
	size_t *n = is_sender ? &nsenders : &nroutes;

	if (*n == ROUTES_MAX) {
		snprintf(err, errsize, "more than %d lines", ROUTES_MAX);
		return -1;
	}
	if (route_parse(&(is_sender ? senders : routes)[*n], arg, is_sender,
	    err, errsize) == -1)
		return -1;
	++*n;
	return 0;
}

/* -d DOMAIN: 0, or -1 when there are too many. */
int
route_domain(const char *domain)
{
	if (ndomains == DOMAINS_MAX)
		return -1;
	domains[ndomains++] = domain;
	return 0;
}

int
route_has_relay(void)
{
	return relay.nurls > 0;
}

/* The configured relay, for -k: how many (0 or 1) into *v. */
size_t
route_relays(struct dest **v)
{
	v[0] = &relay;
	return relay.nurls > 0;
}

/* The password for d's URL i, from the secrets file; exits 78 when it
 * cannot be had. */
static void
route_secret(struct dest *d, size_t i, const char *secrets)
{
	char err[512];

	if (d->urls[i]->user[0] == '\0')
		return;
	if (secrets == NULL)
		die(EXIT_CONFIG, "relay %s: user %s, but no -a file with the "
		    "password", d->urls[i]->name, d->urls[i]->user);
	if (auth_secret(secrets, d->urls[i]->host, d->urls[i]->user,
	    d->pass[i], AUTH_PASS_MAX + 1, err, sizeof(err)) == -1)
		die(EXIT_CONFIG, "relay %s: %s", d->urls[i]->name, err);
}

/*
 * Our host name (local, as localhost is), and the passwords of the URLs
 * that name a user, from the secrets file (-a).  Exits 78 when one cannot
 * be had, or the file is one others can read.
 */
void
route_setup(const char *hostname, const char *secrets)
{
	size_t i, j;

	myname = hostname;
	for (i = 0; i < relay.nurls; i++)
		route_secret(&relay, i, secrets);
	for (j = 0; j < nurl_dests; j++)
		for (i = 0; i < url_dests[j].nurls; i++)
			route_secret(&url_dests[j], i, secrets);
}

/* A new run: a destination that was down may be back, and MX answers
 * are looked up again. */
void
route_begin(void)
{
	size_t i;

	relay.is_down = relay.is_told = 0;
	for (i = 0; i < nurl_dests; i++)
		url_dests[i].is_down = url_dests[i].is_told = 0;
	for (i = 0; i < MX_DESTS_MAX; i++) {
		mx_dests[i].name[0] = '\0';
		mx_dests[i].is_down = mx_dests[i].is_told = 0;
		mx_dests[i].serial++;
	}
}

/* Whether domain matches pattern p ("*", "d", ".d"), without case. */
static int
is_match(const char *p, const char *domain)
{
	size_t lp = strlen(p), ld = strlen(domain);

	if (strcmp(p, "*") == 0)
		return 1;
	if (p[0] != '.')
		return strcasecmp(p, domain) == 0;
	/* ".example.org": a.example.org, not example.org itself */
	return ld > lp && strcasecmp(domain + ld - lp, p) == 0;
}

/* Whether domain is ours: -d, our host name, localhost. */
int
route_is_local(const char *domain)
{
	size_t i;

	if (domain == NULL)
		return 1;	/* <postmaster> */
	if (strcasecmp(domain, "localhost") == 0 ||
	    strcasecmp(domain, myname) == 0)
		return 1;
	for (i = 0; i < ndomains; i++)
		if (strcasecmp(domain, domains[i]) == 0)
			return 1;
	return 0;
}

/* The MX destination for domain: the one in hand, else a free or
 * evictable one (not used by this message), renamed. */
static struct dest *
route_mx(const char *domain)
{
	size_t i, pick = MX_DESTS_MAX;

	for (i = 0; i < MX_DESTS_MAX; i++) {
		if (strcasecmp(mx_dests[i].name, domain) == 0) {
			mx_stamp[i] = msg_stamp;
			return &mx_dests[i];
		}
		if (mx_stamp[i] != msg_stamp && (pick == MX_DESTS_MAX ||
		    mx_stamp[i] < mx_stamp[pick]))
			pick = i;
	}
	/* A message has at most RCPT_MAX domains: one is always free
	 * there.  Outside a message (-V) any will do. */
	if (pick == MX_DESTS_MAX)
		pick = 0;
	mx_stamp[pick] = msg_stamp;
	mx_dests[pick].kind = ROUTE_MX;
	mx_dests[pick].policy = TLS_POLICY_OPPORTUNISTIC;
	mx_dests[pick].is_down = mx_dests[pick].is_told = 0;
	mx_dests[pick].serial++;
	snprintf(mx_dests[pick].name, sizeof(mx_dests[pick].name), "%s",
	    domain);
	return &mx_dests[pick];
}

/* pool.c: the destinations called name are down for this run, why
 * saying why: the relay's and route URLs' of that name ("host:port"),
 * else the MX domain's. */
void
route_down(const char *name, const char *why)
{
	struct dest *d;
	size_t i;

	if (strchr(name, ':') == NULL) {
		if (!addr_domain_valid(name))
			return;
		d = route_mx(name);
		d->is_down = 1;
		snprintf(d->why, sizeof(d->why), "%s", why);
		return;
	}
	for (i = 0; i <= nurl_dests; i++) {
		d = i < nurl_dests ? &url_dests[i] : &relay;
		if (d->nurls > 0 && strcmp(d->name, name) == 0) {
			d->is_down = 1;
			snprintf(d->why, sizeof(d->why), "%s", why);
		}
	}
}

/* pool.c: each destination down, once. */
void
route_each_down(void (*fn)(const struct dest *))
{
	size_t i;

	for (i = 0; i <= nurl_dests + MX_DESTS_MAX; i++) {
		struct dest *d = i < nurl_dests ? &url_dests[i] :
		    i == nurl_dests ? &relay : &mx_dests[i - nurl_dests - 1];

		if (d->is_down && !d->is_told && d->name[0] != '\0') {
			d->is_told = 1;
			fn(d);
		}
	}
}

/*
 * The route of one recipient of mail from sender: its kind into *kind,
 * its destination (NULL for local) returned.
 */
struct dest *
route_of(const char *sender, const char *rcpt, enum route_kind *kind)
{
	const char *domain = addr_domain(rcpt), *from = addr_domain(sender);
	size_t i;

	*kind = ROUTE_LOCAL;
	if (route_is_local(domain))
		return NULL;
	for (i = 0; i < nroutes; i++)
		if (is_match(routes[i].pattern, domain)) {
			*kind = routes[i].kind;
			return *kind == ROUTE_LOCAL ? NULL : *kind == ROUTE_MX ?
			    route_mx(domain) : routes[i].dest;
		}
	for (i = 0; from != NULL && i < nsenders; i++)
		if (is_match(senders[i].pattern, from)) {
			*kind = ROUTE_RELAY;
			return senders[i].dest;
		}
	if (relay.nurls > 0) {
		*kind = ROUTE_RELAY;
		return &relay;
	}
	*kind = fallback;
	return fallback == ROUTE_MX ? route_mx(domain) : NULL;
}

/* Each recipient's route and destination. */
void
route_decide(struct msg *m)
{
	size_t i;

	msg_stamp++;
	for (i = 0; i < m->env.nrcpt; i++)
		m->rcpt[i].dest = route_of(m->env.from, m->rcpt[i].addr,
		    &m->rcpt[i].route);
}

/* "local", "mx DOMAIN" or "relay URL", for -V and logs. */
void
route_describe(enum route_kind kind, const struct dest *d, char *buf,
    size_t size)
{
	if (kind == ROUTE_LOCAL)
		snprintf(buf, size, "local");
	else if (kind == ROUTE_MX)
		snprintf(buf, size, "mx %s", d->name);
	else
		snprintf(buf, size, "relay %s", d->name);
}
