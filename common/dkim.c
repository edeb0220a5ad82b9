/*
 * dkim.c: DKIM's relaxed canonicalisation (RFC 6376 3.4.2 and 3.4.4), the
 * part of signing that is ours; hashing and signing are done by openssl
 * run as a program (README, "Signing with DKIM").
 *
 * The body is canonicalised as a stream: dkim_body_feed() takes the
 * message in pieces of any size, as they are read from the queue file,
 * and hands what is canonical so far to an emit function (a pipe to
 * openssl dgst), holding back only the state of one line: whether white
 * space is pending and how many empty lines have not been written yet
 * (they are dropped if the body ends there).  Memory does not grow with
 * the message.  A header field is canonicalised whole, into a bounded
 * buffer.
 */
#include <string.h>

#include "common.h"

static int
dkim_is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

void
dkim_body_init(struct dkim_body *b, dkim_emit_fn *emit, void *arg)
{
	memset(b, 0, sizeof(*b));
	b->emit = emit;
	b->arg = arg;
}

static void
dkim_body_put(struct dkim_body *b, const char *s, size_t len)
{
	b->length += len;
	b->emit(b->arg, s, len);
}

/* An octet of a line that is not white space and not its end. */
static void
dkim_body_text(struct dkim_body *b, char c)
{
	/* Empty lines before this one were not the body's end after all. */
	for (; b->blank_lines > 0; b->blank_lines--)
		dkim_body_put(b, "\r\n", 2);
	/* RFC 6376 3.4.4: a run of WSP within a line is one SP (at its
	 * start too; only the end of a line drops it). */
	if (b->is_wsp) {
		dkim_body_put(b, " ", 1);
		b->is_wsp = 0;
	}
	dkim_body_put(b, &c, 1);
	b->has_text = 1;
}

/* A CRLF: the line's trailing WSP is dropped; an empty line waits. */
static void
dkim_body_eol(struct dkim_body *b)
{
	b->is_wsp = 0;
	if (b->has_text)
		dkim_body_put(b, "\r\n", 2);
	else
		b->blank_lines++;
	b->has_text = 0;
}

void
dkim_body_feed(struct dkim_body *b, const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (b->is_cr) {
			b->is_cr = 0;
			if (c == '\n') {
				dkim_body_eol(b);
				continue;
			}
			dkim_body_text(b, '\r');	/* a CR alone is text */
		}
		if (c == '\r')
			b->is_cr = 1;
		else if (dkim_is_wsp(c))
			b->is_wsp = 1;
		else
			dkim_body_text(b, c);
	}
}

void
dkim_body_end(struct dkim_body *b)
{
	if (b->is_cr) {
		b->is_cr = 0;
		dkim_body_text(b, '\r');
	}
	/* A last line without CRLF gets one (RFC 6376 3.4.4, errata 1384);
	 * empty lines at the end are dropped, and an empty body stays
	 * empty. */
	if (b->has_text)
		dkim_body_put(b, "\r\n", 2);
	b->has_text = 0;
	b->is_wsp = 0;
	b->blank_lines = 0;
}

/*
 * One header field, as it stands in the message (name, colon, value,
 * folded lines, the final CRLF optional), canonicalised into out:
 * "name:value\r\n" with the name in lower case, the value unfolded, each
 * run of WSP one SP, none before or after the colon or at the end
 * (RFC 6376 3.4.2).  Returns the length written (out is NUL-terminated),
 * or -1: no colon, a name with WSP or control characters in it, a CR or
 * LF that is not a fold, or out too small.
 */
int
dkim_header_relaxed(const char *field, size_t len, char *out, size_t size)
{
	const char *colon = memchr(field, ':', len);
	size_t i, n = 0, name_len;
	int is_wsp = 0, has_value = 0;

	if (colon == NULL || colon == field)
		return -1;
	name_len = (size_t)(colon - field);
	/* RFC 5322 2.2: printable ASCII but colon; WSP before the colon
	 * (obsolete syntax) is dropped, as 3.4.2 says. */
	while (name_len > 0 && dkim_is_wsp(field[name_len - 1]))
		name_len--;
	if (name_len == 0 || name_len + 4 > size)
		return -1;
	for (i = 0; i < name_len; i++) {
		unsigned char c = (unsigned char)field[i];

		if (c <= ' ' || c > '~')
			return -1;
		out[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[n++] = ':';
	for (i = (size_t)(colon - field) + 1; i < len; i++) {
		char c = field[i];

		/* Unfolding: a CRLF followed by WSP is dropped, the WSP is
		 * WSP; one at the end ends the field.  Any other CR or LF is
		 * no header field's (RFC 5322 2.2). */
		if (c == '\r' && i + 1 < len && field[i + 1] == '\n' &&
		    (i + 2 == len || dkim_is_wsp(field[i + 2]))) {
			i++;
			continue;
		}
		if (c == '\r' || c == '\n')
			return -1;
		if (dkim_is_wsp(c)) {
			is_wsp = 1;
			continue;
		}
		if (n + (is_wsp ? 1 : 0) + 1 + 3 > size)
			return -1;
		/* WSP right after the colon is dropped, as is trailing WSP. */
		if (is_wsp && has_value)
			out[n++] = ' ';
		is_wsp = 0;
		has_value = 1;
		out[n++] = c;
	}
	out[n++] = '\r';
	out[n++] = '\n';
	out[n] = '\0';
	return (int)n;
}

/* RFC 6376 3.1: a selector is dot-separated labels of letters, digits
 * and inner hyphens (RFC 5321's sub-domain). */
int
dkim_selector_valid(const char *s)
{
	size_t n = 0;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (n == 0 || s[-1] == '-')
				return 0;
			n = 0;
		} else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' &&
		    *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    (*s == '-' && n > 0)) {
			if (++n > 63)
				return 0;
		} else
			return 0;
	}
	return n > 0 && s[-1] != '-';
}

