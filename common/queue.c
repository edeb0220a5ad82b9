/*
 * queue.c: the Maildir-style queue: tmp/ being written, new/ ready,
 * failed/ given up.
 *
 * A message is committed by write, fsync, rename from tmp/ into new/, and
 * fsync of new/: once queue_commit() returns 0 it survives a crash, and
 * until then nothing of it is in new/.  Names are Maildir unique names,
 * <epoch>.M<usec>P<pid>.<host>, and double as queue ids.  The session cap
 * is a byte-range lock per session in smtpd.lock: the kernel drops a
 * crashed session's lock, so no count ever goes stale.
 *
 * tmp/, new/ and failed/ are opened once, never through a symbolic link
 * and only when the queue directory's owner owns them, and every file is
 * then named relative to those descriptors: whoever runs as the queue's
 * owner can replace them by links, and a tool run by
 * root must not follow one into /etc.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static const char *const queue_dirs[] = { "tmp", "new", "failed" };

/* The host part of a queue name, at most; longer names are cut. */
#define QUEUE_HOST_MAX	200

/*
 * The host part of a unique name, into buf (QUEUE_HOST_MAX + 1 octets).
 * Maildir's rule: it must not hold '/' (a path) or ':' (Maildir's info
 * separator); an address literal given as our name may hold both.  Cut so
 * that a whole name stays within the 255 octets a file name may have: the
 * rest takes well under 55.
 */
static void
queue_host(const char *host, char *buf)
{
	size_t i;

	for (i = 0; i < QUEUE_HOST_MAX && host[i] != '\0'; i++)
		buf[i] = host[i] == '/' || host[i] == ':' ? '_' : host[i];
	buf[i] = '\0';
}

/* Opens the queue's subdirectory name: a directory (no link followed)
 * that the queue directory's owner owns, or -1 (ELOOP, ENOTDIR, EPERM). */
