/*
 * sig.c: SIGTERM, SIGINT and SIGHUP become the flag sig_term.
 *
 * The signals stay blocked except inside pselect() (line_fill() with
 * stop_on_signal, sig_sleep()), so they can only end a wait for input or a
 * pause, never a write, an fsync or a rename half way.
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
	struct timespec ts;
	sigset_t none;

	sigemptyset(&none);
	ts.tv_sec = seconds;
	ts.tv_nsec = 0;
	if (sig_term)
		return;
	(void)pselect(0, NULL, NULL, NULL, &ts, &none);
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
