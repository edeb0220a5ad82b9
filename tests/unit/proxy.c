/*
 * proxy.c: unit tests for common/proxy.c (the PROXY protocol header).
 * Every header is also offered one byte at a time: each shorter prefix
 * must say "not yet" (0), never a length or a refusal.
 */
#include <sys/socket.h>
#include <arpa/inet.h>

#include <string.h>

#include "common.h"
#include "tap.h"

static int
parse(const void *b, size_t len, struct proxy *p)
{
	struct proxy q;
	size_t i;
	int r, seen = 0, k;

	r = proxy_parse(b, len, p);
	for (i = 0; i < (r > 0 ? (size_t)r : len); i++) {
		k = proxy_parse(b, i, &q);
		/* A refusal may come early, but stays; a length never. */
		if (k > 0 || (k == 0 && seen) || (k == -1 && r != -1)) {
			tap_diag("prefix of %zu bytes: %d", i, k);
			return -2;
		}
		seen |= k == -1;
	}
	return r;
}

static void
v1(const char *s, int want, const char *what)
{
	struct proxy p;

	is_int(parse(s, strlen(s), &p), want, "v1 %s", what);
}

int
main(void)
{
	static const unsigned char sig[12] = "\r\n\r\n\0\r\nQUIT\n";
	unsigned char b[2048], a[16];
	struct proxy p;
	char buf[256];
	int n;

	n = parse("PROXY TCP4 192.0.2.1 198.51.100.2 5678 25\r\nEHLO", 47, &p);
	is_int(n, 43, "v1 TCP4: the header's length, the EHLO left");
	inet_pton(AF_INET, "192.0.2.1", a);
	ok(p.kind == PROXY_CLIENT && p.family == AF_INET &&
	    memcmp(p.addr, a, 4) == 0, "v1 TCP4: the client address");
	v1("PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n", 44, "TCP6");
	inet_pton(AF_INET6, "2001:db8::1", a);
	ok(p.kind == PROXY_CLIENT, "v1 TCP6");
	parse("PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n", 44, &p);
	ok(p.family == AF_INET6 && memcmp(p.addr, a, 16) == 0,
	    "v1 TCP6: the client address");
	n = parse("PROXY UNKNOWN ffff::1 x y z\r\n", 29, &p);
	ok(n == 29 && p.kind == PROXY_UNKNOWN, "v1 UNKNOWN, rest ignored");
	v1("PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n", -1, "TCP4 with IPv6");
	v1("PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n", -1, "leading zero");
	v1("PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", -1, "port 65536");
	v1("PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n", -1, "two spaces");
	v1("PROXY TCP4 192.0.2.1 192.0.2.2 1 2 3\r\n", -1, "extra field");
	v1("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", -1, "bare LF");
	v1("PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n", -1, "UDP4");
	v1("EHLO client.test\r\n", -1, "missing: a command instead");
	v1("PROXY TCP4 192.0.2.1 192.0.2.2 1 2\rX", -1, "CR, not CRLF");
	memset(buf, '1', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	is_int(proxy_parse((unsigned char *)buf, 106, &p), 0,
	    "v1 106 octets without LF: not yet");
	is_int(proxy_parse((unsigned char *)buf, 107, &p), -1,
	    "v1 107 octets without LF: oversized");
	memcpy(buf + 105, "\r\n", 2);
	is_int(proxy_parse((unsigned char *)buf, 107, &p), 107,
	    "v1 of 107 octets with CRLF: at the limit");

	/* v2 PROXY TCP over IPv4, a TLV, then SMTP. */
	memcpy(b, sig, 12);
	b[12] = 0x21;
	b[13] = 0x11;
	b[14] = 0;
	b[15] = 12 + 5;
	memcpy(b + 16, "\xc0\x00\x02\x07\xc6\x33\x64\x02\x16\x2e\x00\x19", 12);
	memcpy(b + 28, "\x04\x00\x02xy", 5);
	memcpy(b + 33, "EHLO", 4);
	is_int(parse(b, 37, &p), 33, "v2 PROXY IPv4 with a TLV");
	ok(p.kind == PROXY_CLIENT && p.family == AF_INET &&
	    memcmp(p.addr, "\xc0\x00\x02\x07", 4) == 0, "v2 IPv4 address");
	b[29] = 1;		/* TLV says 258 bytes: past the block */
	is_int(parse(b, 37, &p), -1, "v2 TLV longer than the block");
	b[29] = 0;
	b[15] = 11;		/* shorter than the addresses */
	is_int(proxy_parse(b, 37, &p), -1, "v2 length under the addresses");
	b[14] = 4;		/* 16 + 1035 > PROXY_V2_MAX */
	b[15] = 11;
	is_int(proxy_parse(b, 16, &p), -1, "v2 oversized length");
	b[14] = 0;
	b[12] = 0x20;		/* LOCAL, no addresses */
	b[15] = 0;
	is_int(parse(b, 16, &p), 16, "v2 LOCAL");
	ok(p.kind == PROXY_LOCAL, "v2 LOCAL kind");
	b[12] = 0x22;
	is_int(proxy_parse(b, 16, &p), -1, "v2 command 2");
	b[12] = 0x11;
	is_int(proxy_parse(b, 16, &p), -1, "v2 version 1");
	b[12] = 0x21;
	b[13] = 0x21;
	b[15] = 36;
	memset(b + 16, 0, 36);
	b[31] = 1;
	is_int(parse(b, 52, &p), 52, "v2 PROXY IPv6");
	ok(p.family == AF_INET6 && p.addr[15] == 1, "v2 IPv6 address");
	b[13] = 0x31;
	is_int(proxy_parse(b, 52, &p), -1, "v2 AF_UNIX refused");
	b[13] = 0x12;
	is_int(proxy_parse(b, 52, &p), -1, "v2 UDP refused");
	b[5] = 'x';
	is_int(proxy_parse(b, 52, &p), -1, "v2 bad signature");
	return tap_done();
}
