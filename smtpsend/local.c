/*
 * local.c: delivery into a Maildir for recipients in a local domain (-d).
 *
 * ROOT/<localpart>/{tmp,new,cur} is created when missing; the message is
 * written to tmp/ under a unique name, fsync'd, renamed into new/, and new/
 * is fsync'd: once local_deliver() says RES_OK, the mail survives a crash.
 * The box and its tmp/ and new/ are never reached through a symbolic link
 * (O_NOFOLLOW): one is refused, the recipient deferred.  File names are
 * the queue's unique names (queue_unique()), safe whatever -n says.
 * Everything is the owner's only (0700, 0600): mail is private.
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

/* Opens subdirectory name of the Maildir box, never through a symbolic
 * link: one there could point anywhere the sender (we) may write. */
static int
local_subdir(int box, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(box, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	/* O_DIRECTORY may say ENOTDIR first: tell a link for what it is. */
	if (fd == -1 && errno == ENOTDIR &&
	    fstatat(box, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP;
	return fd;
}

/* Writes the message into tmp/NAME of the open Maildir box and moves it
 * into new/, durably (queue_file_commit(), as the queue's own files).  0,
 * or -1 with errno set and no file left behind; *which names the
 * subdirectory that could not be opened, if that was it. */
static int
local_write(const struct msg *m, size_t rcpt, int box, const char *host,
    const char **which)
{
	static struct out o;
	char name[QUEUE_NAME_MAX + 1];
	int fd, tmpfd, newfd = -1, saved, rc = -1;

	*which = "tmp/";
	if ((tmpfd = local_subdir(box, "tmp")) == -1)
		return -1;
	*which = "new/";
	if ((newfd = local_subdir(box, "new")) == -1)
		goto done;
	*which = "";
	if ((fd = queue_file_create(tmpfd, "", host, name, sizeof(name),
	    0600)) == -1)
		goto done;
	out_init(&o, fd);
	/* RFC 5321 4.4: the final delivery records the reverse path. */
	out_printf(&o, "Return-Path: <%s>\n", m->env.from);
	out_printf(&o, "Delivered-To: <%s>\n", m->env.rcpt[rcpt]);
	if (body_copy(m->fd, m->env.body, &o, BODY_LF) == -1 ||
	    out_flush(&o) == -1) {
		saved = errno;
		close(fd);
		unlinkat(tmpfd, name, 0);
		errno = saved;
		goto done;
	}
	rc = queue_file_commit(fd, tmpfd, name, newfd, name);
done:
	saved = errno;
	if (newfd != -1)
		close(newfd);
	close(tmpfd);
	errno = saved;
	return rc;
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
	const char *addr = m->env.rcpt[rcpt], *which = "";
	char box[ADDR_LOCAL_MAX + 1];
	int rootfd = -1, boxfd = -1, saved;
	size_t i;

	if (addr_mailbox(addr, box, sizeof(box)) == -1) {
		snprintf(reply, size, "550 5.1.3 <%s>: unsafe mailbox name",
		    addr);
		return RES_PERM;
	}
	/* 0710: the receivers (group smtpq) may look a name up, as smtpd
	 * does to know who exists (smtpd/rcptcheck.c), but list nothing. */
	if ((mkdir(root, 0710) == -1 && errno != EEXIST) ||
	    (rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    local_mkdir(rootfd, box) == -1 ||
	    (boxfd = local_subdir(rootfd, box)) == -1)
		goto fail;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (local_mkdir(boxfd, subdirs[i]) == -1)
			goto fail;
	if (local_write(m, rcpt, boxfd, host, &which) == -1)
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
	snprintf(reply, size, "451 %s <%s>: Maildir %s/%s/%s: %s",
	    saved == ENOSPC || saved == EDQUOT ? "4.2.2" : "4.3.0", addr,
	    root, box, which, saved == ELOOP ? "a symbolic link, not "
	    "followed" : strerror(saved));
	return RES_TEMP;
}
