/*
 * auth.c: the relay's password (-a FILE) for AUTH (RFC 4954); the base64
 * it is sent in is common/base64.c's.
 *
 * The secrets file has lines "host user password", the password being the
 * rest of the line; empty lines and lines starting with "#" are skipped.
 * It is refused when its group or others may read it, as a file that
 * holds passwords must not be readable by anyone but its owner.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpsend.h"

#define AUTH_LINE_MAX	1024

/*
 * Finds user's password for host in file.  0; -1 with err saying why
 * (the file cannot be read, is readable by others, has no such line).
 * The password is never put in err.
 */
int
auth_secret(const char *file, const char *host, const char *user,
    char *pass, size_t size, char *err, size_t errsize)
{
	static struct line in;
	char buf[AUTH_LINE_MAX + 1], *h, *u, *p;
	enum line_status st;
	struct stat sb;
	size_t len, n = 0;
	int fd, bare, found = 0;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errsize, "unable to open %s: %s", file,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errsize, "%s: not a regular file", file);
		close(fd);
		return -1;
	}
	if ((sb.st_mode & (S_IRGRP | S_IROTH | S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errsize, "%s holds passwords and others can "
		    "read or change it (mode %04o): chmod 600 %s", file,
		    (unsigned)(sb.st_mode & 07777), file);
		close(fd);
		return -1;
	}
	line_init(&in, fd, 0);
	while (!found && (st = line_read(&in, buf, sizeof(buf), &len,
	    &bare)) != LINE_EOF) {
		n++;
		if (st != LINE_OK) {
			snprintf(err, errsize, "%s line %zu: %s", file, n,
			    st == LINE_LONG ? "too long" : strerror(errno));
			close(fd);
			return -1;
		}
		buf[strcspn(buf, "\r\n")] = '\0';
		h = buf + strspn(buf, " \t");
		if (*h == '#' || *h == '\0')
			continue;
		u = h + strcspn(h, " \t");
		if (*u != '\0')
			*u++ = '\0';
		u += strspn(u, " \t");
		p = u + strcspn(u, " \t");
		if (*p != '\0')
			*p++ = '\0';
		p += strspn(p, " \t");
		if (strcasecmp(h, host) != 0 || strcmp(u, user) != 0)
			continue;
		if (*p == '\0' || strlen(p) >= size) {
			snprintf(err, errsize, "%s line %zu: %s", file, n,
			    *p == '\0' ? "no password" : "password too long");
			close(fd);
			return -1;
		}
		strcpy(pass, p);
		found = 1;
	}
	memset(buf, 0, sizeof(buf));	/* XXX may be optimised away */
	close(fd);
	if (!found)
		snprintf(err, errsize, "%s has no line \"%s %s PASSWORD\"",
		    file, host, user);
	return found ? 0 : -1;
}
