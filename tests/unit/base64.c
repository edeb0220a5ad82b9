/*
 * base64.c: unit tests for common/base64.c: the RFC 4648 section 10 test
 * vectors both ways, SASL PLAIN's NULs, and every kind of malformed input
 * the decoder must refuse.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "tap.h"

static const struct {
	const char	*plain;
	const char	*coded;
} vectors[] = {
	/* RFC 4648 10 */
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
	/* the LOGIN prompts smtpd sends */
	{ "Username:", "VXNlcm5hbWU6" },
	{ "Password:", "UGFzc3dvcmQ6" },
};

static const char *const malformed[] = {
	"Zg=",		/* length not a multiple of four */
	"Zg",		/* padding missing */
	"Z===",		/* too much padding */
	"====",
	"Zg==Zm8=",	/* padding in the middle */
	"Zm=v",		/* '=' before a letter */
	"Zh==",		/* non-zero bits under the padding */
	"Zm9=",
	"Zm9v\r\n",	/* line breaks are not base64 */
	"Zm 9v",
	"Zm9-",		/* base64url letters */
	"Zm9_",
	"Zm9v*",
	"\xc3\xa9xyz",	/* 8-bit */
};

int
main(void)
{
	char text[64], name[128];
	unsigned char bytes[64];
	size_t i, len;
	int n;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = base64_encode(vectors[i].plain, strlen(vectors[i].plain),
		    text, sizeof(text));
		snprintf(name, sizeof(name), "encode \"%s\"", vectors[i].plain);
		ok(n == (int)strlen(vectors[i].coded) &&
		    strcmp(text, vectors[i].coded) == 0, "%s", name);
		snprintf(name, sizeof(name), "decode \"%s\"", vectors[i].coded);
		ok(base64_decode(vectors[i].coded, bytes, sizeof(bytes),
		    &len) == 0 && len == strlen(vectors[i].plain) &&
		    memcmp(bytes, vectors[i].plain, len) == 0, "%s", name);
	}

	/* AUTH PLAIN's "\0user\0password" round trip, NULs kept */
	n = base64_encode("\0tim\0tanstaaftanstaaf", 21, text, sizeof(text));
	ok(n > 0 && strcmp(text, "AHRpbQB0YW5zdGFhZnRhbnN0YWFm") == 0,
	    "encode RFC 4616's PLAIN example");
	ok(base64_decode(text, bytes, sizeof(bytes), &len) == 0 &&
	    len == 21 && memcmp(bytes, "\0tim\0tanstaaftanstaaf", 21) == 0,
	    "decode it back, NULs included");

	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		snprintf(name, sizeof(name), "refuse malformed \"%s\"",
		    malformed[i]);
		ok(base64_decode(malformed[i], bytes, sizeof(bytes), &len) ==
		    -1, "%s", name);
	}

	/* bounds: at the output size and one past it */
	ok(base64_decode("Zm9vYmFy", bytes, 6, &len) == 0 && len == 6,
	    "decode into exactly enough room");
	ok(base64_decode("Zm9vYmFy", bytes, 5, &len) == -1,
	    "refuse to decode into one byte too few");
	ok(base64_encode("foobar", 6, text, 9) == 8,
	    "encode into exactly enough room (8 + NUL)");
	ok(base64_encode("foobar", 6, text, 8) == -1,
	    "refuse to encode without room for the NUL");
	ok(base64_encode("", 0, text, 0) == -1, "refuse a zero-sized buffer");
	return tap_done();
}
