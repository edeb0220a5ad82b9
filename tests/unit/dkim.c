/*
 * dkim.c: unit tests for common/dkim.c: RFC 6376 3.4.5's own example for
 * relaxed header and body canonicalisation, the edge cases of 3.4.4 (the
 * empty body, empty lines at the end, a last line without CRLF, white
 * space at the start and end of lines), and the same output whatever the
 * pieces the body is fed in.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "tap.h"

struct sink {
	char	buf[4096];
	size_t	len;
};

static void
sink_emit(void *arg, const char *s, size_t len)
{
	struct sink *k = arg;

	if (k->len + len < sizeof(k->buf)) {
		memcpy(k->buf + k->len, s, len);
		k->len += len;
	}
	k->buf[k->len] = '\0';
}

/* body canonicalised, fed in pieces of step octets (0: all at once). */
static const char *
body(struct sink *k, const char *in, size_t step)
{
	struct dkim_body b;
	size_t len = strlen(in), i;

	k->len = 0;
	k->buf[0] = '\0';
	dkim_body_init(&b, sink_emit, k);
	if (step == 0)
		step = len > 0 ? len : 1;
	for (i = 0; i < len; i += step)
		dkim_body_feed(&b, in + i, len - i < step ? len - i : step);
	dkim_body_end(&b);
	if (b.length != k->len)
		return "(length miscounted)";
	return k->buf;
}

static int
header_is(const char *in, const char *want)
{
	char out[256];
	int n = dkim_header_relaxed(in, strlen(in), out, sizeof(out));

	if (n < 0)
		return want == NULL;
	if (want == NULL || strcmp(out, want) != 0) {
		tap_diag("got \"%s\"", out);
		return 0;
	}
	return (size_t)n == strlen(want);
}

static const struct {
	const char	*in;
	const char	*want;
	const char	*what;
} bodies[] = {
	/* RFC 6376 3.4.5 */
	{ " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n",
	    "RFC 6376 3.4.5's body" },
	{ "", "", "an empty body stays empty" },
	{ "\r\n\r\n\r\n", "", "a body of empty lines is empty" },
	{ "hi", "hi\r\n", "a last line without CRLF gets one" },
	{ "a\r\n\r\nb\r\n", "a\r\n\r\nb\r\n", "an empty line inside stays" },
	{ "a\r\n \t \r\nb\r\n", "a\r\n\r\nb\r\n",
	    "a line of white space only is an empty line" },
	{ "a\r\n \t\r\n", "a\r\n", "white space lines at the end go too" },
	{ "\t\tx  y\t\r\n", " x y\r\n",
	    "leading white space is one SP, trailing none" },
	{ "a\rb\r\n", "a\rb\r\n", "a CR alone is text" },
	{ "a\r", "a\r\r\n", "a CR at the very end is text" },
	{ "caf\xc3\xa9\r\n", "caf\xc3\xa9\r\n", "8-bit octets pass" },
};

int
main(void)
{
	struct sink k, one;
	size_t i, step;
	char out[16];

	ok(header_is("A: X\r\n", "a:X\r\n"), "RFC 6376 3.4.5: A: X");
	ok(header_is("B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n"),
	    "RFC 6376 3.4.5: B : Y, folded Z");
	ok(header_is("Subject: a: b", "subject:a: b\r\n"),
	    "a colon in the value keeps the space after it");
	ok(header_is("To:\r\n  bob@example.org", "to:bob@example.org\r\n"),
	    "a value that starts on a folded line");
	ok(header_is("X-Empty:   \r\n", "x-empty:\r\n"), "an empty value");
	ok(header_is(": value", NULL), "no name: refused");
	ok(header_is("no colon here", NULL), "no colon: refused");
	ok(header_is("Bad Name: x", NULL), "a space inside the name: refused");
	ok(header_is("Subject: a\rb", NULL), "a CR alone: refused");
	ok(header_is("Subject: a\nb", NULL), "an LF alone: refused");
	ok(header_is("Subject: a\r\nb: c", NULL),
	    "a CRLF that is no fold: refused");
	ok(dkim_header_relaxed("Subject: a long value", 21, out,
	    sizeof(out)) == -1, "an output buffer too small: refused");

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		ok(strcmp(body(&k, bodies[i].in, 0), bodies[i].want) == 0,
		    "body: %s", bodies[i].what);
		for (step = 1; step <= 3; step++)
			if (strcmp(body(&one, bodies[i].in, step),
			    bodies[i].want) != 0)
				break;
		ok(step == 4, "body fed %zu octet(s) at a time: %s",
		    step < 4 ? step : (size_t)3, bodies[i].what);
	}

	/* dkim_key_kind(): the label, and in PKCS#8 the algorithm's OID
	 * (the DER of openssl genpkey's keys, the key octets zeroed). */
#define KIND(s)	dkim_key_kind(s, strlen(s))
	ok(KIND("-----BEGIN PRIVATE KEY-----\n"
	    "MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	    "-----END PRIVATE KEY-----\n") == DKIM_KEY_ED25519,
	    "key: PKCS#8 Ed25519");
	ok(KIND("-----BEGIN PRIVATE KEY-----\r\n"
	    "MC4CAQAwBQYDK2VwBCIEIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
	    "-----END PRIVATE KEY-----\r\n") == DKIM_KEY_ED25519,
	    "key: PKCS#8 Ed25519, CRLF lines");
	ok(KIND("-----BEGIN PRIVATE KEY-----\nMBsCAQAwDQYJKoZIhvcNAQEBBQAEBzAFAgEA"
	    "AgEA\n-----END PRIVATE KEY-----\n") == DKIM_KEY_RSA,
	    "key: PKCS#8 RSA");
	ok(KIND("comment\n-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"
	    "-----END RSA PRIVATE KEY-----\n") == DKIM_KEY_RSA,
	    "key: PKCS#1 RSA, after a comment");
	ok(KIND("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
	    "-----END ENCRYPTED PRIVATE KEY-----\n") == DKIM_KEY_UNKNOWN,
	    "key: encrypted: unknown");
	ok(KIND("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VxBCIEIAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n-----END PRIVATE KEY-----\n") ==
	    DKIM_KEY_UNKNOWN, "key: PKCS#8 Ed448: unknown");
	ok(KIND("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n") == DKIM_KEY_UNKNOWN,
	    "key: no END line: unknown");
	ok(KIND("-----BEGIN PRIVATE KEY-----\nMC4C*AQAw\n"
	    "-----END PRIVATE KEY-----\n") == DKIM_KEY_UNKNOWN,
	    "key: not base64: unknown");
	ok(KIND("v=DKIM1; k=rsa; p=MIIB") == DKIM_KEY_UNKNOWN,
	    "key: not PEM: unknown");
	return tap_done();
}
