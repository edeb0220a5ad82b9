/*
 * url.c: the relay's URL (-r), OpenSMTPD style.
 *
 *   smtp://host[:port]              25; STARTTLS when offered, unverified
 *   smtp+tls://[user@]host[:port]   587; STARTTLS required and verified
 *   smtps://[user@]host[:port]      465; TLS from the start, verified
 *   smtp+notls://host[:port]        25; never TLS
 *   host[:port]                     as smtp://
 *
 * A host is a name, an IPv4 address or an IPv6 address in brackets.  The
 * user is what comes before the last "@", so "a@example.com@host" works.
 * A user (AUTH, hence a password) only with the two verified schemes: a
 * password sent over unverified TLS or none goes to whoever answers for
 * the name or the port, a spoofed DNS answer or a local user who bound a
 * loopback port first.
 */
#include <stdio.h>
#include <string.h>

#include "smtpsend.h"

static const struct {
	const char	*prefix;
	enum url_tls	 tls;
	const char	*port;
} schemes[] = {
	{ "smtp://",		URL_TLS_MAY,		"25" },
	{ "smtp+tls://",	URL_TLS_STARTTLS,	"587" },
	{ "smtps://",		URL_TLS_IMPLICIT,	"465" },
	{ "smtp+notls://",	URL_TLS_NONE,		"25" },
};

/*
 * 0, or -1 when s is not one of the forms above, with err saying why
 * (for a user with a scheme that does not verify the relay: the URL to
 * use instead).
 */
int
url_parse(const char *s, struct url *u, char *err, size_t errsize)
{
	const char *at, *port = "25";
	size_t i, len;

	memset(u, 0, sizeof(*u));
	snprintf(err, errsize, "not [scheme://][user@]host[:port]");
	u->tls = URL_TLS_MAY;
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		len = strlen(schemes[i].prefix);
		if (strncmp(s, schemes[i].prefix, len) == 0) {
			s += len;
			u->tls = schemes[i].tls;
			port = schemes[i].port;
			break;
		}
	}
	if (i == sizeof(schemes) / sizeof(schemes[0]) &&
	    strstr(s, "://") != NULL)
		return -1;		/* a scheme we do not know */
	if ((at = strrchr(s, '@')) != NULL) {
		len = (size_t)(at - s);
		if (len == 0 || len >= sizeof(u->user) ||
		    strcspn(s, " \t\r\n/") < len)
			return -1;
		memcpy(u->user, s, len);
		u->user[len] = '\0';
		s = at + 1;
	}
	if (strchr(s, '/') != NULL || connect_split_hostport(s, u->host,
	    sizeof(u->host), u->port, sizeof(u->port), port) == -1)
		return -1;
	if (u->user[0] != '\0' && u->tls != URL_TLS_STARTTLS &&
	    u->tls != URL_TLS_IMPLICIT) {
		char user[sizeof(u->user) * 4], host[HOST_MAX * 4 + 1];

		/* escaped: the text reaches a terminal and the log */
		log_esc(u->user, user, sizeof(user));
		log_esc(s, host, sizeof(host));
		snprintf(err, errsize, "a user (AUTH) needs TLS that verifies "
		    "the relay: use smtp+tls://%s@%s (or smtps://%s@%s for "
		    "TLS from the first byte)", user, host, user, host);
		return -1;
	}
	u->is_ip = strchr(u->host, ':') != NULL ||
	    strspn(u->host, "0123456789.") == strlen(u->host);
	snprintf(u->name, sizeof(u->name), "%s:%s", u->host, u->port);
	return 0;
}
