/*
 * fuzz_sendmail_head.c: sendmail's reader of a message from a local
 * program (smtpd/sendmail_in.c, sendmail_head.c: in_line(), head_read();
 * sendmail_message.c: message_extract(), message_write(); head_is_8bit())
 * on any bytes on stdin.
 *
 * Linked with sendmail's objects like the program, all but sendmail.c
 * (main); this file gives sendmail_fail() as a longjmp() back here
 * (sendmail_fail() exits for a message it refuses) and sendmail_esc().
 * Each input gets a fresh struct sendmail.  Input: 1 byte of flags (bit
 * 0: -i, a lone dot is text; bit 1: -t, recipients from the header),
 * then the message as a program would pipe it.  The message sendmail
 * would queue is written to a file and checked against RFC 5322 2.1 and
 * 2.2 as sendmail(8) promises it:
 *   - every line ends in CRLF, no CR or LF elsewhere but a bare CR as
 *     text, no NUL, at most 998 octets before the CRLF;
 *   - the header section is field lines ("name:" of printable octets) and
 *     their continuations (starting with SP or HT), Received: first, then
 *     an empty line;
 *   - what head_read() keeps stays inside its buffers: fields in order,
 *     each starting with a name, within head.len.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../smtpd/sendmail.h"

static jmp_buf fuzz_done;
static struct sendmail sm;

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

void
sendmail_fail(struct sendmail *s, int status, const char *fmt, ...)
{
	(void)s;
	(void)status;
	(void)fmt;
	longjmp(fuzz_done, 1);
}

const char *
sendmail_esc(const char *s)
{
	return s;
}

/* A struct sendmail as main() makes it, and what the run would know. */
static void
fuzz_reset(int flags)
{
	memset(&sm, 0, sizeof(sm));
	sm.queue_dir = QUEUE_DIR_DEFAULT;
	sm.max_size = SIZE_DEFAULT;
	sm.qf.fd = -1;
	in_init(&sm.in);
	sm.is_dot_ok = flags & 1;
	sm.is_extract = (flags & 2) != 0;
	strcpy(sm.hostname, "fuzz.test");
	strcpy(sm.login, "fuzz");
	strcpy(sm.queue.host, "fuzz.test");
	strcpy(sm.qf.name, "1.M1P1.fuzz.test");
	strcpy(sm.sender, "fuzz@fuzz.test");
}

/* What head_read() left must lie inside sm.head's text and fields. */
static void
check_fields(void)
{
	const struct head *h = &sm.head;
	size_t f, end = 0;

	if (h->len > sizeof(h->text) || h->nfields > FIELDS_MAX)
		abort();
	for (f = 0; f < h->nfields; f++) {
		if (h->fields[f].off < end || h->fields[f].len > h->len ||
		    h->fields[f].off > h->len - h->fields[f].len)
			abort();
		if (head_name_len(h->text + h->fields[f].off,
		    h->fields[f].len) == 0)
			abort();
		end = h->fields[f].off + h->fields[f].len;
	}
}

/* The message as queued: lines, header section, empty line, body. */
static void
check_message(const char *p, size_t len)
{
	const char *end = p + len, *crlf;
	size_t n;
	int is_head = 1, is_first = 1;

	while (p < end) {
		for (crlf = p; crlf < end - 1; crlf++)
			if (crlf[0] == '\r' && crlf[1] == '\n')
				break;
		if (crlf >= end - 1)
			abort();	/* a last line without CRLF */
		n = (size_t)(crlf - p);
		if (n > TEXT_LINE_MAX || memchr(p, '\n', n) != NULL ||
		    memchr(p, '\0', n) != NULL)
			abort();
		if (is_head) {
			if (n == 0)
				is_head = 0;
			else if (is_first && strncmp(p, "Received: ", 10) != 0)
				abort();
			else if (p[0] != ' ' && p[0] != '\t' &&
			    head_name_len(p, n) == 0)
				abort();
			else if ((p[0] == ' ' || p[0] == '\t') && is_first)
				abort();
			is_first = 0;
		}
		p = crlf + 2;
	}
	if (is_head)
		abort();	/* no end of the header section */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t dsize)
{
	static int out_fd = -1;
	char path[] = "/dev/shm/fuzz_sendmail_head.XXXXXX";
	char line[TEXT_LINE_MAX + 1], *buf;
	size_t len = 0;
	off_t end;
	int in_fd, flags, is_broken = 0, is_pending = 0, has_body = 0;
	int stage = 0;

	if (dsize < 1)
		return 0;
	flags = data[0];
	data++;
	dsize--;
	if (out_fd == -1) {
		if ((out_fd = mkstemp(path)) == -1)
			abort();
		unlink(path);
		strcpy(path, "/dev/shm/fuzz_sendmail_head.XXXXXX");
		if (log_open("sendmail", "/dev/null") == -1)
			abort();
	}
	if ((in_fd = mkstemp(path)) == -1)
		abort();
	unlink(path);
	if (write(in_fd, data, dsize) != (ssize_t)dsize ||
	    lseek(in_fd, 0, SEEK_SET) == -1 || dup2(in_fd, 0) == -1 ||
	    ftruncate(out_fd, 0) == -1 || lseek(out_fd, 0, SEEK_SET) == -1)
		abort();
	close(in_fd);

	fuzz_reset(flags);
	if (setjmp(fuzz_done) == 0) {
		has_body = head_read(&sm, line, &len, &is_broken,
		    &is_pending);
		check_fields();
		if (is_pending && (len > TEXT_LINE_MAX || line[len] != '\0'))
			abort();
		stage = 1;
		if (sm.is_extract)
			message_extract(&sm);
		(void)head_is_8bit(&sm.head);
		out_init(&sm.qout, out_fd);
		message_write(&sm, line, len, is_broken, has_body,
		    is_pending);
		if (out_flush(&sm.qout) == -1)
			abort();
		stage = 2;
	}
	if (stage == 0)
		check_fields();		/* refused while reading the header */
	if (stage < 2)
		return 0;		/* refused: nothing would be queued */
	if ((end = lseek(out_fd, 0, SEEK_END)) == -1 ||
	    (buf = malloc((size_t)end + 1)) == NULL ||
	    pread(out_fd, buf, (size_t)end, 0) != (ssize_t)end)
		abort();
	check_message(buf, (size_t)end);
	free(buf);
	return 0;
}
