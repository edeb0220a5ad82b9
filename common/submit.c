/*
 * submit.c: the one way into the queue, for smtpd, sendmail, smtpsend's
 * aliases and its bounces: submit_begin() makes the tmp/ file, the
 * envelope goes at its head (envelope_put()'s lines), submit_commit()
 * moves it into new/.  So a message is queued the same way whether it
 * came by SMTP, by a pipe, through an alias or as a bounce.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* All n octets at pos, or -1 (a short read is an error: EIO). */
static int
submit_pread(int fd, char *buf, size_t n, off_t pos)
{
	ssize_t r;

	while (n > 0) {
		if ((r = pread(fd, buf, n, pos)) == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		buf += r;
		n -= (size_t)r;
		pos += r;
	}
	return 0;
}

static int
submit_pwrite(int fd, const char *buf, size_t n, off_t pos)
{
	ssize_t r;

	while (n > 0) {
		if ((r = pwrite(fd, buf, n, pos)) == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		buf += r;
		n -= (size_t)r;
		pos += r;
	}
	return 0;
}

/* The envelope (README, "The queue"): sender, an extension line when the
 * message is 8BITMIME (flags SUBMIT_8BITMIME), where it originated when
 * that was here (origin "local", "trusted" or "auth"; NULL for mail from
 * outside), "Smtputf8: yes" with SUBMIT_SMTPUTF8, one To: per recipient,
 * the empty line. */
int
submit_envelope(struct out *o, const char *sender,
    const char (*rcpts)[ADDR_MAX + 1], size_t nrcpts, int flags,
    const char *origin)
{
	char ext[3][SMTP_LINE_MAX + 1];
	size_t n = 0;

	if (flags & SUBMIT_8BITMIME)
		snprintf(ext[n++], sizeof(ext[0]), "Body: 8BITMIME");
	if (origin != NULL)
		snprintf(ext[n++], sizeof(ext[0]), "Origin: %s", origin);
	if (flags & SUBMIT_SMTPUTF8)
		snprintf(ext[n++], sizeof(ext[0]), "Smtputf8: yes");
	return envelope_put(o, sender, (const char (*)[SMTP_LINE_MAX + 1])ext,
	    n, rcpts, nrcpts, NULL);
}

/* Creates the message's file in tmp/ (queue_create()) with o writing to
 * it: the start of every way into the queue (smtpd, sendmail, aliases,
 * bounces).  0, or -1 with errno set. */
int
submit_begin(struct queue *q, struct queue_file *qf, struct out *o)
{
	if (queue_create(q, qf) == -1)
		return -1;
	out_init(o, qf->fd);
	return 0;
}

/*
 * Labels as 8BITMIME a message whose envelope submit_envelope() wrote
 * without the Body: line, once its 8-bit octets are known: inserts
 * "Body: 8BITMIME" after the From: line of qf, flushed and not yet
 * committed, by moving the rest of the file up, from its end down, in
 * place.
 *
 * Not a fixed-width line reserved in every envelope and overwritten:
 * that would change the envelope of every message, and "Body: 7BIT" padded
 * to the width of 8BITMIME would need a reader that skips padding.  This
 * costs a read and a write of the message, in the page cache before its
 * fsync, and only for 8-bit mail that came undeclared.  A crash in the
 * middle leaves a tmp/ file, which was never acknowledged.
 * 0, or -1 with errno set.
 */
int
submit_mark_8bit(struct queue *q, struct queue_file *qf, const char *sender)
{
	static const char line[] = "Body: 8BITMIME\n";
	static char buf[IO_BUFSIZE];
	const size_t shift = sizeof(line) - 1;
	/* "From: <" sender ">\n", as submit_envelope() writes it */
	off_t at = (off_t)(strlen(sender) + 9), end, pos;
	struct stat st;
	size_t n;
	int fd, rc = -1, saved;

	/* qf->fd is write-only (queue_create()); the same file, read too */
	if ((fd = openat(q->dir, qf->tmp, O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto done;
	for (end = st.st_size; end > at; end = pos) {
		pos = end - at > (off_t)sizeof(buf) ? end -
		    (off_t)sizeof(buf) : at;
		n = (size_t)(end - pos);
		if (submit_pread(fd, buf, n, pos) == -1 ||
		    submit_pwrite(fd, buf, n, pos + (off_t)shift) == -1)
			goto done;
	}
	rc = submit_pwrite(fd, line, shift, at);
done:
	saved = errno;
	if (close(fd) == -1 && rc == 0) {
		saved = errno;
		rc = -1;
	}
	errno = saved;
	return rc;
}

/*
 * Flushes what was written to qf and commits it into new/.  Returns 0
 * once the message is safe in new/; -1 with errno set and nothing of it
 * left in tmp/ or new/.
 */
int
submit_commit(struct queue *q, struct queue_file *qf, struct out *o)
{
	if (out_flush(o) == -1) {
		errno = o->error;
		queue_abort(q, qf);
		return -1;
	}
	/* queue_commit() removes the file itself when it fails. */
	return queue_commit(q, qf, "new");
}
