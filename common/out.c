/*
 * out.c: buffered writing to a descriptor, the SMTP channel or a file.
 *
 * Callers append; out_flush() writes it all.  The first error sticks in
 * out->error and makes every later call fail, so a caller may write a whole
 * message and check once, before it commits.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

void
out_init(struct out *o, int fd)
{
	o->fd = fd;
	o->error = 0;
	o->len = 0;
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
