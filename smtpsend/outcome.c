/*
 * outcome.c: what came of each recipient, and what that does to the
 * queue file.
 *
 * The delivery paths set each recipient's result (rcpt_set(), rcpt_said());
 * outcome_finish() then logs one line per recipient, queues the bounce for
 * those that failed for good (dsn.c), and removes the file (all done),
 * moves it to failed/ (all failed), or rewrites it to list only the
 * recipients still pending, with its next try as its mtime.  A failed
 * rewrite leaves the old file: duplicates, never a loss.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smtpsend.h"

#define RETRY_MIN	60		/* the delay between tries grows from */
#define RETRY_MAX	3600		/* a minute to at most an hour */

/* Copies a reply into a log- and header-safe one-line form. */
void
printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = (src[i] < ' ' || src[i] > '~') ? ' ' : src[i];
	dst[i] = '\0';
}

/* Sets m's recipient i's outcome from a reply code and text. */
void
rcpt_set(struct msg *m, size_t i, int code, const char *reply)
{
	m->rcpt[i].result = code / 100 == 2 ? RES_OK :
	    code / 100 == 5 ? RES_PERM : RES_TEMP;
	m->rcpt[i].remote[0] = '\0';
	printable(m->rcpt[i].reply, sizeof(m->rcpt[i].reply), reply);
}

/* The same for a reply that host gave. */
void
rcpt_said(struct msg *m, size_t i, int code, const char *reply,
    const char *host)
{
	rcpt_set(m, i, code, reply);
	printable(m->rcpt[i].remote, sizeof(m->rcpt[i].remote), host);
}

/* Moves new/NAME to failed/, durably. */
int
outcome_fail(struct queue *q, const char *name)
{
	char safe[QUEUE_NAME_MAX * 4 + 1];

	if (renameat(q->new_dir, name, q->failed_dir, name) == -1 ||
	    fsync(q->failed_dir) == -1) {
		log_error("id=%s result=error: unable to move to failed/: %s",
		    log_esc(name, safe, sizeof(safe)), strerror(errno));
		return -1;
	}
	return 0;
}

/* The delay before the next try: the message's age, so it doubles from
 * try to try, bounded to between a minute and an hour. */
static time_t
outcome_next(const struct msg *m, time_t now)
{
	time_t age = now - m->arrival;

	return now + (age < RETRY_MIN ? RETRY_MIN : age > RETRY_MAX ?
	    RETRY_MAX : age);
}

/* Each recipient's line in the log (smtpsend(8) LOGGING: one per recipient
 * and attempt), a recipient pending past the queue's lifetime failed
 * for good first.  Returns how many failed for good. */
static size_t
outcome_log(const struct outcome_conf *c, struct msg *m, time_t now)
{
	static const char *const said[] = { "sent", "deferred", "bounced" };
	static const char *const routes[] = { "local", "relay", "mx" };
	char status[16], delay[32];
	struct rcpt *r;
	size_t i, failed = 0;
	int is_expired = now - m->arrival >= (time_t)c->expire;

	date_age((long)(now - m->arrival), delay, sizeof(delay));
	for (i = 0; i < m->env.nrcpt; i++) {
		r = &m->rcpt[i];
		if (r->result == RES_TEMP && is_expired) {
			r->result = RES_PERM;
			r->is_expired = 1;
		}
		dsn_status(m, i, status, sizeof(status));
		log_info("id=%s to=<%s> route=%s relay=%s tls=%s delay=%s "
		    "dsn=%s result=%s%s: %s", m->name, r->addr,
		    routes[r->route], r->route == ROUTE_LOCAL ? "maildir" :
		    r->via[0] != '\0' ? r->via : "none",
		    r->tls[0] != '\0' ? r->tls : "none", delay, status,
		    said[r->result], r->is_expired ? " (expired)" : "",
		    r->reply);
		failed += r->result == RES_PERM;
		metrics_count(r->result, r->route == ROUTE_LOCAL ? "local" :
		    r->tls[0] != '\0' ? r->tls : "none");
	}
	return failed;
}

/* The bounce for the failed recipients (none for a bounce).  Returns how
 * many failed for good: 0 when the bounce could not be queued, each of
 * them pending again, so that the sender is told at a later try. */
