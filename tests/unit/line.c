/*
 * line.c: unit tests for common/line.c (bounded line reading) and
 * common/reply.c (SMTP replies, written and read).
 *
 * Input goes through a real pipe: small inputs are written before reading
 * and the write end closed (EOF); inputs larger than a pipe holds, or
 * meant to arrive in pieces, come from a forked writer.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "tap.h"

static struct line in;		/* 64 KiB: not on the stack */

static void
fail(const char *what)
{
	perror(what);
	exit(1);
}

static void
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			fail("write");
		}
		p += n;
		len -= (size_t)n;
	}
}

/* A pipe holding data, write end closed: the reader sees data, then EOF. */
static int
feed(const char *data, size_t len)
{
	int p[2];

	if (pipe(p) == -1)
		fail("pipe");
	write_all(p[1], data, len);
	close(p[1]);
	return p[0];
}

static int
feed_str(const char *s)
{
	return feed(s, strlen(s));
}

/*
 * A pipe filled by a child: the pieces one write() each, a few
 * milliseconds apart so that the reader sees them apart, then EOF.
 */
static int
feed_pieces(const char *const *pieces, const size_t *lens, size_t n)
{
	struct timespec pause = { 0, 3 * 1000 * 1000 };
	size_t i;
	pid_t pid;
	int p[2];

	if (pipe(p) == -1)
		fail("pipe");
	fflush(stdout);
	if ((pid = fork()) == -1)
		fail("fork");
	if (pid == 0) {
		close(p[0]);
		for (i = 0; i < n; i++) {
			write_all(p[1], pieces[i], lens[i]);
			nanosleep(&pause, NULL);
		}
		_exit(0);
	}
	close(p[1]);
	return p[0];
}

/* One big input from a child (more than a pipe holds). */
static int
feed_big(const char *data, size_t len)
{
	const char *pieces[1];
	size_t lens[1];

	pieces[0] = data;
	lens[0] = len;
	return feed_pieces(pieces, lens, 1);
}