static int
queue_subdir(const struct queue *q, const char *name)
{
	struct stat top, st;
	int fd;

	if (fstat(q->dir, &top) == -1 || (fd = openat(q->dir, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return -1;
	}
	if (st.st_uid != top.st_uid) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * Where qf's file in tmp/ is named: (tmp/'s descriptor, NAME), or, when
 * tmp/ could not be opened for reading, (the queue's, "tmp/NAME").
 */
static int
queue_tmp_at(const struct queue *q, const struct queue_file *qf,
    const char **name)
{
	*name = q->tmp_dir != -1 ? qf->name : qf->tmp;
	return q->tmp_dir != -1 ? q->tmp_dir : q->dir;
}

/* tmp/ that we may not read: a directory (not a link) that the queue
 * directory's owner owns.  0, or -1 with errno. */
static int
queue_tmp_checked(const struct queue *q)
{
	struct stat top, st;

	if (fstat(q->dir, &top) == -1 ||
	    fstatat(q->dir, "tmp", &st, AT_SYMLINK_NOFOLLOW) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode) || st.st_uid != top.st_uid) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/*
 * The descriptor of subdir ("tmp", "new", "failed"), opened now when
 * queue_open() could not: -1 with errno saying why.  new/ is needed from
 * the start; tmp/ and failed/ only when a file is made or failed, so
 * that a broken tmp/ costs smtpd a 451 per message, not every session.
 */
int
queue_dirfd(struct queue *q, const char *subdir)
{
	int *fd = strcmp(subdir, "tmp") == 0 ? &q->tmp_dir :
	    strcmp(subdir, "new") == 0 ? &q->new_dir : &q->failed_dir;

	if (*fd == -1)
		*fd = queue_subdir(q, subdir);
	return *fd;
}

int
queue_open(struct queue *q, const char *dir, const char *host)
{
	size_t i;

	q->dir = q->new_dir = q->slot_fd = q->tmp_dir = q->failed_dir = -1;
	if (strlen(host) >= sizeof(q->host)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	queue_host(host, q->host);
	if (mkdir(dir, 0750) == -1 && errno != EEXIST)
		return -1;
	if ((q->dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	for (i = 0; i < sizeof(queue_dirs) / sizeof(queue_dirs[0]); i++)
		if (mkdirat(q->dir, queue_dirs[i], 0750) == -1 &&
		    errno != EEXIST)
			goto fail;
	if (queue_dirfd(q, "new") == -1)
		goto fail;
	(void)queue_dirfd(q, "tmp");	/* else opened again when needed */
	(void)queue_dirfd(q, "failed");
	return 0;
fail:
	queue_close(q);
	return -1;
}

void
queue_close(struct queue *q)
{
	if (q->dir != -1)
		close(q->dir);
	if (q->new_dir != -1)
		close(q->new_dir);
	if (q->slot_fd != -1)
		close(q->slot_fd);
	if (q->tmp_dir != -1)
		close(q->tmp_dir);
	if (q->failed_dir != -1)
		close(q->failed_dir);
	q->dir = q->new_dir = q->slot_fd = q->tmp_dir = q->failed_dir = -1;
}

/*
 * Takes one of max session slots of the pool whose lock file is lock (in
 * the queue directory).  Returns 0 with a slot held until exit, 1 when all
 * are taken, -1 on error.
 */
int
queue_slot(struct queue *q, const char *lock, unsigned max)
{
	struct flock fl;
	unsigned i;

	q->slot_fd = openat(q->dir, lock,
	    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
	if (q->slot_fd == -1)
		return -1;
	for (i = 0; i < max; i++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		fl.l_start = (off_t)i;
		fl.l_len = 1;
		if (fcntl(q->slot_fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN)
			return -1;
	}
	return 1;
}

/* A Maildir unique name, <epoch>.M<usec>P<pid>.<host>, for the queue
 * and for local delivery alike; host is made safe (queue_host()). */
int
queue_unique(const char *host, char *buf, size_t size)
{
	char safe[QUEUE_HOST_MAX + 1];
	struct timespec ts;
	int n;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	queue_host(host, safe);
	n = snprintf(buf, size, "%lld.M%06ldP%ld.%s", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, (long)getpid(), safe);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
queue_file_create(int dir, const char *prefix, const char *host, char *name,
    size_t size, mode_t mode)
{
	struct timespec pause = { 0, 1000 };
	char path[QUEUE_NAME_MAX + 8];
	int tries, fd;

	for (tries = 0; tries < 100; tries++) {
		if (queue_unique(host, name, size) == -1)
			return -1;
		if (snprintf(path, sizeof(path), "%s%s", prefix, name) >=
		    (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(dir, path, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd != -1) {
			/* the mode whatever the umask */
			if (fchmod(fd, mode) == 0)
				return fd;
			close(fd);
			unlinkat(dir, path, 0);
			return -1;
		}
		if (errno != EEXIST)
			return -1;
		/* Same microsecond, same pid: wait for the clock. */
		nanosleep(&pause, NULL);
	}
	return -1;
}

int
queue_file_commit(int fd, int tmpdir, const char *tmpname, int newdir,
    const char *name)
{
	int saved;

	if (fsync(fd) == -1) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) == -1 || renameat(tmpdir, tmpname, newdir, name) == -1) {
		saved = errno;
		goto fail;
	}
	if (fsync(newdir) == -1) {
		saved = errno;
		/* Not durable: take it back so that no 4xx'd message is
		 * also delivered (the client will send it again), and no
		 * retry makes a second copy in a Maildir. */
		unlinkat(newdir, name, 0);
		errno = saved;
		return -1;
	}
	return 0;
fail:
	unlinkat(tmpdir, tmpname, 0);
	errno = saved;
	return -1;
}

/*
 * Creates tmp/<unique name>, open for writing.  Mode 0660 whatever the
 * umask (inetd's is 022): the sender, another user than the receiver,
 * opens it read-write through the queue's group (README, "Users and
 * privileges"), which the setgid queue directories give every file.
 */
int
queue_create(struct queue *q, struct queue_file *qf)
{
	qf->fd = -1;
	/* sendmail's group may write and search tmp/ but not read it
	 * (README, "Users and privileges"): then the file is made through
	 * the queue directory, tmp/ checked first to be a directory of the
	 * queue's owner, not a link. */
	if (queue_dirfd(q, "tmp") == -1 &&
	    (errno != EACCES || queue_tmp_checked(q) == -1))
		return -1;
	if ((qf->fd = queue_file_create(q->tmp_dir != -1 ? q->tmp_dir :
	    q->dir, q->tmp_dir != -1 ? "" : "tmp/", q->host, qf->name,
	    sizeof(qf->name), 0660)) == -1)
		return -1;
	/* fits: tmp is name's size plus room for "tmp/" */
	snprintf(qf->tmp, sizeof(qf->tmp), "tmp/%s", qf->name);
	return 0;
}

/*
 * Commits a written file: fsync, close, rename tmp/NAME to SUBDIR/NAME,
 * fsync SUBDIR.  The caller has flushed all it wrote.  On failure the file
 * is removed from tmp/ (and from SUBDIR/ if the rename happened but could
 * not be made durable), errno tells why, and -1 is returned.
 */
int
queue_commit(struct queue *q, struct queue_file *qf, const char *subdir)
{
	const char *name;
	int saved, fd = qf->fd, dir, tmp = queue_tmp_at(q, qf, &name);

	qf->fd = -1;
	if ((dir = queue_dirfd(q, subdir)) == -1) {
		saved = errno;
		close(fd);
		unlinkat(tmp, name, 0);
		errno = saved;
		return -1;
	}
	if (queue_file_commit(fd, tmp, name, dir, qf->name) == -1)
		return -1;
	if (strcmp(subdir, "new") == 0)
		queue_poke(q);
	return 0;
}

/*
 * Tells a waiting smtpsend -w that new/ has something (smtpsend.8, -w):
 * one byte into the FIFO QUEUE/trigger, never blocking.
 * No FIFO, no reader (ENXIO), a full pipe (EAGAIN: a wake-up is pending
 * already), anything else at that path: nothing to do, errno is kept, and
 * the commit stands regardless; the next timed run finds the message.
 */
void
queue_poke(struct queue *q)
{
	struct stat st;
	int saved = errno, fd;

	fd = openat(q->dir, QUEUE_TRIGGER, O_WRONLY | O_NONBLOCK | O_NOFOLLOW |
	    O_NOCTTY | O_CLOEXEC);
	if (fd != -1) {
		if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
		    write(fd, "n", 1) == -1)
			errno = 0;	/* EAGAIN: one is pending already */
		close(fd);
	}
	errno = saved;
}

void
queue_abort(struct queue *q, struct queue_file *qf)
{
	const char *name;
	int saved = errno, dir = queue_tmp_at(q, qf, &name);

	if (qf->fd != -1)
		close(qf->fd);
	qf->fd = -1;
	unlinkat(dir, name, 0);
	errno = saved;
}
