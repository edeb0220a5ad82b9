/*
 * opt.c: unit tests for the small parts of common/: command-line values
 * (opt.c), networks and host:port (net.c, connect.c), the output buffer (out.c),
 * header dates (date.c) and the queue directory (queue.c).
 *
 * The queue tests work in a fresh directory under $TMPDIR (or /tmp) and
 * remove it at the end; session slots are taken by forked children.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

static void
fail(const char *what)
{
	perror(what);
	exit(1);
}

/* opt.c ----------------------------------------------------------------- */

static void
test_duration(void)
{
	static const struct {
		const char	*in;
		int		 rc;
		unsigned	 seconds;
	} cases[] = {
		{ "0", 0, 0 },
		{ "30", 0, 30 },
		{ "30s", 0, 30 },
		{ "5m", 0, 300 },
		{ "2h", 0, 7200 },
		{ "5d", 0, 432000 },
		{ "0d", 0, 0 },
		{ "007", 0, 7 },
		{ "2147483647", 0, 2147483647U },
		{ "2147483648", -1, 0 },	/* over INT_MAX */
		{ "24855d", 0, 24855U * 86400U },
		{ "24856d", -1, 0 },		/* over INT_MAX */
		{ "", -1, 0 },
		{ "-1", -1, 0 },
		{ "+1", -1, 0 },
		{ "5x", -1, 0 },
		{ "5mm", -1, 0 },
		{ "5 m", -1, 0 },
		{ " 5", -1, 0 },
		{ "5 ", -1, 0 },
		{ "m", -1, 0 },
		{ "5M", -1, 0 },		/* units are lower case */
		{ "0x10", -1, 0 },
		{ "1.5h", -1, 0 },
		{ "99999999999d", -1, 0 },
		{ "99999999999999999999999", -1, 0 },
	};
	unsigned seconds;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		seconds = 4242;
		rc = opt_duration(cases[i].in, &seconds);
		if (cases[i].rc == 0) {
			is_int(rc, 0, "opt_duration \"%s\" accepted",
			    cases[i].in);
			is_int((long)seconds, (long)cases[i].seconds,
			    "opt_duration \"%s\" is %u s", cases[i].in,
			    cases[i].seconds);
		} else
			ok(rc == -1 && seconds == 4242,
			    "opt_duration \"%s\" refused, value untouched",
			    cases[i].in);
	}
}

static void
test_number_size(void)
{
	unsigned long n;

	ok(opt_number("0", 10, &n) == 0 && n == 0, "opt_number 0");
	ok(opt_number("5", 10, &n) == 0 && n == 5, "opt_number 5, max 10");
	ok(opt_number("10", 10, &n) == 0 && n == 10,
	    "opt_number at the max accepted");
	n = 77;
	ok(opt_number("11", 10, &n) == -1 && n == 77,
	    "opt_number one over the max refused, value untouched");
	ok(opt_number("5k", 1000000, &n) == -1, "opt_number takes no unit");
	ok(opt_number("", 10, &n) == -1, "opt_number empty refused");
	ok(opt_number("-0", 10, &n) == -1, "opt_number sign refused");
	ok(opt_number("1 ", 10, &n) == -1, "opt_number trailing space");
	ok(opt_number("4294967295", ULONG_MAX, &n) == 0 &&
	    n == 4294967295UL, "opt_number 2^32 - 1");
	ok(opt_number("99999999999999999999999", ULONG_MAX, &n) == -1,
	    "opt_number overflow refused");

	ok(opt_size("10", &n) == 0 && n == 10, "opt_size 10");
	ok(opt_size("0", &n) == 0 && n == 0, "opt_size 0");
	ok(opt_size("10k", &n) == 0 && n == 10240, "opt_size 10k");
	ok(opt_size("10K", &n) == 0 && n == 10240, "opt_size 10K");
	ok(opt_size("10M", &n) == 0 && n == 10UL * 1024 * 1024,
	    "opt_size 10M");
	ok(opt_size("1G", &n) == 0 && n == 1024UL * 1024 * 1024,
	    "opt_size 1G");
	ok(opt_size("1m", &n) == -1, "opt_size lower-case m refused");
	ok(opt_size("1g", &n) == -1, "opt_size lower-case g refused");
	ok(opt_size("1KB", &n) == -1, "opt_size two-letter unit refused");
	ok(opt_size("", &n) == -1, "opt_size empty refused");
	ok(opt_size("-1", &n) == -1, "opt_size negative refused");
	ok(opt_size("k", &n) == -1, "opt_size unit alone refused");
	n = 55;
	ok(opt_size("99999999999999999999G", &n) == -1 && n == 55,
	    "opt_size overflow in the number refused");
	ok(opt_size("9999999999999G", &n) == -1 && n == 55,
	    "opt_size overflow in the scaling refused");
	ok(opt_size("99999999999999999999", &n) == -1,
	    "opt_size overflow without unit refused");
}

