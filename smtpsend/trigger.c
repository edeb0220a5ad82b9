/*
 * trigger.c: the wait between two runs of smtpsend -w.  It lasts the
 * interval, or until a commit into new/ (smtpd, sendmail: queue_poke())
 * or sendmail -q writes a byte into the FIFO QUEUE/trigger, or until a
 * SIGTERM.  So mail leaves in milliseconds, and the interval is left for
 * retries.
 *
 * The FIFO is made here when missing, mode 0620 with the queue
 * directory's group (smtpd and the setgid sendmail poke it; nobody else
 * may).  Anything else at that path is refused with a log line, and the
 * waits are then the plain interval.  Its read end is opened before the
 * first run (a poke meanwhile would find no reader and be lost) and kept;
 * we hold a write end too, so that it never reads as end-of-file once the
 * last poker has gone, which would end every wait at once.
 *
 * Coalescing: the bytes waiting are drained before each run, at most one
 * pipe's worth, so any number of pokes during a run make one more run.
 * Pokes already waiting when a run ends are a storm: that next run begins
 * TRIGGER_GAP_MS after the last wake, so a storm makes a few runs.  A
 * poke that finds us waiting starts a run at once, however soon after
 * the last: mail sent one message at a time never waits for the gap.
 * Nothing but a poke, a signal or the interval ends a wait: a deferred
 * message in new/ pokes nothing, so it never makes us spin.
 */
#include <sys/select.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpsend.h"

#define TRIGGER_MODE	0620
#define TRIGGER_READS	16	/* of 4 KiB: a Linux pipe's 64 KiB */
#define TRIGGER_GAP_MS	20	/* runs a poke starts: at most 50 a second */

static int trigger_rd = -1, trigger_wr = -1;
static struct timespec trigger_last;	/* the last wake by a poke */

static void
trigger_fail(const char *queue_dir, const char *what)
{
	log_error("trigger=%s/%s result=error: %s%s%s; waits last the -w "
	    "interval", queue_dir, QUEUE_TRIGGER,
	    what, errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
	trigger_close();
}

/* Makes (when missing) and opens QUEUE/trigger; on any trouble, logs and
 * leaves the waits to the interval. */
void
trigger_open(struct queue *q, const char *queue_dir)
{
	struct stat st, dir;
	int is_made = 0;

	if (fstatat(q->dir, QUEUE_TRIGGER, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT) {
			trigger_fail(queue_dir, "unable to look at it");
			return;
		}
		if (mkfifoat(q->dir, QUEUE_TRIGGER, TRIGGER_MODE) == 0)
			is_made = 1;
		else if (errno != EEXIST) {
			trigger_fail(queue_dir, "unable to make it");
			return;
		}
	} else if (!S_ISFIFO(st.st_mode)) {
		errno = 0;
		trigger_fail(queue_dir, "not a FIFO, left alone");
		return;
	}
	/* O_NONBLOCK: the open of a read end would wait for a writer; and
	 * whatever is there now (replaced since the look) is checked again
	 * on the descriptor before it is used. */
	trigger_rd = openat(q->dir, QUEUE_TRIGGER, O_RDONLY | O_NONBLOCK |
	    O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (trigger_rd == -1 || fstat(trigger_rd, &st) == -1) {
		trigger_fail(queue_dir, "unable to open it");
		return;
	}
	if (!S_ISFIFO(st.st_mode)) {
		errno = 0;
		trigger_fail(queue_dir, "not a FIFO, left alone");
		return;
	}
	/* Ours: the umask (0027 under systemd) took the group's write, and
	 * the group must be the queue's, whoever we run as. */
	if (is_made && (fstat(q->dir, &dir) == -1 ||
	    fchown(trigger_rd, geteuid() == 0 ? dir.st_uid : (uid_t)-1,
	    dir.st_gid) == -1 || fchmod(trigger_rd, TRIGGER_MODE) == -1)) {
		trigger_fail(queue_dir, "unable to set its owner and mode");
		return;
	}
	trigger_wr = openat(q->dir, QUEUE_TRIGGER, O_WRONLY | O_NONBLOCK |
	    O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (trigger_wr == -1) {
		trigger_fail(queue_dir, "unable to open it");
		return;
	}
	if (trigger_rd >= FD_SETSIZE) {
		errno = EMFILE;
		trigger_fail(queue_dir, "unable to wait on it");
	}
}

void
trigger_close(void)
{
	if (trigger_rd != -1)
		close(trigger_rd);
	if (trigger_wr != -1)
		close(trigger_wr);
	trigger_rd = trigger_wr = -1;
}

/* Reads what the pokes left, a pipe's worth at most: more makes the next
 * wait end at once, never an endless read. */
static void
trigger_drain(void)
{
	char buf[4096];
	ssize_t n;
	int i;

	for (i = 0; i < TRIGGER_READS; i++) {
		n = read(trigger_rd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN) {
			log_error("trigger=%s result=error: unable to read: "
			    "%s; waits last the -w interval", QUEUE_TRIGGER,
			    strerror(errno));
			trigger_close();
		}
		/* n == 0 cannot be: we hold a write end. */
		return;
	}
}

/* In a storm (pokes came during the run), waits until TRIGGER_GAP_MS
 * have passed since the last wake, so that one run takes all the storm
 * brought meanwhile; a poke that found us waiting is not delayed. */
static void
trigger_gap(int is_storm)
{
	struct timespec now;
	long ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return;
	ms = (long)(now.tv_sec - trigger_last.tv_sec) * 1000 +
	    (now.tv_nsec - trigger_last.tv_nsec) / 1000000;
	if (is_storm && ms >= 0 && ms < TRIGGER_GAP_MS) {
		(void)sig_wait_any(NULL, 0, 0, line_now() +
		    (TRIGGER_GAP_MS - ms) * 1000000LL, WAIT_STOP, NULL);
		if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
			return;
	}
	trigger_last = now;
}

/* Waits up to seconds for a poke or a signal, then drains the pokes. */
void
trigger_wait(unsigned seconds)
{
	sigset_t pending;
	int n, is_storm;

	if (trigger_rd == -1) {
		sig_sleep(seconds);
		return;
	}
	if (sig_term)
		return;
	/* First a look without waiting: pokes already there came during
	 * the run. */
	n = sig_wait_any(&trigger_rd, 1, 0, WAIT_NOW, WAIT_STOP, NULL);
	is_storm = n > 0;
	if (n == -1 && errno == ETIMEDOUT)
		n = sig_wait_any(&trigger_rd, 1, 0, line_now() +
		    seconds * 1000000000LL, WAIT_STOP, NULL);
	if (n == -1 && errno != EINTR && errno != ETIMEDOUT) {
		log_error("trigger=%s result=error: unable to wait: %s; waits "
		    "last the -w interval", QUEUE_TRIGGER, strerror(errno));
		trigger_close();
		sig_sleep(seconds);
		return;
	}
	if (n > 0) {
		trigger_gap(is_storm);
		trigger_drain();
		/* A pselect() that finds the FIFO ready at once returns
		 * without taking a pending signal: under a steady stream of
		 * pokes SIGTERM would never get in. */
		if (sigpending(&pending) == 0 && (sigismember(&pending,
		    SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1 ||
		    sigismember(&pending, SIGHUP) == 1))
			sig_term = 1;
	}
}
