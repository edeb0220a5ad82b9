/*
 * sendmail_head.c: the header section of the message sendmail reads,
 * kept in struct head (a fixed buffer, HEAD_MAX octets and FIELDS_MAX
 * fields; more: exit 65) with CRLF line ends, so that the fields can be
 * looked at (-t, Bcc:, Date:, From:, 8-bit) before anything is written.
 * An mbox "From " separator is dropped; a line over TEXT_LINE_MAX is
 * folded (RFC 5322 2.1.1, 2.2.3).
 */
#include <string.h>
#include <strings.h>

#include "sendmail.h"

/* Field name of a header line ("Name:"), or 0 if it is not one. */
size_t
head_name_len(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len && line[i] != ':'; i++)
		if (line[i] < 33 || line[i] > 126)
			return 0;
	return i < len && i > 0 ? i : 0;
}

/* Whether field f is the one called name (any case). */
int
head_is(const struct head *h, size_t f, const char *name)
{
	size_t n = strlen(name);

	return h->fields[f].len > n && h->text[h->fields[f].off + n] == ':' &&
	    strncasecmp(h->text + h->fields[f].off, name, n) == 0;
}

/* Whether the header section has a field called name. */
int
head_find(const struct head *h, const char *name)
{
	size_t f;

	for (f = 0; f < h->nfields; f++)
		if (head_is(h, f, name))
			return 1;
	return 0;
}

static void
head_add(struct sendmail *sm, const char *p, size_t n)
{
	struct head *h = &sm->head;

	if (h->len + n > sizeof(h->text))
		sendmail_fail(sm, EXIT_DATAERR, "header section over %d octets",
		    HEAD_MAX);
	memcpy(h->text + h->len, p, n);
	h->len += n;
}

/* The value of field f without its line ends (RFC 5322 2.2.3), in
 * h->unfolded, NUL-terminated. */
const char *
head_value(struct head *h, size_t f)
{
	const char *p = h->text + h->fields[f].off, *end = p + h->fields[f].len;
	size_t n = 0;

	p = (const char *)memchr(p, ':', h->fields[f].len) + 1;
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			h->unfolded[n++] = *p;
	h->unfolded[n] = '\0';
	return h->unfolded;
}

/* A new field, line[len], after the last. */
static void
head_field(struct sendmail *sm, const char *line, size_t len)
{
	struct head *h = &sm->head;

	if (h->nfields == FIELDS_MAX)
		sendmail_fail(sm, EXIT_DATAERR, "more than %d header fields",
		    FIELDS_MAX);
	if (h->nfields > 0)
		head_add(sm, "\r\n", 2);
	h->fields[h->nfields].off = h->len;
	h->fields[h->nfields].len = len;
	h->nfields++;
	head_add(sm, line, len);
}

/* line[len] after the last field, behind sep (a line end, and a tab
 * where a line too long was broken). */
static void
head_fold(struct sendmail *sm, const char *sep, const char *line,
    size_t len)
{
	struct head *h = &sm->head;

	head_add(sm, sep, strlen(sep));
	head_add(sm, line, len);
	h->fields[h->nfields - 1].len += strlen(sep) + len;
}

/*
 * Reads the header section into sm->head.  Returns 1 when a body follows;
 * 0 when the input ended (EOF, or a lone dot without -i).  A line that is
 * neither a field nor a continuation starts the body: it is left in line.
 */
int
head_read(struct sendmail *sm, char *line, size_t *len, int *is_broken,
    int *is_pending)
{
	int is_first = 1, was_broken = 0, is_separator = 0;

	*is_pending = 0;
	/* A folded piece gets a tab in front: one octet less of it fits. */
	while (in_line(sm, line, was_broken ? TEXT_LINE_MAX - 1 :
	    TEXT_LINE_MAX, len, is_broken)) {
		if (was_broken && is_separator) {
			/* the rest of an over-long separator: dropped too
			 * (there is no field yet to fold it into) */
		} else if (was_broken) {
			/* the rest of an over-long field line: folded */
			head_fold(sm, "\r\n\t", line, *len);
		} else if (is_first && *len >= 5 &&
		    strncmp(line, "From ", 5) == 0) {
			/* an mbox separator some callers send: dropped */
			is_separator = 1;
		} else if (*len == 0 && !*is_broken) {
			return 1;
		} else if (!sm->is_dot_ok && *len == 1 && line[0] == '.' &&
		    !*is_broken) {
			return 0;
		} else if ((line[0] == ' ' || line[0] == '\t') &&
		    sm->head.nfields > 0) {
			head_fold(sm, "\r\n", line, *len);
		} else if (head_name_len(line, *len) > 0) {
			head_field(sm, line, *len);
		} else {
			*is_pending = 1;
			return 1;
		}
		is_first = 0;
		was_broken = *is_broken;
		if (!was_broken)
			is_separator = 0;
	}
	return 0;
}

/* RFC 6152: declared 8BITMIME when the header section holds 8-bit octets
 * or says Content-Transfer-Encoding 8bit or binary.  XXX an 8-bit body
 * under a 7-bit header section is queued as 7BIT. */
int
head_is_8bit(struct head *h)
{
	const char *v;
	size_t f, i;

	for (i = 0; i < h->len; i++)
		if ((unsigned char)h->text[i] >= 0x80)
			return 1;
	for (f = 0; f < h->nfields; f++) {
		if (!head_is(h, f, "Content-Transfer-Encoding"))
			continue;
		for (v = head_value(h, f); *v == ' ' || *v == '\t'; v++)
			;
		if (strncasecmp(v, "8bit", 4) == 0 ||
		    strncasecmp(v, "binary", 6) == 0)
			return 1;
	}
	return 0;
}
