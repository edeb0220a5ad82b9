/*
 * poolmsg.c: the lines smtpsend's parent and its workers (pool.c) send
 * each other over their socket, written and read.  One line each, at
 * most POOL_LINE_MAX octets with its newline:
 *
 *   parent -> worker   "try NAME"          deliver new/NAME
 *                      "down DEST WHY"     DEST is down for this run
 *   worker -> parent   "open DEST"         a session to DEST stays open
 *                      "down DEST WHY"     DEST went down
 *                      "done NAME RC"      NAME tried: RC an enum try
 *                      "count R T N"       metrics, as the worker leaves
 *
 * NAME and DEST are written with every octet outside "!" to "~", and
 * "%" itself, as %XX: a queue name is anybody's who can write new/, and
 * must neither end a line nor split one.  WHY is a reply, printable
 * (outcome.c's printable()).  A line that breaks these rules is refused
 * whole: a worker's lines are trusted no more than its message.
 */
#include <stdio.h>
#include <string.h>

#include "smtpsend.h"

static const char *const verbs[] = { "try", "down", "open", "done",
    "count" };
#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

/* Appends s, %-escaped, to buf at *at: 0, or -1 when it would not fit. */
static int
pool_escape(char *buf, size_t size, size_t *at, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c > ' ' && c < 0x7f && c != '%') {
			if (*at + 1 >= size)
				return -1;
			buf[(*at)++] = (char)c;
			continue;
		}
		if (*at + 3 >= size)
			return -1;
		buf[(*at)++] = '%';
		buf[(*at)++] = hex[c >> 4];
		buf[(*at)++] = hex[c & 0xf];
	}
	buf[*at] = '\0';
	return 0;
}

/* The line for l, with its newline, into buf: its length, or 0 when it
 * would not fit (an argument longer than its bound, or an empty one). */
size_t
pool_format(char *buf, size_t size, const struct pool_line *l)
{
	char why[REPLY_LINE_MAX + 1];
	size_t at, k;
	int n;

	if ((size_t)l->verb >= NVERBS || size < 16)
		return 0;
	if (size > POOL_LINE_MAX + 1)
		size = POOL_LINE_MAX + 1;
	if (l->verb == POOL_COUNT) {
		n = snprintf(buf, size, "count %lu %lu %lu\n", l->n[0],
		    l->n[1], l->n[2]);
		return n > 0 && (size_t)n < size ? (size_t)n : 0;
	}
	if (l->arg[0] == '\0' || strlen(l->arg) > POOL_ARG_MAX)
		return 0;
	at = strlen(verbs[l->verb]);
	memcpy(buf, verbs[l->verb], at);
	buf[at++] = ' ';
	if (pool_escape(buf, size, &at, l->arg) == -1)
		return 0;
	if (l->verb == POOL_DONE)
		n = snprintf(buf + at, size - at, " %lu\n", l->n[0]);
	else if (l->verb == POOL_DOWN) {
		/* printable and never empty, as pool_parse() wants it */
		for (k = 0; k < REPLY_LINE_MAX && l->why[k] != '\0'; k++)
			why[k] = l->why[k] < ' ' || l->why[k] > '~' ? '?' :
			    l->why[k];
		why[k] = '\0';
		n = snprintf(buf + at, size - at, " %s\n", k > 0 ? why : "-");
	}
	else
		n = snprintf(buf + at, size - at, "\n");
	if (n < 0 || (size_t)n >= size - at)
		return 0;
	return at + (size_t)n;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads an escaped word from *p into dst (at most max octets): 0, with
 * *p past it, or -1.  No NUL, no empty word, canonical escapes only. */
static int
pool_unescape(const char **p, const char *end, char *dst, size_t max)
{
	const char *s = *p;
	size_t n = 0;
	int hi, lo;

	while (s < end && *s != ' ') {
		if (n == max)
			return -1;
		if (*s == '%') {
			if (end - s < 3 || (hi = hex_value(s[1])) == -1 ||
			    (lo = hex_value(s[2])) == -1)
				return -1;
			dst[n] = (char)(hi << 4 | lo);
			if (dst[n] == '\0' || (dst[n] > ' ' &&
			    dst[n] < 0x7f && dst[n] != '%'))
				return -1;	/* one way to write each */
			s += 3;
		} else if (*s > ' ' && *s < 0x7f)
			dst[n] = *s++;
		else
			return -1;
		n++;
	}
	if (n == 0)
		return -1;
	dst[n] = '\0';
	*p = s;
	return 0;
}

/* A decimal number of at most 9 digits, at most max: 0 or -1. */
static int
pool_number(const char **p, const char *end, unsigned long max,
    unsigned long *v)
{
	const char *s = *p;

	*v = 0;
	if (s == end || *s < '0' || *s > '9' || (*s == '0' && end - s > 1 &&
	    s[1] >= '0' && s[1] <= '9'))
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (s - *p == 9)
			return -1;
		*v = *v * 10 + (unsigned long)(*s - '0');
	}
	if (*v > max)
		return -1;
	*p = s;
	return 0;
}

/*
 * Parses one line (len octets, without its newline) into l: 0, or -1
 * when it is not one of the lines above, whole and within its bounds.
 */
int
pool_parse(const char *line, size_t len, struct pool_line *l)
{
	const char *p = line, *end = line + len;
	size_t v, k, i;

	memset(l, 0, sizeof(*l));
	if (len > POOL_LINE_MAX - 1)
		return -1;
	for (v = 0; v < NVERBS; v++) {
		k = strlen(verbs[v]);
		if (len > k && memcmp(line, verbs[v], k) == 0 && line[k] == ' ')
			break;
	}
	if (v == NVERBS)
		return -1;
	l->verb = (enum pool_verb)v;
	p += strlen(verbs[v]) + 1;
	if (l->verb == POOL_COUNT) {
		for (i = 0; i < 3; i++)
			if ((i > 0 && (p == end || *p++ != ' ')) ||
			    pool_number(&p, end, i == 2 ? 999999999UL : 99,
			    &l->n[i]) == -1)
				return -1;
		return p == end ? 0 : -1;
	}
	if (pool_unescape(&p, end, l->arg, POOL_ARG_MAX) == -1)
		return -1;
	switch (l->verb) {
	case POOL_DONE:
		if (p == end || *p++ != ' ' || pool_number(&p, end, TRY_KEPT,
		    &l->n[0]) == -1)
			return -1;
		break;
	case POOL_DOWN:
		if (p == end || *p++ != ' ' || (size_t)(end - p) >
		    REPLY_LINE_MAX || p == end)
			return -1;
		for (k = 0; p < end; p++, k++) {
			if (*p < ' ' || *p > '~')
				return -1;
			l->why[k] = *p;
		}
		l->why[k] = '\0';
		break;
	default:
		break;
	}
	return p == end ? 0 : -1;
}
