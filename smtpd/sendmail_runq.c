/*
 * sendmail_runq.c: -q, a queue run now.  sendmail starts no delivery of
 * its own: by root it runs smtpqctl flush; by anyone it wakes the smtpsend
 * -w waiting on QUEUE/trigger, or says that none waits.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sendmail.h"

#ifndef SBINDIR
#define SBINDIR		"/usr/local/sbin"	/* where smtpqctl is installed */
#endif

/*
 * -q: wakes the smtpsend -w that waits on QUEUE/trigger (smtpsend.8,
 * -w).  It does not start smtpsend itself: only the unit or
 * the operator knows its relay and Maildir flags, and a run without them
 * would deliver every recipient locally.  The poke is queue_poke()'s:
 * never through a link, only into a FIFO (a link planted there made root
 * write a byte into any file).
 */
int
runq_wake(const struct sendmail *sm)
{
	struct queue q = { -1, -1, -1, "", -1, -1 };
	struct stat st;

	q.dir = open(sm->queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q.dir == -1 || fstatat(q.dir, QUEUE_TRIGGER, &st,
	    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "sendmail: no smtpsend -w is waiting on "
		    "%s/%s: the next timer run delivers (or: systemctl start "
		    "smtpsend)\n", sendmail_esc(sm->queue_dir), QUEUE_TRIGGER);
		if (q.dir != -1)
			close(q.dir);
		return 0;
	}
	queue_poke(&q);
	close(q.dir);
	return 0;
}

/*
 * -q by root: smtpqctl flush, which makes every queued message due now
 * (as the queue's owner) and, under systemd, starts smtpsend.service: a
 * real queue run, as sendmail -q promises, not a wait for the timer.
 * Only root: no one else may start units or touch others' files.  It
 * returns only when smtpqctl could not be run (-1, said).
 */
int
runq_flush(const struct sendmail *sm)
{
	static const char path[] = SBINDIR "/smtpqctl";

	char *given[] = { "smtpqctl", "-q", NULL, "flush", NULL };
	char *dflt[] = { "smtpqctl", "flush", NULL };

	given[2] = (char *)sm->queue_dir;
	fflush(stdout);
	prog_exec(path, sm->is_queue_given ? given : dflt);
	fprintf(stderr, "sendmail: unable to run %s: %s; poking the queue "
	    "instead\n", path, strerror(errno));
	return -1;
}
