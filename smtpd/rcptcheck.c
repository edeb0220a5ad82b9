/*
 * rcptcheck.c: who exists at our own domains (smtpq.conf(5): "maildir",
 * "aliases", "recipients"; smtpd -D, -W, -U).
 *
 * An MX that takes any local part of its domains queues mail for nobody,
 * and the bounce goes to a sender who is often forged (backscatter).  So
 * at RCPT, a local part of a local domain is known when
 *   - it is postmaster (RFC 5321 4.5.1: always), or
 *   - it is the name of an alias in the aliases file (smtpsend -A), or
 *   - a line of the recipients file names it ("alice", "alice@example.org",
 *     or "@example.org" for every local part of that domain), or
 *   - a Maildir of that name exists under the Maildir root;
 * else it is refused for good: 550 5.1.1.  With none of the three set,
 * every local part is taken, as before.
 *
 * Privileges (README, "Users and privileges"): smtpd runs as the
 * receiver, which must read no Maildir.  The Maildir root is mode 0710,
 * owner smtpq, group smtpq (tmpfiles; smtpsend makes it so): the
 * receivers, members of group smtpq, may look up a name in it (search)
 * but not list it, and each Maildir stays 0700.  So we lstat() ROOT/NAME
 * and never open anything there.  The two files are read as text, each
 * at most RCPTCHECK_FILE_MAX bytes, into the session's struct rcptcheck
 * (session_exit() frees it), once per session, when the first
 * local recipient comes (or at -N).  Trouble reading one, or looking in
 * the root, is 451 4.3.0 (the client retries; the log says why), never a
 * 550 a configuration mistake would turn into lost mail.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpd.h"

#define RCPTCHECK_FILE_MAX	1048576		/* a file, bytes (1 MiB) */
#define RCPTCHECK_PATH_MAX	4096		/* ROOT/NAME */

int
rcptcheck_enabled(const struct config *cf)
{
	return cf->maildir_root != NULL || cf->alias_path != NULL ||
	    cf->list_path != NULL;
}

/* Reads path into *buf, malloc'd at RCPTCHECK_FILE_MAX + 1 bytes: 0, or
 * -1 with why. */