static void
test_hostname(void)
{
	char buf[HOST_MAX + 1], small[8];

	ok(opt_hostname("mx.example.org", buf, sizeof(buf)) == 0,
	    "opt_hostname given a valid name");
	is_str(buf, "mx.example.org", "opt_hostname copies it");
	ok(opt_hostname("bad host", buf, sizeof(buf)) == -1,
	    "opt_hostname refuses a space");
	ok(opt_hostname("-bad.org", buf, sizeof(buf)) == -1,
	    "opt_hostname refuses a leading hyphen");
	ok(opt_hostname("", buf, sizeof(buf)) == -1,
	    "opt_hostname refuses the empty name");
	ok(opt_hostname("example.org", small, sizeof(small)) == -1,
	    "opt_hostname refuses a name longer than the buffer");
	ok(opt_hostname("abcdefg", small, sizeof(small)) == 0,
	    "opt_hostname: 7 octets fit a buffer of 8");
	if (opt_hostname(NULL, buf, sizeof(buf)) == 0)
		ok(addr_domain_valid(buf),
		    "opt_hostname(NULL) gives a valid name (\"%s\")", buf);
	else
		ok(1, "opt_hostname(NULL) refuses this system's odd name");
}

/* net.c ----------------------------------------------------------------- */

static struct cidr
cidr(const char *s)
{
	struct cidr c;

	if (net_cidr_parse(s, &c) == -1) {
		fprintf(stderr, "cidr %s does not parse\n", s);
		memset(&c, 0, sizeof(c));
	}
	return c;
}

static int
matches(const char *net, const char *host)
{
	struct cidr n = cidr(net), h = cidr(host);

	return net_cidr_match(&n, &h);
}

