/*
 * sig.c: SIGTERM, SIGINT and SIGHUP become the flag sig_term.
 *
 * The signals stay blocked except inside sig_wait()'s pselect() (line_fill()
 * and out_flush() with stop_on_signal, a connect, a lookup, sig_sleep()),
 * so they can only end a wait for input, for room or a pause, never a
 * write, an fsync or a rename half way.
 */
#include <sys/select.h>

#include <errno.h>
#include <signal.h>
#include <string.h>

#include "common.h"

volatile sig_atomic_t sig_term;

static void
sig_catch(int signo)
{
	(void)signo;
	sig_term = 1;
}

void
sig_init(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sig_catch;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A peer that goes away must give EPIPE, not kill us mid-commit. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

/* Sleeps for seconds, or until a SIGTERM arrives. */
void
sig_sleep(unsigned seconds)
{
	(void)sig_wait(-1, 0, line_now() + seconds * 1000000000LL, 1);
}

int
sig_wait(int fd, int is_write, long long due, int is_stoppable)
{
	struct timespec ts = { 0, 0 };
	long long left;
	sigset_t none;
	fd_set fds;
	int rc;

	if (fd >= FD_SETSIZE) {
		errno = EMFILE;
		return -1;
	}
	sigemptyset(&none);
	for (;;) {
		if (is_stoppable && sig_term) {
			errno = EINTR;
			return -1;
		}
		if (due != 0) {
			if ((left = due - line_now()) <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			ts.tv_sec = (time_t)(left / 1000000000LL);
			ts.tv_nsec = (long)(left % 1000000000LL);
		}
		FD_ZERO(&fds);
		if (fd >= 0)
			FD_SET(fd, &fds);
		rc = pselect(fd + 1, fd >= 0 && !is_write ? &fds : NULL,
		    fd >= 0 && is_write ? &fds : NULL, NULL,
		    due != 0 ? &ts : NULL, is_stoppable ? &none : NULL);
		if (rc == -1 && errno != EINTR)
			return -1;
		if (rc > 0)
			return 0;
		/* 0: the deadline, checked above; EINTR: a signal. */
	}
}

/* Undoes sig_init() (handlers and mask, SIGPIPE too), before an exec:
 * both would be inherited. */
void
sig_reset(void)
{
	struct sigaction sa;
	sigset_t none;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}
