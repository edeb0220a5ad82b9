/*
 * data.c: the DATA machine, byte by byte (RFC 5321 4.1.1.4, 4.5.2): the
 * bytes a client sends after 354 in, the message as the queue stores it
 * out (CRLF line ends, leading dots removed), up to the end of data.  It
 * keeps its state between calls, so input may arrive in any pieces.
 *
 * The message ends only at CRLF "." CRLF.  A bare LF is stored as CRLF but
 * is not a line start for the dot rules, so "<LF>.<LF>", "<LF>.<CRLF>" and
 * "<CR>.<CR>" are content and no smuggled second message can end ours
 * early.  Exception: a client that sent DATA itself with a bare LF (a
 * script piping LF-only text) ends lines with LF alone, and "." alone on
 * such a line ends the message.
 *
 * It notes whether any octet over 127 was stored (has_8bit), so smtpd can
 * label 8-bit mail that came without BODY=8BITMIME.
 */
#include <string.h>

#include "smtpd.h"

void
data_init(struct data *d, struct out *out, unsigned long max_size,
    int lf_ends_line)
{
	memset(d, 0, sizeof(*d));
	d->state = D_BOL;	/* DATA's own line end precedes the message */
	d->lf_ends_line = lf_ends_line;
	d->max_size = max_size;
	d->out = out;
}

static void
data_emit(struct data *d, const char *p, size_t n)
{
	size_t i;

	d->size += n;
	if (d->size > d->max_size) {
		d->is_too_big = 1;	/* read on, answer 552 at the end */
		return;
	}
	/* RFC 6152 3: whether the message is 8-bit, whatever the client
	 * declared; the scan stops at the first such octet. */
	for (i = 0; !d->has_8bit && i < n; i++)
		if ((unsigned char)p[i] > 127)
			d->has_8bit = 1;
	out_write(d->out, p, n);	/* an error sticks in d->out */
}

/* D_TEXT, the common case: copies the run up to CR or LF, then takes the
 * line end (a bare LF is stored as CRLF); returns where it stopped. */
static const char *
data_text(struct data *d, const char *p, const char *end)
{
	const char *run;

	for (run = p; p < end && *p != '\r' && *p != '\n'; p++)
		;
	if (p > run)
		data_emit(d, run, (size_t)(p - run));
	if (p == end)
		return p;
	if (*p++ == '\r')
		d->state = D_CR;
	else {
		data_emit(d, "\r\n", 2);
		d->state = d->lf_ends_line ? D_BOL : D_TEXT;
	}
	return p;
}

/* Runs the machine over n bytes; returns how many it used (it stops after
 * the final dot, leaving pipelined commands in the buffer).  Any split of
 * the input into calls gives the same result. */
size_t
data_scan(struct data *d, const char *buf, size_t n)
{
	const char *p = buf, *end = buf + n;
	char c;

	while (p < end && d->state != D_END) {
		c = *p;
		switch (d->state) {
		case D_BOL:
			p++;
			if (c == '.')
				d->state = D_DOT;
			else if (c == '\r')
				d->state = D_CR;
			else if (c == '\n') {
				data_emit(d, "\r\n", 2);
				d->state = d->lf_ends_line ? D_BOL : D_TEXT;
			} else {
				data_emit(d, &c, 1);
				d->state = D_TEXT;
			}
			break;
		case D_DOT:
			if (c == '\r') {
				p++;
				d->state = D_DOTCR;
			} else if (c == '\n' && d->lf_ends_line) {
				p++;
				d->state = D_END;
			} else if (c == '\n') {
				/* "." and a bare LF: content, kept whole */
				p++;
				data_emit(d, ".\r\n", 3);
				d->state = D_TEXT;
			} else
				d->state = D_TEXT;	/* unstuff the dot */
			break;
		case D_DOTCR:
			if (c == '\n') {
				p++;
				d->state = D_END;
			} else {
				/* "." CR and more: unstuff, keep the CR */
				data_emit(d, "\r", 1);
				d->state = D_TEXT;
			}
			break;
		case D_TEXT:
			p = data_text(d, p, end);
			break;
		case D_CR:
			p++;
			if (c == '\n') {
				data_emit(d, "\r\n", 2);
				d->state = D_BOL;
			} else if (c == '\r')
				data_emit(d, "\r", 1);	/* bare CR, kept */
			else {
				data_emit(d, "\r", 1);
				data_emit(d, &c, 1);
				d->state = D_TEXT;
			}
			break;
		case D_END:
			break;
		}
	}
	return (size_t)(p - buf);
}
