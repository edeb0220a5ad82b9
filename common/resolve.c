/*
 * resolve.c: a relay's name to its addresses, in a bounded time
 * (smtpsend).
 *
 * getaddrinfo() has no timeout of its own and no signal cuts it short: a
 * resolver that does not answer holds its caller for as long as the C
 * library's retries last (resolv.conf: timeout, attempts), past -t and
 * past a SIGTERM.  So a name (not an address, which needs no lookup) is
 * looked up in a child that writes what it found to a pipe, in one
 * write() of less than PIPE_BUF; we wait for that as for any input, at
 * most timeout seconds and not past a SIGTERM, and kill the child when
 * we stop waiting.  What comes through the pipe is checked as input.
 */
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* What the child writes: getaddrinfo()'s result and the addresses. */
struct resolve_msg {
	int		rc;		/* 0, or an EAI_* code */
	int		err;		/* errno, for EAI_SYSTEM */
	unsigned	n;
	struct net_addr	a[NET_ADDRS_MAX];
};

/* One write() to a pipe of at most PIPE_BUF octets is never split. */
_Static_assert(sizeof(struct resolve_msg) <= PIPE_BUF,
    "a lookup's result fits one atomic pipe write");

/* Copies getaddrinfo()'s list into out, IPv4 and IPv6 only, in order. */
static void
resolve_copy(const struct addrinfo *res, struct net_addrs *out)
{
	const struct addrinfo *ai;

	out->n = 0;
	for (ai = res; ai != NULL && out->n < NET_ADDRS_MAX; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(out->a[0].ss))
			continue;
		out->a[out->n].family = ai->ai_family;
		out->a[out->n].len = ai->ai_addrlen;
		memset(&out->a[out->n].ss, 0, sizeof(out->a[0].ss));
		memcpy(&out->a[out->n].ss, ai->ai_addr, ai->ai_addrlen);
		out->n++;
	}
}

/* The lookup, in the child: its result goes to fd, then the child ends. */
static void
resolve_child(int fd, const char *host, const char *port)
{
	static struct resolve_msg msg;
	struct addrinfo hints, *res;
	struct net_addrs addrs;
	ssize_t n;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	memset(&msg, 0, sizeof(msg));
	msg.rc = getaddrinfo(host, port, &hints, &res);
	msg.err = errno;
	if (msg.rc == 0) {
		resolve_copy(res, &addrs);
		freeaddrinfo(res);
		msg.n = (unsigned)addrs.n;
		memcpy(msg.a, addrs.a, sizeof(msg.a));
	}
	do
		n = write(fd, &msg, sizeof(msg));
	while (n == -1 && errno == EINTR);
	_exit(n == (ssize_t)sizeof(msg) ? 0 : 1);
}

/* Waits for the child's message on fd, at most timeout seconds (0: no
 * bound) and not past a SIGTERM.  0, or -1 with errno ETIMEDOUT, EINTR,
 * EPROTO (no whole message) or select's. */
static int
resolve_wait(int fd, int timeout, struct resolve_msg *msg)
{
	long long due = line_now() + timeout * 1000000000LL, left;
	struct timespec ts;
	sigset_t none;
	fd_set rfds;
	size_t got = 0;
	ssize_t n;
	int rc;

	if (fd >= FD_SETSIZE) {
		errno = EMFILE;
		return -1;
	}
	while (got < sizeof(*msg)) {
		if (sig_term) {
			errno = EINTR;
			return -1;
		}
		left = due - line_now();
		if (timeout > 0 && left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		FD_ZERO(&rfds);
		FD_SET(fd, &rfds);
		ts.tv_sec = (time_t)(left / 1000000000LL);
		ts.tv_nsec = (long)(left % 1000000000LL);
		sigemptyset(&none);
		/* Blocked signals get through only here (sig.c). */
		rc = pselect(fd + 1, &rfds, NULL, NULL, timeout > 0 ? &ts :
		    NULL, &none);
		if (rc == -1 && errno == EINTR)
			continue;
		if (rc == -1)
			return -1;
		if (rc == 0)
			continue;	/* the deadline, checked above */
		n = read(fd, (char *)msg + got, sizeof(*msg) - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EPROTO;	/* the child died first */
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Whether the child's addresses are ones getaddrinfo() could give. */
static int
resolve_valid(const struct resolve_msg *msg)
{
	unsigned i;

	if (msg->n > NET_ADDRS_MAX)
		return 0;
	for (i = 0; i < msg->n; i++)
		if (!((msg->a[i].family == AF_INET && msg->a[i].len ==
		    sizeof(struct sockaddr_in)) || (msg->a[i].family ==
		    AF_INET6 && msg->a[i].len == sizeof(struct sockaddr_in6))) ||
		    msg->a[i].ss.ss_family != msg->a[i].family)
			return 0;
	return 1;
}

/*
 * The addresses of host (a name or an address) and port (digits), IPv6
 * and IPv4, at most NET_ADDRS_MAX, into out.  A name is looked up for at
 * most timeout seconds (0: no bound), and not past a SIGTERM.  0, or -1
 * with the reason in err.
 */
int
net_resolve(const char *host, const char *port, int timeout,
    struct net_addrs *out, char *err, size_t errsize)
{
	static struct resolve_msg msg;
	struct addrinfo hints, *res;
	int p[2], rc, status;
	pid_t pid;

	out->n = 0;
	/* An address: no lookup, nothing to wait for. */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) == 0) {
		resolve_copy(res, out);
		freeaddrinfo(res);
		return 0;
	}
	if (rc != EAI_NONAME) {
		snprintf(err, errsize, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	if (pipe(p) == -1) {
		snprintf(err, errsize, "%s: pipe: %s", host, strerror(errno));
		return -1;
	}
	fflush(NULL);	/* nothing buffered twice: the child only _exit()s */
	if ((pid = fork()) == -1) {
		snprintf(err, errsize, "%s: fork: %s", host, strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		resolve_child(p[1], host, port);
	}
	close(p[1]);
	rc = resolve_wait(p[0], timeout, &msg);
	if (rc == -1)
		snprintf(err, errsize, "%s: %s", host, errno == ETIMEDOUT ?
		    "no answer from the resolver (timeout)" : errno == EINTR ?
		    "lookup interrupted" : errno == EPROTO ?
		    "the lookup failed" : strerror(errno));
	close(p[0]);
	(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (rc == -1)
		return -1;
	if (!resolve_valid(&msg)) {
		snprintf(err, errsize, "%s: the lookup gave garbage", host);
		return -1;
	}
	if (msg.rc != 0) {
		errno = msg.err;
		snprintf(err, errsize, "%s: %s", host, msg.rc == EAI_SYSTEM ?
		    strerror(msg.err) : gai_strerror(msg.rc));
		return -1;
	}
	out->n = msg.n;
	memcpy(out->a, msg.a, msg.n * sizeof(out->a[0]));
	return 0;
}
