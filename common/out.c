/*
 * out.c: buffered writing to a descriptor, the SMTP channel or a file.
 *
 * Callers append; out_flush() writes it all.  The first error sticks in
 * out->error and makes every later call fail, so a caller may write a whole
 * message and check once, before it commits.
 *
 * On a non-blocking descriptor with a timeout (smtpsend's relay), a write
 * * that would block waits in sig_wait(), at most timeout seconds for room,
 * and with stop_on_signal a SIGTERM ends that wait (sig.c): a relay that
 * stops reading can neither hold us past -t nor past a shutdown.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

void
out_init(struct out *o, int fd)
{
	o->fd = fd;
	o->error = 0;
	o->timeout = 0;
	o->stop_on_signal = 0;
	o->len = 0;
}

/* Waits until o->fd takes more.  0, or -1 with errno ETIMEDOUT, EINTR (a
 * SIGTERM) or select's. */
static int
out_wait(struct out *o)
{
	if (o->fd < 0) {
		errno = EBADF;
		return -1;
	}
	return sig_wait(o->fd, 1, line_now() + o->timeout * 1000000000LL,
	    o->stop_on_signal);
}

int
out_flush(struct out *o)
{
	size_t done = 0;
	ssize_t n;

	while (o->error == 0 && done < o->len) {
		n = write(o->fd, o->buf + done, o->len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    o->timeout > 0) {
			if (out_wait(o) == -1)
				o->error = errno;
			continue;
		}
		if (n == -1)
			o->error = (errno == EAGAIN || errno == EWOULDBLOCK) ?
			    ETIMEDOUT : errno;
		else
			done += (size_t)n;
	}
	o->len = 0;
	if (o->error != 0) {
		errno = o->error;
		return -1;
	}
	return 0;
}

int
out_write(struct out *o, const void *data, size_t size)
{
	const char *p = data;
	size_t room;

	while (size > 0) {
		if (o->error != 0) {
			errno = o->error;
			return -1;
		}
		room = sizeof(o->buf) - o->len;
		if (room == 0) {
			if (out_flush(o) == -1)
				return -1;
			continue;
		}
		if (room > size)
			room = size;
		memcpy(o->buf + o->len, p, room);
		o->len += room;
		p += room;
		size -= room;
	}
	return o->error == 0 ? 0 : -1;
}

int
out_puts(struct out *o, const char *s)
{
	return out_write(o, s, strlen(s));
}

/*
 * Formats straight into the buffer, so one call may write anything up to
 * IO_BUFSIZE octets (a Received: line with a long HELO name, a bounce's
 * Diagnostic-Code with a 2 KiB reply).  Longer output fails and, like any
 * error, sticks: callers may check once, at the end.
 */
int
out_printf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int n;

	if (o->error != 0) {
		errno = o->error;
		return -1;
	}
	room = sizeof(o->buf) - o->len;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= room && (size_t)n < sizeof(o->buf)) {
		/* Fits once the buffer is written out. */
		if (out_flush(o) == -1)
			return -1;
		va_start(ap, fmt);
		n = vsnprintf(o->buf, sizeof(o->buf), fmt, ap);
		va_end(ap);
	}
	if (n < 0 || (size_t)n >= sizeof(o->buf) - o->len) {
		o->error = n < 0 && errno != 0 ? errno : EOVERFLOW;
		errno = o->error;
		return -1;
	}
	o->len += (size_t)n;
	return 0;
}

int
out_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
