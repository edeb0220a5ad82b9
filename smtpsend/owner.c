/*
 * owner.c: smtpsend run by root works as the queue's owner.  Whoever runs as that owner (smtpd, compromised) can replace
 * tmp/, new/, failed/ or trigger by symbolic links; root following one
 * would move, delete or write files anywhere.  So before the queue is
 * touched, root takes the owner and group of the queue directory and
 * drops every other group and root itself, for good: from then on a link
 * leads only where that owner could go anyway.  The secrets file (-a),
 * the aliases (-A) and the log were opened before, as root.
 *
 * A queue directory that root owns leaves us root: nobody else can
 * plant links in it (queue.c still opens its subdirectories with
 * O_NOFOLLOW and checks their owner).  Any failure is fatal: a root
 * tool that cannot give up root does not go on.
 */
/* setgroups() is in no POSIX standard, but dropping root's supplementary
 * groups has no POSIX way at all: every BSD and Linux libc has it, glibc
 * and musl behind this feature macro. */
#define _DEFAULT_SOURCE 1 /* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */

#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "smtpsend.h"

void
owner_become(const char *queue_dir)
{
	struct stat st;
	gid_t gid;

	if (geteuid() != 0)
		return;
	/* Made by root when missing, and then root's: nothing to drop. */
	if (mkdir(queue_dir, 0750) == -1 && errno != EEXIST)
		die(EXIT_TEMPFAIL, "unable to make queue %s: %s", queue_dir,
		    strerror(errno));
	if (stat(queue_dir, &st) == -1)
		die(EXIT_TEMPFAIL, "unable to look at queue %s: %s",
		    queue_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die(EXIT_TEMPFAIL, "queue %s: not a directory", queue_dir);
	if (st.st_uid == 0)
		return;
	gid = st.st_gid;
	/* Groups first: after setuid() we could not change them. */
	if (setgroups(1, &gid) == -1 || setgid(st.st_gid) == -1 ||
	    setuid(st.st_uid) == -1)
		die(EXIT_TEMPFAIL, "queue %s: unable to become its owner "
		    "(uid %ld, gid %ld): %s", queue_dir, (long)st.st_uid,
		    (long)st.st_gid, strerror(errno));
	/* setuid() as root sets all three ids; make sure of it. */
	if (setuid(0) != -1 || geteuid() != st.st_uid ||
	    getuid() != st.st_uid || getegid() != st.st_gid)
		die(EXIT_TEMPFAIL, "queue %s: root could not be given up",
		    queue_dir);
	log_info("queue=%s uid=%ld gid=%ld result=running as the queue's "
	    "owner", queue_dir, (long)st.st_uid, (long)st.st_gid);
}
