/*
 * sig.c: SIGTERM, SIGINT and SIGHUP become the flag sig_term.
 *
 * The signals stay blocked except inside sig_wait_any()'s pselect()
 * (through sig_wait(): line_fill() and out_flush() with stop_on_signal, a
 * connect, a lookup, sig_sleep(); and smtpsend's pool parent waiting on
 * its workers, its -w wait on the trigger FIFO), so they can only end a
 * wait for input, for room or a pause, never a write, an fsync or a
 * rename half way.
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
	return sig_wait_any(&fd, 1, is_write, due,
	    is_stoppable ? WAIT_STOP : WAIT_BLOCKED, NULL) == -1 ? -1 : 0;
}

/*
 * The one pselect(): with WAIT_STOP or WAIT_NEXT the empty mask lets the
 * signals sig_init() blocks in for its duration only.  The sets are made
 * again before each call (pselect() leaves them undefined on EINTR), and
 * every descriptor is checked against FD_SETSIZE first: FD_SET() beyond
 * it writes past the set.
 */
int
sig_wait_any(const int *fds, size_t nfds, int is_write, long long due,
    enum sig_how how, unsigned char *ready)
{
	struct timespec ts = { 0, 0 };
	long long left;
	sigset_t none;
	fd_set set;
	size_t i;
	int maxfd = -1, rc;

	if (nfds > FD_SETSIZE) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < nfds; i++) {
		if (fds[i] >= FD_SETSIZE) {
			errno = EMFILE;
			return -1;
		}
		if (fds[i] > maxfd)
			maxfd = fds[i];
	}
	sigemptyset(&none);
	for (;;) {
		if (how == WAIT_STOP && sig_term) {
			errno = EINTR;
			return -1;
		}
		if (due > 0) {
			if ((left = due - line_now()) <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			ts.tv_sec = (time_t)(left / 1000000000LL);
			ts.tv_nsec = (long)(left % 1000000000LL);
		}
		FD_ZERO(&set);
		for (i = 0; i < nfds; i++)
			if (fds[i] >= 0)
				FD_SET(fds[i], &set);
		rc = pselect(maxfd + 1, maxfd >= 0 && !is_write ? &set : NULL,
		    maxfd >= 0 && is_write ? &set : NULL, NULL,
		    due != 0 ? &ts : NULL, how != WAIT_BLOCKED ? &none : NULL);
		if (rc > 0) {
			for (i = 0; ready != NULL && i < nfds; i++)
				ready[i] = fds[i] >= 0 &&
				    FD_ISSET(fds[i], &set);
			return rc;
		}
		if (rc == -1 && errno != EINTR)
			return -1;
		if (rc == 0 && due < 0) {	/* WAIT_NOW: looked once */
			errno = ETIMEDOUT;
			return -1;
		}
		if (rc == -1 && how == WAIT_NEXT)
			return -1;		/* EINTR */
		/* 0: the deadline, checked above; EINTR: a signal, sig_term
		 * checked above. */
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
