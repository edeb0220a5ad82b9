/*
 * fuzz_line.c: line_read() (common/line.c) over arbitrary input.
 *
 * Input: one byte choosing the caller's buffer size, then feed.h's layout.
 * Every call is checked against a model of the contract in common.h: the
 * stream split at LF; a line whose bytes before the LF (its CR included)
 * do not fit in size - 1 is LINE_LONG; a last line without LF is dropped
 * at LINE_EOF.  A LINE_OK line must match the input byte for byte, CR of
 * a CRLF removed, NUL after it, len < size.  The caller's buffer is
 * malloc'd at exactly size bytes, so ASan catches a write past it.
 */
#include "feed.h"

static const size_t sizes[] = {
	1, 2, 3, 4, 5, 8, 13, 64, 511, SMTP_LINE_MAX, SMTP_LINE_MAX + 1,
	1000, 4096, IO_BUFSIZE - 1, IO_BUFSIZE, IO_BUFSIZE + 1, 140000
};

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct line *in;
	enum line_status st;
	const unsigned char *lf;
	size_t osize, pos = 0, seg, want_len, len, calls;
	char *out;
	int bare, want_bare;

	if (size < 1)
		return 0;
	osize = sizes[data[0] % (sizeof(sizes) / sizeof(sizes[0]))];
	in = feed(data + 1, size - 1);
	if ((out = malloc(osize)) == NULL)
		abort();

	/* Each call consumes one line or ends; one more for the EOF. */
	for (calls = 0; calls <= feed_len + 1; calls++) {
		len = (size_t)-1;
		bare = -1;
		st = line_read(in, out, osize, &len, &bare);
		feed_check_indices(in);
		lf = pos < feed_len ?
		    memchr(feed_data + pos, '\n', feed_len - pos) : NULL;
		if (lf == NULL) {
			/* A partial last line is dropped. */
			if (st != LINE_EOF || len != 0 || out[0] != '\0')
				abort();
			st = line_read(in, out, osize, &len, &bare);
			if (st != LINE_EOF)
				abort();	/* EOF stays EOF */
			break;
		}
		seg = (size_t)(lf - (feed_data + pos));
		if (seg >= osize) {
			if (st != LINE_LONG || len != 0 || out[0] != '\0')
				abort();
		} else {
			want_bare = !(seg > 0 && feed_data[pos + seg - 1] ==
			    '\r');
			want_len = want_bare ? seg : seg - 1;
			if (st != LINE_OK || len != want_len || len >= osize ||
			    out[len] != '\0' || bare != want_bare ||
			    memcmp(out, feed_data + pos, len) != 0)
				abort();
		}
		pos += seg + 1;
	}
	if (calls > feed_len + 1)
		abort();	/* more lines than the input holds */
	free(out);
	return 0;
}
