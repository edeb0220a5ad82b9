/*
 * base64.c: RFC 4648 section 4 base64, as SASL (RFC 4954) carries it.
 *
 * base64_decode() is strict, since its input comes from the network: only
 * the 64 letters, '=' padding only at the end and only as much as the
 * length needs, the length a multiple of four, unused bits zero.  Anything
 * else is an error, so one string has exactly one meaning.
 */
#include <errno.h>
#include <string.h>

#include "common.h"

static const char letters[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The value of one letter, or -1. */
static int
base64_value(unsigned char c)
{
	const char *p;

	if (c == '\0' || (p = strchr(letters, c)) == NULL)
		return -1;
	return (int)(p - letters);
}

int
base64_encode(const void *in, size_t len, char *out, size_t size)
{
	const unsigned char *p = in;
	unsigned long v;
	size_t i, n = 0;

	if (size == 0 || (len + 2) / 3 * 4 >= size) {
		errno = ENOBUFS;
		return -1;
	}
	for (i = 0; i < len; i += 3) {
		v = (unsigned long)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned long)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		out[n++] = letters[(v >> 18) & 63];
		out[n++] = letters[(v >> 12) & 63];
		out[n++] = i + 1 < len ? letters[(v >> 6) & 63] : '=';
		out[n++] = i + 2 < len ? letters[v & 63] : '=';
	}
	out[n] = '\0';
	return (int)n;
}

int
base64_decode(const char *in, void *out, size_t size, size_t *len)
{
	unsigned char *o = out;
	size_t inlen = strlen(in), i, n = 0;
	unsigned long v;
	int c[4], k, pad;

	if (inlen % 4 != 0 || inlen / 4 * 3 > size)
		return -1;
	for (i = 0; i < inlen; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == inlen && k >= 2 &&
			    (k == 3 || in[i + 3] == '=')) {
				c[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (c[k] = base64_value(
			    (unsigned char)in[i + k])) == -1)
				return -1;
		}
		v = (unsigned long)c[0] << 18 | (unsigned long)c[1] << 12 |
		    (unsigned long)c[2] << 6 | (unsigned long)c[3];
		/* RFC 4648 3.5: the bits padding covers must be zero. */
		if ((pad == 1 && (v & 0xff) != 0) ||
		    (pad == 2 && (v & 0xffff) != 0))
			return -1;
		o[n++] = (unsigned char)(v >> 16);
		if (pad < 2)
			o[n++] = (unsigned char)(v >> 8);
		if (pad < 1)
			o[n++] = (unsigned char)v;
	}
	*len = n;
	return 0;
}
