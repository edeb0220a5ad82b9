/*
 * net.c: who is on the other end (smtpd), trusted networks, and outgoing
 * connections with a timeout (smtpsend).
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
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
 * The client: getpeername() on fd; else what the launcher put in the
 * environment (REMOTE_ADDR from systemd, TCPREMOTEIP from tcpserver); else
 * "stdin", a local user with a pipe, trusted like loopback.
 */
void
net_peer(int fd, struct peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const char *env;
	unsigned char bytes[16];

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
	if ((env = getenv("REMOTE_ADDR")) == NULL)
		env = getenv("TCPREMOTEIP");
	if (env != NULL) {
		if (inet_pton(AF_INET, env, bytes) == 1) {
			net_known(p, AF_INET, bytes);
			return;
		}
		if (inet_pton(AF_INET6, env, bytes) == 1) {
			net_known(p, AF_INET6, bytes);
			return;
		}
	}
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

/* "host", "host:port", "[v6]" or "[v6]:port"; port defaults to dflt. */
int
net_split_hostport(const char *s, char *host, size_t hostsize, char *port,
    size_t portsize, const char *dflt)
{
	const char *end, *colon, *portstr;
	size_t len;

	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		len = (size_t)(end - s - 1);
		s++;
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			colon = NULL;	/* a bare IPv6 address */
		len = colon != NULL ? (size_t)(colon - s) : strlen(s);
	}
	if (len == 0 || len >= hostsize)
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	portstr = colon != NULL ? colon + 1 : dflt;
	if (portstr[0] == '\0' || strlen(portstr) >= portsize ||
	    strspn(portstr, "0123456789") != strlen(portstr))
		return -1;
	strcpy(port, portstr);
	return 0;
}

/* Waits up to timeout seconds for a non-blocking connect() to finish. */
static int
net_connect_wait(int fd, int timeout)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int rc, soerr;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		rc = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
	while (rc == -1 && errno == EINTR);
	if (rc == -1)
		return -1;
	if (rc == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/*
 * Connects to host:port, trying every address getaddrinfo() gives (IPv6
 * and IPv4) in turn, each for up to timeout seconds.  Returns a blocking
 * socket whose reads and writes time out after timeout seconds, or -1 with
 * the reason in err.
 */
int
net_connect(const char *host, const char *port, int timeout, char *err,
    size_t errsize)
{
	struct addrinfo hints, *res, *ai;
	char name[INET6_ADDRSTRLEN];
	int fd = -1, rc, flags;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errsize, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	snprintf(err, errsize, "%s: no address", host);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, name,
		    sizeof(name), NULL, 0, NI_NUMERICHOST) != 0)
			strcpy(name, "?");
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1) {
			snprintf(err, errsize, "socket: %s", strerror(errno));
			continue;
		}
		if ((flags = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
		    (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    (errno != EINPROGRESS ||
		    net_connect_wait(fd, timeout) == -1)) ||
		    fcntl(fd, F_SETFL, flags) == -1 ||
		    net_set_timeout(fd, timeout) == -1) {
			snprintf(err, errsize, "connect to %s port %s: %s",
			    name, port, strerror(errno));
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	freeaddrinfo(res);
	return fd;
}
