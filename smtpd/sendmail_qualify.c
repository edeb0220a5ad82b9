/*
 * sendmail_qualify.c: bare local parts in the address fields of a local
 * program's message get this host's name (issue 23): cron writes
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

/*
 * Copies field (name and value, folded with CRLF, len octets) into out
 * (size octets) with host after each bare local part.  Returns the new
 * length, or 0 when the field is to stay as it is.
 */
size_t
qualify_field(const char *field, size_t len, const char *host, char *out,
    size_t size)
{
	size_t at[QUALIFY_MAX], nat = 0, i, k, o, hostlen = strlen(host);
	const char *h;
	size_t start = 0, end = 0, linelen;
	int depth = 0, in_quote = 0, in_angle = 0, has_at = 0, words = 0;
	int is_gap = 0, angle_at = 0, angle_len = 0;
	const char *colon = memchr(field, ':', len);

	if (colon == NULL)
		return 0;
	/* One pass over the value; at a mailbox's end (',' ';' or the end
	 * of the field, outside quotes, comments and brackets) decide. */
	for (i = (size_t)(colon - field) + 1; i <= len; i++) {
		char c = i < len ? field[i] : ',';

		if (in_quote) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '"') {
				in_quote = 0;
				end = i + 1;
			}
			continue;
		}
		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			continue;
		}
		if (in_angle) {
			if (c == '>') {
				in_angle = 0;
				/* <local> without @: qualify before '>' */
				if (!angle_at && angle_len > 0 &&
				    nat < QUALIFY_MAX)
					at[nat++] = i;
			} else if (c == '@' || c == ':')
				angle_at = 1;	/* a domain, or a route */
			else if (c != ' ' && c != '\t' && c != '\r' &&
			    c != '\n')
				angle_len++;
			continue;
		}
		switch (c) {
		case '"':
			in_quote = 1;
			if (words == 0 || is_gap)
				words++, start = i;
			is_gap = 0;
			break;
		case '(':
			depth = 1;
			is_gap = words > 0;
			break;
		case '<':
			in_angle = 1;
			angle_at = angle_len = 0;
			words = 2;	/* the name-addr decides, not words */
			break;
		case ':':
			/* a group's display name: its members follow */
			words = has_at = is_gap = 0;
			start = end = 0;
			break;
		case ',':
		case ';':
			if (words == 1 && !has_at && end > start &&
			    nat < QUALIFY_MAX)
				at[nat++] = end;
			words = has_at = is_gap = 0;
			start = end = 0;
			break;
		case ' ': case '\t': case '\r': case '\n':
			is_gap = words > 0;
			break;
		case '@':
			has_at = 1;
			is_gap = 0;
			end = i + 1;
			break;
		case '>': case ')': case '[': case ']': case '\\':
			words = 2;	/* not a plain addr-spec: leave it */
			break;
		default:
			if (words == 0 || (is_gap && end > 0 &&
			    field[end - 1] != '.' && c != '.'))
				words++, start = i;
			is_gap = 0;
			end = i + 1;
		}
	}
	if (nat == 0 || depth > 0 || in_quote || in_angle)
		return 0;
	if (len + nat * (hostlen + 1) > size)
		return 0;
	/* at[] is in order; copy with "@host" before each such octet (or
	 * at the end). */
	for (i = o = k = 0; i <= len; i++) {
		for (; k < nat && at[k] == i; k++) {
			out[o++] = '@';
			for (h = host; *h != '\0'; h++)
				out[o++] = *h;
		}
		if (i < len)
			out[o++] = field[i];
	}
	/* RFC 5322 2.1.1: no line over 998 octets. */
	for (i = linelen = 0; i < o; i++) {
		if (out[i] == '\r' && i + 1 < o && out[i + 1] == '\n')
			continue;	/* the line end: not counted */
		if (out[i] == '\n')
			linelen = 0;
		else if (++linelen > TEXT_LINE_MAX)
			return 0;	/* a bare CR is text, counted */
	}
	return o;
}
