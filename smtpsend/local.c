/*
 * local.c: delivery into a Maildir for recipients in a local domain (-d).
 *
 * ROOT/<localpart>/{tmp,new,cur} is created when missing; the message is
 * written to tmp/ under a unique name, fsync'd, renamed into new/, and new/
 * is fsync'd: once local_deliver() says RES_OK, the mail survives a crash.
 * The file gets Return-Path: and Delivered-To: first, as other MDAs write
 * them, and LF line ends, as Maildir readers expect.  A local part that
 * could name something outside ROOT is refused for good.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpsend.h"

/* mkdir at dirfd, and fsync dirfd when it made one.  0 or -1. */
static int
local_mkdir(int dirfd, const char *name)
{
	if (mkdirat(dirfd, name, 0700) == 0)
		return fsync(dirfd);
	return errno == EEXIST ? 0 : -1;
}

/* Writes the message into tmp/NAME of the open Maildir box and moves it
 * into new/.  0, or -1 with errno set and no file left behind. */
static int
local_write(const struct msg *m, size_t rcpt, int box, const char *host)
{
	static struct out o;
	struct timespec pause = { 0, 1000 };
	char name[QUEUE_NAME_MAX + 1], tmp[QUEUE_NAME_MAX + 8];
	char new[QUEUE_NAME_MAX + 8];
	int fd = -1, newfd, saved, tries;

	for (tries = 0; fd == -1 && tries < 100; tries++) {
		if (queue_unique(host, name, sizeof(name)) == -1)
			return -1;
		snprintf(tmp, sizeof(tmp), "tmp/%s", name);
		fd = openat(box, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    0600);
		if (fd == -1 && errno != EEXIST)
			return -1;
		if (fd == -1)
			nanosleep(&pause, NULL);	/* same microsecond */
	}
	if (fd == -1)
		return -1;
	snprintf(new, sizeof(new), "new/%s", name);
	out_init(&o, fd);
	/* RFC 5321 4.4: the final delivery records the reverse path. */
	out_printf(&o, "Return-Path: <%s>\n", m->env.from);
	out_printf(&o, "Delivered-To: <%s>\n", m->env.rcpt[rcpt]);
	if (body_copy(m->fd, m->env.body, &o, BODY_LF) == -1 ||
	    out_flush(&o) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (renameat(box, tmp, box, new) == -1)
		goto fail;
	/* Not durable is not delivered: the file leaves new/ again, or the
	 * retry would make a second copy (as queue_commit() does). */
	if ((newfd = openat(box, "new", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fsync(newfd) == -1) {
		saved = errno;
		if (newfd != -1)
			close(newfd);
		unlinkat(box, new, 0);
		errno = saved;
		return -1;
	}
	close(newfd);
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	unlinkat(box, tmp, 0);
	errno = saved;
	return -1;
}

/*
 * Delivers message m to its recipient number rcpt in ROOT.  reply gets the
 * outcome in SMTP form, for the log and for a bounce.
 */
enum result
local_deliver(const struct msg *m, size_t rcpt, const char *root,
    const char *host, char *reply, size_t size)
{
	static const char *const subdirs[] = { "tmp", "new", "cur" };
	const char *addr = m->env.rcpt[rcpt];
	char box[ADDR_LOCAL_MAX + 1];
	int rootfd = -1, boxfd = -1, saved;
	size_t i;

	if (addr_mailbox(addr, box, sizeof(box)) == -1) {
		snprintf(reply, size, "550 5.1.3 <%s>: unsafe mailbox name",
		    addr);
		return RES_PERM;
	}
	if ((mkdir(root, 0755) == -1 && errno != EEXIST) ||
	    (rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    local_mkdir(rootfd, box) == -1 ||
	    (boxfd = openat(rootfd, box, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		goto fail;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (local_mkdir(boxfd, subdirs[i]) == -1)
			goto fail;
	if (local_write(m, rcpt, boxfd, host) == -1)
		goto fail;
	close(boxfd);
	close(rootfd);
	snprintf(reply, size, "250 2.0.0 delivered to %s/%s", root, box);
	return RES_OK;
fail:
	saved = errno;
	if (boxfd != -1)
		close(boxfd);
	if (rootfd != -1)
		close(rootfd);
	/* Our own trouble is temporary: RFC 3463 4.3.0, 4.2.2 when full. */
	snprintf(reply, size, "451 %s <%s>: Maildir %s/%s: %s",
	    saved == ENOSPC || saved == EDQUOT ? "4.2.2" : "4.3.0", addr,
	    root, box, strerror(saved));
	return RES_TEMP;
}
