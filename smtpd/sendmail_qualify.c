/*
 * sendmail_qualify.c: bare local parts in the address fields of a local
 * program's message get this host's name: cron writes
 * "From: root (Cron Daemon)" and "To: root", mailx "To: root", and RFC
 * 5322 3.4.1 wants a domain in every addr-spec; Exim's header_syntax
 * check refuses them, Python's email parser flags them.
 *
 * Only an addr-spec without "@" is touched, by inserting "@host" right
 * after it: display names, comments, quoted strings, groups, folding and
 * every other octet stay as they were.  A mailbox we cannot read as one
 * (two words without angle brackets, say) is left alone, and a field whose
 * line would grow past 998 octets (RFC 5322 2.1.1) is kept as it came.
 */
#include <string.h>

#include "sendmail.h"

/* Insertions in one field, at most; the rest of it stays as it is. */
#define QUALIFY_MAX	RCPT_MAX

/* Where a scan of one field stands: inside what, and the mailbox so far
 * (words of it, from start to end, with an "@" or not). */
struct qualify {
	size_t	at[QUALIFY_MAX];	/* offsets to insert "@host" before */
	size_t	nat;
	size_t	start, end;
	int	depth, in_quote, in_angle, has_at, words;
	int	is_gap, angle_at, angle_len;
};

/* Inside a quoted string, a comment or angle brackets: c (the field's
 * octet *i, of len; *i may step over a quoted pair) taken there.  1, or 0 when c is at
 * the top level. */
static int
qualify_nested(struct qualify *q, size_t len, size_t *i, char c)
{
	if (q->in_quote) {
		if (c == '\\' && *i + 1 < len)
			++*i;
		else if (c == '"') {
			q->in_quote = 0;
			q->end = *i + 1;
		}
		return 1;
	}
	if (q->depth > 0) {
		if (c == '\\' && *i + 1 < len)
			++*i;
		else if (c == '(')
			q->depth++;
		else if (c == ')')
			q->depth--;
		return 1;
	}
	if (!q->in_angle)
		return 0;
	if (c == '>') {
		q->in_angle = 0;
		/* <local> without @: qualify before '>' */
		if (!q->angle_at && q->angle_len > 0 && q->nat < QUALIFY_MAX)
			q->at[q->nat++] = *i;
	} else if (c == '@' || c == ':')
		q->angle_at = 1;	/* a domain, or a route */
	else if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
		q->angle_len++;
	return 1;
}

/* c at field[i], at the top level: at a mailbox's end (',' ';' or the end
 * of the field) decide whether it is a bare local part. */
static void
qualify_top(struct qualify *q, const char *field, size_t i, char c)
{
	switch (c) {
	case '"':
		q->in_quote = 1;
		if (q->words == 0 || q->is_gap)
			q->words++, q->start = i;
		q->is_gap = 0;
		break;
	case '(':
		q->depth = 1;
		q->is_gap = q->words > 0;
		break;
	case '<':
		q->in_angle = 1;
		q->angle_at = q->angle_len = 0;
		q->words = 2;	/* the name-addr decides, not words */
		break;
	case ':':
		/* a group's display name: its members follow */
		q->words = q->has_at = q->is_gap = 0;
		q->start = q->end = 0;
		break;
	case ',':
	case ';':
		if (q->words == 1 && !q->has_at && q->end > q->start &&
		    q->nat < QUALIFY_MAX)
			q->at[q->nat++] = q->end;
		q->words = q->has_at = q->is_gap = 0;
		q->start = q->end = 0;
		break;
	case ' ': case '\t': case '\r': case '\n':
		q->is_gap = q->words > 0;
		break;
	case '@':
		q->has_at = 1;
		q->is_gap = 0;
		q->end = i + 1;
		break;
	case '>': case ')': case '[': case ']': case '\\':
		q->words = 2;	/* not a plain addr-spec: leave it */
		break;
	default:
		if (q->words == 0 || (q->is_gap && q->end > 0 &&
		    field[q->end - 1] != '.' && c != '.'))
			q->words++, q->start = i;
		q->is_gap = 0;
		q->end = i + 1;
	}
}

/* RFC 5322 2.1.1: whether no line of out (o octets) is over 998. */
static int
qualify_fits(const char *out, size_t o)
{
	size_t i, linelen;

	for (i = linelen = 0; i < o; i++) {
		if (out[i] == '\r' && i + 1 < o && out[i + 1] == '\n')
			continue;	/* the line end: not counted */
		if (out[i] == '\n')
			linelen = 0;
		else if (++linelen > TEXT_LINE_MAX)
			return 0;	/* a bare CR is text, counted */
	}
	return 1;
}

/*
 * Copies field (name and value, folded with CRLF, len octets) into out
 * (size octets) with host after each bare local part.  Returns the new
 * length, or 0 when the field is to stay as it is.
 */
size_t
qualify_field(const char *field, size_t len, const char *host, char *out,
    size_t size)
{
	struct qualify q;
	size_t i, k, o, hostlen = strlen(host);
	const char *h, *colon = memchr(field, ':', len);

	if (colon == NULL)
		return 0;
	memset(&q, 0, sizeof(q));
	/* One pass over the value; at a mailbox's end (',' ';' or the end
	 * of the field, outside quotes, comments and brackets) decide. */
	for (i = (size_t)(colon - field) + 1; i <= len; i++) {
		char c = i < len ? field[i] : ',';

		if (!qualify_nested(&q, len, &i, c))
			qualify_top(&q, field, i, c);
	}
	if (q.nat == 0 || q.depth > 0 || q.in_quote || q.in_angle)
		return 0;
	if (len + q.nat * (hostlen + 1) > size)
		return 0;
	/* at[] is in order; copy with "@host" before each such octet (or
	 * at the end). */
	for (i = o = k = 0; i <= len; i++) {
		for (; k < q.nat && q.at[k] == i; k++) {
			out[o++] = '@';
			for (h = host; *h != '\0'; h++)
				out[o++] = *h;
		}
		if (i < len)
			out[o++] = field[i];
	}
	return qualify_fits(out, o) ? o : 0;
}
