/*
 * reply.c: SMTP replies, the one way smtpd answers and the one way
 * smtpsend reads its relay's answers.
 *
 * Writing: reply() appends "CODE text\r\n" to an output buffer; nothing is
 * written to the client except through here.  Reading: reply_read() takes
 * one possibly multi-line reply with every line bounded (RFC 5321 4.2.1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

int
reply_va(struct out *o, int code, int is_last, const char *fmt, va_list ap)
{
	char sep = is_last ? ' ' : '-';
	char buf[SMTP_LINE_MAX + 1];
	int n, m;

	n = snprintf(buf, sizeof(buf), "%03d%c", code, sep);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 2, fmt, ap);
	if (m < 0)
		return -1;
	/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets; cut. */
	if ((size_t)m >= sizeof(buf) - (size_t)n - 2)
		m = (int)(sizeof(buf) - (size_t)n - 3);
	buf[n + m] = '\r';
	buf[n + m + 1] = '\n';
	return out_write(o, buf, (size_t)n + (size_t)m + 2);
}

int
reply(struct out *o, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = reply_va(o, code, 1, fmt, ap);
	va_end(ap);
	return rc;
}

int
reply_more(struct out *o, int code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = reply_va(o, code, 0, fmt, ap);
	va_end(ap);
	return rc;
}

/* Appends s to text (joined by '\n' after the first line, even an empty
 * one), cutting at size. */
static void
reply_append(char *text, size_t size, const char *s, int is_first)
{
	size_t used = strlen(text);

	if (!is_first && used + 1 < size) {
		text[used++] = '\n';
		text[used] = '\0';
	}
	if (used + 1 < size) {
		strncat(text + used, s, size - used - 1);
	}
}

/*
 * Reads one reply line into buf (size octets, NUL-terminated, without its
 * CRLF or LF), taking at most *budget octets off the stream for it.  A
 * line that does not fit is read to its LF and dropped (LINE_LONG), so the
 * stream stays in step; one that would go past the budget is not read on
 * (LINE_LONG too), nor is anything after it.
 */
static enum line_status
reply_line(struct line *in, char *buf, size_t size, size_t *len,
    size_t *budget)
{
	size_t used = 0, take;
	char *lf;
	int is_long = 0, rc;

	for (;;) {
		lf = memchr(in->buf + in->start, '\n', line_pending(in));
		take = lf != NULL ? (size_t)(lf - (in->buf + in->start)) + 1 :
		    line_pending(in);
		if (take > *budget)
			return LINE_LONG;
		*budget -= take;
		if (!is_long && used + take < size) {
			memcpy(buf + used, in->buf + in->start, take);
			used += take;
		} else
			is_long = 1;
		in->start += take;
		if (lf != NULL)
			break;
		if ((rc = line_fill(in)) <= 0)
			return line_status_of(rc);
	}
	if (is_long)
		return LINE_LONG;
	used--;					/* the LF */
	if (used > 0 && buf[used - 1] == '\r')
		used--;
	buf[used] = '\0';
	*len = used;
	return LINE_OK;
}

/* reply_read() for a reader whose deadline for the whole reply is set. */
static int
reply_read_by(struct line *in, char *text, size_t size,
    enum line_status *status)
{
	char buf[REPLY_LINE_MAX + 3];		/* the line, its CRLF, NUL */
	enum line_status st;
	size_t len = 0, lines, budget = REPLY_BYTES_MAX;
	int code = -1, this;

	for (lines = 0;; lines++) {
		/* "250-x" for ever: bounded in lines and octets (and, by
		 * the deadline, in time). */
		if (lines == REPLY_LINES_MAX) {
			*status = LINE_OK;
			return -1;
		}
		/* A line of REPLY_LINE_MAX octets with its CR, and its LF. */
		st = reply_line(in, buf, REPLY_LINE_MAX + 2, &len, &budget);
		if (st == LINE_LONG) {
			/* An over-long line's code is lost: malformed. */
			*status = LINE_OK;
			return -1;
		}
		if (st != LINE_OK) {
			*status = st;
			return -1;
		}
		if (len < 3 || buf[0] < '2' || buf[0] > '5' ||
		    buf[1] < '0' || buf[1] > '9' || buf[2] < '0' ||
		    buf[2] > '9' || (len > 3 && buf[3] != ' ' &&
		    buf[3] != '-') || memchr(buf, '\0', len) != NULL) {
			*status = LINE_OK;
			return -1;
		}
		this = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 +
		    (buf[2] - '0');
		if (code != -1 && this != code) {
			*status = LINE_OK;
			return -1;
		}
		if (size > 0)
			reply_append(text, size, len > 4 ? buf + 4 : "",
			    code == -1);
		code = this;
		if (len == 3 || buf[3] == ' ')
			break;
	}
	*status = LINE_OK;
	return code;
}

/* The reader's timeout bounds the whole reply, not only each wait for
 * more of it: a relay that trickles an octet now and then is cut off. */
int
reply_read(struct line *in, char *text, size_t size, enum line_status *status)
{
	long long due = in->due, by;
	int code;

	if (size > 0)
		text[0] = '\0';
	if (in->timeout > 0) {
		by = line_now() + in->timeout * 1000000000LL;
		if (in->due == 0 || by < in->due)
			in->due = by;
	}
	code = reply_read_by(in, text, size, status);
	in->due = due;
	return code;
}
