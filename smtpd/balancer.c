/*
 * balancer.c: -P, the PROXY protocol header a load balancer (HAProxy's v1
 * text or v2 binary) sends before its client's first byte.
 *
 * When the socket's peer is in a -P network, smtpd reads the header
 * before it greets: within PROXY_DEADLINE seconds (or -t, if shorter),
 * within the parser's size bounds, and byte-exactly: never a byte past
 * the header, so whatever the client sends after it stays unread for the
 * session.  The address in it becomes the peer for everything after
 * (trust exactly as if the client had connected directly, relay control,
 * the session cap's log, logs, Received:).  LOCAL (the balancer's own
 * health check) and UNKNOWN keep the socket's address for the logs but
 * are trusted for nothing.  A missing, malformed, truncated or oversized
 * header from a -P peer gets 421 and the session ends; from any other
 * peer a PROXY line is an unknown command like any other.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "smtpd.h"

/* -P: one network, or several separated by commas. */
void
balancer_option(struct config *cf, const char *arg)
{
	char buf[256];
	char *s, *next;

	if (strlen(arg) >= sizeof(buf))
		die_usage("-P: too long: %s", arg);
	strcpy(buf, arg);
	for (s = buf; s != NULL; s = next) {
		if ((next = strchr(s, ',')) != NULL)
			*next++ = '\0';
		if (cf->nproxies == PROXY_NETWORKS_MAX)
			die_usage("-P: more than %d networks",
			    PROXY_NETWORKS_MAX);
		if (net_cidr_parse(s, &cf->proxies[cf->nproxies++]) == -1)
			die_usage("-P: not an address/prefix: %s", s);
	}
}

int
balancer_expected(const struct config *cf, const struct peer *p)
{
	size_t i;

	for (i = 0; p->is_known && i < cf->nproxies; i++)
		if (net_cidr_match(&cf->proxies[i], &p->host))
			return 1;
	return 0;
}

/*
 * How many more bytes are surely still header, given the first have:
 * a v1 line is at least "PROXY UNKNOWN\r\n" and ends in CRLF; a v2
 * header is 16 bytes and then the length in its bytes 14-15 (checked
 * against PROXY_V2_MAX by proxy_parse() before we get here).  Past a
 * header that cannot be one nothing matters: it is refused.
 */
static size_t
balancer_want(const unsigned char *b, size_t have)
{
	if (have < PROXY_V1_MIN)
		return PROXY_V1_MIN - have;
	if (b[0] == 'P')
		return b[have - 1] == '\r' ? 1 : 2;
	if (have < 16)
		return 16 - have;
	return 16 + ((size_t)b[14] << 8 | b[15]) - have;
}

static void __attribute__((noreturn))
balancer_refuse(struct session *s, const char *status, const char *why)
{
	log_info("peer=%s result=refused: %s", s->peer.addr, why);
	reply(&s->out, 421, "%s %s Error: %s", status, s->cf->hostname, why);
	session_exit(s, 0);
}

/* Reads the header on in (empty, nothing read yet) and makes its client
 * the peer; returns only with a usable header. */
void
balancer_read(struct session *s)
{
	unsigned seconds = s->cf->timeout < PROXY_DEADLINE ? s->cf->timeout :
	    PROXY_DEADLINE;
	struct line *in = &s->in;
	char addr[INET6_ADDRSTRLEN];
	const unsigned char *b = (const unsigned char *)in->buf;
	struct proxy px;
	int n, rc;

	in->start = in->end = 0;
	in->due = line_now() + (long long)seconds * 1000000000LL;
	while ((n = proxy_parse(b, in->end, &px)) == 0) {
		rc = line_fill_upto(in, balancer_want(b, in->end));
		if (rc == 0) {
			log_info("peer=%s result=lost connection in PROXY "
			    "header", s->peer.addr);
			session_exit(s, 0);
		}
		if (rc == -2)
			balancer_refuse(s, "4.4.2",
			    "timeout waiting for PROXY header");
		if (rc == -3)
			balancer_refuse(s, "4.3.2", "shutting down");
		if (rc < 0)
			balancer_refuse(s, "4.3.0",
			    "read error in PROXY header");
	}
	if (n == -1)
		balancer_refuse(s, "4.7.0", "PROXY header expected");
	in->start = (size_t)n;		/* == in->end: nothing past it read */
	strcpy(s->proxy_via, s->peer.addr);
	if (px.kind != PROXY_CLIENT) {
		/* Nobody to trust; not even -R matches the socket. */
		s->peer.is_trusted = s->peer.is_known = 0;
		strcpy(s->proxy_via, px.kind == PROXY_LOCAL ? "local" :
		    "unknown");
		return;
	}
	if (inet_ntop(px.family, px.addr, addr, sizeof(addr)) == NULL ||
	    net_peer_parse(addr, &s->peer) == -1)
		/* not reached */
		balancer_refuse(s, "4.7.0", "PROXY header expected");
}
