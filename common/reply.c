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
#include <time.h>

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

int
reply_read(struct line *in, char *text, size_t size, enum line_status *status)
{
	char buf[REPLY_LINE_MAX + 1];
	enum line_status st;
	struct timespec start, now;
	size_t len, lines;
	int code = -1, this, bare_lf;

	if (size > 0)
		text[0] = '\0';
	if (clock_gettime(CLOCK_MONOTONIC, &start) == -1) {
		*status = LINE_ERROR;
		return -1;
	}
	for (lines = 0;; lines++) {
		/* "250-x" for ever: bounded in lines, and so in octets; in
		 * time too, not only between octets. */
		if (lines == REPLY_LINES_MAX) {
			*status = LINE_OK;
			return -1;
		}
		if (lines > 0 && in->timeout > 0 &&
		    clock_gettime(CLOCK_MONOTONIC, &now) == 0 &&
		    now.tv_sec - start.tv_sec >= in->timeout) {
			*status = LINE_TIMEOUT;
			return -1;
		}
		st = line_read(in, buf, sizeof(buf), &len, &bare_lf);
		if (st == LINE_LONG) {
			/* Keep going: an over-long text line is still a
			 * line; its code is lost, so treat it as malformed. */
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
