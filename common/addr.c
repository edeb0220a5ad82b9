/*
 * addr.c: RFC 5321 4.1.2 paths, as they follow "MAIL FROM:" and "RCPT TO:".
 *
 * A strict recursive-descent reading of the grammar (Dot-string or
 * Quoted-string local part, Domain or address literal), with the leniency
 * the seed asks for: a space after the colon, and a bare address without
 * angle brackets.  A source route is read and dropped.  Nothing here
 * allocates; every part is bounded by the RFC's lengths.
 */
#include <string.h>

#include "common.h"

static int
is_atext(int c)
{
	/* RFC 5322 3.2.3 atext */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int
is_letdig(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Domain = sub-domain *("." sub-domain), or an address literal.  Returns
 * the length read, 0 if none. */
static size_t
scan_domain(const char *s)
{
	const char *p = s;

	if (*p == '[') {
		/* address-literal: printable, no brackets or backslash */
		for (p++; *p != ']'; p++)
			if (*p < 33 || *p > 126 || *p == '[' || *p == '\\')
				return 0;
		if (p == s + 1)
			return 0;
		return (size_t)(p + 1 - s);
	}
	for (;;) {
		const char *label = p;

		if (!is_letdig(*p))
			return 0;
		while (is_letdig(*p) || *p == '-')
			p++;
		if (p[-1] == '-' || p - label > 63)
			return 0;	/* RFC 1035: no hyphen last, 63 octets */
		if (*p != '.' || !is_letdig(p[1]))
			break;
		p++;
	}
	return (size_t)(p - s);
}

/* Local-part = Dot-string / Quoted-string.  Returns the length read. */
static size_t
scan_local(const char *s)
{
	const char *p = s;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\') {
				p++;
				if (*p < 32 || *p > 126)
					return 0;
			} else if (*p < 32 || *p > 126)
				return 0;
		}
		return (size_t)(p + 1 - s);
	}
	for (;;) {
		if (!is_atext(*p))
			return 0;
		while (is_atext(*p))
			p++;
		if (*p != '.')
			break;
		p++;
	}
	return (size_t)(p - s);
}

int
addr_domain_valid(const char *s)
{
	size_t n = scan_domain(s);

	return n > 0 && s[n] == '\0' && n <= ADDR_DOMAIN_MAX;
}

const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL ? NULL : at + 1;
}

int
addr_parse(const char *s, char *addr, size_t size, const char **rest)
{
	const char *p = s, *mailbox;
	size_t local, domain = 0, len;
	int bracketed;

	while (*p == ' ')
		p++;		/* tolerated: "MAIL FROM: <a@b>" */
	bracketed = (*p == '<');
	if (bracketed) {
		p++;
		if (*p == '>') {	/* the null path */
			mailbox = p;
			len = 0;
			p++;
			goto done;
		}
		/* A-d-l ":" -- a source route, read and dropped */
		if (*p == '@') {
			for (;;) {
				size_t n = scan_domain(p + 1);

				if (n == 0)
					return -1;
				p += 1 + n;
				if (*p == ':')
					break;
				if (*p != ',' || p[1] != '@')
					return -1;
				p++;
			}
			p++;
		}
	}
	mailbox = p;
	if ((local = scan_local(p)) == 0 || local > ADDR_LOCAL_MAX)
		return -1;
	p += local;
	if (*p == '@') {
		if ((domain = scan_domain(p + 1)) == 0 ||
		    domain > ADDR_DOMAIN_MAX)
			return -1;
		p += 1 + domain;
	}
	len = (size_t)(p - mailbox);
	if (bracketed) {
		if (*p != '>')
			return -1;
		p++;
	}
done:
	/* Parameters, if any, follow after at least one space. */
	if (*p != '\0' && *p != ' ')
		return -1;
	if (len + 2 > ADDR_MAX || len + 1 > size)
		return -1;
	memcpy(addr, mailbox, len);
	addr[len] = '\0';
	while (*p == ' ')
		p++;
	*rest = p;
	return 0;
}

/*
 * The mailbox name for rcpt: its local part in lower case.  Returns -1 for
 * one that is empty, quoted, starts with a dot, or holds '/' or anything
 * but printable ASCII, so it can never leave ROOT or hide itself there.
 * smtpsend's local delivery uses it, and smtpd refuses at RCPT what it
 * refuses, so that no bounce is made for a recipient we could refuse.
 */
int
addr_mailbox(const char *rcpt, char *box, size_t size)
{
	const char *at = strrchr(rcpt, '@');
	size_t i, len = at != NULL ? (size_t)(at - rcpt) : strlen(rcpt);

	if (len == 0 || len >= size || rcpt[0] == '.')
		return -1;
	for (i = 0; i < len; i++) {
		if (rcpt[i] <= ' ' || rcpt[i] > '~' || rcpt[i] == '/' ||
		    rcpt[i] == '"' || rcpt[i] == '\\')
			return -1;
		box[i] = (rcpt[i] >= 'A' && rcpt[i] <= 'Z') ?
		    (char)(rcpt[i] - 'A' + 'a') : rcpt[i];
	}
	box[len] = '\0';
	return 0;
}
