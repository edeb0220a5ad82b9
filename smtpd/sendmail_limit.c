/*
 * sendmail_limit.c: what one local user may put in the queue.
 *
 * Two limits, each refused with 75 (try later) and a line saying which:
 *   - the free-space reserve, smtpd's -m rule with its default: the
 *     queue's file system keeps MINFREE_SIZES times the size limit free,
 *     checked before the message is read and again once it is written;
 *   - a budget per uid and hour: LIMIT_MESSAGES messages and LIMIT_BYTES
 *     octets.  Counted in a small state file per uid, tmp/sendmail.uid.N
 *     ("start count bytes"), under an fcntl lock.  A count of the user's
 *     own files in new/ would be simpler, but smtpsend rewrites a
 *     deferred file as the queue's owner, so a flood to a relay that is
 *     down would stop counting after the first try: the state file
 *     counts what was accepted, whatever became of it.  It lives in tmp/
 *     because that is where the group may create files; smtpsend sweeps
 *     tmp/ files idle for 36 hours, which only resets an idle budget.
 *     Only sendmail (the group) can reach it: the queue is 0750.
 * root (uid 0) has no budget; the reserve holds for everyone.
 */
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sendmail.h"

/* Whether the queue's file system (dir) still has the reserve free. */
int
limit_space_ok(int dir, unsigned long max_size)
{
	struct statvfs sv;

	if (fstatvfs(dir, &sv) == -1)
		return 1;	/* no figure: smtpd does the same */
	return (unsigned long long)sv.f_bavail * sv.f_frsize >=
	    (unsigned long long)MINFREE_SIZES * max_size;
}

/*
 * Checks (size 0, before reading) or takes (size > 0, before the commit)
 * uid's budget.  Returns 0 when within it, 1 when over it (why says so),
 * -1 on error (errno).
 */
int
limit_user(int dir, uid_t uid, unsigned long long size, char *why,
    size_t whysize)
{
	char name[64], buf[128], *end;
	unsigned long long count = 0, bytes = 0;
	long long start = 0;
	struct flock fl;
	struct stat st;
	time_t now = time(NULL);
	ssize_t n;
	int fd, rc = 0, saved;

	if (uid == 0)
		return 0;
	snprintf(name, sizeof(name), "tmp/sendmail.uid.%ld", (long)uid);
	fd = openat(dir, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC, 0660);
	if (fd == -1)
		return -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETLKW, &fl) == -1 ||
	    (n = pread(fd, buf, sizeof(buf) - 1, 0)) == -1) {
		saved = errno;
		close(fd);
		errno = saved != 0 ? saved : EINVAL;
		return -1;
	}
	buf[n] = '\0';
	errno = 0;
	start = strtoll(buf, &end, 10);
	if (*end == ' ')
		count = strtoull(end + 1, &end, 10);
	if (*end == ' ')
		bytes = strtoull(end + 1, &end, 10);
	/* Anything unreadable, or a window past: a new window. */
	if (errno != 0 || *end != '\n' || start > (long long)now ||
	    (long long)now - start >= LIMIT_WINDOW) {
		start = (long long)now;
		count = bytes = 0;
	}
	if (count >= LIMIT_MESSAGES || bytes + size > LIMIT_BYTES) {
		snprintf(why, whysize, "uid %ld has queued %llu messages, %llu "
		    "octets this hour; the limit is %d messages, %llu octets "
		    "an hour", (long)uid, count, bytes, LIMIT_MESSAGES,
		    (unsigned long long)LIMIT_BYTES);
		rc = 1;
	} else if (size > 0) {
		n = snprintf(buf, sizeof(buf), "%lld %llu %llu\n", start,
		    count + 1, bytes + size);
		if (ftruncate(fd, 0) == -1 ||
		    pwrite(fd, buf, (size_t)n, 0) != n)
			rc = -1;
	}
	saved = errno;
	close(fd);		/* and the lock with it */
	errno = saved;
	return rc;
}
