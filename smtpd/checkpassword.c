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
 *
 * An unknown or locked user costs what a known one does: the password is
 * hashed all the same, against a stand-in entry of FILE chosen by the name
 * (so the same name always meets the same method and cost, whatever mix
 * of methods FILE holds), and a reply's timing does not tell which names
 * exist.
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

/* The stand-in when FILE has no usable entry (then no name exists and
 * there is nothing to hide): yescrypt at mkpasswd's default cost. */
static const char dummy_hash[] =
    "$y$j9T$smtpqdummysaltsmtpqdu$";

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

/* FNV-1a, 64 bits, over a NUL-ended string and on from h. */
static unsigned long long
fnv(unsigned long long h, const char *p)
{
	do {
		h ^= (unsigned char)*p;
		h *= 0x100000001b3ULL;
	} while (*p++ != '\0');
	return h;
}

/*
 * The hash for user in FILE, in hash: 0 found, -1 not.  standin gets the
 * usable hash ("$...") of the entry that ranks first for this name
 * (rendezvous hashing over name and entry: the same name picks the same
 * entry while FILE stays, and which one cannot be told without FILE's
 * salts), "" when FILE has none.  Every line costs the same whether or
 * not it is the user's.
 */
static int
find_user(const char *file, const char *user, char *hash, char *standin,
    size_t size)
{
	char line[FILE_LINE_MAX + 2];
	size_t ulen = strlen(user), n;
	unsigned long long rank, best = 0;
	struct stat st;
	FILE *fp;
	char *colon;
	int fd, found = -1;

	standin[0] = '\0';
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
		if ((colon = strchr(line, ':')) == NULL ||
		    strlen(colon + 1) >= size)
			continue;
		if (found == -1 && strncmp(line, user, ulen) == 0 &&
		    line + ulen == colon) {
			strcpy(hash, colon + 1);
			found = 0;
		}
		rank = fnv(fnv(0xcbf29ce484222325ULL, user), line);
		if (colon[1] == '$' && (standin[0] == '\0' || rank > best)) {
			strcpy(standin, colon + 1);
			best = rank;
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
	char standin[FILE_LINE_MAX + 1];
	const char *user, *pass, *got, *against;
	int found, is_usable, is_good;

	openlog("smtpq-checkpassword", LOG_PID, LOG_MAIL);
	if (argc < 2) {
		fputs("usage: smtpq-checkpassword file [program args...]\n",
		    stderr);
		return 2;
	}
	read_input(input, sizeof(input), &user, &pass);
	found = find_user(argv[1], user, hash, standin, sizeof(hash));
	/* Only crypt(3) hashes; "!", "*" or "" lock an account. */
	is_usable = found == 0 && hash[0] == '$';
	against = is_usable ? hash : standin[0] != '\0' ? standin : dummy_hash;
	/* one thread: crypt_r() is not POSIX */
	/* cppcheck-suppress cryptCalled */
	got = crypt(pass, against);
	is_good = is_usable && got != NULL && got[0] == '$' && same(got, hash);
	wipe(standin, sizeof(standin));
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
