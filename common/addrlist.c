/*
 * addrlist.c: the mailboxes of an RFC 5322 3.4 address list, as in To:,
 * Cc: and Bcc:, for "sendmail -t".
 *
 * An element is a mailbox ("Name <a@b>", "a@b (comment)") or a group
 * ("Friends: a@b, c@d;"); display names, comments (nested, with quoted
 * pairs) and group names are dropped, and what remains is checked by
 * addr_parse_utf8(), the parser smtpd uses for RCPT TO under SMTPUTF8:
 * UTF-8 local parts and domains are read (RFC 6531 3.3, valid UTF-8
 * only), and the caller tells with addr_is_ascii() whether the message
 * needs SMTPUTF8.  The caller unfolds the field first; nothing here
 * allocates.
 */
#include <string.h>

#include "common.h"

/* Skips a comment starting at p ("(" ... ")", nested); NULL if open. */
static const char *
skip_comment(const char *p)
{
	int depth = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return NULL;
}

int
addrlist_next(const char **sp, char *addr, size_t size)
{
	char spec[ADDR_MAX + 3];	/* "<" addr-spec ">" */
	const char *p = *sp, *q, *rest;
	size_t n;
	int is_angle_done;

	for (;;) {
		n = 1;
		is_angle_done = 0;
		while (*p != '\0' && *p != ',' && *p != ';') {
			if (*p == '(') {
				if ((p = skip_comment(p)) == NULL)
					return -1;
			} else if (*p == ' ' || *p == '\t' || *p == '\r' ||
			    *p == '\n') {
				p++;
			} else if (*p == ':' && !is_angle_done) {
				n = 1;		/* a group's name: dropped */
				p++;
			} else if (*p == '<' && !is_angle_done) {
				/* An angle-addr replaces the display name. */
				for (n = 1, p++; *p != '>'; p++) {
					if (*p == '\0' || n >= sizeof(spec) - 2)
						return -1;
					spec[n++] = *p;
				}
				p++;
				is_angle_done = 1;
			} else if (*p == '"') {
				/* A quoted string: a local part, or a name. */
				for (q = p + 1; *q != '"'; q++) {
					if (*q == '\0')
						return -1;
					if (*q == '\\' && q[1] != '\0')
						q++;
				}
				q++;
				if (!is_angle_done) {
					if (n + (size_t)(q - p) >= sizeof(spec) - 1)
						return -1;
					memcpy(spec + n, p, (size_t)(q - p));
					n += (size_t)(q - p);
				}
				p = q;
			} else {
				if (!is_angle_done) {
					if (n >= sizeof(spec) - 2)
						return -1;
					spec[n++] = *p;
				}
				p++;
			}
		}
		if (n == 1 && !is_angle_done) {
			/* An empty element: "a@b,,c@d" or "group:;". */
			if (*p == '\0') {
				*sp = p;
				return 0;
			}
			p++;
			continue;
		}
		if (*p != '\0')
			p++;
		*sp = p;
		spec[0] = '<';
		spec[n++] = '>';
		spec[n] = '\0';
		if (addr_parse_utf8(spec, addr, size, &rest) == -1 ||
		    *rest != '\0' || addr[0] == '\0')
			return -1;
		return 1;
	}
}
