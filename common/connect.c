/*
 * connect.c: outgoing connections with a timeout (smtpsend).  Apart from
 * net.c so that smtpd, linked statically, never pulls in getaddrinfo().
 */
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* "host", "host:port", "[v6]" or "[v6]:port"; port defaults to dflt. */
int
connect_split_hostport(const char *s, char *host, size_t hostsize, char *port,
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

/* Waits up to timeout seconds for a non-blocking connect() to finish; a
 * SIGTERM ends the wait (sig.c: blocked signals get through only while we
 * wait), with errno EINTR. */
static int
connect_wait(int fd, int timeout)
{
	socklen_t len = sizeof(int);
	int soerr;

	if (sig_wait(fd, 1, timeout > 0 ? line_now() + timeout *
	    1000000000LL : 0, 1) == -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return -1;
	if (soerr != 0) {
		errno = soerr;
		return -1;
	}
	return 0;
}

/*
 * Connects to host:port, trying every address the name has (IPv6 and
 * IPv4, net_resolve(): the lookup bounded by timeout too) in turn, each
 * for up to timeout seconds, until a SIGTERM.  Returns a blocking socket
 * whose reads and writes time out after timeout seconds, or -1 with the
 * reason in err.
 */
int
connect_tcp(const char *host, const char *port, int timeout, char *err,
    size_t errsize)
{
	static struct net_addrs addrs;
	const struct net_addr *a;
	char name[INET6_ADDRSTRLEN];
	int fd = -1, flags;
	size_t i;

	if (net_resolve(host, port, timeout, &addrs, err, errsize) == -1)
		return -1;
	snprintf(err, errsize, "%s: no address", host);
	for (i = 0; i < addrs.n && !sig_term; i++) {
		a = &addrs.a[i];
		if (getnameinfo((const struct sockaddr *)&a->ss, a->len, name,
		    sizeof(name), NULL, 0, NI_NUMERICHOST) != 0)
			strcpy(name, "?");
		fd = socket(a->family, SOCK_STREAM, 0);
		if (fd == -1) {
			snprintf(err, errsize, "socket: %s", strerror(errno));
			continue;
		}
		if ((flags = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
		    (connect(fd, (const struct sockaddr *)&a->ss, a->len) ==
		    -1 && (errno != EINPROGRESS ||
		    connect_wait(fd, timeout) == -1)) ||
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
	return fd;
}
