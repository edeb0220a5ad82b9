/*
 * fuzz_dkim.c: DKIM relaxed canonicalisation (common/dkim.c) on any bytes.
 *
 * Input: one byte choosing the piece size the body is fed in (1 to 256),
 * then the bytes, which are canonicalised as a body and as a header field.
 * Checked for the body: the same output whether fed whole or in pieces;
 * length counts what was emitted; no WSP before a CRLF or after another
 * WSP, no tab; it ends in CRLF unless empty, with no empty line at the
 * end.  For the header field: with every output size up to the input's,
 * either -1 or a NUL-terminated output that fits, ends in one CRLF, has
 * a lower-case name, no two WSP together and no WSP at either side of the
 * first colon.  The same bytes as a key file and as a PEM key's DER
 * (common/dkim.c dkim_key_kind()): an answer of the three, Ed25519 only
 * when its identifier is there.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct sink {
	char	*buf;
	size_t	 len, cap;
};

static void
sink_emit(void *arg, const char *s, size_t len)
{
	struct sink *k = arg;

	if (k->len + len > k->cap)
		abort();	/* canonical is never longer than in + 2 */
	memcpy(k->buf + k->len, s, len);
	k->len += len;
}

/* Whether the n octets at p are in the first 32 of s (DKIM_KEY_HEAD). */
static int
der_has(const char *s, size_t len, const char *p, size_t n)
{
	size_t i;

	if (len > DKIM_KEY_HEAD)
		len = DKIM_KEY_HEAD;
	for (i = 0; i + n <= len; i++)
		if (memcmp(s + i, p, n) == 0)
			return 1;
	return 0;
}

static void
check_body(const char *in, size_t len, size_t step)
{
	struct sink whole, parts;
	struct dkim_body b;
	size_t i;

	/* A CR alone becomes text and a last line gets a CRLF: at most
	 * 2 octets more than the input. */
	whole.cap = parts.cap = len + 2;
	whole.buf = malloc(whole.cap + 1);
	parts.buf = malloc(parts.cap + 1);
	if (whole.buf == NULL || parts.buf == NULL)
		abort();
	whole.len = parts.len = 0;
	dkim_body_init(&b, sink_emit, &whole);
	dkim_body_feed(&b, in, len);
	dkim_body_end(&b);
	if (b.length != whole.len)
		abort();
	dkim_body_init(&b, sink_emit, &parts);
	for (i = 0; i < len; i += step)
		dkim_body_feed(&b, in + i, len - i < step ? len - i : step);
	dkim_body_end(&b);
	if (parts.len != whole.len ||
	    memcmp(parts.buf, whole.buf, whole.len) != 0)
		abort();
	for (i = 0; i < whole.len; i++) {
		if (whole.buf[i] == '\t')
			abort();
		if (whole.buf[i] == ' ' && i + 1 < whole.len &&
		    (whole.buf[i + 1] == ' ' || (whole.buf[i + 1] == '\r' &&
		    i + 2 < whole.len && whole.buf[i + 2] == '\n')))
			abort();
	}
	if (whole.len > 0 && (whole.len < 2 ||
	    memcmp(whole.buf + whole.len - 2, "\r\n", 2) != 0 ||
	    (whole.len >= 4 &&
	    memcmp(whole.buf + whole.len - 4, "\r\n\r\n", 4) == 0)))
		abort();
	free(whole.buf);
	free(parts.buf);
}

static void
check_header(const char *in, size_t len)
{
	size_t size, i;
	char *out, *colon;
	int n;

	for (size = 0; size <= len + 3; size++) {
		out = malloc(size > 0 ? size : 1);
		if (out == NULL)
			abort();
		n = dkim_header_relaxed(in, len, out, size);
		if (n >= 0) {
			if ((size_t)n + 1 > size || out[n] != '\0' || n < 3 ||
			    memcmp(out + n - 2, "\r\n", 2) != 0)
				abort();
			colon = memchr(out, ':', (size_t)n);
			if (colon == NULL || colon == out || colon[-1] == ' ' ||
			    colon[1] == ' ')
				abort();
			for (i = 0; out + i < colon; i++)
				if (out[i] >= 'A' && out[i] <= 'Z')
					abort();
			for (i = 1; i < (size_t)n; i++)
				if (out[i] == ' ' && (out[i - 1] == ' ' ||
				    out[i + 1] == '\r'))
					abort();
		}
		free(out);
	}
}

/* dkim_key_kind() on the bytes as a key file, and on them as the DER
 * of a PKCS#8 PEM, so its search of the DER is reached: one of the three
 * answers; a non-empty DER without either identifier is unknown. */
static void
check_key(const char *in, size_t len)
{
	static const char head[] = "-----BEGIN PRIVATE KEY-----\n";
	static const char tail[] = "\n-----END PRIVATE KEY-----\n";
	static char pem[sizeof(head) + 8192 + sizeof(tail)];
	enum dkim_key kind;
	size_t n;
	int b64;

	kind = dkim_key_kind(in, len);
	if (kind != DKIM_KEY_UNKNOWN && kind != DKIM_KEY_RSA &&
	    kind != DKIM_KEY_ED25519)
		abort();
	memcpy(pem, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	b64 = base64_encode(in, len > 3000 ? 3000 : len, pem + n, 8192);
	if (b64 < 0)
		abort();
	n += (size_t)b64;
	memcpy(pem + n, tail, sizeof(tail) - 1);
	n += sizeof(tail) - 1;
	kind = dkim_key_kind(pem, n);
	if (kind == DKIM_KEY_ED25519 && der_has(in, len, "\x06\x03\x2b\x65\x70",
	    5) == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step;

	if (size < 1 || size > 4096)
		return 0;
	step = (size_t)data[0] + 1;
	check_body((const char *)data + 1, size - 1, step);
	check_header((const char *)data + 1, size - 1);
	check_key((const char *)data + 1, size - 1);
	return 0;
}
