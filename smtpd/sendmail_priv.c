/*
 * sendmail_priv.c: whose rights sendmail works with.  Installed setgid to
 * the queue group, it keeps that group only to queue a message into the
 * queue smtpq.conf names; run by root, it becomes the queue's owner
 * first.  Each change is checked; one that fails ends sendmail (75).
 */
#include <sys/stat.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "sendmail.h"

/* Not POSIX (BSD and Linux have it), hidden by _POSIX_C_SOURCE. */
int	setgroups(size_t, const gid_t *);

/*
 * Run by root, sendmail works as the queue's owner, whatever the mode:
 * nothing that owner can plant under the queue (a link for
 * tmp/, new/ or trigger) then makes us do more than it could itself.  A
 * queue that does not exist yet, or that root owns, leaves us root.
 */
void
priv_become_owner(struct sendmail *sm)
{
	struct stat st;
	gid_t gid;

	if (getuid() != 0 && geteuid() != 0)
		return;
	if (stat(sm->queue_dir, &st) == -1) {
		if (errno == ENOENT)
			return;
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to look at queue %s: %s",
		    sendmail_esc(sm->queue_dir), strerror(errno));
	}
	if (st.st_uid == 0)
		return;
	gid = st.st_gid;
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
	    setuid(st.st_uid) == -1 || setuid(0) != -1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to become the owner of "
		    "queue %s (uid %ld): %s", sendmail_esc(sm->queue_dir),
		    (long)st.st_uid, strerror(errno));
}

/* Gives up the queue group, for anything the caller's own rights must
 * cover. */
void
priv_drop(struct sendmail *sm)
{
	if (getegid() != getgid() && setgid(getgid()) == -1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to drop privileges: %s",
		    strerror(errno));
}
