/*
 * body.c: the message part of a queue file, streamed to the relay, into a
 * Maildir, or (headers only) into a bounce.
 *
 * The queue file is read in fixed chunks and converted on the fly, so
 * memory stays the same whatever the message's size.  Line ends are made
 * uniform on the way, and for SMTP every line starting with a dot gets a
 * second one and the message ends with "." alone (RFC 5321 4.5.2).
 *
 * SMTP smuggling: smtpd stores what a client sent, bare CR and NUL
 * included; a next hop that took a bare CR for a line end, or dropped a
 * NUL, would read "<CR>.<CR>" or "<CRLF><NUL>.<CRLF>" as the end of DATA
 * and the rest as our commands.  So nothing leaves here with a bare CR,
 * a bare LF or a NUL, whichever way it goes (relay, Maildir, the headers
 * a bounce quotes): a bare LF becomes the output's line end (it is one to
 * most readers), a bare CR and a NUL become a space (as Postfix's
 * cleanup_replace_stray_cr_lf does).  Done here, on the way out, so that
 * the queue keeps what was received and every message already queued is
 * covered.
 *
 * RFC 5321 4.5.3.1.6: a line in DATA is at most 998 octets before its
 * CRLF, and relays refuse longer ones ("500 Line too long").  For SMTP a
 * longer line is broken as Postfix's smtp_line_length_limit does: after
 * 998 octets come CRLF and a space, then the rest (a folded header stays
 * a header; a body line gets a space in it).
 */
#include <errno.h>
#include <unistd.h>

#include "smtpsend.h"

/* Output for n octets of input: each gives at most two (a line end for an
 * LF, a stuffed dot and the octet), a break adds three per TEXT_LINE_MAX
 * octets of content; and the end of body_copy(), a CR, a line end, ".". */
#define BODY_OUT(n)	(2 * (n) + 3 * ((n) / TEXT_LINE_MAX + 1) + 16)

struct body {
	int	flags;
	int	at_bol;		/* nothing of the current line written yet */
	int	has_cr;		/* a CR was read; the next byte decides */
	int	is_done;	/* BODY_HEADERS: the empty line was read */
	size_t	col;		/* octets of the current line written */
	size_t	total;		/* octets written so far */
};

/* Writes one line end at p; returns its length. */
static size_t
body_eol(struct body *b, char *p)
{
	/* RFC 5322 2.1: an empty line ends the header section. */
	if ((b->flags & BODY_HEADERS) && b->at_bol) {
		b->is_done = 1;
		return 0;
	}
	b->at_bol = 1;
	b->col = 0;
	if (b->flags & BODY_LF) {
		p[0] = '\n';
		return 1;
	}
	p[0] = '\r';
	p[1] = '\n';
	return 2;
}

/* Writes content octet c at p, after a line break or a stuffed dot if it
 * needs one; returns the length. */
static size_t
body_char(struct body *b, char c, char *p)
{
	size_t len = 0;

	if ((b->flags & BODY_DOTS) && b->col == TEXT_LINE_MAX) {
		p[len++] = '\r';
		p[len++] = '\n';
		p[len++] = ' ';
		b->col = 1;
	} else if (b->at_bol && c == '.' && (b->flags & BODY_DOTS))
		p[len++] = '.';
	b->at_bol = 0;
	b->col++;
	p[len++] = c;
	return len;
}

/* Converts in[0..n) into out, which needs room for BODY_OUT(n) octets;
 * returns the length. */
static size_t
body_convert(struct body *b, const char *in, size_t n, char *out)
{
	size_t i, len = 0;
	char c;

	for (i = 0; i < n && !b->is_done; i++) {
		c = in[i];
		if (b->has_cr) {
			b->has_cr = 0;
			/* CR LF: a line end. */
			if (c == '\n') {
				len += body_eol(b, out + len);
				continue;
			}
			/* A bare CR: a space (SMTP smuggling). */
			len += body_char(b, ' ', out + len);
		}
		if (c == '\r') {
			b->has_cr = 1;
			continue;
		}
		/* A bare LF: a line end, so "<LF>.<CR><LF>" never reaches
		 * the relay unstuffed (SMTP smuggling). */
		if (c == '\n') {
			len += body_eol(b, out + len);
			continue;
		}
		len += body_char(b, c == '\0' ? ' ' : c, out + len);
	}
	return len;
}