static void
test_cidr(void)
{
	static const char *const bad[] = {
		"", "/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/x",
		"10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/ 8", "10.0.0.0 /8",
		"10.0.0/8", "256.0.0.0/8", "::1/129", "::1/", "host",
		"10.0.0.0/8/8", "1.2.3.4.5",
		"0000:0000:0000:0000:0000:0000:0000:0000:0000/1",
	};
	struct cidr c;
	size_t i;

	ok(net_cidr_parse("10.0.0.0/8", &c) == 0 && c.family == AF_INET &&
	    c.bits == 8 && c.addr[0] == 10, "10.0.0.0/8 parses");
	ok(net_cidr_parse("192.0.2.7", &c) == 0 && c.bits == 32,
	    "address without prefix is a /32");
	ok(net_cidr_parse("::1", &c) == 0 && c.family == AF_INET6 &&
	    c.bits == 128 && c.addr[15] == 1,
	    "::1 without prefix is a /128");
	ok(net_cidr_parse("2001:db8::/32", &c) == 0 && c.bits == 32 &&
	    c.addr[0] == 0x20 && c.addr[1] == 0x01 && c.addr[3] == 0xb8,
	    "2001:db8::/32 parses");
	ok(net_cidr_parse("0.0.0.0/0", &c) == 0 && c.bits == 0,
	    "0.0.0.0/0 parses");
	ok(net_cidr_parse("::/0", &c) == 0 && c.bits == 0, "::/0 parses");
	ok(net_cidr_parse("10.0.0.0/32", &c) == 0 && c.bits == 32,
	    "/32 parses");
	ok(net_cidr_parse("::/128", &c) == 0 && c.bits == 128,
	    "/128 parses");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(net_cidr_parse(bad[i], &c) == -1, "refused: \"%s\"",
		    bad[i]);

	ok(matches("0.0.0.0/0", "203.0.113.9"), "/0 matches any IPv4");
	ok(matches("10.0.0.0/8", "10.255.1.2"), "/8 matches inside");
	ok(!matches("10.0.0.0/8", "11.0.0.1"), "/8 does not match outside");
	ok(matches("192.168.1.0/24", "192.168.1.255"), "/24 matches inside");
	ok(!matches("192.168.1.0/24", "192.168.2.1"),
	    "/24 does not match the next network");
	ok(matches("192.168.1.77/24", "192.168.1.1"),
	    "host bits in the network are ignored");
	ok(matches("172.16.0.0/12", "172.31.255.255"), "/12 top matches");
	ok(!matches("172.16.0.0/12", "172.32.0.0"), "/12 next misses");
	ok(matches("192.0.2.1/32", "192.0.2.1"), "/32 matches itself");
	ok(!matches("192.0.2.1/32", "192.0.2.2"), "/32 misses a neighbour");
	ok(matches("192.0.2.1", "192.0.2.1"), "host matches itself");
	ok(!matches("192.0.2.1", "192.0.2.0"), "host misses a neighbour");
	ok(matches("192.0.2.0/31", "192.0.2.1"), "/31 matches the pair");
	ok(!matches("192.0.2.0/31", "192.0.2.2"), "/31 misses the next");
	ok(matches("::1", "::1"), "::1 matches ::1");
	ok(!matches("::1", "::2"), "::1 misses ::2");
	ok(matches("2001:db8::/32", "2001:db8:ffff::1"), "2001:db8::/32 in");
	ok(!matches("2001:db8::/32", "2001:db9::1"), "2001:db8::/32 out");
	ok(matches("::/0", "2001:db8::1"), "::/0 matches any IPv6");
	ok(matches("2001:db8::/33", "2001:db8:7fff::1"), "/33 in");
	ok(!matches("2001:db8::/33", "2001:db8:8000::1"), "/33 out");
	ok(!matches("0.0.0.0/0", "::1"), "IPv4 /0 never matches IPv6");
	ok(!matches("::/0", "127.0.0.1"), "IPv6 /0 never matches IPv4");
	ok(!matches("::/0", "0.0.0.0"), "v6 vs v4, all zero bytes");
}

static void
test_hostport(void)
{
	static const struct {
		const char	*in;
		int		 rc;
		const char	*host, *port;
	} cases[] = {
		{ "host", 0, "host", "25" },
		{ "host:25", 0, "host", "25" },
		{ "relay.example.org:2525", 0, "relay.example.org", "2525" },
		{ "192.0.2.1:587", 0, "192.0.2.1", "587" },
		{ "[::1]:2525", 0, "::1", "2525" },
		{ "[::1]", 0, "::1", "25" },
		{ "::1", 0, "::1", "25" },
		{ "2001:db8::1", 0, "2001:db8::1", "25" },
		{ "[2001:db8::1]:26", 0, "2001:db8::1", "26" },
		{ "host:", -1, NULL, NULL },
		{ "host:x", -1, NULL, NULL },
		{ "host:25x", -1, NULL, NULL },
		{ "host:-1", -1, NULL, NULL },
		{ "[::1", -1, NULL, NULL },
		{ "[::1]:", -1, NULL, NULL },
		{ "[::1]x", -1, NULL, NULL },
		{ "[::1]25", -1, NULL, NULL },
		{ "[]", -1, NULL, NULL },
		{ "[]:25", -1, NULL, NULL },
		{ "", -1, NULL, NULL },
		{ ":25", -1, NULL, NULL },
	};
	char host[64], port[8], small[4];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(host, "?");
		strcpy(port, "?");
		rc = connect_split_hostport(cases[i].in, host, sizeof(host), port,
		    sizeof(port), "25");
		if (cases[i].rc == -1) {
			is_int(rc, -1, "hostport \"%s\" refused",
			    cases[i].in);
			continue;
		}
		ok(rc == 0 && strcmp(host, cases[i].host) == 0 &&
		    strcmp(port, cases[i].port) == 0,
		    "hostport \"%s\" is host \"%s\" port \"%s\"", cases[i].in,
		    cases[i].host, cases[i].port);
	}
	ok(connect_split_hostport("abcd:25", small, sizeof(small), port,
	    sizeof(port), "25") == -1, "hostport: host too long for buffer");
	ok(connect_split_hostport("abc:25", small, sizeof(small), port,
	    sizeof(port), "25") == 0, "hostport: host fits buffer exactly");
	ok(connect_split_hostport("a:1234567", host, sizeof(host), port,
	    sizeof(port), "25") == 0, "hostport: 7-digit port fits 8");
	ok(connect_split_hostport("a:12345678", host, sizeof(host), port,
	    sizeof(port), "25") == -1, "hostport: port too long for buffer");
}

