/*
 * prog.c: running a helper program (smtpd's -T TLS program and -A
 * password checker, sendmail -bv's smtpsend -V, smtpsend's openssl
 * s_client), and waiting for it.  A program is given as words (no shell,
 * so nothing in it is interpreted), found on PATH without ever taking the
 * working directory, and started with the signal state a new program
 * expects and the descriptors 0 to 3 the caller chose; nothing else of
 * ours that is close-on-exec reaches it.
 */
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

int
prog_split(char *spec, char *argv[], size_t max)
{
	size_t n = 0;
	char *p = spec;

	/* Commas too: inetd.conf and stunnel's execArgs cannot quote a
	 * blank. */
	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		if (n == max)
			return -1;
		argv[n++] = p;
		p += strcspn(p, " \t,");
		if (*p != '\0')
			*p++ = '\0';
	}
	argv[n] = NULL;
	return n == 0 ? -1 : (int)n;
}

int
prog_find(const char *name, char *path, size_t size)
{
	const char *dirs, *end;
	size_t len;
	int n;

	if (strchr(name, '/') != NULL) {
		if (strlen(name) >= size) {
			errno = ENAMETOOLONG;
			return -1;
		}
		strcpy(path, name);
		return access(path, X_OK);
	}
	if ((dirs = getenv("PATH")) == NULL || *dirs == '\0')
		dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		    "/sbin:/bin";
	for (;; dirs = end + 1) {
		end = strchr(dirs, ':');
		len = end != NULL ? (size_t)(end - dirs) : strlen(dirs);
		/* An empty entry would mean the working directory: never. */
		if (len > 0 && len <= INT_MAX) {
			n = snprintf(path, size, "%.*s/%s", (int)len, dirs,
			    name);
			if (n > 0 && (size_t)n < size &&
			    access(path, X_OK) == 0)
				return 0;
		}
		if (end == NULL)
			break;
	}
	errno = ENOENT;
	return -1;
}

int
prog_exec(const char *path, char *const argv[])
{
	/* A program that cannot be stopped or ignores a broken pipe is not
	 * what its author tested. */
	sig_reset();
	execv(path, argv);
	return -1;
}

int
prog_devnull(int fd)
{
	int null;

	if ((null = open("/dev/null", O_RDWR)) == -1)
		return -1;
	if (null != fd) {
		if (dup2(null, fd) == -1) {
			close(null);
			return -1;
		}
		close(null);
	}
	return 0;
}

/* In the child: fd i becomes what p->fd[i] says.  Each source is first
 * copied above PROG_FDS (close-on-exec), so that no placement overwrites
 * a source still to be placed; dup2() then clears close-on-exec. */
static int
prog_place(const struct prog *p, const int child[PROG_FDS])
{
	int tmp[PROG_FDS], i, null = -1;

	for (i = 0; i < PROG_FDS; i++) {
		tmp[i] = -1;
		if (p->fd[i] == PROG_NULL && null == -1 &&
		    (null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
			return -1;
		if (p->fd[i] != PROG_KEEP && (tmp[i] = fcntl(p->fd[i] ==
		    PROG_NULL ? null : child[i], F_DUPFD_CLOEXEC, PROG_FDS)) ==
		    -1)
			return -1;
	}
	for (i = 0; i < PROG_FDS; i++)
		if (tmp[i] != -1 && dup2(tmp[i], i) == -1)
			return -1;
	return 0;
}

/* The child's side: never returns. */
static void
prog_child(const struct prog *p, const int child[PROG_FDS])
{
	char path[PROG_PATH_MAX];

	if (prog_place(p, child) == 0) {
		if (p->path != NULL)
			prog_exec(p->path, p->argv);
		else if (prog_find(p->argv[0], path, sizeof(path)) == 0)
			prog_exec(path, p->argv);
	}
	if (p->is_told)
		dprintf(STDERR_FILENO, "unable to run %s: %s\n", p->argv[0],
		    strerror(errno));
	_exit(p->fail);
}

/* Closes the pipes prog_start() opened, both ends; errno kept. */
static void
prog_close(const int ours[PROG_FDS], const int child[PROG_FDS])
{
	int i, saved = errno;

	for (i = 0; i < PROG_FDS; i++)
		if (ours[i] != -1) {
			close(ours[i]);
			close(child[i]);
		}
	errno = saved;
}

pid_t
prog_start(const struct prog *p, int ours[PROG_FDS])
{
	int child[PROG_FDS], i, e[2];
	pid_t pid;

	for (i = 0; i < PROG_FDS; i++)
		ours[i] = child[i] = -1;
	for (i = 0; i < PROG_FDS; i++) {
		if (p->fd[i] >= 0)
			continue;
		if (p->fd[i] != PROG_TO && p->fd[i] != PROG_FROM)
			continue;
		/* Both ends close-on-exec: the child's is placed by dup2(),
		 * ours reaches no other program. */
		if (pipe(e) == -1) {
			prog_close(ours, child);
			return -1;
		}
		ours[i] = e[p->fd[i] == PROG_TO ? 1 : 0];
		child[i] = e[p->fd[i] == PROG_TO ? 0 : 1];
		if (fcntl(e[0], F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(e[1], F_SETFD, FD_CLOEXEC) == -1) {
			prog_close(ours, child);
			return -1;
		}
	}
	for (i = 0; i < PROG_FDS; i++)
		if (p->fd[i] >= 0)
			child[i] = p->fd[i];
	fflush(NULL);	/* nothing buffered twice */
	if ((pid = fork()) == -1) {
		prog_close(ours, child);
		return -1;
	}
	if (pid == 0)
		prog_child(p, child);
	for (i = 0; i < PROG_FDS; i++)
		if (ours[i] != -1)
			close(child[i]);
	return pid;
}

int
prog_wait(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return 0;
}

int
prog_wait_until(pid_t pid, int *status, long long due)
{
	struct timespec ts = { 0, 10000000L };	/* 10 ms */
	pid_t got;

	while ((got = waitpid(pid, status, WNOHANG)) == 0 ||
	    (got == -1 && errno == EINTR)) {
		if (got == 0 && line_now() >= due) {
			prog_end(pid, SIGKILL, status);
			errno = ETIMEDOUT;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return got == -1 ? -1 : 0;
}

void
prog_end(pid_t pid, int signo, int *status)
{
	int ignored;

	(void)kill(pid, signo);
	(void)prog_wait(pid, status != NULL ? status : &ignored);
}
