/*
 * fault.c: fault injection for tests/60-fault.bats.  Linked only into the
 * test binaries under build/fault ("make fault"), never into the programs
 * that get installed: the knob below exists only in that build.
 *
 * The Makefile links build/fault/smtpd/smtpd and build/fault/smtpsend/
 * smtpsend from the ordinary sources with GNU ld's --wrap=CALL for each
 * call defined here, so every such call the programs make (not libc's own
 * calls inside syslog(), readdir() or printf()) arrives here first.  Each
 * is counted, and one can be made to fail, as the environment says:
 *
 *   FAULT_AT=N          the Nth counted call (from 1) fails, no other one;
 *                       unset or 0: count only
 *   FAULT_ERRNO=NAME    its errno: EIO (default), ENOSPC, EDQUOT, ENOMEM,
 *                       EACCES, EROFS, ENOENT
 *   FAULT_CALLS=a,b     count only these calls (default: every one here)
 *   FAULT_KILL=1        the Nth call does not fail: the process kills
 *                       itself with SIGKILL just before it, a crash at
 *                       that point (no count file then; the trace says)
 *   FAULT_COUNT_FILE=F  at exit, "calls=TOTAL fired=0|1" into F
 *   FAULT_TRACE=F       one line per counted call appended to F:
 *                       "N call fd target", fd the descriptor (a *at
 *                       call's directory; -1 for a path), target a path
 *                       (a descriptor's from /proc/self/fd: also
 *                       "pipe:[...]", "socket:[...]"), and " FAIL" after
 *                       the one that failed
 *
 * A failed call does nothing, as if the kernel had refused it at once;
 * except close(), which on Linux frees the descriptor even when it reports
 * an error (close(2)): it closes, then says it failed.  The files above are
 * written with the real calls, which are neither counted nor failed.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	__real_open(const char *, int, ...);
int	__real_openat(int, const char *, int, ...);
ssize_t	__real_read(int, void *, size_t);
ssize_t	__real_pread(int, void *, size_t, off_t);
ssize_t	__real_write(int, const void *, size_t);
int	__real_fsync(int);
int	__real_rename(const char *, const char *);
int	__real_renameat(int, const char *, int, const char *);
int	__real_close(int);
int	__real_unlink(const char *);
int	__real_unlinkat(int, const char *, int);
int	__real_mkdir(const char *, mode_t);
int	__real_mkdirat(int, const char *, mode_t);
int	__real_futimens(int, const struct timespec *);
int	__real_fstat(int, struct stat *);
int	__real_fstatat(int, const char *, struct stat *, int);
int	__real_fcntl(int, int, ...);
off_t	__real_lseek(int, off_t, int);

int	__wrap_open(const char *, int, ...);
int	__wrap_openat(int, const char *, int, ...);
ssize_t	__wrap_read(int, void *, size_t);
ssize_t	__wrap_pread(int, void *, size_t, off_t);
ssize_t	__wrap_write(int, const void *, size_t);
int	__wrap_fsync(int);
int	__wrap_rename(const char *, const char *);
int	__wrap_renameat(int, const char *, int, const char *);
int	__wrap_close(int);
int	__wrap_unlink(const char *);
int	__wrap_unlinkat(int, const char *, int);
int	__wrap_mkdir(const char *, mode_t);
int	__wrap_mkdirat(int, const char *, mode_t);
int	__wrap_futimens(int, const struct timespec *);
int	__wrap_fstat(int, struct stat *);
int	__wrap_fstatat(int, const char *, struct stat *, int);
int	__wrap_fcntl(int, int, ...);
off_t	__wrap_lseek(int, off_t, int);

static const struct {
	const char	*name;
	int		 value;
} fault_errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT },
	{ "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EROFS", EROFS },
	{ "ENOENT", ENOENT },
};

static int		 fault_ready;
static unsigned long	 fault_at;	/* 0: never */
static unsigned long	 fault_count;
static int		 fault_fired;
static int		 fault_errno = EIO;
static const char	*fault_calls;	/* NULL: all */
static int		 fault_trace = -1;
static int		 fault_kill;

static void
fault_exit(void)
{
	const char *file = getenv("FAULT_COUNT_FILE");
	char buf[64];
	int fd, n;

	if (file == NULL || *file == '\0')
		return;
	fd = __real_open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "calls=%lu fired=%d\n", fault_count,
	    fault_fired);
	if (n > 0)
		(void)__real_write(fd, buf, (size_t)n);
	(void)__real_close(fd);
}

static void
fault_init(void)
{
	const char *s;
	size_t i;

	fault_ready = 1;
	if ((s = getenv("FAULT_AT")) != NULL)
		fault_at = strtoul(s, NULL, 10);
	if ((s = getenv("FAULT_ERRNO")) != NULL)
		for (i = 0; i < sizeof(fault_errnos) / sizeof(fault_errnos[0]);
		    i++)
			if (strcmp(s, fault_errnos[i].name) == 0)
				fault_errno = fault_errnos[i].value;
	if ((s = getenv("FAULT_CALLS")) != NULL && *s != '\0')
		fault_calls = s;
	if ((s = getenv("FAULT_KILL")) != NULL && strcmp(s, "1") == 0)
		fault_kill = 1;
	if ((s = getenv("FAULT_TRACE")) != NULL && *s != '\0')
		fault_trace = __real_open(s, O_WRONLY | O_CREAT | O_APPEND |
		    O_CLOEXEC, 0644);
	atexit(fault_exit);
}

