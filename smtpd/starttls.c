/*
 * starttls.c: STARTTLS by exec (RFC 3207).  No TLS library is linked:
 * after "220 2.0.0" the -T program (stunnel in inetd mode) takes over fd 0
 * and 1, does the handshake, and runs "smtpd -E" on the clear side.
 *
 * What a client sent after STARTTLS, before it could have seen our 220,
 * is plaintext that must never reach the TLS session (CVE-2011-0411): it
 * is dropped, from our buffer and from the socket, and logged.  The next
 * smtpd learns from STARTTLS_ENV that it must not greet (RFC 3207 4.2),
 * and who the client is: the address we determined, not the TLS
 * program's peer (behind a proxy, the proxy's trusted loopback).  Only
 * we set it before the exec; a remote client cannot set environment.
 */
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd.h"

/* Bytes read off the socket, at most, to drop pipelined plaintext; a
 * client sending more is sending a flood, which the handshake ends. */
#define STARTTLS_DRAIN_MAX	((size_t)4 * IO_BUFSIZE)

/* Reads what is already waiting on fd, without waiting; returns bytes. */
static size_t
starttls_drain(int fd)
{
	struct pollfd pfd;
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (total < STARTTLS_DRAIN_MAX) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
			break;
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			break;
		total += (size_t)n;
	}
	return total;
}

/*
 * Returns -1 (nothing said to the client, errno set) when the program
 * cannot be run; the caller answers 454.  Otherwise never returns.
 */
int
starttls_exec(struct line *in, struct out *out, char *const argv[],
    const char *peer)
{
	char path[PROG_PATH_MAX];
	struct stat st0, st2;
	size_t dropped;

	if (prog_find(argv[0], path, sizeof(path)) == -1) {
		log_error("peer=%s result=starttls unavailable: %s: %s", peer,
		    argv[0], strerror(errno));
		return -1;
	}
	if (setenv(STARTTLS_ENV, peer, 1) == -1) {
		log_error("peer=%s result=starttls unavailable: setenv: %s",
		    peer, strerror(errno));
		return -1;
	}
	dropped = line_pending(in);
	in->start = in->end;
	dropped += starttls_drain(in->fd);
	if (dropped > 0)
		log_info("peer=%s result=starttls: discarded %zu bytes sent "
		    "after STARTTLS", peer, dropped);
	/* Under inetd fd 2 is the connection too: what the TLS program
	 * writes there would reach the client in plaintext. */
	if (fstat(STDIN_FILENO, &st0) == 0 && fstat(STDERR_FILENO, &st2) == 0 &&
	    st0.st_dev == st2.st_dev && st0.st_ino == st2.st_ino &&
	    prog_devnull(STDERR_FILENO) == -1) {
		log_error("peer=%s result=starttls unavailable: /dev/null: %s",
		    peer, strerror(errno));
		return -1;
	}
	reply(out, 220, "2.0.0 Ready to start TLS");
	if (out_flush(out) == -1) {
		log_info("peer=%s result=write error: %s", peer,
		    strerror(out->error));
		exit(0);
	}
	log_info("peer=%s result=starttls: running %s", peer, path);
	prog_exec(path, argv);
	/* Too late for a reply: the client is starting its handshake. */
	log_error("peer=%s result=dropped: unable to run %s: %s", peer, path,
	    strerror(errno));
	exit(EXIT_TEMPFAIL);
}

/*
 * With -E, fd 2 may be the client's connection (stunnel without
 * "foreground"): before anything could be written there, usage errors
 * included, it becomes /dev/null.  A first getopt pass looks only for -E.
 */
void
starttls_guard_stderr(int argc, char **argv, const char *optstring)
{
	int c, is_wanted = 0;

	opterr = 0;
	while ((c = getopt(argc, argv, optstring)) != -1)
		if (c == 'E')
			is_wanted = 1;
	optind = 1;
	if (is_wanted && prog_devnull(STDERR_FILENO) == -1)
		exit(EXIT_OSERR);
}
