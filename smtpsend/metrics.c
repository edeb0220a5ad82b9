/*
 * metrics.c: Prometheus text metrics after each run (smtpq.conf(5)
 * "metrics FILE", smtpsend -O FILE), for node_exporter's textfile
 * collector or anything that reads the exposition format.
 *
 *   smtpq_queue_messages{dir="new|hold|failed|tmp"}   files in each
 *   smtpq_queue_oldest_seconds                         age of the oldest
 *                                                      message in new/
 *   smtpq_run_deliveries{result=..,tls=..}             recipients of the
 *                                                      last run
 *   smtpq_run_end_seconds                              when it ended
 *
 * Written whole to a temporary ".NAME.XXXXXX" beside FILE (a name the
 * collector skips, as it reads only *.prom), 0644, then renamed over
 * FILE: a reader sees the old file or the new one, never half of one.
 * Trouble writing is logged; delivery goes on regardless.
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

#include "smtpsend.h"

#define METRICS_PATH_MAX	4096

static const char *const results[] = { "sent", "deferred", "bounced" };
static const char *const tlses[] = { "none", "unverified", "verified",
    "dane", "local" };
#define NRESULTS	(sizeof(results) / sizeof(results[0]))
#define NTLS		(sizeof(tlses) / sizeof(tlses[0]))

static const char *metrics_path;
static unsigned long counts[NRESULTS][NTLS];

int
metrics_config(const char *path)
{
	if (path[0] == '\0' || strlen(path) >= METRICS_PATH_MAX - 16 ||
	    path[strlen(path) - 1] == '/')
		return -1;
	metrics_path = path;
	return 0;
}

void
metrics_count(enum result result, const char *tls)
{
	size_t t;

	for (t = 0; t < NTLS; t++)
		if (strcmp(tls, tlses[t]) == 0)
			break;
	if (t < NTLS && (size_t)result < NRESULTS)
		counts[result][t]++;
}

/* pool.c: a worker's counts, cell by cell, handed to its parent as it
 * leaves: -1 past the last cell. */
int
metrics_get(size_t r, size_t t, unsigned long *n)
{
	if (r >= NRESULTS || t >= NTLS)
		return -1;
	*n = counts[r][t];
	return 0;
}

/* pool.c: what a worker counted, added to the run's. */
void
metrics_add(size_t r, size_t t, unsigned long n)
{
	if (r < NRESULTS && t < NTLS)
		counts[r][t] += n;
}

/* Counts the entries of QUEUE/sub (not dot files); the oldest arrival
 * among them when oldest is not NULL (names start with the epoch). */
static long
dir_count(int queue_fd, const char *sub, time_t *oldest)
{
	struct dirent *d;
	DIR *dir;
	long n = 0;
	time_t t;
	int fd;

	if ((fd = openat(queue_fd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		n++;
		t = (time_t)strtoll(d->d_name, NULL, 10);
		if (oldest != NULL && t > 0 && (*oldest == 0 || t < *oldest))
			*oldest = t;
	}
	closedir(dir);
	return n;
}

void
metrics_write(int queue_fd)
{
	static const char *const dirs[] = { "new", "hold", "failed", "tmp" };
	char tmp[METRICS_PATH_MAX];
	const char *slash, *base;
	time_t now = time(NULL), oldest = 0;
	size_t i, j;
	long n;
	FILE *f;
	int fd, len, is_bad;

	if (metrics_path == NULL)
		return;
	slash = strrchr(metrics_path, '/');
	base = slash != NULL ? slash + 1 : metrics_path;
	len = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", slash != NULL ?
	    (int)(slash - metrics_path + 1) : 0, metrics_path, base);
	if (len < 0 || (size_t)len >= sizeof(tmp))
		return;		/* metrics_config() bounded it */
	if ((fd = mkstemp(tmp)) == -1) {
		log_error("metrics=%s result=error: %s", metrics_path,
		    strerror(errno));
		return;
	}
	if (fchmod(fd, 0644) == -1 || (f = fdopen(fd, "w")) == NULL) {
		log_error("metrics=%s result=error: %s", metrics_path,
		    strerror(errno));
		close(fd);
		unlink(tmp);
		return;
	}
	fprintf(f, "# HELP smtpq_queue_messages Messages in each queue "
	    "directory.\n# TYPE smtpq_queue_messages gauge\n");
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if ((n = dir_count(queue_fd, dirs[i], i == 0 ? &oldest :
		    NULL)) >= 0)
			fprintf(f, "smtpq_queue_messages{dir=\"%s\"} %ld\n",
			    dirs[i], n);
	fprintf(f, "# HELP smtpq_queue_oldest_seconds Age of the oldest "
	    "message waiting in new/ (0: none).\n"
	    "# TYPE smtpq_queue_oldest_seconds gauge\n"
	    "smtpq_queue_oldest_seconds %lld\n", oldest == 0 || oldest > now ?
	    0LL : (long long)(now - oldest));
	fprintf(f, "# HELP smtpq_run_deliveries Recipients the last run "
	    "handled, by result and TLS (local: a Maildir).\n"
	    "# TYPE smtpq_run_deliveries gauge\n");
	for (i = 0; i < NRESULTS; i++)
		for (j = 0; j < NTLS; j++)
			fprintf(f, "smtpq_run_deliveries{result=\"%s\","
			    "tls=\"%s\"} %lu\n", results[i], tlses[j],
			    counts[i][j]);
	fprintf(f, "# HELP smtpq_run_end_seconds When the last run ended "
	    "(Unix time).\n# TYPE smtpq_run_end_seconds gauge\n"
	    "smtpq_run_end_seconds %lld\n", (long long)now);
	memset(counts, 0, sizeof(counts));
	is_bad = fflush(f) == EOF || ferror(f) || fsync(fileno(f)) == -1;
	if (fclose(f) == EOF)
		is_bad = 1;
	if (is_bad || rename(tmp, metrics_path) == -1) {
		log_error("metrics=%s result=error: %s", metrics_path,
		    strerror(errno));
		unlink(tmp);
	}
}
