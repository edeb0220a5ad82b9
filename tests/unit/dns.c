/*
 * dns.c: unit tests for common/dns.c: MX answers built octet by octet as
 * a resolver would send them (RFC 1035 4.1), with compression, CNAMEs,
 * the null MX of RFC 7505, every rcode the caller acts on, and the
 * malformed shapes a hostile resolver could send.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "tap.h"

/* A message under construction. */
struct msg {
	unsigned char	b[1024];
	size_t		len;
};

static void
put(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void
put16(struct msg *m, unsigned v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	put(m, b, 2);
}

/* A name in wire form from "a.b.c" ("" for the root). */
static void
put_name(struct msg *m, const char *name)
{
	const char *dot;
	unsigned char n;

	while (*name != '\0') {
		dot = strchr(name, '.');
		n = (unsigned char)(dot != NULL ? (size_t)(dot - name) :
		    strlen(name));
		put(m, &n, 1);
		put(m, name, n);
		name += n;
		if (*name == '.')
			name++;
	}
	put(m, "", 1);
}

/* A response header: flags3 (QR etc.), flags4 (AD, rcode), one question
 * for qname type MX, ancount answers to follow. */
static void
header(struct msg *m, unsigned flags3, unsigned flags4, unsigned ancount,
    const char *qname)
{
	m->len = 0;
	put16(m, 0x1234);
	m->b[m->len++] = (unsigned char)(0x80 | flags3);
	m->b[m->len++] = (unsigned char)flags4;
	put16(m, 1);
	put16(m, ancount);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, 15);
	put16(m, 1);
}

/* An answer record's fixed part: owner as a pointer to the question's
 * name (offset 12), type, class IN, TTL, rdlength. */
static void
rr_head(struct msg *m, unsigned type, unsigned rdlen)
{
	put16(m, 0xc000 | 12);
	put16(m, type);
	put16(m, 1);
	put16(m, 0);
	put16(m, 300);
	put16(m, rdlen);
}

static void
mx_rr(struct msg *m, unsigned pref, const char *host)
{
	struct msg n = { .len = 0 };

	put_name(&n, host);
	rr_head(m, 15, 2 + (unsigned)n.len);
	put16(m, pref);
	put(m, n.b, n.len);
}