/* out.c ----------------------------------------------------------------- */

static size_t
read_all(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size && (n = read(fd, buf + got, size - got)) > 0)
		got += (size_t)n;
	return got;
}

static void
test_out(void)
{
	char got[256], tmpl[] = "/tmp/unit-out-XXXXXX";
	char tmpl2[] = "/tmp/unit-out-XXXXXX";
	size_t big = 3 * IO_BUFSIZE + 17, i, n;
	char *data, *back;
	struct out o;
	int p[2], fd;

	if (pipe(p) == -1)
		fail("pipe");
	out_init(&o, p[1]);
	ok(out_puts(&o, "From: <a@b>\n") == 0, "out_puts buffers");
	ok(out_printf(&o, "To: <%s@%s>\n", "c", "d") == 0,
	    "out_printf buffers");
	ok(out_write(&o, "x\0y\n", 4) == 0, "out_write buffers a NUL too");
	is_int((long)o.len, 12 + 10 + 4, "all of it still in the buffer");
	ok(out_flush(&o) == 0, "out_flush succeeds");
	is_int((long)o.len, 0, "buffer empty after flush");
	close(p[1]);
	n = read_all(p[0], got, sizeof(got));
	ok(n == 26 && memcmp(got, "From: <a@b>\nTo: <c@d>\nx\0y\n", 26) == 0,
	    "the pipe got every byte in order");
	close(p[0]);

	/* More than the buffer holds, through a file. */
	if ((fd = mkstemp(tmpl)) == -1)
		fail("mkstemp");
	unlink(tmpl);
	if ((data = malloc(big)) == NULL || (back = malloc(big + 1)) == NULL)
		fail("malloc");
	for (i = 0; i < big; i++)
		data[i] = (char)('a' + i % 23);
	out_init(&o, fd);
	ok(out_write(&o, data, 1000) == 0 &&
	    out_write(&o, data + 1000, big - 1000) == 0,
	    "out_write of 3 x 64 KiB succeeds");
	ok(out_flush(&o) == 0, "and flushes");
	lseek(fd, 0, SEEK_SET);
	ok(read_all(fd, back, big + 1) == big && memcmp(data, back, big) == 0,
	    "the file holds exactly what was written");
	close(fd);
	free(data);
	free(back);

	/* A closed pipe: EPIPE (SIGPIPE is ignored), and it sticks. */
	if (pipe(p) == -1)
		fail("pipe");
	close(p[0]);
	out_init(&o, p[1]);
	ok(out_puts(&o, "250 ok\r\n") == 0, "buffering to a dead pipe works");
	errno = 0;
	ok(out_flush(&o) == -1 && errno == EPIPE,
	    "out_flush to a closed pipe fails with EPIPE");
	is_int(o.error, EPIPE, "the error is kept");
	errno = 0;
	ok(out_puts(&o, "more") == -1 && errno == EPIPE,
	    "later out_puts fails at once");
	ok(out_printf(&o, "%d", 1) == -1, "later out_printf fails");
	ok(out_write(&o, "", 0) == -1, "later empty out_write fails");
	ok(out_flush(&o) == -1 && errno == EPIPE, "later out_flush fails");
	close(p[1]);

	/* out_printf: long lines, a nearly full buffer, and too much. */
	if ((fd = mkstemp(tmpl2)) == -1)
		fail("mkstemp");
	unlink(tmpl2);
	if ((data = malloc(IO_BUFSIZE + 1)) == NULL ||
	    (back = malloc(2 * IO_BUFSIZE)) == NULL)
		fail("malloc");
	memset(data, 'h', 2000);
	data[2000] = '\0';
	out_init(&o, fd);
	ok(out_printf(&o, "<%s>", data) == 0,
	    "out_printf of 2002 octets succeeds");
	memset(data, 'w', IO_BUFSIZE - 2002 - 10);
	ok(out_write(&o, data, IO_BUFSIZE - 2002 - 10) == 0,
	    "buffer filled to 10 octets short");
	ok(out_printf(&o, "%s|%d|", "0123456789", 42) == 0,
	    "out_printf of 14 octets into the last 10 succeeds");
	is_int((long)o.len, 14, "by flushing the full buffer first");
	ok(out_flush(&o) == 0, "flushed");
	lseek(fd, 0, SEEK_SET);
	n = read_all(fd, back, 2 * IO_BUFSIZE);
	ok(n == IO_BUFSIZE - 10 + 14 && back[0] == '<' && back[2001] == '>' &&
	    back[2002] == 'w' && back[IO_BUFSIZE - 11] == 'w' &&
	    memcmp(back + IO_BUFSIZE - 10, "0123456789|42|", 14) == 0,
	    "the file holds all of it, in order");
	memset(data, 'x', IO_BUFSIZE);
	data[IO_BUFSIZE] = '\0';
	errno = 0;
	ok(out_printf(&o, "%s", data) == -1 && errno == EOVERFLOW,
	    "out_printf of 64 KiB (over the buffer) fails with EOVERFLOW");
	is_int(o.error, EOVERFLOW, "and the error sticks");
	ok(out_puts(&o, "after") == -1 && out_flush(&o) == -1,
	    "so later writes and the flush fail: one check at the end sees it");
	is_int((long)lseek(fd, 0, SEEK_END), IO_BUFSIZE - 10 + 14,
	    "nothing more reached the file");
	memset(data, 'x', IO_BUFSIZE - 1);
	data[IO_BUFSIZE - 1] = '\0';
	out_init(&o, fd);
	ok(out_puts(&o, "ab") == 0 && out_printf(&o, "%s", data) == 0 &&
	    o.len == IO_BUFSIZE - 1, "out_printf of 64 KiB - 1 fits");
	close(fd);
	free(data);
	free(back);
}

