/*
 * fsyncrate.c: the physical limit of the queue's file system: how many
 * write + fsync + rename + fsync(dir) commits a second it can take, the
 * very sequence smtpd runs before it answers 250 (common/queue.c).
 *
 *   fsyncrate [-1] [-s bytes] [-P writers] [-t seconds] DIR
 *
 * Creates DIR/tmp and DIR/new, runs the loop in P processes at once for
 * about t seconds (ext4's journal can commit several writers' fsyncs in
 * one go, so the limit depends on concurrency) and prints one line:
 * "commits=N seconds=S rate=R".  Leaves its files in DIR/new.
 *
 * -1 runs Postfix's sequence instead, for comparison: create in tmp/,
 * rename into new/ at once, write, fsync the file, and nothing more (the
 * mode bits, not the directory, say a Postfix queue file is complete, and
 * ext4's journal makes the rename durable with the file's fsync).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define WRITERS_MAX	256

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int is_postfix_order;	/* -1 */

static void
die(const char *what)
{
	fprintf(stderr, "fsyncrate: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* One writer: commits until the deadline; returns how many. */
static unsigned long
writer(int dir, int new_dir, int id, const char *data, size_t size,
    double deadline)
{
	char tmp[64], new[64];
	unsigned long n;
	int fd;

	for (n = 0; now() < deadline; n++) {
		snprintf(tmp, sizeof(tmp), "tmp/%ld.%d.%lu", (long)getpid(),
		    id, n);
		snprintf(new, sizeof(new), "new/%ld.%d.%lu", (long)getpid(),
		    id, n);
		if ((fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL,
		    0600)) == -1)
			die(tmp);
		if (is_postfix_order) {
			if (renameat(dir, tmp, dir, new) == -1)
				die("rename");
			if (write(fd, data, size) != (ssize_t)size)
				die("write");
			if (fchmod(fd, 0700) == -1)
				die("fchmod");
			if (fsync(fd) == -1)
				die("fsync");
			if (close(fd) == -1)
				die("close");
			continue;
		}
		if (write(fd, data, size) != (ssize_t)size)
			die("write");
		if (fsync(fd) == -1)
			die("fsync");
		if (close(fd) == -1)
			die("close");
		if (renameat(dir, tmp, dir, new) == -1)
			die("rename");
		if (fsync(new_dir) == -1)
			die("fsync new/");
	}
	return n;
}

int
main(int argc, char **argv)
{
	unsigned long total = 0, count;
	double seconds = 3, start, deadline, elapsed;
	size_t size = 1024;
	int writers = 1, c, i, dir, new_dir, fds[2];
	char *data;
	pid_t pid;

	while ((c = getopt(argc, argv, "1s:P:t:")) != -1) {
		switch (c) {
		case '1':
			is_postfix_order = 1;
			break;
		case 's':
			size = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'P':
			writers = atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || writers < 1 || writers > WRITERS_MAX ||
	    seconds <= 0 || seconds > 600)
		goto usage;
	if ((data = malloc(size + 1)) == NULL)
		die("malloc");
	memset(data, 'x', size);
	if (mkdir(argv[optind], 0750) == -1 && errno != EEXIST)
		die(argv[optind]);
	if ((dir = open(argv[optind], O_RDONLY | O_DIRECTORY)) == -1)
		die(argv[optind]);
	if ((mkdirat(dir, "tmp", 0750) == -1 && errno != EEXIST) ||
	    (mkdirat(dir, "new", 0750) == -1 && errno != EEXIST))
		die("mkdir tmp, new");
	if ((new_dir = openat(dir, "new", O_RDONLY | O_DIRECTORY)) == -1)
		die("new/");
	if (pipe(fds) == -1)
		die("pipe");

	start = now();
	deadline = start + seconds;
	for (i = 0; i < writers; i++) {
		if ((pid = fork()) == -1)
			die("fork");
		if (pid == 0) {
			close(fds[0]);
			count = writer(dir, new_dir, i, data, size, deadline);
			if (write(fds[1], &count, sizeof(count)) !=
			    (ssize_t)sizeof(count))
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	while (read(fds[0], &count, sizeof(count)) == (ssize_t)sizeof(count))
		total += count;
	while (wait(NULL) > 0)
		;
	elapsed = now() - start;
	printf("commits=%lu seconds=%.3f rate=%.1f\n", total, elapsed,
	    (double)total / elapsed);
	return 0;
usage:
	fprintf(stderr, "usage: fsyncrate [-1] [-s bytes] [-P writers] "
	    "[-t seconds] dir\n");
	return 64;
}