int
main(void)
{
	struct dns_mx mx[DNS_MX_MAX];
	struct msg m;
	size_t n, i, at;
	enum dns_status st;
	char cname[DNS_NAME_MAX + 1], txt[64];
	int seen_first[2] = { 0, 0 };
	struct dns_answer a;
	struct dns_rr rr;

	header(&m, 0, 0, 2, "example.org");
	mx_rr(&m, 20, "mx2.example.org");
	mx_rr(&m, 10, "MX1.Example.ORG");
	st = dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname));
	ok(st == DNS_OK && n == 2, "two MX records are read");
	ok(n == 2 && mx[1].pref == 10 && strcmp(mx[1].host,
	    "mx1.example.org") == 0, "host names come in lower case");
	dns_mx_order(mx, n, 7);
	ok(mx[0].pref == 10 && mx[1].pref == 20, "ordered by preference");
	st = dns_mx(m.b, m.len, "EXAMPLE.org.", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname));
	ok(st == DNS_OK && n == 2, "the name asked for matches in any case, "
	    "with a final dot");
	st = dns_mx(m.b, m.len, "example.net", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname));
	ok(st == DNS_NODATA && n == 0, "records for another name are not "
	    "answers");

	/* Equal preferences: every order is drawn, one host each first. */
	header(&m, 0, 0, 2, "example.org");
	mx_rr(&m, 10, "a.example.org");
	mx_rr(&m, 10, "b.example.org");
	for (i = 1; i <= 64; i++) {
		dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname));
		dns_mx_order(mx, n, i * 2654435761UL);
		seen_first[mx[0].host[0] == 'b']++;
	}
	ok(seen_first[0] > 8 && seen_first[1] > 8, "equal preferences are "
	    "shuffled (%d/%d)", seen_first[0], seen_first[1]);

	header(&m, 0, 0, 1, "example.org");
	mx_rr(&m, 0, "");
	st = dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname));
	ok(st == DNS_NULLMX && n == 0, "RFC 7505: 0 . is the null MX");
	header(&m, 0, 0, 2, "example.org");
	mx_rr(&m, 0, "");
	mx_rr(&m, 10, "mx.example.org");
	st = dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname));
	ok(st == DNS_OK && n == 1, "a null MX beside a real host: the host");

	header(&m, 0, 3, 0, "nx.example.org");
	ok(dns_mx(m.b, m.len, "nx.example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_NXDOMAIN, "rcode 3 is NXDOMAIN");
	header(&m, 0, 2, 0, "example.org");
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "SERVFAIL is temporary");
	header(&m, 0, 0, 0, "example.org");
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_NODATA, "no answer records: no data (implicit MX)");
	header(&m, 0x02, 0, 1, "example.org");
	mx_rr(&m, 10, "mx.example.org");
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "a truncated answer is temporary");
	header(&m, 0, 0, 1, "example.org");
	mx_rr(&m, 10, "mx.example.org");
	m.b[2] &= 0x7f;
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "a query is not an answer");

	/* A CNAME from the name asked for, then the target's MX. */
	header(&m, 0, 0x20, 2, "alias.example.org");
	at = m.len;
	{
		struct msg t = { .len = 0 };

		put_name(&t, "real.example.org");
		rr_head(&m, 5, (unsigned)t.len);
		put(&m, t.b, t.len);
	}
	put16(&m, 0xc000 | (unsigned)(at + 12));	/* owner: the target */
	put16(&m, 15);
	put16(&m, 1);
	put16(&m, 0);
	put16(&m, 60);
	put16(&m, 2 + 3 + 2);
	put16(&m, 5);
	put(&m, "\002mx", 3);
	put16(&m, 0xc000 | (unsigned)(at + 12 + 5));	/* "example.org" */
	st = dns_mx(m.b, m.len, "alias.example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname));
	ok(st == DNS_OK && n == 1 && strcmp(mx[0].host, "mx.example.org") ==
	    0, "an MX behind a CNAME, names compressed");
	{
		struct dns_answer a;

		ok(dns_open(&a, m.b, m.len) == DNS_OK && a.is_authentic,
		    "the AD bit is reported");
	}

	/* Hostile shapes. */
	header(&m, 0, 0, 1, "example.org");
	rr_head(&m, 15, 4);
	put16(&m, 10);
	put16(&m, 0xc000 | (unsigned)m.len);	/* points at itself */
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "a compression loop is malformed");
	header(&m, 0, 0, 1, "example.org");
	rr_head(&m, 15, 200);
	put16(&m, 10);
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "RDATA past the end is malformed");
	header(&m, 0, 0, 3, "example.org");
	mx_rr(&m, 10, "mx.example.org");
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "fewer records than counted is malformed");
	header(&m, 0, 0, 1, "example.org");
	mx_rr(&m, 10, "bad host.example.org");
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "an MX host that is no host name is malformed");
	header(&m, 0, 0, 1, "example.org");
	rr_head(&m, 15, 1);
	put(&m, "\0", 1);
	ok(dns_mx(m.b, m.len, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) ==
	    DNS_TEMP, "an MX record too short is malformed");
	ok(dns_mx(m.b, 5, "example.org", mx, DNS_MX_MAX, &n,
	    cname, sizeof(cname)) == DNS_TEMP,
	    "a message shorter than its header is malformed");

	header(&m, 0, 0, 20, "example.org");
	for (i = 0; i < 20; i++) {
		char host[32];

		snprintf(host, sizeof(host), "mx%zu.example.org", i);
		mx_rr(&m, 10, host);
	}
	st = dns_mx(m.b, m.len, "example.org", mx, 5, &n, cname,
	    sizeof(cname));
	ok(st == DNS_OK && n == 5, "at most max hosts are kept");

	/* dns_addr(): A and AAAA answers. */
	{
		unsigned char addr[4][16];
		static const unsigned char v6[16] = {
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 1
		};

		header(&m, 0, 0, 3, "mx.example.org");
		rr_head(&m, 1, 4);
		put(&m, "\xc0\x00\x02\x01", 4);
		rr_head(&m, 1, 4);
		put(&m, "\xc0\x00\x02\x01", 4);
		rr_head(&m, 1, 4);
		put(&m, "\xc0\x00\x02\x02", 4);
		st = dns_addr(m.b, m.len, "mx.example.org", DNS_TYPE_A, addr,
		    4, &n, cname, sizeof(cname));
		ok(st == DNS_OK && n == 2 && memcmp(addr[0],
		    "\xc0\x00\x02\x01\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0 &&
		    addr[1][3] == 2, "A records: two addresses, one listed "
		    "twice counts once");
		st = dns_addr(m.b, m.len, "mx.example.org", DNS_TYPE_AAAA,
		    addr, 4, &n, cname, sizeof(cname));
		ok(st == DNS_NODATA && n == 0, "A records are no AAAA answer");
		header(&m, 0, 0, 1, "mx.example.org");
		rr_head(&m, 28, 16);
		put(&m, v6, 16);
		st = dns_addr(m.b, m.len, "mx.example.org", DNS_TYPE_AAAA,
		    addr, 4, &n, cname, sizeof(cname));
		ok(st == DNS_OK && n == 1 && memcmp(addr[0], v6, 16) == 0,
		    "an AAAA record");
		header(&m, 0, 0, 1, "mx.example.org");
		rr_head(&m, 28, 4);
		put(&m, v6, 4);
		ok(dns_addr(m.b, m.len, "mx.example.org", DNS_TYPE_AAAA,
		    addr, 4, &n, cname, sizeof(cname)) == DNS_TEMP && n == 0,
		    "an AAAA record of 4 octets is malformed");
		header(&m, 0, 0, 1, "mx.example.org");
		rr_head(&m, 1, 5);
		put(&m, "\xc0\x00\x02\x01\x00", 5);
		ok(dns_addr(m.b, m.len, "mx.example.org", DNS_TYPE_A,
		    addr, 4, &n, cname, sizeof(cname)) == DNS_TEMP,
		    "an A record of 5 octets is malformed");
		ok(dns_addr(m.b, m.len, "mx.example.org", DNS_TYPE_MX,
		    addr, 4, &n, cname, sizeof(cname)) == DNS_TEMP,
		    "dns_addr() reads A and AAAA only");
		/* A CNAME whose target's address the answer lacks. */
		header(&m, 0, 0, 1, "alias.example.org");
		{
			struct msg t = { .len = 0 };

			put_name(&t, "real.example.org");
			rr_head(&m, 5, (unsigned)t.len);
			put(&m, t.b, t.len);
		}
		st = dns_addr(m.b, m.len, "alias.example.org", DNS_TYPE_A,
		    addr, 4, &n, cname, sizeof(cname));
		ok(st == DNS_NODATA && strcmp(cname, "real.example.org") == 0,
		    "a CNAME not followed: its target to ask for");
		at = m.len;
		put16(&m, 0xc000 | (unsigned)(at - 18));	/* the target */
		put16(&m, 1);
		put16(&m, 1);
		put16(&m, 0);
		put16(&m, 60);
		put16(&m, 4);
		put(&m, "\xc0\x00\x02\x07", 4);
		m.b[7] = 2;	/* two answers */
		st = dns_addr(m.b, m.len, "alias.example.org", DNS_TYPE_A,
		    addr, 4, &n, cname, sizeof(cname));
		ok(st == DNS_OK && n == 1 && addr[0][3] == 7 &&
		    cname[0] == '\0', "a CNAME followed in the answer");
	}
	/* TXT (RFC 1035 3.3.14) and PTR records, for smtpqctl doctor. */
	header(&m, 0, 0, 4, "example.org");
	rr_head(&m, DNS_TYPE_TXT, 16);
	put(&m, "\x0av=spf1 mx \x04-all", 16);
	rr_head(&m, DNS_TYPE_TXT, 4);
	put(&m, "\x03" "a\0b", 4);		/* a NUL */
	rr_head(&m, DNS_TYPE_TXT, 3);
	put(&m, "\x05" "ab", 3);			/* a string past the record */
	rr_head(&m, DNS_TYPE_PTR, 12);
	put_name(&m, "mx.example");
	ok(dns_open(&a, m.b, m.len) == DNS_OK && dns_next(&a, &rr) == 1 &&
	    dns_rr_txt(&a, &rr, txt, sizeof(txt)) == 14 &&
	    strcmp(txt, "v=spf1 mx -all") == 0,
	    "a TXT record's strings are joined");
	ok(dns_rr_txt(&a, &rr, txt, 14) == -1, "a TXT text over size: -1");
	ok(dns_rdata_name(&a, &rr, txt, sizeof(txt)) == -1,
	    "a TXT record has no name");
	ok(dns_next(&a, &rr) == 1 && dns_rr_txt(&a, &rr, txt,
	    sizeof(txt)) == -1, "a TXT string with a NUL: -1");
	ok(dns_next(&a, &rr) == 1 && dns_rr_txt(&a, &rr, txt,
	    sizeof(txt)) == -1, "a TXT string longer than its record: -1");
	ok(dns_next(&a, &rr) == 1 && dns_rdata_name(&a, &rr, txt,
	    sizeof(txt)) == 0 && strcmp(txt, "mx.example") == 0,
	    "a PTR record's name");
	return tap_done();
}
