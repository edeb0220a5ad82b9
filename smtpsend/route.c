/*
 * route.c: where each recipient of a message goes.
 *
 * Reads -r (the relay's URLs, tried in order) and -d (local domains) and
 * decides per recipient: local (a Maildir under -m, or an alias) or the
 * relay.  Holds the destinations (struct dest) remote.c delivers to, and
 * their passwords from the secrets file (-a).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "smtpsend.h"

#define DOMAINS_MAX	64		/* -d given more often: usage error */

static const char *domains[DOMAINS_MAX];
static size_t ndomains;
static struct url relay_urls[DEST_URLS_MAX];
static char relay_pass[DEST_URLS_MAX][AUTH_PASS_MAX + 1];
static struct dest relay = { .kind = ROUTE_RELAY, .name = "relay",
    .policy = TLS_POLICY_OPPORTUNISTIC };

/* -r URL, once more: 0, or -1 with err saying why (malformed, a user
 * without verified TLS, one too many). */
int
route_relay(const char *arg, char *err, size_t errsize)
{
	struct url *u;

	if (relay.nurls == DEST_URLS_MAX) {
		snprintf(err, errsize, "more than %d relays", DEST_URLS_MAX);
		return -1;
	}
	u = &relay_urls[relay.nurls];
	if (url_parse(arg, u, err, errsize) == -1)
		return -1;
	if (relay.nurls == 0)
		snprintf(relay.name, sizeof(relay.name), "%s", u->name);
	relay.pass[relay.nurls] = relay_pass[relay.nurls];
	relay.urls[relay.nurls++] = u;
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

/* The configured relays, for -k: how many (0 or 1) into *v. */
size_t
route_relays(struct dest **v)
{
	v[0] = &relay;
	return relay.nurls > 0;
}

/*
 * The passwords of the URLs that name a user, from the secrets file
 * (-a).  Exits 78 when one cannot be had, or the file is one others can
 * read.
 */
void
route_setup(const char *hostname, const char *secrets)
{
	char err[512];
	size_t i;

	(void)hostname;
	for (i = 0; i < relay.nurls; i++) {
		if (relay.urls[i]->user[0] == '\0')
			continue;
		if (secrets == NULL)
			die(EXIT_CONFIG, "relay %s: user %s, but no -a file "
			    "with the password", relay.urls[i]->name,
			    relay.urls[i]->user);
		if (auth_secret(secrets, relay.urls[i]->host,
		    relay.urls[i]->user, relay.pass[i], AUTH_PASS_MAX + 1,
		    err, sizeof(err)) == -1)
			die(EXIT_CONFIG, "relay %s: %s", relay.urls[i]->name,
			    err);
	}
}

/* A new run: a destination that was down may be back. */
void
route_begin(void)
{
	relay.is_down = 0;
}

static int
is_local_domain(const char *rcpt)
{
	const char *domain = addr_domain(rcpt);
	size_t i;

	if (relay.nurls == 0 || domain == NULL)
		return 1;	/* no relay; or <postmaster> */
	for (i = 0; i < ndomains; i++)
		if (strcasecmp(domain, domains[i]) == 0)
			return 1;
	return 0;
}

/* Each recipient's route and destination. */
void
route_decide(struct msg *m)
{
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++) {
		if (is_local_domain(m->rcpt[i].addr)) {
			m->rcpt[i].route = ROUTE_LOCAL;
			m->rcpt[i].dest = NULL;
		} else {
			m->rcpt[i].route = ROUTE_RELAY;
			m->rcpt[i].dest = &relay;
		}
	}
}