/* Whether call is one that FAULT_CALLS asks to count. */
static int
fault_counts(const char *call)
{
	const char *p = fault_calls;
	size_t n = strlen(call);

	if (p == NULL)
		return 1;
	while (*p != '\0') {
		if (strncmp(p, call, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return 0;
}

/* What descriptor fd is: its path, "pipe:[...]", "socket:[...]". */
static void
fault_fd_name(int fd, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	if (fd == AT_FDCWD) {
		snprintf(buf, size, ".");
		return;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, buf, size - 1)) == -1)
		snprintf(buf, size, "fd%d", fd);
	else
		buf[n] = '\0';
}

/*
 * Counts one call and appends it to the trace: on descriptor fd, or on
 * path (relative to fd unless fd is -1).  Returns whether it must fail;
 * errno is as it was.
 */
static int
fault_hit(const char *call, int fd, const char *path)
{
	char target[4096 + 256], line[sizeof(target) + 64];
	int saved = errno, fail, n;

	if (!fault_ready)
		fault_init();
	if (!fault_counts(call))
		return 0;
	fault_count++;
	fail = fault_count == fault_at;
	fault_fired |= fail;
	if (fault_trace != -1) {
		if (path == NULL)
			fault_fd_name(fd, target, sizeof(target));
		else if (fd == -1 || path[0] == '/')
			snprintf(target, sizeof(target), "%s", path);
		else {
			fault_fd_name(fd, target, sizeof(target) - 1024);
			n = (int)strlen(target);
			snprintf(target + n, sizeof(target) - (size_t)n,
			    "/%s", path);
		}
		n = snprintf(line, sizeof(line), "%lu %s %d %s%s\n",
		    fault_count, call, fd, target, fail ? " FAIL" : "");
		if (n > 0 && (size_t)n < sizeof(line))
			(void)__real_write(fault_trace, line, (size_t)n);
	}
	if (fail && fault_kill)
		raise(SIGKILL);
	errno = saved;
	return fail;
}

/* Returns -1 with the configured errno. */
static int
fault_fail(void)
{
	errno = fault_errno;
	return -1;
}

int
__wrap_open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (fault_hit("open", -1, path))
		return fault_fail();
	return __real_open(path, flags, mode);
}

int
__wrap_openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode = 0;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	if (fault_hit("openat", dirfd, path))
		return fault_fail();
	return __real_openat(dirfd, path, flags, mode);
}

ssize_t
__wrap_read(int fd, void *buf, size_t size)
{
	if (fault_hit("read", fd, NULL))
		return fault_fail();
	return __real_read(fd, buf, size);
}

ssize_t
__wrap_pread(int fd, void *buf, size_t size, off_t offset)
{
	if (fault_hit("pread", fd, NULL))
		return fault_fail();
	return __real_pread(fd, buf, size, offset);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t size)
{
	if (fault_hit("write", fd, NULL))
		return fault_fail();
	return __real_write(fd, buf, size);
}

int
__wrap_fsync(int fd)
{
	if (fault_hit("fsync", fd, NULL))
		return fault_fail();
	return __real_fsync(fd);
}

int
__wrap_rename(const char *from, const char *to)
{
	if (fault_hit("rename", -1, from))
		return fault_fail();
	return __real_rename(from, to);
}

int
__wrap_renameat(int fromfd, const char *from, int tofd, const char *to)
{
	if (fault_hit("renameat", fromfd, from))
		return fault_fail();
	return __real_renameat(fromfd, from, tofd, to);
}

int
__wrap_close(int fd)
{
	if (fault_hit("close", fd, NULL)) {
		(void)__real_close(fd);
		return fault_fail();
	}
	return __real_close(fd);
}

int
__wrap_unlink(const char *path)
{
	if (fault_hit("unlink", -1, path))
		return fault_fail();
	return __real_unlink(path);
}

int
__wrap_unlinkat(int dirfd, const char *path, int flags)
{
	if (fault_hit("unlinkat", dirfd, path))
		return fault_fail();
	return __real_unlinkat(dirfd, path, flags);
}

int
__wrap_mkdir(const char *path, mode_t mode)
{
	if (fault_hit("mkdir", -1, path))
		return fault_fail();
	return __real_mkdir(path, mode);
}

int
__wrap_mkdirat(int dirfd, const char *path, mode_t mode)
{
	if (fault_hit("mkdirat", dirfd, path))
		return fault_fail();
	return __real_mkdirat(dirfd, path, mode);
}

int
__wrap_futimens(int fd, const struct timespec *times)
{
	if (fault_hit("futimens", fd, NULL))
		return fault_fail();
	return __real_futimens(fd, times);
}

int
__wrap_fstat(int fd, struct stat *st)
{
	if (fault_hit("fstat", fd, NULL))
		return fault_fail();
	return __real_fstat(fd, st);
}

int
__wrap_fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	if (fault_hit("fstatat", dirfd, path))
		return fault_fail();
	return __real_fstatat(dirfd, path, st, flags);
}

/* The programs use F_GETFL (no argument), F_SETFL (an int) and F_SETLK
 * (a struct flock *). */
int
__wrap_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	void *lock = NULL;
	int value = 0;

	va_start(ap, cmd);
	if (cmd == F_SETFL || cmd == F_SETFD || cmd == F_DUPFD)
		value = va_arg(ap, int);
	else if (cmd == F_SETLK || cmd == F_SETLKW || cmd == F_GETLK)
		lock = va_arg(ap, void *);
	va_end(ap);
	if (fault_hit("fcntl", fd, NULL))
		return fault_fail();
	if (lock != NULL)
		return __real_fcntl(fd, cmd, lock);
	return __real_fcntl(fd, cmd, value);
}

off_t
__wrap_lseek(int fd, off_t offset, int whence)
{
	if (fault_hit("lseek", fd, NULL))
		return fault_fail();
	return __real_lseek(fd, offset, whence);
}
