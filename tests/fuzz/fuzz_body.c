/*
 * fuzz_body.c: smtpsend's body_scan() (smtpsend/body.c, included here)
 * over any message, as smtpd may have queued it from a peer.
 *
 * The input is the message part of a queue file, written to an unlinked
 * temporary file at an offset taken from the first byte (so the scan
 * starts where an envelope would end).  The result is checked against a
 * model: BODY_8BIT when any octet is over 127; BODY_8BIT_HEADERS when one
 * is before the end of the header section, the first empty line, where a
 * line ends at LF, a CR just before the LF belongs to the line end, and
 * any other CR is content (as body_copy() reads it).  Nothing else is set.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../smtpsend/body.c"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int fd = -1;

static int
model(const uint8_t *p, size_t n)
{
	size_t i, start = 0, end = n, len;
	int flags = 0;

	/* the header section: up to the first line that is empty */
	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		len = i - start;
		if (len > 0 && p[i - 1] == '\r')
			len--;
		if (len == 0) {
			end = start;
			break;
		}
		start = i + 1;
	}
	for (i = 0; i < n; i++)
		if (p[i] > 127)
			flags |= BODY_8BIT | (i < end ? BODY_8BIT_HEADERS : 0);
	return flags;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz_body.XXXXXX";
	off_t offset;
	int got, want;

	if (size < 1)
		return 0;
	offset = data[0];
	data++;
	size--;
	if (fd == -1) {
		if ((fd = mkstemp(path)) == -1)
			abort();
		unlink(path);
	}
	if (ftruncate(fd, 0) == -1 ||
	    pwrite(fd, "envelope", 8, 0) == -1 ||
	    (size > 0 && pwrite(fd, data, size, offset) != (ssize_t)size) ||
	    ftruncate(fd, offset + (off_t)size) == -1)
		abort();
	got = body_scan(fd, offset);
	want = model(data, size);
	if (got != want) {
		fprintf(stderr, "body_scan: %d, model: %d\n", got, want);
		abort();
	}
	return 0;
}