/* Whether the n octets of a BEGIN line after "-----BEGIN " are label,
 * a CR allowed after it. */
static int
dkim_is_label(const char *s, size_t n, const char *label)
{
	size_t k = strlen(label);

	return (n == k || (n == k + 1 && s[k] == '\r')) &&
	    memcmp(s, label, k) == 0;
}

/* Whether the n octets at p are in der's first DKIM_KEY_HEAD octets. */
static int
dkim_der_has(const unsigned char *der, size_t len, const unsigned char *p,
    size_t n)
{
	size_t i;

	if (len > DKIM_KEY_HEAD)
		len = DKIM_KEY_HEAD;
	for (i = 0; i + n <= len; i++)
		if (memcmp(der + i, p, n) == 0)
			return 1;
	return 0;
}

/*
 * Which kind of private key a PEM file holds, so that smtpsend knows
 * which openssl command signs with it and what a= says, without linking
 * crypto: "RSA PRIVATE KEY" (PKCS#1) is RSA; "PRIVATE KEY" (PKCS#8, what
 * openssl genpkey writes) is told by its algorithm's object identifier
 * (RFC 5208 5), near the start of the DER: rsaEncryption
 * 1.2.840.113549.1.1.1 or id-Ed25519 1.3.101.112 (RFC 8410 3).  An
 * encrypted key, or anything else: DKIM_KEY_UNKNOWN.
 */
enum dkim_key
dkim_key_kind(const char *pem, size_t len)
{
	static const char begin[] = "-----BEGIN ", end[] = "-----END ";
	static const unsigned char rsa_oid[] = {
		0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01
	};
	static const unsigned char ed_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	char b64[DKIM_KEY_PEM_MAX + 1];
	unsigned char der[DKIM_KEY_PEM_MAX];
	size_t i, n = 0, derlen, label;

	/* The first BEGIN line, at the start of a line. */
	for (i = 0; i + sizeof(begin) - 1 <= len; i++)
		if ((i == 0 || pem[i - 1] == '\n') &&
		    memcmp(pem + i, begin, sizeof(begin) - 1) == 0)
			break;
	if (i + sizeof(begin) - 1 > len)
		return DKIM_KEY_UNKNOWN;
	i += sizeof(begin) - 1;
	label = i;
	for (; i < len && pem[i] != '\n'; i++)
		;
	if (dkim_is_label(pem + label, i - label, "RSA PRIVATE KEY-----"))
		return DKIM_KEY_RSA;
	if (!dkim_is_label(pem + label, i - label, "PRIVATE KEY-----"))
		return DKIM_KEY_UNKNOWN;
	/* The base64 lines up to the END line, line ends dropped. */
	for (i++; i < len; i++) {
		if (pem[i] == '\r' || pem[i] == '\n')
			continue;
		if (pem[i] == '-') {
			if (len - i < sizeof(end) - 1 ||
			    memcmp(pem + i, end, sizeof(end) - 1) != 0)
				return DKIM_KEY_UNKNOWN;
			break;
		}
		if (n == DKIM_KEY_PEM_MAX)
			return DKIM_KEY_UNKNOWN;
		b64[n++] = pem[i];
	}
	if (i == len)
		return DKIM_KEY_UNKNOWN;
	b64[n] = '\0';
	if (base64_decode(b64, der, sizeof(der), &derlen) == -1)
		return DKIM_KEY_UNKNOWN;
	if (dkim_der_has(der, derlen, ed_oid, sizeof(ed_oid)))
		return DKIM_KEY_ED25519;
	if (dkim_der_has(der, derlen, rsa_oid, sizeof(rsa_oid)))
		return DKIM_KEY_RSA;
	return DKIM_KEY_UNKNOWN;
}