/* date.c ---------------------------------------------------------------- */

/* Whether s is exactly "Ddd, D Mmm YYYY HH:MM:SS +ZZZZ" (D: 1 or 2). */
static int
is_rfc5322_date(const char *s)
{
	static const char *const days[] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char *const months[] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	char day[4], month[4], sign, again[64];
	int mday, year, hh, mm, ss, zone, n = -1, found = 0;
	size_t i;

	if (sscanf(s, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %c%4d%n",
	    day, &mday, month, &year, &hh, &mm, &ss, &sign, &zone, &n) != 9 ||
	    n < 0 || s[n] != '\0')
		return 0;
	for (i = 0; i < 7; i++)
		found += strcmp(day, days[i]) == 0;
	for (i = 0; i < 12; i++)
		found += strcmp(month, months[i]) == 0;
	if (found != 2 || mday < 1 || mday > 31 || hh > 23 || mm > 59 ||
	    ss > 60 || (sign != '+' && sign != '-'))
		return 0;
	/* Printed back the one right way, it must be the same string. */
	snprintf(again, sizeof(again), "%s, %d %s %04d %02d:%02d:%02d %c%04d",
	    day, mday, month, year, hh, mm, ss, sign, zone);
	return strcmp(again, s) == 0;
}

static void
test_date(void)
{
	char buf[64];

	ok(is_rfc5322_date("Thu, 1 Jan 1970 00:00:00 +0000"),
	    "date checker accepts a good date");
	ok(!is_rfc5322_date("Thu, 01 Jan 1970 00:00:00 +0000") &&
	    !is_rfc5322_date("Thu, 1 Jan 1970 0:00:00 +0000") &&
	    !is_rfc5322_date("Thu, 1 Jan 1970 00:00:00 UTC") &&
	    !is_rfc5322_date("Thu, 1 Jan 1970 00:00:00 +0000 ") &&
	    !is_rfc5322_date("Thx, 1 Jan 1970 00:00:00 +0000"),
	    "date checker refuses near misses");

	ok(date_rfc5322(time(NULL), buf, sizeof(buf)) == 0,
	    "date_rfc5322 now succeeds");
	ok(is_rfc5322_date(buf), "now: \"%s\" has the RFC 5322 form", buf);

	setenv("TZ", "UTC0", 1);
	tzset();
	ok(date_rfc5322(0, buf, sizeof(buf)) == 0, "the epoch in UTC");
	is_str(buf, "Thu, 1 Jan 1970 00:00:00 +0000", "the epoch's text");
	date_rfc5322(951827696, buf, sizeof(buf));
	is_str(buf, "Tue, 29 Feb 2000 12:34:56 +0000", "a leap day");
	date_rfc5322(1767225599, buf, sizeof(buf));
	is_str(buf, "Wed, 31 Dec 2025 23:59:59 +0000", "a year's last second");

	setenv("TZ", "XYZ-5:30", 1);	/* POSIX TZ: 5:30 east of UTC */
	tzset();
	date_rfc5322(0, buf, sizeof(buf));
	is_str(buf, "Thu, 1 Jan 1970 05:30:00 +0530", "a zone east of UTC");
	setenv("TZ", "XYZ8", 1);
	tzset();
	date_rfc5322(0, buf, sizeof(buf));
	is_str(buf, "Wed, 31 Dec 1969 16:00:00 -0800", "a zone west of UTC");
	ok(is_rfc5322_date(buf), "negative zone has the RFC 5322 form");

	setenv("TZ", "UTC0", 1);
	tzset();
	ok(date_rfc5322(0, buf, 31) == 0, "30 octets fit a buffer of 31");
	ok(date_rfc5322(0, buf, 30) == -1, "but not a buffer of 30");
	unsetenv("TZ");
	tzset();
}

