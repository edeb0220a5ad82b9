/*
 * net.c: who is on the other end (smtpd), trusted networks, socket
 * timeouts.  Outgoing connections are in connect.c.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const unsigned char v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* An address as a host cidr; v4-mapped IPv6 becomes plain IPv4. */
static void
net_host(int family, const void *bytes, struct cidr *c)
{
	memset(c, 0, sizeof(*c));
	if (family == AF_INET6 && memcmp(bytes, v4mapped, 12) == 0) {
		family = AF_INET;
		bytes = (const unsigned char *)bytes + 12;
	}
	c->family = family;
	c->bits = family == AF_INET ? 32 : 128;
	memcpy(c->addr, bytes, family == AF_INET ? 4 : 16);
}

static int
net_is_loopback(const struct cidr *c)
{
	static const unsigned char v6lo[16] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};

	if (c->family == AF_INET)
		return c->addr[0] == 127;
	return memcmp(c->addr, v6lo, 16) == 0;
}

static void
net_known(struct peer *p, int family, const void *bytes)
{
	net_host(family, bytes, &p->host);
	if (inet_ntop(p->host.family, p->host.addr, p->addr,
	    sizeof(p->addr)) == NULL)
		strcpy(p->addr, "unknown");
	p->is_known = 1;
	p->is_trusted = net_is_loopback(&p->host);
}

/*
 * A launcher's word for the client: a numeric IPv4 or IPv6 address and
 * nothing else (no port, brackets, zone or name).  Returns 0 with p set
 * (trusted only for loopback), or -1, p untouched, for anything else.
 * Every way smtpd learns a client address from outside goes through here.
 */
int
net_peer_parse(const char *s, struct peer *p)
{
	unsigned char bytes[16];
	struct peer q;

	memset(&q, 0, sizeof(q));
	if (inet_pton(AF_INET, s, bytes) == 1)
		net_known(&q, AF_INET, bytes);
	else if (inet_pton(AF_INET6, s, bytes) == 1)
		net_known(&q, AF_INET6, bytes);
	else
		return -1;
	*p = q;
	return 0;
}

/* What a peer becomes when a launcher named it in a way we cannot use:
 * never trusted, never matched by -R. */
void
net_peer_unknown(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	strcpy(p->addr, "unknown");
}

/*
 * The client: getpeername() on fd; else what the launcher put in the
 * environment (REMOTE_ADDR from systemd, TCPREMOTEIP from tcpserver); else
 * "stdin", a local user with a pipe, trusted like loopback.  A variable
 * that is set but does not parse, or two that disagree, make an unknown,
 * untrusted peer: a launcher that says something must never be taken for
 * the absence of one.
 */
void
net_peer(int fd, struct peer *p)
{
	static const char *const vars[] = { "REMOTE_ADDR", "TCPREMOTEIP" };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct peer q;
	const char *env;
	size_t i;
	int seen = 0;

	memset(p, 0, sizeof(*p));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			net_known(p, AF_INET,
			    &((struct sockaddr_in *)&ss)->sin_addr);
			return;
		}
		if (ss.ss_family == AF_INET6) {
			net_known(p, AF_INET6,
			    &((struct sockaddr_in6 *)&ss)->sin6_addr);
			return;
		}
		strcpy(p->addr, "local");	/* a unix socket */
		p->is_trusted = 1;
		return;
	}
	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if ((env = getenv(vars[i])) == NULL)
			continue;
		if (net_peer_parse(env, &q) == -1 || (seen &&
		    (q.host.family != p->host.family ||
		    memcmp(q.host.addr, p->host.addr, 16) != 0))) {
			net_peer_unknown(p);
			return;
		}
		*p = q;
		seen = 1;
	}
	if (seen)
		return;
	strcpy(p->addr, "stdin");
	p->is_trusted = 1;
}

/* "192.0.2.0/24", "2001:db8::/32", or a single address. */
int
net_cidr_parse(const char *s, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char bytes[16];
	unsigned long bits;
	const char *slash = strchr(s, '/');
	size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
	int family;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, bytes) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, buf, bytes) == 1)
		family = AF_INET6;
	else
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = family;
	memcpy(c->addr, bytes, family == AF_INET ? 4 : 16);
	c->bits = family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		if (opt_number(slash + 1, c->bits, &bits) == -1)
			return -1;
		c->bits = (unsigned)bits;
	}
	return 0;
}

int
net_cidr_match(const struct cidr *net, const struct cidr *host)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;
	unsigned char mask;

	if (net->family != host->family)
		return 0;
	if (memcmp(net->addr, host->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (host->addr[full] & mask);
}

/* Bounds every later read and write on a socket; not one: no-op. */
int
net_set_timeout(int fd, int seconds)
{
	struct timeval tv;

	tv.tv_sec = seconds;
	tv.tv_usec = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1)
		return errno == ENOTSOCK ? 0 : -1;
	return 0;
}
