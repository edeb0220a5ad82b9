/*
 * poolworker.c: a worker of smtpsend -j (pool.c forks it): takes the
 * parent's lines (poolmsg.c) one at a time, "down DEST WHY" marks DEST
 * down for this run, "try NAME" delivers new/NAME as a run with -j 1
 * would (smtpsend.c's msg_try()); after each message it says which
 * sessions it keeps open, which destinations it found down, and "done".
 * At the end (the parent's EOF, or SIGTERM) its sessions end (QUIT) and
 * its metrics go to the parent as "count" lines.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpsend.h"

static int worker_fd;

static void
worker_say(const struct pool_line *l)
{
	char buf[POOL_LINE_MAX + 1];
	size_t n, off = 0;
	ssize_t k;

	if ((n = pool_format(buf, sizeof(buf), l)) == 0)
		return;
	while (off < n) {
		if ((k = write(worker_fd, buf + off, n - off)) == -1) {
			if (errno == EINTR)
				continue;
			return;	/* the parent is gone: its EOF ends us */
		}
		off += (size_t)k;
	}
}

/* d's name as the parent knows it (pool.c): an MX domain in lower case,
 * as its recipients may spell it either way. */
static void
worker_key(const struct dest *d, char *buf, size_t size)
{
	size_t k;

	snprintf(buf, size, "%s", d->name);
	if (d->kind == ROUTE_MX)
		for (k = 0; buf[k] != '\0'; k++)
			if (buf[k] >= 'A' && buf[k] <= 'Z')
				buf[k] = (char)(buf[k] - 'A' + 'a');
}

static void
worker_down(const struct dest *d)
{
	struct pool_line l;

	memset(&l, 0, sizeof(l));
	l.verb = POOL_DOWN;
	worker_key(d, l.arg, sizeof(l.arg));
	snprintf(l.why, sizeof(l.why), "%s", d->why);
	worker_say(&l);
}

/* After a message: the sessions kept open, the destinations found down,
 * then "done". */
static void
worker_done(const char *name, enum try rc)
{
	const struct dest *held[POOL_HELD_MAX];
	struct pool_line l;
	size_t i, n;

	n = remote_held(held, POOL_HELD_MAX);
	for (i = 0; i < n; i++) {
		memset(&l, 0, sizeof(l));
		l.verb = POOL_OPEN;
		worker_key(held[i], l.arg, sizeof(l.arg));
		worker_say(&l);
	}
	route_each_down(worker_down);
	memset(&l, 0, sizeof(l));
	l.verb = POOL_DONE;
	snprintf(l.arg, sizeof(l.arg), "%s", name);
	l.n[0] = (unsigned long)rc;
	worker_say(&l);
}

/* Reads one line from the parent into buf: its length, or -1 at the end
 * (EOF, SIGTERM, or a line that breaks the rules). */
static long
worker_read(char *buf, size_t *nbuf, size_t size, char *line)
{
	char *nl;
	ssize_t n;
	size_t len;

	for (;;) {
		if ((nl = memchr(buf, '\n', *nbuf)) != NULL) {
			len = (size_t)(nl - buf);
			memcpy(line, buf, len);
			memmove(buf, nl + 1, *nbuf - len - 1);
			*nbuf -= len + 1;
			return (long)len;
		}
		if (*nbuf == size || sig_term)
			return -1;
		if (sig_wait(worker_fd, 0, 0, 1) == -1) {
			if (errno == EINTR)
				continue;	/* SIGTERM: sig_term, above */
			return -1;
		}
		if ((n = read(worker_fd, buf + *nbuf, size - *nbuf)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		*nbuf += (size_t)n;
	}
}

/* A worker: the parent's messages on fd until it ends, each given to
 * try; then its sessions end and its counts go to the parent. */
void
pool_worker(int fd, enum try (*try)(const char *, time_t))
{
	static char buf[POOL_LINE_MAX], line[POOL_LINE_MAX];
	struct pool_line l;
	size_t nbuf = 0, r, t;
	unsigned long n;
	long len;

	worker_fd = fd;
	while ((len = worker_read(buf, &nbuf, sizeof(buf), line)) != -1) {
		if (pool_parse(line, (size_t)len, &l) == -1)
			break;
		if (l.verb == POOL_DOWN)
			route_down(l.arg, l.why);
		else if (l.verb == POOL_TRY)
			worker_done(l.arg, try(l.arg, time(NULL)));
		else
			break;
	}
	remote_end();
	reap_wait();
	for (r = 0; metrics_get(r, 0, &n) == 0; r++)
		for (t = 0; metrics_get(r, t, &n) == 0; t++)
			if (n > 0) {
				memset(&l, 0, sizeof(l));
				l.verb = POOL_COUNT;
				l.n[0] = r;
				l.n[1] = t;
				l.n[2] = n;
				worker_say(&l);
			}
	close(worker_fd);
}
