/*
 * submit.c: what smtpd and sendmail both do to put a new message into the
 * queue: the envelope at the head of the tmp/ file, and the commit that
 * moves it into new/.  One piece of code for both entry points, so a
 * message is queued the same way whether it came by SMTP or by a pipe.
 */
#include <errno.h>

#include "common.h"

/* The envelope (DESIGN.md "Queue"): sender, an extension line when the
 * message is 8BITMIME (flags SUBMIT_8BITMIME), where it originated when
 * that was here (origin "local", "trusted" or "auth"; NULL for mail from
 * outside), "Smtputf8: yes" with SUBMIT_SMTPUTF8, one To: per recipient,
 * the empty line. */
int
submit_envelope(struct out *o, const char *sender,
    const char (*rcpts)[ADDR_MAX + 1], size_t nrcpts, int flags,
    const char *origin)
{
	size_t i;

	out_printf(o, "From: <%s>\n", sender);
	if (flags & SUBMIT_8BITMIME)
		out_puts(o, "Body: 8BITMIME\n");
	if (origin != NULL)
		out_printf(o, "Origin: %s\n", origin);
	if (flags & SUBMIT_SMTPUTF8)
		out_puts(o, "Smtputf8: yes\n");
	for (i = 0; i < nrcpts; i++)
		out_printf(o, "To: <%s>\n", rcpts[i]);
	return out_puts(o, "\n");
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