/* queue.c --------------------------------------------------------------- */

static char qroot[64];		/* the temporary directory */

/* Number of entries other than . and .. in qroot/sub. */
static int
count(const char *sub)
{
	char path[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/q/%s", qroot, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static int
is_dir(const char *sub)
{
	char path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/q/%s", qroot, sub);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The file's whole content, or "" if it cannot be read. */
static const char *
slurp(const char *sub, const char *name)
{
	static char buf[256];
	char path[512];
	size_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/q/%s/%s", qroot, sub, name);
	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return buf;
	n = read_all(fd, buf, sizeof(buf) - 1);
	buf[n] = '\0';
	close(fd);
	return buf;
}

/* "<digits>.M<6 digits>P<pid>.<host>" */
static int
is_unique_name(const char *s, const char *host)
{
	char pid[32];
	size_t n;

	if ((n = strspn(s, "0123456789")) == 0 || s[n] != '.' ||
	    s[n + 1] != 'M')
		return 0;
	s += n + 2;
	if (strspn(s, "0123456789") != 6 || s[6] != 'P')
		return 0;
	s += 7;
	snprintf(pid, sizeof(pid), "%ld.", (long)getpid());
	if (strncmp(s, pid, strlen(pid)) != 0)
		return 0;
	return strcmp(s + strlen(pid), host) == 0;
}

/* In a child: queue_slot(), its result on fd, then, if it got a slot,
 * hold it until release reaches EOF. */
static pid_t
slot_child(const char *dir, unsigned max, int result_fd, const int release[2])
{
	struct queue q;
	char r;
	pid_t pid;

	fflush(stdout);
	if ((pid = fork()) == -1)
		fail("fork");
	if (pid != 0)
		return pid;
	close(release[1]);	/* only the parent may end the hold */
	if (queue_open(&q, dir, "h") == -1)
		r = 'e';
	else
		switch (queue_slot(&q, "smtpd.lock", max)) {
		case 0:
			r = '0';
			break;
		case 1:
			r = '1';
			break;
		default:
			r = 'e';
		}
	if (write(result_fd, &r, 1) != 1)
		_exit(1);
	while (r == '0' && read(release[0], &r, 1) > 0)
		;
	_exit(0);
}

static char
slot_result(int fd)
{
	char r = '?';

	if (read(fd, &r, 1) != 1)
		return '?';
	return r;
}

static void
test_queue(void)
{
	char dir[128], name[QUEUE_NAME_MAX + 1], first[QUEUE_NAME_MAX + 1];
	char long_host[HOST_MAX + 2], tiny[16], cmd[256];
	struct queue q, q2;
	const char *tmpdir;
	struct queue_file qf, many[50];
	int res[2], hold[2], i, distinct;
	pid_t a, b, c;

	if ((tmpdir = getenv("TMPDIR")) == NULL || strlen(tmpdir) > 40)
		tmpdir = "/tmp";
	snprintf(qroot, sizeof(qroot), "%s/unit-queue-XXXXXX", tmpdir);
	if (mkdtemp(qroot) == NULL)
		fail("mkdtemp");
	snprintf(dir, sizeof(dir), "%s/q", qroot);

	ok(queue_open(&q, dir, "mx.example.org") == 0,
	    "queue_open creates a missing queue");
	ok(is_dir("tmp") && is_dir("new") && is_dir("failed"),
	    "with tmp/, new/ and failed/");
	ok(queue_open(&q2, dir, "mx.example.org") == 0,
	    "queue_open of an existing queue");
	queue_close(&q2);
	ok(q2.dir == -1 && q2.new_dir == -1 && q2.slot_fd == -1,
	    "queue_close forgets the descriptors");

	ok(queue_unique("mx.example.org", name, sizeof(name)) == 0,
	    "queue_unique succeeds");
	ok(is_unique_name(name, "mx.example.org"),
	    "queue_unique: \"%s\" is <epoch>.M<usec>P<pid>.<host>", name);
	ok(queue_unique("mx.example.org", tiny, sizeof(tiny)) == -1 &&
	    errno == ENAMETOOLONG, "queue_unique: too small a buffer");

	ok(queue_create(&q, &qf) == 0, "queue_create");
	ok(qf.fd >= 0 && is_unique_name(qf.name, "mx.example.org"),
	    "queue_create: open file with a unique name");
	is_int(count("tmp"), 1, "the file is in tmp/");
	is_int(count("new"), 0, "and nothing in new/ yet");
	ok(write(qf.fd, "From: <a@b>\n\nhi\r\n", 17) == 17, "write it");
	strcpy(first, qf.name);
	ok(queue_commit(&q, &qf, "new") == 0, "queue_commit to new/");
	is_int(qf.fd, -1, "queue_commit closes the file");
	is_int(count("tmp"), 0, "tmp/ is empty after the commit");
	is_int(count("new"), 1, "new/ holds one file");
	is_str(slurp("new", first), "From: <a@b>\n\nhi\r\n",
	    "new/ holds the message byte for byte");

	ok(queue_create(&q, &qf) == 0, "queue_create another");
	ok(strcmp(qf.name, first) != 0, "with another name");
	ok(write(qf.fd, "half", 4) == 4, "half written");
	queue_abort(&q, &qf);
	is_int(qf.fd, -1, "queue_abort closes the file");
	is_int(count("tmp"), 0, "queue_abort leaves tmp/ empty");
	is_int(count("new"), 1, "and new/ as it was");

	ok(queue_create(&q, &qf) == 0 && write(qf.fd, "x", 1) == 1 &&
	    queue_commit(&q, &qf, "failed") == 0, "queue_commit to failed/");
	ok(count("failed") == 1 && count("tmp") == 0 && count("new") == 1,
	    "failed/ holds it, tmp/ empty, new/ untouched");

	/* Files created in the same microsecond still get distinct names. */
	distinct = 1;
	for (i = 0; i < 50; i++)
		if (queue_create(&q, &many[i]) == -1)
			distinct = 0;
	is_int(count("tmp"), 50, "50 quick queue_create: 50 files in tmp/");
	for (i = 1; i < 50 && distinct; i++)
		distinct = strcmp(many[i].name, many[i - 1].name) != 0;
	ok(distinct, "all with distinct names");
	for (i = 0; i < 50; i++)
		queue_abort(&q, &many[i]);
	is_int(count("tmp"), 0, "all aborted");

	/* A host name the file system cannot take as is (opt_hostname
	 * accepts address literals holding '/' and ':'). */
	queue_close(&q);
	ok(queue_open(&q, dir, "[a/b:c]") == 0, "queue_open, odd host name");
	ok(queue_create(&q, &qf) == 0,
	    "queue_create with '/' in the host name");
	ok(strchr(qf.name, '/') == NULL && strchr(qf.name, ':') == NULL,
	    "the name holds neither '/' nor ':' (\"%s\")", qf.name);
	queue_abort(&q, &qf);
	is_int(count("tmp"), 0, "aborted");
	queue_close(&q);

	memset(long_host, 'h', HOST_MAX + 1);
	long_host[HOST_MAX + 1] = '\0';
	ok(queue_open(&q2, dir, long_host) == -1 && errno == ENAMETOOLONG,
	    "queue_open refuses a host name over 255 octets");
	long_host[HOST_MAX] = '\0';
	ok(queue_open(&q2, dir, long_host) == 0 &&
	    queue_create(&q2, &qf) == 0, "a host name of 255 octets works");
	ok(strlen(qf.name) <= 255,
	    "its queue name fits a file name (%zu octets)", strlen(qf.name));
	queue_abort(&q2, &qf);
	queue_close(&q2);
	snprintf(cmd, sizeof(cmd), "%s/file", qroot);
	close(open(cmd, O_WRONLY | O_CREAT, 0600));
	ok(queue_open(&q2, cmd, "h") == -1, "queue_open on a plain file");
	snprintf(cmd, sizeof(cmd), "%s/no/such/q", qroot);
	ok(queue_open(&q2, cmd, "h") == -1, "queue_open under a missing dir");

	/* Session slots: max 2, held by other processes. */
	ok(queue_open(&q, dir, "h") == 0, "queue_open for slots");
	if (pipe(res) == -1 || pipe(hold) == -1)
		fail("pipe");
	a = slot_child(dir, 2, res[1], hold);
	is_int(slot_result(res[0]), '0', "first session gets a slot");
	b = slot_child(dir, 2, res[1], hold);
	is_int(slot_result(res[0]), '0', "second session gets a slot");
	c = slot_child(dir, 2, res[1], hold);
	is_int(slot_result(res[0]), '1', "third session is over the cap");
	waitpid(c, NULL, 0);
	is_int(queue_slot(&q, "smtpd.lock", 2), 1, "so is this process");
	close(q.slot_fd);
	q.slot_fd = -1;
	is_int(queue_slot(&q, "smtpd.lock", 3), 0, "with a cap of 3 there is room");
	close(hold[1]);		/* the holders exit, the kernel frees */
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
	close(hold[0]);
	if (pipe(hold) == -1)
		fail("pipe");
	c = slot_child(dir, 2, res[1], hold);
	is_int(slot_result(res[0]), '0',
	    "after the holders exit, a new session gets a slot");
	close(hold[1]);
	waitpid(c, NULL, 0);
	close(hold[0]);
	close(res[0]);
	close(res[1]);
	queue_close(&q);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", qroot);
	if (system(cmd) != 0)
		tap_diag("could not remove %s", qroot);
}

int
main(void)
{
	alarm(10);	/* a hang is a failure too */
	signal(SIGPIPE, SIG_IGN);
	test_duration();
	test_number_size();
	test_hostname();
	test_cidr();
	test_hostport();
	test_out();
	test_date();
	test_queue();
	return tap_done();
}
