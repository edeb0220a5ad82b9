/*
 * checkpassword.c: the password checker smtpd -A runs, a program of its
 * own (smtpq-checkpassword) so that smtpd stays static and crypt(3) stays
 * here, linked against the system's libcrypt.
 *
 *	smtpq-checkpassword FILE [PROGRAM ARGS...]
 *
 * The checkpassword(8) interface: fd 3 carries "user\0password\0time\0";
 * FILE holds "user:hash" lines, hash as crypt(3) makes it ("$y$" yescrypt,
 * "$6$" SHA-512, whatever libcrypt verifies).  Exit 0 (or exec PROGRAM)
 * when the password matches, 1 when it does not or the user is unknown,
 * 111 for trouble of our own: a FILE that others may read or anyone but
 * its owner may write is trouble, as is one that cannot be read.  Nothing
 * is written to stdout; reasons go to syslog, never a password.
 */
#include <sys/stat.h>

#include <crypt.h>	/* libcrypt's; POSIX has crypt() in unistd.h (XSI) */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define INPUT_MAX	1024	/* fd 3, at most (checkpassword: 512) */
#define FILE_LINE_MAX	1024	/* a longer line in FILE: trouble */
#define EXIT_BAD	1
#define EXIT_TROUBLE	111

/* A hash of nothing in particular, so that an unknown user costs what a
 * known one does and timing does not tell which names exist. */
static const char dummy_hash[] =
    "$6$smtpqdummysalt$BZ1bp1Bq3B6hM9jAKcYBI0X6yY1L2XVQZEFxw7b0hcOeWl"
    "0Z3w/zKlpeQfG0CPqmM8r8c2mO5d5tQ8Z3ZP0nR0";

static void __attribute__((noreturn, format(printf, 2, 3)))
leave(int status, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	syslog(status == EXIT_BAD ? LOG_INFO : LOG_ERR, "%s", buf);
	exit(status);
}

static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* Equal strings, in a time that does not depend on where they differ. */
static int
same(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char d = la != lb;

	for (i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* Reads fd 3 to its end: user, password, timestamp, each NUL-ended. */
static void
read_input(char *buf, size_t size, const char **user, const char **pass)
{
	size_t len = 0;
	ssize_t n;
	char *nul;

	while (len < size) {
		n = read(3, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			leave(EXIT_TROUBLE, "unable to read fd 3: %s",
			    strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len == size)
		leave(EXIT_BAD, "input on fd 3 over %d bytes", INPUT_MAX);
	if ((nul = memchr(buf, '\0', len)) == NULL)
		leave(EXIT_BAD, "no user name on fd 3");
	*user = buf;
	*pass = nul + 1;
	if (memchr(*pass, '\0', len - (size_t)(*pass - buf)) == NULL)
		leave(EXIT_BAD, "no password on fd 3");
	if (**user == '\0' || strchr(*user, ':') != NULL ||
	    strchr(*user, '\n') != NULL)
		leave(EXIT_BAD, "unusable user name");
}

/* The hash for user in FILE, in hash; 0 found, -1 not. */
static int
find_user(const char *file, const char *user, char *hash, size_t size)
{
	char line[FILE_LINE_MAX + 2];
	size_t ulen = strlen(user), n;
	struct stat st;
	FILE *fp;
	int fd, found = -1;

	if ((fd = open(file, O_RDONLY | O_NOCTTY)) == -1)
		leave(EXIT_TROUBLE, "unable to open %s: %s", file, strerror(errno));
	if (fstat(fd, &st) == -1)
		leave(EXIT_TROUBLE, "unable to stat %s: %s", file, strerror(errno));
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IWGRP | S_IRWXO)))
		leave(EXIT_TROUBLE, "refusing %s: others may read it or more "
		    "than its owner may write it (chmod 640 or 600)", file);
	if ((fp = fdopen(fd, "r")) == NULL)
		leave(EXIT_TROUBLE, "unable to read %s: %s", file, strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL) {
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		else if (!feof(fp))
			leave(EXIT_TROUBLE, "%s: a line over %d bytes", file,
			    FILE_LINE_MAX);
		if (found == -1 && strncmp(line, user, ulen) == 0 &&
		    line[ulen] == ':' && strlen(line + ulen + 1) < size) {
			strcpy(hash, line + ulen + 1);
			found = 0;
		}
	}
	if (ferror(fp))
		leave(EXIT_TROUBLE, "unable to read %s: %s", file, strerror(errno));
	fclose(fp);
	wipe(line, sizeof(line));
	return found;
}

int
main(int argc, char **argv)
{
	char input[INPUT_MAX], hash[FILE_LINE_MAX + 1];
	const char *user, *pass, *got;
	int found, is_good;

	openlog("smtpq-checkpassword", LOG_PID, LOG_MAIL);
	if (argc < 2) {
		fputs("usage: smtpq-checkpassword file [program args...]\n",
		    stderr);
		return 2;
	}
	read_input(input, sizeof(input), &user, &pass);
	found = find_user(argv[1], user, hash, sizeof(hash));
	/* Only crypt(3) hashes; "!", "*" or "" lock an account. */
	if (found == -1 || hash[0] != '$')
		strcpy(hash, dummy_hash);
	/* one thread: crypt_r() is not POSIX */
	/* cppcheck-suppress cryptCalled */
	got = crypt(pass, hash);
	is_good = found == 0 && hash[0] == '$' && got != NULL &&
	    got[0] == '$' && same(got, hash);
	wipe(input, sizeof(input));
	if (!is_good)
		leave(EXIT_BAD, "user %s: %s", user, found == 0 ?
		    "wrong password" : "unknown");
	wipe(hash, sizeof(hash));
	if (argc > 2) {
		execvp(argv[2], argv + 2);
		leave(EXIT_TROUBLE, "unable to run %s: %s", argv[2],
		    strerror(errno));
	}
	return 0;
}
