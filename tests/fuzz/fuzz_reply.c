/*
 * fuzz_reply.c: reply_read() (common/reply.c) over arbitrary input, as a
 * relay's replies would reach smtpsend.
 *
 * Input: one byte choosing the size of the text buffer, then feed.h's
 * layout.  reply_read() is called until it reports something other than
 * LINE_OK.  Each result is checked against a model of RFC 5321 4.2.1 as
 * common.h states it: the code is -1 or 200..599; for a good reply every
 * line has the same code, '-' after it on all but the last; a line over
 * REPLY_LINE_MAX, a bad code, a NUL, a code change, a 101st line or
 * more than REPLY_BYTES_MAX octets in all (after which the stream is out
 * of step, by design: the caller drops the session) makes -1 with
 * LINE_OK; text is the lines' texts joined by '\n', cut to size - 1, and
 * NUL-terminated inside size.  The text buffer is malloc'd at exactly
 * size bytes.
 */
#include "feed.h"

static const size_t sizes[] = {
	0, 1, 2, 3, 4, 5, 16, 64, 511, 512, 513, REPLY_TEXT_MAX,
	REPLY_TEXT_MAX + 1, 8192
};

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The model: the next line of the stream from *pos.  Returns 0 at the end
 * of input (no LF left), else sets *line and *len (CR of CRLF removed)
 * and *is_long. */
static int
model_line(size_t *pos, const unsigned char **line, size_t *len,
    int *is_long, size_t *taken, int *overrun)
{
	const unsigned char *lf;
	size_t seg;

	lf = *pos >= feed_len ? NULL :
	    memchr(feed_data + *pos, '\n', feed_len - *pos);
	/* REPLY_BYTES_MAX: a reply that would take more is malformed, and
	 * nothing past that point is read in step. */
	if (*taken + (lf != NULL ? (size_t)(lf - (feed_data + *pos)) + 1 :
	    feed_len - *pos) > REPLY_BYTES_MAX) {
		*overrun = 1;
		return 1;
	}
	if (lf == NULL)
		return 0;
	seg = (size_t)(lf - (feed_data + *pos));
	*taken += seg + 1;
	*line = feed_data + *pos;
	*is_long = seg >= REPLY_LINE_MAX + 1;	/* line_read's rule */
	*len = seg > 0 && (*line)[seg - 1] == '\r' ? seg - 1 : seg;
	*pos += seg + 1;
	return 1;
}

/* The model of one reply_read(): returns the code or -1, *at_end when the
 * input ended, and the expected text in want (size bytes, joined and cut
 * as reply_read promises). */
static int
model_reply(size_t *pos, char *want, size_t size, int *at_end, int *overrun)
{
	const unsigned char *l;
	size_t len, used = 0, i, taken = 0, lines;
	int code = -1, this, is_long, is_first = 1;

	*at_end = *overrun = 0;
	if (size > 0)
		want[0] = '\0';
	for (lines = 0;; lines++) {
		if (lines == REPLY_LINES_MAX)
			return -1;
		if (!model_line(pos, &l, &len, &is_long, &taken, overrun)) {
			*at_end = 1;
			return -1;
		}
		if (*overrun || is_long)
			return -1;
		if (len < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' ||
		    l[1] > '9' || l[2] < '0' || l[2] > '9' ||
		    (len > 3 && l[3] != ' ' && l[3] != '-') ||
		    memchr(l, '\0', len) != NULL)
			return -1;
		this = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		if (code != -1 && this != code)
			return -1;
		code = this;
		if (!is_first && used + 1 < size)
			want[used++] = '\n';
		for (i = 4; i < len && used + 1 < size; i++)
			want[used++] = (char)l[i];
		if (size > 0)
			want[used] = '\0';
		is_first = 0;
		if (len == 3 || l[3] == ' ')
			return code;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line *in;
	enum line_status st;
	size_t tsize, pos = 0, calls;
	char *text, *want;
	int code, want_code, at_end, overrun;

	if (size < 1)
		return 0;
	tsize = sizes[data[0] % (sizeof(sizes) / sizeof(sizes[0]))];
	in = feed(data + 1, size - 1);
	/* size 0: text must not be touched; ASan sees a 1-byte block. */
	if ((text = malloc(tsize > 0 ? tsize : 1)) == NULL ||
	    (want = malloc(tsize > 0 ? tsize : 1)) == NULL)
		abort();

	for (calls = 0; calls <= feed_len + 1; calls++) {
		st = (enum line_status)-1;
		code = reply_read(in, text, tsize, &st);
		feed_check_indices(in);
		want_code = model_reply(&pos, want, tsize, &at_end, &overrun);
		if (code != -1 && (code < 200 || code > 599))
			abort();
		if (code != want_code)
			abort();
		if (tsize > 0 && memchr(text, '\0', tsize) == NULL)
			abort();
		if (code != -1 && tsize > 0 && strcmp(text, want) != 0)
			abort();
		if (overrun) {
			if (code != -1 || st != LINE_OK)
				abort();
			break;
		}
		if (at_end) {
			if (st != LINE_EOF)
				abort();
			break;
		}
		if (st != LINE_OK)
			abort();
	}
	if (calls > feed_len + 1)
		abort();
	free(text);
	free(want);
	return 0;
}
