/*
 * fuzz_dns.c: dns_mx(), dns_addr(), dns_tlsa(), dns_txt(), dns_next(),
 * dns_rr_txt() and dns_rdata_name() (common/dns.c) on any bytes, as a
 * resolver we do not control could answer.
 *
 * Input: one byte choosing max (0 to DNS_MX_MAX), then the message.  The
 * name asked for is "example.org", which the seeds' questions use.
 * Checked: nothing is read outside the message (ASan); *n is at most max
 * and 0 unless DNS_OK; every host kept is a lower-case host name of at
 * most DNS_NAME_MAX octets, none twice; the records dns_next() walks lie
 * inside the message; and the same message gives the same result.
 * dns_addr(), as an A and as an AAAA answer: at most max addresses, none
 * unless DNS_OK, none twice, an A's last 12 octets zero.
 * TLSA (asked for "_25._tcp.example.org" too): at most max records, none
 * unless DNS_OK, each one's data within its bound; TXT: at most max,
 * each a NUL-terminated string of printable octets within DNS_TXT_MAX.
 * dns_rr_txt() and dns_rdata_name() on each record: text no longer than
 * the record and without NUL, a host name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_host(const char *h)
{
	size_t len = strlen(h), i;

	if (len == 0 || len > DNS_NAME_MAX)
		abort();
	for (i = 0; i < len; i++)
		if ((h[i] >= 'A' && h[i] <= 'Z') || h[i] == ' ' ||
		    (unsigned char)h[i] < 33 || (unsigned char)h[i] > 126)
			abort();
}

static void
check_tlsa(const uint8_t *data, size_t size, size_t max)
{
	static struct dns_tlsa t[DNS_TLSA_MAX];
	enum dns_status st;
	size_t n, i;

	if (max > DNS_TLSA_MAX)
		max = DNS_TLSA_MAX;
	st = dns_tlsa(data, size, "_25._tcp.example.org", t, max, &n);
	if (n > max || (st != DNS_OK && n != 0) || (st == DNS_OK && n == 0))
		abort();
	for (i = 0; i < n; i++)
		if (t[i].usage > 255 || t[i].selector > 255 ||
		    t[i].mtype > 255 || t[i].len > DNS_TLSA_DATA_MAX)
			abort();
}

static void
check_txt(const uint8_t *data, size_t size, size_t max)
{
	static char txt[DNS_TXT_RECORDS_MAX][DNS_TXT_MAX + 1];
	enum dns_status st;
	size_t n, i, len, k;

	if (max > DNS_TXT_RECORDS_MAX)
		max = DNS_TXT_RECORDS_MAX;
	st = dns_txt(data, size, "example.org", txt, max, &n);
	if (n > max || (st != DNS_OK && n != 0) || (st == DNS_OK && n == 0))
		abort();
	for (i = 0; i < n; i++) {
		len = strnlen(txt[i], DNS_TXT_MAX + 1);
		if (len > DNS_TXT_MAX)
			abort();
		for (k = 0; k < len; k++)
			if ((unsigned char)txt[i][k] < 0x20 || txt[i][k] == 0x7f)
				abort();
	}
}

/* dns_addr() on the message as an answer of type. */
static void
check_addr(const uint8_t *data, size_t size, size_t max, unsigned type)
{
	static const unsigned char zero[12];
	unsigned char addr[DNS_MX_MAX][16];
	char cname[DNS_NAME_MAX + 1];
	enum dns_status st;
	size_t n, i, j;

	st = dns_addr(data, size, "example.org", type, addr, max, &n, cname,
	    sizeof(cname));
	if (n > max || (st != DNS_OK && n != 0) || (st == DNS_OK && n == 0))
		abort();
	if (st != DNS_NODATA && cname[0] != '\0')
		abort();
	if (cname[0] != '\0')
		check_host(cname);
	for (i = 0; i < n; i++) {
		if (type == DNS_TYPE_A && memcmp(addr[i] + 4, zero, 12) != 0)
			abort();
		for (j = 0; j < i; j++)
			if (memcmp(addr[i], addr[j], 16) == 0)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_mx mx[DNS_MX_MAX], again[DNS_MX_MAX];
	struct dns_answer a;
	struct dns_rr rr;
	enum dns_status st;
	char cname[DNS_NAME_MAX + 1], txt[DNS_MSG_MAX];
	size_t max, n, n2, i, j;
	int len;

	if (size < 1)
		return 0;
	max = data[0] % (DNS_MX_MAX + 1);
	data++;
	size--;
	st = dns_mx(data, size, "example.org", mx, max, &n, cname, sizeof(cname));
	if (n > max || (st != DNS_OK && n != 0) || (st == DNS_OK && n == 0))
		abort();
	for (i = 0; i < n; i++) {
		check_host(mx[i].host);
		if (mx[i].pref > 65535)
			abort();
		for (j = 0; j < i; j++)
			if (strcmp(mx[i].host, mx[j].host) == 0)
				abort();
	}
	if (st != DNS_NODATA && cname[0] != '\0')
		abort();
	if (cname[0] != '\0')
		check_host(cname);
	if (dns_mx(data, size, "example.org", again, max, &n2, cname,
	    sizeof(cname)) != st || n2 != n)
		abort();
	for (i = 0; i < n; i++)
		if (again[i].pref != mx[i].pref ||
		    strcmp(again[i].host, mx[i].host) != 0)
			abort();
	dns_mx_order(mx, n, size);
	for (i = 1; i < n; i++)
		if (mx[i - 1].pref > mx[i].pref)
			abort();
	check_tlsa(data, size, max);
	check_txt(data, size, max);
	check_addr(data, size, max, DNS_TYPE_A);
	check_addr(data, size, max, DNS_TYPE_AAAA);
	if (dns_open(&a, data, size) == DNS_OK) {
		while (dns_next(&a, &rr) == 1) {
			if (rr.rdata > size || rr.rdlen > size - rr.rdata)
				abort();
			/* A TXT record's text is shorter than the record
			 * and holds no NUL; a PTR's name is a host name. */
			len = dns_rr_txt(&a, &rr, txt, sizeof(txt));
			if (len >= 0 && ((size_t)len >= rr.rdlen + (rr.rdlen == 0) ||
			    strlen(txt) != (size_t)len))
				abort();
			if (dns_rdata_name(&a, &rr, cname, sizeof(cname)) == 0)
				check_host(cname);
		}
	}
	return 0;
}
