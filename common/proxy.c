/*
 * proxy.c: the PROXY protocol header (HAProxy's v1 text and v2 binary)
 * that a load balancer sends before the client's first byte.
 *
 * proxy_parse() is pure: it looks at the bytes received so far and says
 * whether they are a whole header (and how long), not yet one, or never
 * one.  Nothing past the header is looked at, so what follows it stays
 * the client's SMTP.  Strict: one space between v1 fields, addresses of
 * the family named, ports 0-65535 without leading zeros; v2 version 2,
 * command LOCAL or PROXY, a length that holds the addresses and TLVs that
 * tile the rest exactly.  smtpd -P reads it (smtpd/balancer.c).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "common.h"

static const unsigned char v2_sig[12] = {
	'\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q', 'U', 'I', 'T', '\n'
};
static const unsigned char v1_sig[6] = { 'P', 'R', 'O', 'X', 'Y', ' ' };

/* A v1 port: decimal 0-65535, no leading zero. */
static int
v1_port(const char *s, size_t len)
{
	unsigned long n = 0;
	size_t i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned long)(s[i] - '0');
	}
	return n > 65535 ? -1 : 0;
}

/* "PROXY TCP4 src dst sport dport" (CRLF removed), len < PROXY_V1_MAX. */
static int
v1_line(const char *line, size_t len, struct proxy *p)
{
	char buf[PROXY_V1_MAX + 1], *field[6], *s;
	unsigned char dst[16];
	size_t n = 0, i;
	int family;

	memcpy(buf, line, len);
	buf[len] = '\0';
	for (s = buf; n < 6; n++) {
		field[n] = s;
		if ((s = strchr(s, ' ')) == NULL) {
			n++;
			break;
		}
		*s++ = '\0';
	}
	if (strcmp(field[0], "PROXY") != 0 || n < 2)
		return -1;
	if (strcmp(field[1], "UNKNOWN") == 0) {
		/* The rest is to be ignored (the spec, 2.1). */
		p->kind = PROXY_UNKNOWN;
		return 0;
	}
	if (s != NULL || n != 6)
		return -1;
	if (strcmp(field[1], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(field[1], "TCP6") == 0)
		family = AF_INET6;
	else
		return -1;
	if (inet_pton(family, field[2], p->addr) != 1 ||
	    inet_pton(family, field[3], dst) != 1)
		return -1;
	for (i = 4; i < 6; i++)
		if (v1_port(field[i], strlen(field[i])) == -1)
			return -1;
	p->kind = PROXY_CLIENT;
	p->family = family;
	return 0;
}

/* TLVs (type, 2-byte length, value) must tile the block exactly. */
static int
v2_tlvs(const unsigned char *b, size_t len)
{
	size_t n;

	while (len > 0) {
		if (len < 3)
			return -1;
		n = (size_t)b[1] << 8 | b[2];
		if (n > len - 3)
			return -1;
		b += 3 + n;
		len -= 3 + n;
	}
	return 0;
}

int
proxy_parse(const unsigned char *b, size_t len, struct proxy *p)
{
	size_t i, n, need;
	unsigned fam;

	memset(p, 0, sizeof(*p));
	if (len == 0)
		return 0;
	if (b[0] == 'P') {
		for (i = 0; i < len && i < PROXY_V1_MAX; i++) {
			if (i < sizeof(v1_sig) && b[i] != v1_sig[i])
				return -1;
			if (b[i] == '\n')
				return i > 0 && b[i - 1] == '\r' &&
				    v1_line((const char *)b, i - 1, p) == 0 ?
				    (int)i + 1 : -1;
			if (b[i] == '\r' && i + 1 < len && b[i + 1] != '\n')
				return -1;
			if (b[i] != '\r' && (b[i] < 32 || b[i] > 126))
				return -1;
		}
		return i == PROXY_V1_MAX ? -1 : 0;	/* too long: no LF */
	}
	for (i = 0; i < len && i < sizeof(v2_sig); i++)
		if (b[i] != v2_sig[i])
			return -1;
	if (len < 16)
		return len > 12 && (b[12] >> 4) != 2 ? -1 : 0;
	n = (size_t)b[14] << 8 | b[15];
	if ((b[12] >> 4) != 2 || (b[12] & 0x0f) > 1 || 16 + n > PROXY_V2_MAX)
		return -1;
	fam = b[13];
	need = 0;
	if ((b[12] & 0x0f) == 1) {
		if (fam == 0x11)
			need = 12;	/* TCP over IPv4 */
		else if (fam == 0x21)
			need = 36;	/* TCP over IPv6 */
		else if (fam != 0x00)
			return -1;	/* UNIX, UDP: not an SMTP client */
		if (n < need)
			return -1;
	}
	if (len < 16 + n)
		return 0;
	if (v2_tlvs(b + 16 + need, n - need) == -1)
		return -1;
	if ((b[12] & 0x0f) == 0)
		p->kind = PROXY_LOCAL;
	else if (fam == 0x00)
		p->kind = PROXY_UNKNOWN;
	else {
		p->kind = PROXY_CLIENT;
		p->family = fam == 0x11 ? AF_INET : AF_INET6;
		memcpy(p->addr, b + 16, fam == 0x11 ? 4 : 16);
	}
	return (int)(16 + n);
}
