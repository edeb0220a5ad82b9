/*
 * sendmail_mailq.c: mailq (sendmail -bp): the queue's new/ for people,
 * oldest first, one message a paragraph, as smtpsend -p prints it.
 *
 * Done here rather than by running smtpsend: sendmail runs no other
 * program (one found beside it could be the caller's), and the listing
 * needs none of smtpsend's settings.  It runs with the caller's own
 * rights (the group is given up first; root is the queue's owner by
 * then).  Nothing under the queue is opened through a symbolic link, or
 * unless it is a directory or a regular file as expected, and every name
 * and address printed is escaped (log_esc()): a queue file's name comes
 * from whoever could write new/, and must not reach a terminal raw.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sendmail.h"

/* Names of new/ kept at once; more are counted, not listed. */
#define MAILQ_NAMES_MAX	100000

/* One queue file as read: large (its recipients, a read buffer), so
 * kept off the stack, in mailq_list(), and passed to mailq_one(). */
struct mailq {
	struct envelope	env;
	struct line	in;
};

static int
mailq_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints one queue file of new/ (dir), named name. */
static size_t
mailq_one(struct mailq *mq, int dir, const char *name, time_t now)
{
	const struct envelope *env = &mq->env;
	char esc[4 * QUEUE_NAME_MAX + 1], addr[LOG_ADDR_MAX], why[128];
	char age[32], next[32];
	struct stat st;
	size_t i, n;
	int fd;

	log_esc(name, esc, sizeof(esc));
	/* Only a regular file is opened: a FIFO would block the open, a
	 * device do worse; O_NONBLOCK for one put there meanwhile. */
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		printf("%s  unreadable: %s\n", esc, strerror(errno));
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		printf("%s  damaged: not a regular file\n", esc);
		return 0;
	}
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		printf("%s  unreadable: %s\n", esc, fd == -1 ?
		    strerror(errno) : "not a regular file");
		if (fd != -1)
			close(fd);
		return 0;
	}
	line_init(&mq->in, fd, 0);
	n = strspn(name, "0123456789");
	if (n == 0 || name[n] != '.') {
		printf("%s  damaged: name does not start with a time\n", esc);
		close(fd);
		return 0;
	}
	if (envelope_read(&mq->in, &mq->env, why, sizeof(why)) != RES_OK) {
		printf("%s  damaged: %s\n", esc, why);
		close(fd);
		return 0;
	}
	close(fd);
	printf("%s  age=%s size=%lld next=%s from=<%s>\n", esc,
	    date_age((long)(now - (time_t)strtoll(name, NULL, 10)), age,
	    sizeof(age)), (long long)(st.st_size - env->body),
	    st.st_mtime > now ? date_age((long)(st.st_mtime - now), next,
	    sizeof(next)) : "now", log_esc(env->from, addr, sizeof(addr)));
	for (i = 0; i < env->nrcpt; i++)
		printf("    to=<%s>\n", log_esc(env->rcpt[i], addr,
		    sizeof(addr)));
	return env->nrcpt;
}

/* Lists queue_dir/new on stdout; returns the exit status. */
int
mailq_list(const char *queue_dir)
{
	static struct mailq mq;
	char **names = NULL, **more;
	size_t n = 0, cap = 0, skipped = 0, nrcpt = 0, i;
	struct dirent *d;
	DIR *dp;
	int qdir, dir;
	time_t now = time(NULL);

	/* The queue directory itself may be a link root made. */
	qdir = open(queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = qdir == -1 ? -1 : openat(qdir, "new", O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (dir == -1 || (dp = fdopendir(dir)) == NULL) {
		fprintf(stderr, "mailq: unable to list %s/new: %s\n",
		    queue_dir, strerror(errno));
		return EXIT_TEMPFAIL;
	}
	/* Every name but . and ..: a hidden file is damage, not ignored. */
	while ((errno = 0, d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (n == MAILQ_NAMES_MAX) {
			skipped++;
			continue;
		}
		if (n == cap) {
			cap = cap == 0 ? 64 : 2 * cap;
			if ((more = realloc(names, cap * sizeof(*names))) ==
			    NULL)
				break;
			names = more;
		}
		if ((names[n] = strdup(d->d_name)) == NULL)
			break;
		n++;
	}
	if (errno != 0) {
		fprintf(stderr, "mailq: unable to list %s/new: %s\n",
		    queue_dir, strerror(errno));
		while (n > 0)
			free(names[--n]);
		free(names);
		closedir(dp);
		close(qdir);
		return EXIT_TEMPFAIL;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), mailq_cmp);
	for (i = 0; i < n; i++) {
		nrcpt += mailq_one(&mq, dirfd(dp), names[i], now);
		free(names[i]);
	}
	free(names);
	closedir(dp);
	close(qdir);
	if (skipped > 0)
		printf("(%zu more not listed)\n", skipped);
	printf("%zu message%s, %zu recipient%s pending\n", n + skipped,
	    n + skipped == 1 ? "" : "s", nrcpt, nrcpt == 1 ? "" : "s");
	return fflush(stdout) == 0 ? 0 : EXIT_IOERR;
}
