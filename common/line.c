/*
 * line.c: bounded reading from a descriptor (the client's stdin, a relay's
 * socket, a queue file).
 *
 * One fixed buffer per reader; a line longer than the caller's buffer is
 * discarded up to its LF and reported, so no peer can make us allocate.
 * Every wait for input first flushes the paired output buffer (replies are
 * batched while input is pending, RFC 2920) and is bounded by a timeout.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

void
line_init(struct line *in, int fd, int timeout)
{
	in->fd = fd;
	in->timeout = timeout;
	in->stop_on_signal = 0;
	in->flush = NULL;
	in->start = 0;
	in->end = 0;
	in->due = 0;
}

/* CLOCK_MONOTONIC in nanoseconds, for deadlines (never 0). */
long long
line_now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 1;	/* POSIX guarantees the clock; be safe */
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec + 1;
}

size_t
line_pending(const struct line *in)
{
	return in->end - in->start;
}

/*
 * Reads more input into the buffer.  Returns the number of bytes read, 0 at
 * end of input, -1 on error, -2 on timeout (timeout seconds without input,
 * or the deadline in due passed), -3 when SIGTERM arrived.
 */
int
line_fill(struct line *in)
{
	return line_fill_upto(in, sizeof(in->buf));
}

/* line_fill() reading at most most bytes (at least 1): a caller that must
 * not take a byte past what it expects (smtpd's PROXY header). */
int
line_fill_upto(struct line *in, size_t most)
{
	long long due;
	ssize_t n;

	if (in->flush != NULL && out_flush(in->flush) == -1)
		return -1;
	if (in->start == in->end)
		in->start = in->end = 0;
	if (in->start > 0 && in->end == sizeof(in->buf)) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	if (in->end == sizeof(in->buf))
		return -1;	/* callers consume before filling again */

	for (;;) {
		due = in->due;
		if (in->timeout > 0 && (due == 0 || line_now() +
		    in->timeout * 1000000000LL < due))
			due = line_now() + in->timeout * 1000000000LL;
		if (sig_wait(in->fd, 0, due, in->stop_on_signal) == -1)
			return errno == ETIMEDOUT ? -2 : errno == EINTR ? -3 :
			    -1;
		if (most > sizeof(in->buf) - in->end)
			most = sizeof(in->buf) - in->end;
		n = read(in->fd, in->buf + in->end, most);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		in->end += (size_t)n;
		return (int)n;
	}
}

/* Maps a line_fill() result that is not a byte count to a status. */
enum line_status
line_status_of(int rc)
{
	switch (rc) {
	case 0:
		return LINE_EOF;
	case -2:
		return LINE_TIMEOUT;
	case -3:
		return LINE_SIGNAL;
	default:
		return LINE_ERROR;
	}
}

/*
 * Reads one line ending in LF.  out gets it without CRLF or LF and with a
 * NUL after it; *len is its length (it may itself hold NUL bytes, which
 * callers must check for).  *bare_lf tells whether it ended in LF alone.
 * A line that does not fit in size - 1 bytes is read to its end and
 * dropped: LINE_LONG.
 */
enum line_status
line_read(struct line *in, char *out, size_t size, size_t *len, int *bare_lf)
{
	size_t used = 0, take;
	char *lf;
	int is_long = 0, rc;

	for (;;) {
		lf = memchr(in->buf + in->start, '\n', in->end - in->start);
		take = (lf != NULL ? (size_t)(lf - (in->buf + in->start)) :
		    in->end - in->start);
		if (!is_long && used + take < size) {
			memcpy(out + used, in->buf + in->start, take);
			used += take;
		} else
			is_long = 1;
		if (lf != NULL) {
			in->start += take + 1;
			break;
		}
		in->start = in->end;
		if ((rc = line_fill(in)) <= 0) {
			*len = 0;
			out[0] = '\0';
			return line_status_of(rc);
		}
		/* A CR kept at the end of out may belong to the CRLF. */
	}
	if (is_long) {
		*len = 0;
		out[0] = '\0';
		return LINE_LONG;
	}
	*bare_lf = !(used > 0 && out[used - 1] == '\r');
	if (!*bare_lf)
		used--;
	out[used] = '\0';
	*len = used;
	return LINE_OK;
}
