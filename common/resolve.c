/*
 * resolve.c: a relay's name to its addresses, and DNS queries (MX and
 * the like, read by dns.c), in a bounded time (smtpsend).
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
#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <resolv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define RESOLV_CONF	"/etc/resolv.conf"
#define RESOLV_LINE_MAX	1024
#define DNS_HEADER_LEN	12	/* RFC 1035 4.1.1 */
#define DNS_AD		0x20	/* fourth octet: RFC 4035 3.2.3 */

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
		memcpy(msg.a, addrs.a, addrs.n * sizeof(msg.a[0]));
	}
	do
		n = write(fd, &msg, sizeof(msg));
	while (n == -1 && errno == EINTR);
	_exit(n == (ssize_t)sizeof(msg) ? 0 : 1);
}

/* Reads size octets of the child's message on fd into buf, until due
 * (line_now()'s clock; timeout 0: no bound) and not past a SIGTERM.  0,
 * or -1 with errno ETIMEDOUT, EINTR, EPROTO (no whole message) or
 * select's. */
static int
resolve_wait(int fd, int timeout, long long due, void *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		if (sig_wait(fd, 0, timeout > 0 ? due : 0, 1) == -1)
			return -1;
		n = read(fd, (char *)buf + got, size - got);
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

/*
 * Forks the child that looks name up, with a pipe to it.  In the parent:
 * the pipe's read end, *pid the child's.  In the child (*pid 0): the
 * write end, for the child to write its result to and _exit().  -1 with
 * the reason in err when no child could be had.
 */
static int
resolve_start(pid_t *pid, const char *name, char *err, size_t errsize)
{
	int p[2];

	if (pipe(p) == -1) {
		snprintf(err, errsize, "%s: pipe: %s", name, strerror(errno));
		return -1;
	}
	fflush(NULL);	/* nothing buffered twice: the child only _exit()s */
	if ((*pid = fork()) == -1) {
		snprintf(err, errsize, "%s: fork: %s", name, strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[*pid == 0 ? 0 : 1]);
	return p[*pid == 0 ? 1 : 0];
}

/* Why resolve_wait() failed (its errno), for name, into err. */
static void
resolve_why(const char *name, char *err, size_t errsize)
{
	snprintf(err, errsize, "%s: %s", name, errno == ETIMEDOUT ?
	    "no answer from the resolver (timeout)" : errno == EINTR ?
	    "lookup interrupted" : errno == EPROTO ?
	    "the lookup failed" : strerror(errno));
}

/* The child is no longer waited for: it is killed and reaped. */
static void
resolve_end(int fd, pid_t pid)
{
	close(fd);
	prog_end(pid, SIGKILL, NULL);
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
	int fd, rc;
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
	if ((fd = resolve_start(&pid, host, err, errsize)) == -1)
		return -1;
	if (pid == 0)
		resolve_child(fd, host, port);
	rc = resolve_wait(fd, timeout, line_now() + timeout * 1000000000LL,
	    &msg, sizeof(msg));
	if (rc == -1)
		resolve_why(host, err, errsize);
	resolve_end(fd, pid);
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

/* The query, in the child: the answer's length (0: none came) and the
 * answer go to fd, then the child ends. */
static void
resolve_query_child(int fd, const char *name, int type)
{
	static unsigned char query[DNS_QUERY_MAX], answer[DNS_MSG_MAX];
	uint32_t len = 0;
	int n;

	/* res_send(), not res_query(): no search list, and every answer,
	 * NXDOMAIN and SERVFAIL included, reaches dns.c, which judges it. */
	n = res_mkquery(ns_o_query, name, C_IN, type, NULL, 0, NULL, query,
	    (int)sizeof(query));
	/* RFC 6840 5.7: the AD bit set in the query asks a validating
	 * resolver to say whether the answer is secure.  glibc (2.31 on)
	 * clears it in answers unless told the resolver is trusted;
	 * resolve_query() decides that itself, for glibc and musl alike. */
	if (n > DNS_HEADER_LEN) {
		query[3] |= DNS_AD;
#ifdef RES_TRUSTAD
		if (res_init() == 0)
			_res.options |= RES_TRUSTAD;
#endif
	}
	if (n > 0)
		n = res_send(query, n, answer, (int)sizeof(answer));
	if (n > 0)
		len = (uint32_t)n;
	_exit(out_all(fd, &len, sizeof(len)) == 0 &&
	    out_all(fd, answer, len) == 0 ? 0 : 1);
}

int
resolve_query(const char *name, int type, int timeout, unsigned char *buf,
    size_t size, char *err, size_t errsize)
{
	long long due = line_now() + timeout * 1000000000LL;
	uint32_t len;
	int fd, rc;
	pid_t pid;

	if ((fd = resolve_start(&pid, name, err, errsize)) == -1)
		return -1;
	if (pid == 0)
		resolve_query_child(fd, name, type);
	rc = resolve_wait(fd, timeout, due, &len, sizeof(len));
	if (rc == 0 && (len == 0 || len > size)) {
		snprintf(err, errsize, "%s: %s", name, len == 0 ?
		    "no usable answer from the resolver (a server failure "
		    "or refusal, or no server reachable)" : "an answer too long");
		rc = -2;
	}
	if (rc == 0)
		rc = resolve_wait(fd, timeout, due, buf, len);
	if (rc == -1)
		resolve_why(name, err, errsize);
	resolve_end(fd, pid);
	/* An AD bit from a resolver we do not trust is no proof: anyone on
	 * the path to it could have set it (RFC 4035 4.9.3, RFC 6698 A.3). */
	if (rc == 0 && len > DNS_HEADER_LEN && !resolve_is_trusted())
		buf[3] &= (unsigned char)~DNS_AD;
	return rc < 0 ? -1 : (int)len;
}

/* Whether a nameserver line's address is a loopback one. */
static int
resolve_is_loopback(const char *addr)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, addr, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, addr, a) == 1)
		return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	return 0;
}

