/*
 * sendmail_in.c: sendmail's reader of stdin, the message a local program
 * pipes: lines without their line ends (LF or CRLF), NUL bytes dropped
 * and counted, a line longer than the caller's buffer in pieces.  It
 * reads through one buffer in struct in and never allocates.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sendmail.h"

void
in_init(struct in *in)
{
	in->pos = in->end = 0;
	in->pushed = -1;
	in->is_eof = 0;
	in->nuls = 0;
}

static int
in_getc(struct sendmail *sm)
{
	struct in *in = &sm->in;
	ssize_t n;
	int c;

	if (in->pushed != -1) {
		c = in->pushed;
		in->pushed = -1;
		return c;
	}
	while (in->pos == in->end) {
		if (in->is_eof)
			return EOF;
		n = read(STDIN_FILENO, in->buf, sizeof(in->buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			sendmail_fail(sm, EXIT_TEMPFAIL,
			    "unable to read the message: %s", strerror(errno));
		if (n == 0) {
			in->is_eof = 1;
			return EOF;
		}
		in->pos = 0;
		in->end = (size_t)n;
	}
	return (unsigned char)in->buf[in->pos++];
}

/*
 * Reads one line into buf (max + 1, max at most TEXT_LINE_MAX) without its
 * line end: LF or CRLF, or none at the end of input.  NUL bytes are
 * dropped (RFC 5321 4.1.1.4 forbids them in mail).  A line longer than max
 * comes in pieces, all but the last with *is_broken set.  Returns 0 at the
 * end of input.
 */
int
in_line(struct sendmail *sm, char *buf, size_t max, size_t *len,
    int *is_broken)
{
	size_t n = 0;
	int c;

	*is_broken = 0;
	for (;;) {
		if ((c = in_getc(sm)) == EOF) {
			if (n == 0)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0') {
			sm->in.nuls++;
			continue;
		}
		if (c == '\r') {
			if ((c = in_getc(sm)) == '\n')
				break;
			if (c != EOF)
				sm->in.pushed = c;
			c = '\r';	/* a bare CR is text */
		}
		if (n == max) {
			sm->in.pushed = c;
			*is_broken = 1;
			break;
		}
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	*len = n;
	return 1;
}