static size_t
outcome_bounce(const struct outcome_conf *c, struct msg *m, size_t failed)
{
	char dsn[QUEUE_NAME_MAX + 1];
	size_t i;

	if (failed == 0)
		return 0;
	if (m->env.from[0] == '\0') {
		log_info("id=%s result=failed: no bounce for a bounce "
		    "(null sender)", m->name);
		return failed;
	}
	if (dsn_queue(c->queue, m, c->hostname, dsn, sizeof(dsn)) == -1) {
		log_error("id=%s result=deferred: unable to queue bounce: %s",
		    m->name, strerror(errno));
		for (i = 0; i < m->env.nrcpt; i++)
			if (m->rcpt[i].result == RES_PERM)
				m->rcpt[i].result = RES_TEMP;
		return 0;
	}
	log_info("id=%s dsn=%s result=bounced", m->name, dsn);
	return failed;
}

/* No recipient pending: the file goes (all delivered), or to failed/
 * with the failed ones only (put back, it does not mail again those who
 * have it). */
static enum try
outcome_close(struct queue *q, struct msg *m, size_t failed)
{
	int keep[RCPT_MAX];
	size_t i;

	if (failed == m->env.nrcpt)
		return outcome_fail(q, m->name) == 0 ? TRY_DONE : TRY_KEPT;
	if (failed > 0) {
		for (i = 0; i < m->env.nrcpt; i++)
			keep[i] = m->rcpt[i].result == RES_PERM;
		if (envelope_fail(q, m->fd, m->name, &m->env,
		    keep) == 0)
			return TRY_DONE;
		log_error("id=%s result=error: unable to move to failed/: %s",
		    m->name, strerror(errno));
		return TRY_KEPT;
	}
	/* No fsync of new/ here: an unlink lost in a crash brings the
	 * message back, to be delivered twice, which a crash may cause
	 * anyway; nothing is lost.  It halves the time per message. */
	if (unlinkat(q->new_dir, m->name, 0) == -1) {
		log_error("id=%s result=error: unable to remove: %s",
		    m->name, strerror(errno));
		return TRY_KEPT;
	}
	reap_close(m->fd);	/* the wait for a discard: reap.c */
	m->fd = -1;
	log_info("id=%s result=done", m->name);
	return TRY_DONE;
}

/* Recipients pending (keep[i], pending of them): the file lists them
 * only, and waits for its next try. */
static enum try
outcome_defer(struct queue *q, struct msg *m, time_t now, const int *keep,
    size_t pending)
{
	struct timespec times[2];
	char when[32];

	times[0].tv_sec = times[1].tv_sec = outcome_next(m, now);
	times[0].tv_nsec = times[1].tv_nsec = 0;
	/* A failed rewrite leaves the old file, which means duplicates,
	 * never a loss; it still waits for its next try.  Stopped by a
	 * signal, a message that got nowhere stays due. */
	if (pending < m->env.nrcpt && envelope_rewrite(q, m->fd,
	    m->name, &m->env, keep, times[0].tv_sec) == -1)
		log_error("id=%s result=error: unable to rewrite: %s",
		    m->name, strerror(errno));
	/* A file sendmail(8) made is its caller's, whose times only the
	 * owner may set: a copy of our own takes them. */
	if (!sig_term && futimens(m->fd, times) == -1 && (errno != EPERM ||
	    envelope_rewrite(q, m->fd, m->name, &m->env, keep,
	    times[0].tv_sec) == -1))
		log_error("id=%s result=error: unable to set next try: %s",
		    m->name, strerror(errno));
	log_info("id=%s pending=%zu next=%s result=deferred", m->name,
	    pending, date_age((long)(times[0].tv_sec - now), when,
	    sizeof(when)));
	return TRY_KEPT;
}

/* Logs each recipient's outcome, bounces the failed ones, and removes,
 * fails or rewrites the queue file to match. */
enum try
outcome_finish(const struct outcome_conf *c, struct msg *m, time_t now)
{
	int keep[RCPT_MAX];
	size_t i, pending = 0, failed;

	failed = outcome_bounce(c, m, outcome_log(c, m, now));
	for (i = 0; i < m->env.nrcpt; i++)
		pending += keep[i] = m->rcpt[i].result == RES_TEMP;
	if (pending == 0)
		return outcome_close(c->queue, m, failed);
	return outcome_defer(c->queue, m, now, keep, pending);
}