int
resolve_is_trusted(void)
{
	char line[RESOLV_LINE_MAX + 1], *word, *last;
	int is_trusted = 1, is_trust_ad = 0, is_long = 0;
	FILE *f;

	/* No file: the C library asks 127.0.0.1 (resolv.conf(5)). */
	if ((f = fopen(RESOLV_CONF, "r")) == NULL)
		return errno == ENOENT;
	while (fgets(line, sizeof(line), f) != NULL) {
		int was_long = is_long;

		is_long = strchr(line, '\n') == NULL && !feof(f);
		if (was_long)
			continue;	/* the rest of a line too long */
		if ((word = strtok_r(line, " \t\r\n", &last)) == NULL)
			continue;
		if (strcmp(word, "nameserver") == 0) {
			word = strtok_r(NULL, " \t\r\n", &last);
			if (word == NULL || is_long || !resolve_is_loopback(word))
				is_trusted = 0;
		} else if (strcmp(word, "options") == 0)
			while ((word = strtok_r(NULL, " \t\r\n", &last)) != NULL)
				if (strcmp(word, "trust-ad") == 0)
					is_trust_ad = 1;
	}
	if (ferror(f))
		is_trusted = is_trust_ad = 0;
	fclose(f);
	return is_trusted || is_trust_ad;
}

/* One query of name and type into answer: its length, or -1 (err). */
static int
resolve_one(const char *name, int type, int timeout, unsigned char *answer,
    size_t size, int *is_authentic, char *err, size_t errsize)
{
	struct dns_answer a;
	int len;

	*is_authentic = 0;
	if (strlen(name) > DNS_NAME_MAX) {
		snprintf(err, errsize, "%.64s...: name too long", name);
		return -1;
	}
	len = resolve_query(name, type, timeout, answer, size, err, errsize);
	if (len >= 0 && dns_open(&a, answer, (size_t)len) != DNS_TEMP)
		*is_authentic = a.is_authentic;
	return len;
}

