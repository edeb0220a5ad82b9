/*
 * feed.h: the input side shared by the fuzz targets that read through a
 * struct line (fuzz_line.c, fuzz_reply.c).
 *
 * The fuzzer's bytes become what the reader would get from a peer: the
 * first few are preloaded into in->buf as if an earlier read had brought
 * them, the rest sit in an unlinked temporary file that in->fd reads.  A
 * regular file is always ready for pselect() and gives EOF at its end, so
 * any input size works (a pipe would hold only 64 KiB and block), and the
 * preload length, taken from the input, moves the point where line_fill()
 * must read again.  in->fd is never -1: line_fill() would FD_SET it.
 *
 * Input layout after the target's own leading bytes:
 *   2 bytes   preload length (big-endian), cut to what follows and to
 *             IO_BUFSIZE
 *   1 byte    repeat: the first stream byte (LF taken as 'x') is
 *             repeated repeat * 512 times, so a few input bytes make a line
 *             longer than the 64 KiB buffer without a large -max_len (one
 *             line, not 130,000 empty ones that would only slow the run)
 *   the rest  the stream
 * The expanded stream is left in feed_data/feed_len for the target's own
 * reference model.
 */
#ifndef FEED_H
#define FEED_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define FEED_REPEAT_UNIT	512

static struct line *feed_in;	/* malloc'd: ASan sees past buf's end */
static int feed_fd = -1;
static unsigned char *feed_data;	/* the whole stream, for checking */
static size_t feed_len;

static void
feed_die(const char *what)
{
	perror(what);
	abort();
}

static void
feed_write_all(int fd, const unsigned char *p, size_t n, off_t at)
{
	ssize_t w;

	while (n > 0) {
		if ((w = pwrite(fd, p, n, at)) == -1)
			feed_die("pwrite");
		p += w;
		at += w;
		n -= (size_t)w;
	}
}

/* Sets up feed_in from data; returns it. */
static struct line *
feed(const uint8_t *data, size_t size)
{
	char path[] = "/dev/shm/fuzz-feed.XXXXXX";
	size_t preload = 0, repeat = 0;

	if (feed_fd == -1) {
		if ((feed_fd = mkstemp(path)) == -1)
			feed_die("mkstemp");
		unlink(path);
		if ((feed_in = malloc(sizeof(*feed_in))) == NULL)
			feed_die("malloc");
	}
	if (size >= 2) {
		preload = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
	}
	if (size >= 1) {
		repeat = data[0];
		data++;
		size--;
	}
	if (size == 0)
		repeat = 0;

	/* The stream: data[0] (LF as 'x') repeat * 512 times, then data. */
	free(feed_data);
	feed_len = repeat * FEED_REPEAT_UNIT + size;
	if ((feed_data = malloc(feed_len + 1)) == NULL)
		feed_die("malloc");
	if (repeat > 0)
		memset(feed_data, data[0] == '\n' ? 'x' : data[0],
		    repeat * FEED_REPEAT_UNIT);
	if (size > 0)
		memcpy(feed_data + repeat * FEED_REPEAT_UNIT, data, size);

	if (preload > feed_len)
		preload = feed_len;
	if (preload > sizeof(feed_in->buf))
		preload = sizeof(feed_in->buf);
	line_init(feed_in, feed_fd, 0);
	memcpy(feed_in->buf, feed_data, preload);
	feed_in->end = preload;

	if (ftruncate(feed_fd, 0) == -1)
		feed_die("ftruncate");
	feed_write_all(feed_fd, feed_data + preload, feed_len - preload, 0);
	if (lseek(feed_fd, 0, SEEK_SET) == -1)
		feed_die("lseek");
	return feed_in;
}

/* The reader's indices must stay inside its buffer. */
static void
feed_check_indices(const struct line *in)
{
	if (in->start > in->end || in->end > sizeof(in->buf))
		abort();
}

#endif
