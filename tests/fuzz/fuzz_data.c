/*
 * fuzz_data.c: smtpd's DATA machine (smtpd/data.c) on any bytes.
 *
 * Input: 2 bytes choosing where to split the stream and 1 byte of flags
 * (bit 0: the DATA command ended in a bare LF), then the stream.  Checked:
 *   - splitting the stream in two calls changes nothing (the machine keeps
 *     its whole state between reads);
 *   - the stored message has no bare LF (every LF follows a CR);
 *   - the end is found only where a CRLF "." CRLF (or, in LF mode, an LF
 *     "." LF or CRLF) can end it, and never inside the first 2 bytes;
 *   - round trip: the stored message, dot-stuffed and ended with
 *     CRLF "." CRLF, comes back byte for byte and ends where it should;
 *   - has_8bit is set exactly when the stored message holds an octet
 *     over 127.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../smtpd/data.c"

struct run {
	unsigned char	*out;	/* what the machine stored */
	size_t		 len;
	size_t		 used;	/* input consumed */
	int		 ended;
};

static int sink = -1;

/* Runs the machine over in[0..n) in two calls split at cut. */
static void
run_machine(const unsigned char *in, size_t n, size_t cut, int lf, struct run *r)
{
	static struct out o;
	struct data d;
	size_t used, i;
	off_t end;

	if (sink == -1) {
		char path[] = "/dev/shm/fuzz_data.XXXXXX";

		if ((sink = mkstemp(path)) == -1)
			abort();
		unlink(path);
	}
	if (ftruncate(sink, 0) == -1 || lseek(sink, 0, SEEK_SET) == -1)
		abort();
	out_init(&o, sink);
	data_init(&d, &o, (unsigned long)-1, lf);
	used = data_scan(&d, (const char *)in, cut);
	if (d.state != D_END && used != cut)
		abort();	/* stopped early without an end */
	if (d.state != D_END)
		used += data_scan(&d, (const char *)in + cut, n - cut);
	if (out_flush(&o) == -1 || (end = lseek(sink, 0, SEEK_END)) == -1)
		abort();
	r->len = (size_t)end;
	r->out = malloc(r->len + 1);
	if (r->out == NULL || pread(sink, r->out, r->len, 0) != (ssize_t)r->len)
		abort();
	r->used = used;
	r->ended = d.state == D_END;
	if (r->len != d.size)
		abort();
	/* has_8bit says whether the stored message holds an octet > 127 */
	for (i = 0; i < r->len && r->out[i] < 128; i++)
		;
	if (d.has_8bit != (i < r->len))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, split, back;
	unsigned char *stuffed;
	size_t n, cut, i, j;
	int lf;

	if (size < 3)
		return 0;
	cut = ((size_t)data[0] << 8 | data[1]);
	lf = data[2] & 1;
	data += 3;
	size -= 3;
	cut = size == 0 ? 0 : cut % (size + 1);

	run_machine(data, size, size, lf, &whole);
	run_machine(data, size, cut, lf, &split);
	if (whole.used != split.used || whole.ended != split.ended ||
	    whole.len != split.len || memcmp(whole.out, split.out, whole.len))
		abort();
	for (i = 0; i < whole.len; i++)
		if (whole.out[i] == '\n' && (i == 0 || whole.out[i - 1] != '\r'))
			abort();
	if (whole.ended) {
		/* The end is a "." line after a line end (or at the start). */
		n = whole.used;
		if (n < 2 || data[n - 1] != '\n')
			abort();
		if (!lf && (n < 3 || data[n - 2] != '\r' || data[n - 3] != '.'))
			abort();
	} else if (whole.used != size)
		abort();

	/* Round trip: stuff what was stored, end it, read it back. */
	if (whole.ended) {
		stuffed = malloc(2 * whole.len + 3);
		if (stuffed == NULL)
			abort();
		for (i = j = 0; i < whole.len; i++) {
			if (whole.out[i] == '.' && (i == 0 ||
			    (i >= 2 && whole.out[i - 1] == '\n' &&
			    whole.out[i - 2] == '\r')))
				stuffed[j++] = '.';
			stuffed[j++] = whole.out[i];
		}
		memcpy(stuffed + j, ".\r\n", 3);
		j += 3;
		run_machine(stuffed, j, j / 2, 0, &back);
		if (!back.ended || back.used != j || back.len != whole.len ||
		    memcmp(back.out, whole.out, whole.len) != 0)
			abort();
		free(back.out);
		free(stuffed);
	}
	free(whole.out);
	free(split.out);
	return 0;
}
