/*
 * prog.c: the helper programs smtpd runs, -T's TLS program and -A's
 * password checker: given as one string, split on blanks or commas (no
 * shell, so nothing in it is interpreted; commas because inetd.conf and
 * stunnel's execArgs cannot quote a blank), found on PATH, and started
 * with the signal state a new program expects.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd.h"

int
prog_split(char *spec, char *argv[], size_t max)
{
	size_t n = 0;
	char *p = spec;

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