static void
reap(void)
{
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads one line into buf, expecting LINE_OK with text want. */
static void
expect_line(char *buf, size_t size, const char *want, int want_bare,
    const char *what)
{
	enum line_status st;
	size_t len = 12345;
	int bare = -1;

	st = line_read(&in, buf, size, &len, &bare);
	if (!is_int(st, LINE_OK, "%s: LINE_OK", what))
		return;
	is_str(buf, want, "%s: text", what);
	is_int((long)len, (long)strlen(want), "%s: length", what);
	is_int(bare, want_bare, "%s: bare_lf is %d", what, want_bare);
}

static void
expect_status(char *buf, size_t size, enum line_status want, const char *what)
{
	size_t len = 12345;
	int bare = -1;

	is_int(line_read(&in, buf, size, &len, &bare), want, "%s", what);
}

static void
test_line_endings(void)
{
	char buf[SMTP_LINE_MAX];
	int fd;

	fd = feed_str("HELO a\r\nMAIL FROM:<a@b>\r\n");
	line_init(&in, fd, 0);
	expect_line(buf, sizeof(buf), "HELO a", 0, "first CRLF line");
	expect_line(buf, sizeof(buf), "MAIL FROM:<a@b>", 0,
	    "second CRLF line");
	expect_status(buf, sizeof(buf), LINE_EOF, "then EOF");
	expect_status(buf, sizeof(buf), LINE_EOF, "and EOF again");
	close(fd);

	fd = feed_str("NOOP\nRSET\r\n\r\n\n");
	line_init(&in, fd, 0);
	expect_line(buf, sizeof(buf), "NOOP", 1, "bare LF line");
	expect_line(buf, sizeof(buf), "RSET", 0, "CRLF after bare LF");
	expect_line(buf, sizeof(buf), "", 0, "empty CRLF line");
	expect_line(buf, sizeof(buf), "", 1, "empty bare LF line");
	expect_status(buf, sizeof(buf), LINE_EOF, "then EOF");
	close(fd);

	fd = feed_str("a\rb\r\nc\r\r\n\r\r\n");
	line_init(&in, fd, 0);
	expect_line(buf, sizeof(buf), "a\rb", 0, "CR inside a line is kept");
	expect_line(buf, sizeof(buf), "c\r", 0,
	    "CR before CRLF is kept, only the last CR goes");
	expect_line(buf, sizeof(buf), "\r", 0, "CR CR LF is a lone CR");
	close(fd);

	fd = feed("a\0b\r\n\0\n", 7);
	line_init(&in, fd, 0);
	{
		size_t len = 0;
		int bare = 1;

		is_int(line_read(&in, buf, sizeof(buf), &len, &bare),
		    LINE_OK, "NUL inside a line: LINE_OK");
		is_int((long)len, 3, "NUL inside a line: length counts it");
		is_int(memcmp(buf, "a\0b", 4), 0,
		    "NUL inside a line: all bytes kept, NUL after");
		is_int(bare, 0, "NUL inside a line: bare_lf is 0");
		is_int(line_read(&in, buf, sizeof(buf), &len, &bare),
		    LINE_OK, "line of a lone NUL: LINE_OK");
		ok(len == 1 && buf[0] == '\0' && bare == 1,
		    "line of a lone NUL: length 1, bare LF");
	}
	close(fd);
}

static void
test_eof(void)
{
	char buf[SMTP_LINE_MAX];
	int fd;

	fd = feed_str("");
	line_init(&in, fd, 0);
	expect_status(buf, sizeof(buf), LINE_EOF, "empty input: LINE_EOF");
	close(fd);

	fd = feed_str("QUIT");
	line_init(&in, fd, 0);
	strcpy(buf, "junk");
	expect_status(buf, sizeof(buf), LINE_EOF,
	    "EOF mid-line: LINE_EOF");
	is_str(buf, "", "EOF mid-line: partial line discarded");
	close(fd);

	fd = feed_str("ok\r\nQUIT\r");
	line_init(&in, fd, 0);
	expect_line(buf, sizeof(buf), "ok", 0, "line before EOF");
	expect_status(buf, sizeof(buf), LINE_EOF,
	    "EOF after CR without LF: LINE_EOF");
	close(fd);
}

/* RFC 5321 4.5.3.1.4: 512 octets including CRLF. */
static void
test_limit(void)
{
	char buf[SMTP_LINE_MAX], data[2048];
	const char *pieces[4];
	size_t lens[4];
	size_t len;
	int fd, bare;

	memset(data, 'x', 510);
	memcpy(data + 510, "\r\nnext\r\n", 8);
	fd = feed(data, 518);
	line_init(&in, fd, 0);
	is_int(line_read(&in, buf, sizeof(buf), &len, &bare), LINE_OK,
	    "510 octets + CRLF in a 512 buffer: LINE_OK");
	is_int((long)len, 510, "510 octets + CRLF: length 510");
	ok(buf[509] == 'x' && buf[510] == '\0', "510 octets + CRLF: text");
	expect_line(buf, sizeof(buf), "next", 0, "line after it");
	close(fd);

	memset(data, 'x', 511);
	memcpy(data + 511, "\r\nnext\r\n", 8);
	fd = feed(data, 519);
	line_init(&in, fd, 0);
	strcpy(buf, "junk");
	len = 99;
	is_int(line_read(&in, buf, sizeof(buf), &len, &bare), LINE_LONG,
	    "511 octets + CRLF in a 512 buffer: LINE_LONG");
	ok(len == 0 && buf[0] == '\0', "LINE_LONG: empty text, length 0");
	expect_line(buf, sizeof(buf), "next", 0, "line after a long one");
	expect_status(buf, sizeof(buf), LINE_EOF, "then EOF");
	close(fd);

	memset(data, 'x', 511);
	memcpy(data + 511, "\n", 1);
	fd = feed(data, 512);
	line_init(&in, fd, 0);
	is_int(line_read(&in, buf, sizeof(buf), &len, &bare), LINE_OK,
	    "511 octets + bare LF (512 octets) in a 512 buffer: LINE_OK");
	ok(len == 511 && bare == 1, "511 + LF: length 511, bare LF");
	close(fd);

	memset(data, 'x', 512);
	memcpy(data + 512, "\n", 1);
	fd = feed(data, 513);
	line_init(&in, fd, 0);
	is_int(line_read(&in, buf, sizeof(buf), &len, &bare), LINE_LONG,
	    "512 octets + bare LF in a 512 buffer: LINE_LONG");
	close(fd);

	/* The same limits with the line arriving in pieces, the CR and
	 * the LF last and alone. */
	memset(data, 'x', 600);
	pieces[0] = data;
	lens[0] = 300;
	pieces[1] = data;
	lens[1] = 210;
	pieces[2] = "\r";
	lens[2] = 1;
	pieces[3] = "\n";
	lens[3] = 1;
	fd = feed_pieces(pieces, lens, 4);
	line_init(&in, fd, 0);
	is_int(line_read(&in, buf, sizeof(buf), &len, &bare), LINE_OK,
	    "510 octets, CR, LF in separate writes: LINE_OK");
	ok(len == 510 && bare == 0, "in pieces: length 510, not bare LF");
	expect_status(buf, sizeof(buf), LINE_EOF, "in pieces: then EOF");
	close(fd);
	reap();

	lens[1] = 211;
	fd = feed_pieces(pieces, lens, 4);
	line_init(&in, fd, 0);
	is_int(line_read(&in, buf, sizeof(buf), &len, &bare), LINE_LONG,
	    "511 octets, CR, LF in separate writes: LINE_LONG");
	close(fd);
	reap();

	/* A tiny buffer: size - 1 octets fit, the CR counted. */
	fd = feed_str("ab\r\nabc\r\nabc\nabcd\nz\r\n");
	line_init(&in, fd, 0);
	expect_line(buf, 4, "ab", 0, "2 octets + CRLF in a buffer of 4");
	expect_status(buf, 4, LINE_LONG, "3 octets + CRLF in a buffer of 4");
	expect_line(buf, 4, "abc", 1, "3 octets + LF in a buffer of 4");
	expect_status(buf, 4, LINE_LONG, "4 octets + LF in a buffer of 4");
	expect_line(buf, 4, "z", 0, "and the next line");
	close(fd);
}

/* Far longer than the 64 KiB buffer, and no LF in it. */
static void
test_huge(void)
{
	char buf[SMTP_LINE_MAX];
	size_t big = 3 * IO_BUFSIZE + 123, i, n, total;
	char *data, *p;
	int fd, good;

	if ((data = malloc(big + 64)) == NULL)
		fail("malloc");
	memset(data, 'y', big);
	memcpy(data + big, "\r\nafter\r\n", 9);
	fd = feed_big(data, big + 9);
	line_init(&in, fd, 0);
	expect_status(buf, sizeof(buf), LINE_LONG,
	    "line of 3 x 64 KiB: LINE_LONG");
	expect_line(buf, sizeof(buf), "after", 0,
	    "normal line after it reads correctly");
	expect_status(buf, sizeof(buf), LINE_EOF, "then EOF");
	close(fd);
	reap();

	fd = feed_big(data, big);
	line_init(&in, fd, 0);
	expect_status(buf, sizeof(buf), LINE_EOF,
	    "line of 3 x 64 KiB without LF, then EOF: LINE_EOF");
	close(fd);
	reap();
	free(data);

	/* Many short lines: some straddle the end of the 64 KiB buffer. */
	n = 20000;
	if ((data = malloc(n * 16)) == NULL)
		fail("malloc");
	for (p = data, i = 0; i < n; i++)
		p += sprintf(p, "line %zu%s", i, i % 3 == 0 ? "\n" : "\r\n");
	total = (size_t)(p - data);
	fd = feed_big(data, total);
	line_init(&in, fd, 0);
	good = 1;
	for (i = 0; i < n && good; i++) {
		char want[32];
		size_t len;
		int bare;

		snprintf(want, sizeof(want), "line %zu", i);
		good = line_read(&in, buf, sizeof(buf), &len, &bare) ==
		    LINE_OK && strcmp(buf, want) == 0 &&
		    len == strlen(want) && bare == (i % 3 == 0);
		if (!good)
			tap_diag("line %zu: \"%s\"", i, buf);
	}
	ok(good, "%zu lines (%zu octets) across buffer refills all intact",
	    n, total);
	expect_status(buf, sizeof(buf), LINE_EOF, "then EOF");
	close(fd);
	reap();
	free(data);
}

static void
test_pending(void)
{
	char buf[SMTP_LINE_MAX];
	int fd;

	fd = feed_str("NOOP\r\nQUIT\r\n");
	line_init(&in, fd, 0);
	is_int((long)line_pending(&in), 0, "nothing pending before reading");
	expect_line(buf, sizeof(buf), "NOOP", 0, "first of two lines");
	is_int((long)line_pending(&in), 6,
	    "the second line is pending after the first");
	expect_line(buf, sizeof(buf), "QUIT", 0, "second line");
	is_int((long)line_pending(&in), 0, "nothing pending after both");
	close(fd);
}

/* Replies are flushed before a wait for input, not while input waits. */
static void
test_flush(void)
{
	char buf[SMTP_LINE_MAX], got[64];
	struct out o;
	int fd, rp[2];
	ssize_t n;

	/* Non-blocking: a missing flush fails the test, not hangs it. */
	if (pipe(rp) == -1 || fcntl(rp[0], F_SETFL, O_NONBLOCK) == -1)
		fail("pipe");
	fd = feed_str("EHLO a\r\nNOOP\r\n");
	line_init(&in, fd, 0);
	out_init(&o, rp[1]);
	in.flush = &o;
	out_puts(&o, "220 hi\r\n");
	expect_line(buf, sizeof(buf), "EHLO a", 0, "line read with flush");
	n = read(rp[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	is_str(got, "220 hi\r\n", "output flushed before reading input");
	out_puts(&o, "250 ok\r\n");
	expect_line(buf, sizeof(buf), "NOOP", 0, "buffered line");
	is_int((long)o.len, 8, "no flush while input is buffered");
	expect_status(buf, sizeof(buf), LINE_EOF, "then EOF");
	is_int((long)o.len, 0, "flushed before waiting again");
	n = read(rp[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	is_str(got, "250 ok\r\n", "second reply arrived");
	close(fd);
	close(rp[0]);
	close(rp[1]);
}

static void
test_timeout_error_signal(void)
{
	char buf[SMTP_LINE_MAX];
	double t0, dt;
	int p[2], fd;

	if (pipe(p) == -1)
		fail("pipe");
	write_all(p[1], "partial", 7);	/* no LF, writer kept open */
	line_init(&in, p[0], 1);
	t0 = now();
	expect_status(buf, sizeof(buf), LINE_TIMEOUT,
	    "writer silent for timeout=1: LINE_TIMEOUT");
	dt = now() - t0;
	ok(dt >= 0.9 && dt < 3.0, "timeout took about 1 s (%.2f s)", dt);

	/* A caught SIGTERM ends the wait (sig.c lets it in only there). */
	sig_init();
	line_init(&in, p[0], 5);
	in.stop_on_signal = 1;
	kill(getpid(), SIGTERM);
	ok(sig_term == 0, "SIGTERM stays blocked outside the wait");
	t0 = now();
	expect_status(buf, sizeof(buf), LINE_SIGNAL,
	    "SIGTERM while waiting: LINE_SIGNAL");
	ok(sig_term == 1, "sig_term set");
	ok(now() - t0 < 1.0, "at once, not after the timeout");
	sig_term = 0;
	in.stop_on_signal = 0;
	close(p[0]);
	close(p[1]);

	/* read() fails on a directory: LINE_ERROR. */
	if ((fd = open(".", O_RDONLY)) == -1)
		fail("open .");
	line_init(&in, fd, 0);
	expect_status(buf, sizeof(buf), LINE_ERROR,
	    "read error: LINE_ERROR");
	close(fd);
}

/* reply_read() into a buffer of exactly size octets (ASan sees overruns). */
static int
read_reply(const char *input, char *text, size_t size,
    enum line_status *st)
{
	char *t = malloc(size > 0 ? size : 1);
	int fd, code;

	if (t == NULL)
		fail("malloc");
	fd = feed_str(input);
	line_init(&in, fd, 0);
	*st = (enum line_status)-1;
	code = reply_read(&in, t, size, st);
	if (size > 0)
		memcpy(text, t, size);
	free(t);
	close(fd);
	return code;
}

static void
test_reply_read(void)
{
	char text[REPLY_TEXT_MAX + 1], big[1024];
	enum line_status st;
	int fd;

	is_int(read_reply("250 ok\r\n", text, sizeof(text), &st), 250,
	    "single-line reply: code");
	is_str(text, "ok", "single-line reply: text");
	is_int(st, LINE_OK, "single-line reply: status LINE_OK");

	is_int(read_reply("250-a\r\n250-b\r\n250 c\r\n", text, sizeof(text),
	    &st), 250, "multi-line reply: code");
	is_str(text, "a\nb\nc", "multi-line reply: texts joined by LF");

	is_int(read_reply("220 hi there\n", text, sizeof(text), &st), 220,
	    "bare LF reply line accepted");
	is_str(text, "hi there", "bare LF reply: text");

	is_int(read_reply("250\r\n", text, sizeof(text), &st), 250,
	    "code without text: code");
	is_str(text, "", "code without text: empty text");
	is_int(read_reply("250 \r\n", text, sizeof(text), &st), 250,
	    "code and space: code");
	is_str(text, "", "code and space: empty text");
	is_int(read_reply("250-\r\n250 b\r\n", text, sizeof(text), &st), 250,
	    "multi-line with an empty first text: code");
	is_str(text, "\nb", "multi-line with an empty first text: joined");
	is_int(read_reply("250-a\r\n250-\r\n250 c\r\n", text, sizeof(text),
	    &st), 250, "multi-line with an empty middle text: code");
	is_str(text, "a\n\nc", "multi-line with an empty middle text: joined");
	is_int(read_reply("554 5.7.1 no\r\n", text, sizeof(text), &st), 554,
	    "5xx reply: code");
	is_str(text, "5.7.1 no", "5xx reply: text with enhanced code");

	is_int(read_reply("250-a\r\n251 b\r\n", text, sizeof(text), &st), -1,
	    "mismatched codes: -1");
	is_int(st, LINE_OK, "mismatched codes: status LINE_OK (malformed)");
	is_int(read_reply("hello\r\n", text, sizeof(text), &st), -1,
	    "garbage: -1");
	is_int(st, LINE_OK, "garbage: status LINE_OK (malformed)");
	is_int(read_reply("25\r\n", text, sizeof(text), &st), -1,
	    "two digits: -1");
	is_int(read_reply("\r\n", text, sizeof(text), &st), -1,
	    "empty line: -1");
	is_int(read_reply("199 x\r\n", text, sizeof(text), &st), -1,
	    "code 199: -1");
	is_int(read_reply("600 x\r\n", text, sizeof(text), &st), -1,
	    "code 600: -1");
	is_int(read_reply("2a0 x\r\n", text, sizeof(text), &st), -1,
	    "letter in code: -1");
	is_int(read_reply("250x\r\n", text, sizeof(text), &st), -1,
	    "no space or hyphen after code: -1");
	is_int(read_reply("2500 x\r\n", text, sizeof(text), &st), -1,
	    "four digits: -1");
	{
		static const char nul[] = "250 a\0b\r\n";
		char *t = text;

		fd = feed(nul, sizeof(nul) - 1);
		line_init(&in, fd, 0);
		is_int(reply_read(&in, t, sizeof(text), &st), -1,
		    "NUL in a reply line: -1");
		close(fd);
	}

	is_int(read_reply("", text, sizeof(text), &st), -1, "no reply: -1");
	is_int(st, LINE_EOF, "no reply: status LINE_EOF");
	is_int(read_reply("250-a\r\n250-b\r\n", text, sizeof(text), &st), -1,
	    "EOF mid-reply: -1");
	is_int(st, LINE_EOF, "EOF mid-reply: status LINE_EOF");
	is_int(read_reply("250 a", text, sizeof(text), &st), -1,
	    "EOF mid-line: -1");
	is_int(st, LINE_EOF, "EOF mid-line: status LINE_EOF");

	/* Cut to size, always terminated, never past size. */
	is_int(read_reply("250-abcdef\r\n250 gh\r\n", text, 6, &st), 250,
	    "text cut to a buffer of 6: code");
	is_str(text, "abcde", "text cut to 5 octets and a NUL");
	is_int(read_reply("250-abc\r\n250 defgh\r\n", text, 6, &st), 250,
	    "cut across lines: code");
	is_str(text, "abc\nd", "cut across lines: text");
	is_int(read_reply("250-abcd\r\n250 e\r\n", text, 6, &st), 250,
	    "cut right after a line: code");
	is_str(text, "abcd\n", "cut right after a line: separator kept");
	is_int(read_reply("250-abcde\r\n250 f\r\n", text, 6, &st), 250,
	    "no room for the separator: code");
	is_str(text, "abcde", "no room for the separator: first text only");
	is_int(read_reply("250 abc\r\n", text, 1, &st), 250,
	    "buffer of 1: code");
	is_str(text, "", "buffer of 1: empty text");
	is_int(read_reply("250 abc\r\n", text, 0, &st), 250,
	    "buffer of 0: code, text untouched");

	/* Over-long reply line: malformed, and the stream stays in step. */
	memset(big, 'z', 700);
	memcpy(big, "250 ", 4);
	memcpy(big + 700, "\r\n354 go\r\n", 11);
	fd = feed_str(big);
	line_init(&in, fd, 0);
	is_int(reply_read(&in, text, sizeof(text), &st), -1,
	    "reply line of 700 octets: -1");
	is_int(st, LINE_OK, "reply line of 700 octets: status LINE_OK");
	is_int(reply_read(&in, text, sizeof(text), &st), 354,
	    "next reply read after it");
	close(fd);

	/* A line without end: given up once the reply's octets are spent,
	 * not read to its LF (which a relay need never send). */
	{
		static char flood[200000];
		size_t left = 0;
		ssize_t n;

		memset(flood, 'z', sizeof(flood));
		memcpy(flood, "250-", 4);
		memcpy(flood + sizeof(flood) - 10, "\r\n354 go\r\n", 10);
		fd = feed_big(flood, sizeof(flood));
		line_init(&in, fd, 0);
		is_int(reply_read(&in, text, sizeof(text), &st), -1,
		    "a line of 200000 octets: -1");
		is_int(st, LINE_OK, "a line of 200000 octets: malformed");
		while ((n = read(fd, big, sizeof(big))) > 0)
			left += (size_t)n;
		is_int(sizeof(flood) - left - line_pending(&in) <=
		    REPLY_BYTES_MAX, 1, "at most REPLY_BYTES_MAX octets taken");
		close(fd);
		reap();
	}

	/* Pipelined replies come out one at a time, in order. */
	fd = feed_str("250-mx\r\n250 SIZE 100\r\n250 2.1.0 Ok\r\n"
	    "354 go\r\n");
	line_init(&in, fd, 0);
	is_int(reply_read(&in, text, sizeof(text), &st), 250,
	    "pipelined: first reply");
	is_str(text, "mx\nSIZE 100", "pipelined: first reply's text");
	is_int(reply_read(&in, text, sizeof(text), &st), 250,
	    "pipelined: second reply");
	is_str(text, "2.1.0 Ok", "pipelined: second reply's text");
	is_int(reply_read(&in, text, sizeof(text), &st), 354,
	    "pipelined: third reply");
	close(fd);
}

static void
test_reply_write(void)
{
	char got[2048], longtext[1024];
	struct out o;
	ssize_t n;
	int p[2];

	if (pipe(p) == -1)
		fail("pipe");
	out_init(&o, p[1]);
	is_int(reply_more(&o, 250, "mx.example.org"), 0, "reply_more: 0");
	is_int(reply_more(&o, 250, "SIZE %lu", 1024UL), 0,
	    "reply_more with a format: 0");
	is_int(reply(&o, 250, "HELP"), 0, "reply: 0");
	is_int(reply(&o, 503, "5.5.1 Bad sequence"), 0, "reply 503: 0");
	out_flush(&o);
	n = read(p[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	is_str(got, "250-mx.example.org\r\n250-SIZE 1024\r\n250 HELP\r\n"
	    "503 5.5.1 Bad sequence\r\n", "replies written with CRLF");

	memset(longtext, 't', 800);
	longtext[800] = '\0';
	reply(&o, 250, "%s", longtext);
	out_flush(&o);
	n = read(p[0], got, sizeof(got) - 1);
	got[n > 0 ? n : 0] = '\0';
	is_int((long)n, SMTP_LINE_MAX,
	    "over-long reply cut to 512 octets with CRLF");
	ok(n == SMTP_LINE_MAX && memcmp(got, "250 ttt", 7) == 0 &&
	    memcmp(got + n - 3, "t\r\n", 3) == 0,
	    "cut reply: code first, CRLF last");

	memset(longtext, 't', 800);
	longtext[506] = '\0';	/* 4 + 506 + 2 = 512 exactly */
	reply(&o, 250, "%s", longtext);
	out_flush(&o);
	n = read(p[0], got, sizeof(got) - 1);
	is_int((long)n, SMTP_LINE_MAX, "reply of exactly 512 octets kept");
	close(p[0]);
	close(p[1]);
}

int
main(void)
{
	alarm(10);	/* a hang is a failure too */
	signal(SIGPIPE, SIG_IGN);
	test_line_endings();
	test_eof();
	test_limit();
	test_huge();
	test_pending();
	test_flush();
	test_reply_read();
	test_reply_write();
	test_timeout_error_signal();
	return tap_done();
}