static int
file_read(const char *path, char **buf, size_t *len, char *why,
    size_t whysize)
{
	struct stat st;
	ssize_t r;
	int fd;

	*len = 0;
	if (*buf == NULL && (*buf = malloc(RCPTCHECK_FILE_MAX + 1)) == NULL) {
		snprintf(why, whysize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		snprintf(why, whysize, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, whysize, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	while (*len <= RCPTCHECK_FILE_MAX) {
		r = read(fd, *buf + *len, RCPTCHECK_FILE_MAX + 1 - *len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(why, whysize, "%s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	close(fd);
	if (*len > RCPTCHECK_FILE_MAX) {
		snprintf(why, whysize, "%s: larger than %d bytes", path,
		    RCPTCHECK_FILE_MAX);
		return -1;
	}
	return 0;
}

/* Reads the files into rc and looks at the root, once: 0, or the flag of
 * the one in trouble ('W', 'U', 'D') with why. */
int
rcptcheck_load(const struct config *cf, struct rcptcheck *rc, char *why,
    size_t whysize)
{
	struct stat st;

	if (rc->is_loaded)
		return 0;
	if (cf->alias_path != NULL && file_read(cf->alias_path,
	    &rc->alias_text, &rc->alias_len, why, whysize) == -1)
		return 'W';
	if (cf->list_path != NULL && file_read(cf->list_path,
	    &rc->list_text, &rc->list_len, why, whysize) == -1)
		return 'U';
	/* A root not made yet holds no Maildir: every name is looked up
	 * in vain, as in an empty one. */
	errno = 0;
	if (cf->maildir_root != NULL && (stat(cf->maildir_root, &st) == -1 ?
	    errno != ENOENT : (!S_ISDIR(st.st_mode) ||
	    access(cf->maildir_root, X_OK) == -1))) {
		snprintf(why, whysize, "Maildir root %s: %s",
		    cf->maildir_root, errno != 0 ? strerror(errno) :
		    "not a directory");
		return 'D';
	}
	rc->is_loaded = 1;
	return 0;
}

void
rcptcheck_free(struct rcptcheck *rc)
{
	free(rc->alias_text);
	free(rc->list_text);
	memset(rc, 0, sizeof(*rc));
}

/* Whether [s, s + n) equals word, without regard to ASCII case. */
static int
same(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

int
rcptcheck_match(const char *text, size_t len, int is_aliases,
    const char *box, const char *domain)
{
	const char *line = text, *end = text + len, *lf, *e, *at;
	size_t n;

	for (; line < end; line = lf + 1) {
		if ((lf = memchr(line, '\n', (size_t)(end - line))) == NULL)
			lf = end;
		/* An aliases line starting with a blank continues the one
		 * before: targets, not names. */
		if (is_aliases && (*line == ' ' || *line == '\t'))
			continue;
		while (line < lf && (*line == ' ' || *line == '\t'))
			line++;
		if (line == lf || *line == '#')
			continue;
		if (is_aliases) {
			if ((e = memchr(line, ':', (size_t)(lf - line))) ==
			    NULL)
				continue;
		} else
			e = lf;
		while (e > line && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r'))
			e--;
		n = (size_t)(e - line);
		if (is_aliases) {
			if (same(line, n, box))
				return 1;
			continue;
		}
		if ((at = memchr(line, '@', n)) == NULL) {
			if (same(line, n, box))
				return 1;
		} else if (same(at + 1, (size_t)(e - at - 1), domain) &&
		    (at == line || same(line, (size_t)(at - line), box)))
			return 1;
	}
	return 0;
}

int
rcptcheck(struct session *s, const char *sender, const char *addr)
{
	const struct config *cf = s->cf;
	struct rcptcheck *rc = &s->rcptcheck;
	char box[ADDR_LOCAL_MAX + 1], path[RCPTCHECK_PATH_MAX], why[512];
	char esc[LOG_ADDR_MAX];
	const char *domain = addr_domain(addr);
	struct stat st;
	int n;

	if (!rcptcheck_enabled(cf) || domain == NULL ||
	    addr_mailbox(addr, box, sizeof(box)) == -1 ||
	    strcmp(box, "postmaster") == 0)
		return 0;
	if (rcptcheck_load(cf, rc, why, sizeof(why)) != 0) {
		log_error("peer=%s result=deferred: unable to check "
		    "recipients: %s", s->peer.addr, why);
		refuse(s, 451, 0, sender, addr, "4.3.0 Error: local error in "
		    "checking the recipient", NULL);
		return -1;
	}
	if ((rc->alias_text != NULL && rcptcheck_match(rc->alias_text,
	    rc->alias_len, 1, box, domain)) || (rc->list_text != NULL &&
	    rcptcheck_match(rc->list_text, rc->list_len, 0, box, domain)))
		return 0;
	if (cf->maildir_root != NULL) {
		n = snprintf(path, sizeof(path), "%s/%s", cf->maildir_root,
		    box);
		if (n < 0 || (size_t)n >= sizeof(path))
			errno = ENAMETOOLONG;
		else if (lstat(path, &st) == 0) {
			/* a link or a file there: smtpsend delivers into
			 * neither */
			if (S_ISDIR(st.st_mode))
				return 0;
			errno = ENOENT;
		}
		if (errno != ENOENT && errno != ENOTDIR) {
			log_error("peer=%s result=deferred: unable to look "
			    "up %s/%s: %s", s->peer.addr, cf->maildir_root,
			    log_esc(box, esc, sizeof(esc)), strerror(errno));
			refuse(s, 451, 0, sender, addr, "4.3.0 Error: local "
			    "error in checking the recipient", NULL);
			return -1;
		}
	}
	refuse(s, 550, 1, sender, addr, "5.1.1 Error: no such user here", NULL);
	return -1;
}
