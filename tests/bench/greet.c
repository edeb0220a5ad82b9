/*
 * greet.c: connect-to-greeting latency and connection rate.
 *
 *   greet [-n connections] [-P workers] host port
 *
 * Each of P processes opens its share of the n connections one after the
 * other: time from connect() to the end of the "220 " greeting line is
 * the latency; then QUIT, and the connection is read to its end (the
 * server closes first).  Prints one line: "conns=N failed=F seconds=S
 * rate=R median_us=M p99_us=P" (rate: whole connections a second).
 * Every read and write is bounded by a 10 s timeout.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX	1000000
#define WORKERS_MAX	256

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One connection; returns the greeting latency in microseconds, or -1. */
static double
one(const struct sockaddr_in *sa)
{
	struct timeval tv = { 10, 0 };
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	double t0, latency = -1;
	char *p;
	int fd;

	t0 = now();
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == -1)
		goto out;
	/* The greeting ends at the LF of a line "220 ..." (not "220-"). */
	for (;;) {
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			goto out;
		len += (size_t)n;
		buf[len] = '\0';
		for (p = buf; (p = strstr(p, "220 ")) != NULL; p++)
			if ((p == buf || p[-1] == '\n') &&
			    strchr(p, '\n') != NULL)
				break;
		if (p != NULL)
			break;
		if (len == sizeof(buf) - 1)
			goto out;
	}
	latency = (now() - t0) * 1e6;
	if (write(fd, "QUIT\r\n", 6) != 6) {
		latency = -1;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		;
	if (n < 0)
		latency = -1;
out:
	close(fd);
	return latency;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	double *lat, start, elapsed, v;
	long conns = 100, got = 0, failed = 0, i, share;
	int workers = 1, c, w, fds[2];
	FILE *in;
	pid_t pid;

	while ((c = getopt(argc, argv, "n:P:")) != -1) {
		switch (c) {
		case 'n':
			conns = atol(optarg);
			break;
		case 'P':
			workers = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 2 || conns < 1 || conns > CONNS_MAX ||
	    workers < 1 || workers > WORKERS_MAX || workers > conns)
		goto usage;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &sa.sin_addr) != 1)
		goto usage;
	if ((lat = malloc((size_t)conns * sizeof(*lat))) == NULL ||
	    pipe(fds) == -1) {
		perror("greet");
		return 1;
	}

	start = now();
	for (w = 0; w < workers; w++) {
		share = conns / workers + (w < conns % workers);
		if ((pid = fork()) == -1) {
			perror("greet: fork");
			return 1;
		}
		if (pid == 0) {
			close(fds[0]);
			if ((in = fdopen(fds[1], "w")) == NULL)
				_exit(1);
			for (i = 0; i < share; i++) {
				v = one(&sa);
				fwrite(&v, sizeof(v), 1, in);
			}
			fclose(in);
			_exit(0);
		}
	}
	close(fds[1]);
	if ((in = fdopen(fds[0], "r")) == NULL)
		return 1;
	while (got + failed < conns && fread(&v, sizeof(v), 1, in) == 1) {
		if (v < 0)
			failed++;
		else
			lat[got++] = v;
	}
	while (wait(NULL) > 0)
		;
	elapsed = now() - start;
	qsort(lat, (size_t)got, sizeof(*lat), cmp);
	printf("conns=%ld failed=%ld seconds=%.3f rate=%.1f median_us=%.0f "
	    "p99_us=%.0f\n", got, failed, elapsed, (double)got / elapsed,
	    got > 0 ? lat[got / 2] : 0.0,
	    got > 0 ? lat[(size_t)((double)got * 0.99)] : 0.0);
	return failed > 0;
usage:
	fprintf(stderr, "usage: greet [-n connections] [-P workers] "
	    "host port\n");
	return 64;
}