/* pread(), again when a signal cut it short. */
static ssize_t
body_pread(int fd, void *buf, size_t size, off_t offset)
{
	ssize_t n;

	do
		n = pread(fd, buf, size, offset);
	while (n == -1 && errno == EINTR);
	return n;
}

/*
 * Copies the message from fd, starting at offset, to o as flags ask.  The
 * last line always gets its line end.  Returns 0, or -1 with errno set: a
 * read error, or o's write error (o->error is then set).
 */
int
body_copy(int fd, off_t offset, struct out *o, int flags)
{
	static char in[IO_BUFSIZE / 2], out[BODY_OUT(IO_BUFSIZE / 2)];
	struct body b = { flags, 1, 0, 0, 0, 0 };
	ssize_t n;
	size_t len;

	while (!b.is_done) {
		if ((n = body_pread(fd, in, sizeof(in), offset)) == -1)
			return -1;
		if (n == 0)
			break;
		offset += n;
		len = body_convert(&b, in, (size_t)n, out);
		if (out_write(o, out, len) == -1)
			return -1;
		b.total += len;
		/* A bounce quotes the headers, not a flood of them. */
		if ((flags & BODY_HEADERS) && b.total >= BODY_HEADERS_MAX)
			break;
	}
	len = 0;
	if (b.has_cr)
		len += body_char(&b, ' ', out + len);
	if (!b.at_bol)
		len += body_eol(&b, out + len);
	if (flags & BODY_DOTS) {
		out[len++] = '.';
		len += body_eol(&b, out + len);
	}
	return out_write(o, out, len);
}

/*
 * Looks once at the whole message from offset on, in fixed chunks, and
 * returns what the relay's decisions need: BODY_8BIT when an octet is
 * over 127 anywhere (RFC 6152: the content, not the label, decides),
 * BODY_8BIT_HEADERS when one is in the header section (RFC 6531: UTF-8
 * header fields need SMTPUTF8).  The header section ends at the first
 * empty line, read as body_copy() reads line ends (a bare CR is content).
 * It stops as soon as nothing more can be learnt.  -1 when the file
 * cannot be read (errno says why).
 */
int
body_scan(int fd, off_t offset)
{
	static unsigned char in[IO_BUFSIZE / 2];
	int flags = 0, in_headers = 1, at_bol = 1, has_cr = 0;
	ssize_t n, i;
	unsigned char c;

	for (;;) {
		if ((n = body_pread(fd, in, sizeof(in), offset)) == -1)
			return -1;
		if (n == 0)
			return flags;
		offset += n;
		for (i = 0; i < n; i++) {
			c = in[i];
			if (c > 127)
				flags |= in_headers ? BODY_8BIT |
				    BODY_8BIT_HEADERS : BODY_8BIT;
			if (!in_headers) {
				if (flags & BODY_8BIT)
					return flags;
				continue;
			}
			if (c == '\n') {
				in_headers = !at_bol;
				at_bol = 1;
				has_cr = 0;
			} else if (c == '\r') {
				at_bol &= !has_cr;	/* a bare CR before */
				has_cr = 1;
			} else {
				at_bol = has_cr = 0;
			}
		}
	}
}

/* Whether the header section a bounce quotes (body_copy() with
 * BODY_HEADERS, cut where it cuts) holds an octet over 127: 1, 0, or -1
 * when it cannot be read. */
int
body_headers_8bit(int fd, off_t offset)
{
	static char in[IO_BUFSIZE / 2], out[BODY_OUT(IO_BUFSIZE / 2)];
	struct body b = { BODY_HEADERS, 1, 0, 0, 0, 0 };
	ssize_t n;
	size_t i, len;

	while (!b.is_done && b.total < BODY_HEADERS_MAX) {
		if ((n = body_pread(fd, in, sizeof(in), offset)) <= 0)
			return (int)n;
		offset += n;
		len = body_convert(&b, in, (size_t)n, out);
		for (i = 0; i < len; i++)
			if ((unsigned char)out[i] > 127)
				return 1;
		b.total += len;
	}
	return 0;
}
