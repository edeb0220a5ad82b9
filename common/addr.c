/*
 * addr.c: RFC 5321 4.1.2 paths, as they follow "MAIL FROM:" and "RCPT TO:".
 *
 * A strict recursive-descent reading of the grammar (Dot-string or
 * Quoted-string local part, Domain or address literal), with the leniency
 * the seed asks for: a space after the colon, and a bare address without
 * angle brackets.  A source route is read and dropped.  Nothing here
 * allocates; every part is bounded by the RFC's lengths.
 *
 * addr_parse_utf8() reads the same grammar as RFC 6531 3.3 extends it for
 * SMTPUTF8: UTF-8 in atoms, quoted strings and domain labels, valid
 * UTF-8 only (no overlong form, no surrogate, nothing past U+10FFFF), the
 * lengths still in octets.
 */
#include <string.h>

#include "common.h"

/*
 * The length of the UTF-8 sequence for one non-ASCII character at s (2 to
 * 4), or 0 when s does not start one: ASCII, a continuation byte, an
 * overlong form (C0, C1, E0 80-9F, F0 80-8F), a surrogate (ED A0-BF),
 * past U+10FFFF (F4 90-BF, F5-FF), or a sequence cut short (RFC 3629 4).
 */
size_t
addr_utf8_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

int
addr_is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 127)
			return 0;
	return 1;
}

/* The octets of one UTF-8 character at p when utf8 allows them, else 0. */
static size_t
utf8_at(const char *p, int utf8)
{
	return utf8 ? addr_utf8_len(p) : 0;
}

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
 * the length read, 0 if none.  With utf8, a label may hold UTF-8 (an
 * RFC 5890 U-label, whose 63-octet bound is its A-label's, not ours to
 * check). */
static size_t
scan_domain(const char *s, int utf8)
{
	const char *p = s;
	size_t n;
	int is_ascii;

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

		if (!is_letdig(*p) && utf8_at(p, utf8) == 0)
			return 0;
		for (is_ascii = 1;;) {
			if (is_letdig(*p) || *p == '-')
				p++;
			else if ((n = utf8_at(p, utf8)) > 0) {
				p += n;
				is_ascii = 0;
			} else
				break;
		}
		if (p[-1] == '-' || (is_ascii && p - label > 63))
			return 0;	/* RFC 1035: no hyphen last, 63 octets */
		if (*p != '.' || (!is_letdig(p[1]) && utf8_at(p + 1, utf8) == 0))
			break;
		p++;
	}
	return (size_t)(p - s);
}

/* Local-part = Dot-string / Quoted-string.  Returns the length read.
 * With utf8, atoms and quoted strings may hold UTF-8 (RFC 6531 3.3). */
static size_t
scan_local(const char *s, int utf8)
{
	const char *p = s;
	size_t n;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\') {
				p++;
				if (*p < 32 || *p > 126)
					return 0;
			} else if ((n = utf8_at(p, utf8)) > 0)
				p += n - 1;
			else if (*p < 32 || *p > 126)
				return 0;
		}
		return (size_t)(p + 1 - s);
	}
	for (;;) {
		if (!is_atext(*p) && utf8_at(p, utf8) == 0)
			return 0;
		for (;;) {
			if (is_atext(*p))
				p++;
			else if ((n = utf8_at(p, utf8)) > 0)
				p += n;
			else
				break;
		}
		if (*p != '.')
			break;
		p++;
	}
	return (size_t)(p - s);
}

int
addr_domain_valid(const char *s)
{
	size_t n = scan_domain(s, 0);

	return n > 0 && s[n] == '\0' && n <= ADDR_DOMAIN_MAX;
}

const char *
addr_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at == NULL ? NULL : at + 1;
}

static int
parse(const char *s, char *addr, size_t size, const char **rest, int utf8)
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
				size_t n = scan_domain(p + 1, utf8);

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
	if ((local = scan_local(p, utf8)) == 0 || local > ADDR_LOCAL_MAX)
		return -1;
	p += local;
	if (*p == '@') {
		if ((domain = scan_domain(p + 1, utf8)) == 0 ||
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

int
addr_parse(const char *s, char *addr, size_t size, const char **rest)
{
	return parse(s, addr, size, rest, 0);
}

int
addr_parse_utf8(const char *s, char *addr, size_t size, const char **rest)
{
	return parse(s, addr, size, rest, 1);
}

/*
 * The mailbox name for rcpt: its local part, ASCII letters in lower case.
 * Returns -1 for one that is empty, quoted, starts with a dot, or holds
 * '/' or anything but printable ASCII and valid UTF-8 (RFC 6531) other
 * than the C1 controls, so it can never leave ROOT, hide itself there or
 * put a terminal escape into a name.  smtpsend's local delivery uses it,
 * and smtpd refuses at RCPT what it refuses, so that no bounce is made
 * for a recipient we could refuse.
 */
int
addr_mailbox(const char *rcpt, char *box, size_t size)
{
	const char *at = strrchr(rcpt, '@');
	size_t i, n, len = at != NULL ? (size_t)(at - rcpt) : strlen(rcpt);

	if (len == 0 || len >= size || rcpt[0] == '.')
		return -1;
	for (i = 0; i < len; i++) {
		if ((unsigned char)rcpt[i] > 127) {
			/* U+0080-U+009F (C2 80-9F): C1 controls */
			if ((n = addr_utf8_len(rcpt + i)) == 0 ||
			    i + n > len || ((unsigned char)rcpt[i] == 0xc2 &&
			    (unsigned char)rcpt[i + 1] < 0xa0))
				return -1;
			memcpy(box + i, rcpt + i, n);
			i += n - 1;
			continue;
		}
		if (rcpt[i] <= ' ' || rcpt[i] > '~' || rcpt[i] == '/' ||
		    rcpt[i] == '"' || rcpt[i] == '\\')
			return -1;
		box[i] = (rcpt[i] >= 'A' && rcpt[i] <= 'Z') ?
		    (char)(rcpt[i] - 'A' + 'a') : rcpt[i];
	}
	box[len] = '\0';
	return 0;
}