enum dns_status
resolve_tlsa(const char *name, int timeout, struct dns_tlsa *t, size_t max,
    size_t *n, int *is_authentic, char *err, size_t errsize)
{
	static unsigned char answer[DNS_MSG_MAX];
	enum dns_status st;
	int len;

	*n = 0;
	len = resolve_one(name, DNS_TYPE_TLSA, timeout, answer, sizeof(answer),
	    is_authentic, err, errsize);
	if (len == -1)
		return DNS_TEMP;
	st = dns_tlsa(answer, (size_t)len, name, t, max, n);
	if (st == DNS_TEMP)
		snprintf(err, errsize, "%s: %s", name,
		    "a malformed answer or a server failure");
	return st;
}

enum dns_status
resolve_txt(const char *name, int timeout, char (*txt)[DNS_TXT_MAX + 1],
    size_t max, size_t *n, int *is_authentic, char *err, size_t errsize)
{
	static unsigned char answer[DNS_MSG_MAX];
	enum dns_status st;
	int len;

	*n = 0;
	len = resolve_one(name, DNS_TYPE_TXT, timeout, answer, sizeof(answer),
	    is_authentic, err, errsize);
	if (len == -1)
		return DNS_TEMP;
	st = dns_txt(answer, (size_t)len, name, txt, max, n);
	if (st == DNS_TEMP)
		snprintf(err, errsize, "%s: %s", name,
		    "a malformed answer or a server failure");
	return st;
}

enum dns_status
resolve_mx(const char *domain, int timeout, struct dns_mx *mx, size_t max,
    size_t *n, int *is_authentic, char *err, size_t errsize)
{
	static unsigned char answer[DNS_MSG_MAX];
	char name[DNS_NAME_MAX + 1], cname[DNS_NAME_MAX + 1];
	struct dns_answer a;
	enum dns_status st;
	int len, hops;

	*n = 0;
	*is_authentic = 1;
	if (strlen(domain) >= sizeof(name)) {
		snprintf(err, errsize, "%.64s...: name too long", domain);
		return DNS_TEMP;
	}
	strcpy(name, domain);
	/* At most as many CNAMEs as dns.c follows in one answer. */
	for (hops = 0; hops < 8; hops++) {
		len = resolve_query(name, DNS_TYPE_MX, timeout, answer,
		    sizeof(answer), err, errsize);
		if (len == -1)
			return DNS_TEMP;
		st = dns_mx(answer, (size_t)len, name, mx, max, n, cname,
		    sizeof(cname));
		if (dns_open(&a, answer, (size_t)len) != DNS_TEMP &&
		    !a.is_authentic)
			*is_authentic = 0;
		if (st == DNS_TEMP)
			snprintf(err, errsize, "%s: %s", name,
			    "a malformed answer or a server failure");
		if (st != DNS_NODATA || cname[0] == '\0')
			return st;
		strcpy(name, cname);
	}
	snprintf(err, errsize, "%s: too many CNAMEs", domain);
	return DNS_TEMP;
}

enum dns_status
resolve_addr(const char *name, unsigned type, int timeout,
    unsigned char (*addr)[16], size_t max, size_t *n, char *err,
    size_t errsize)
{
	static unsigned char answer[DNS_MSG_MAX];
	char ask[DNS_NAME_MAX + 1], cname[DNS_NAME_MAX + 1];
	enum dns_status st;
	int len, hops;

	*n = 0;
	if (strlen(name) >= sizeof(ask)) {
		snprintf(err, errsize, "%.64s...: name too long", name);
		return DNS_TEMP;
	}
	strcpy(ask, name);
	/* At most as many CNAMEs as dns.c follows in one answer. */
	for (hops = 0; hops < 8; hops++) {
		len = resolve_query(ask, (int)type, timeout, answer,
		    sizeof(answer), err, errsize);
		if (len == -1)
			return DNS_TEMP;
		st = dns_addr(answer, (size_t)len, ask, type, addr, max, n,
		    cname, sizeof(cname));
		if (st == DNS_TEMP)
			snprintf(err, errsize, "%s: %s", ask,
			    "a malformed answer or a server failure");
		if (st != DNS_NODATA || cname[0] == '\0')
			return st;
		strcpy(ask, cname);
	}
	snprintf(err, errsize, "%s: too many CNAMEs", name);
	return DNS_TEMP;
}
