/*
 * reap.c: the last close of a delivered queue file, off the sending path.
 *
 * A message leaves the queue by unlinkat() once the relay said 250 to its
 * final dot; the close that follows is the file's last reference, and the
 * file system frees its blocks then.  On ext4 mounted with "discard" that
 * close waits for the device to discard them: about 0.55 ms a message on
 * the benchmark's disk, more than all the rest of a message's work.  So
 * the descriptor of a file already unlinked is handed to a few threads
 * that do nothing but close, while the main thread sends the next
 * message (Postfix's qmgr likewise removes queue files in a process of
 * its own, beside its smtp clients).  Nothing here can lose mail: the
 * name is gone before the descriptor comes here, and a crash leaves at
 * most an orphan inode for the file system to free.
 *
 * Bounded: at most REAP_QUEUE descriptors wait; one more waits for room.
 * The threads start at the first reap_close() and leave at reap_wait(),
 * at the end of a run (so a -w loop's sleep holds none) and before every
 * connection to the relay, which forks (resolve.c, tls.c): a child then
 * copies a process of one thread, as POSIX wants of one that does more
 * than exec.  When no thread can be had, or in the
 * fault-injection build (REAP_SERIAL: its counted calls must come in one
 * order), reap_close() just closes.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "smtpsend.h"

#define REAP_THREADS	2	/* discards overlap in the device */
#define REAP_QUEUE	32	/* descriptors waiting, at most */
#define REAP_STACK	65536	/* a thread needs a few hundred octets */

static struct {
	pthread_mutex_t	lock;
	pthread_cond_t	has_fd, has_room;
	pthread_t	thread[REAP_THREADS];
	size_t		nthreads;	/* running */
	int		is_started;	/* tried to start them in this run */
	int		is_stopping;	/* reap_wait(): leave when empty */
	int		fd[REAP_QUEUE];	/* a ring */
	size_t		head, n;
} reap = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.has_fd = PTHREAD_COND_INITIALIZER,
	.has_room = PTHREAD_COND_INITIALIZER,
};

/* A thread: closes what it is given until reap_wait() and nothing left. */
static void *
reap_thread(void *arg)
{
	int fd;

	(void)arg;
	for (;;) {
		(void)pthread_mutex_lock(&reap.lock);
		while (reap.n == 0 && !reap.is_stopping)
			(void)pthread_cond_wait(&reap.has_fd, &reap.lock);
		if (reap.n == 0) {
			(void)pthread_mutex_unlock(&reap.lock);
			return NULL;
		}
		fd = reap.fd[reap.head];
		reap.head = (reap.head + 1) % REAP_QUEUE;
		reap.n--;
		(void)pthread_cond_signal(&reap.has_room);
		(void)pthread_mutex_unlock(&reap.lock);
		/* Unlinked and delivered: an error here has nothing left to
		 * undo (and Linux frees the descriptor even then). */
		(void)close(fd);
	}
}

/* Starts the threads, with every signal blocked in them: a SIGTERM is the
 * main thread's, in its pselect() (sig.c).  0 when one or more run. */
static int
reap_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;

	reap.is_started = 1;
	if (pthread_attr_init(&attr) != 0)
		return -1;
	(void)pthread_attr_setstacksize(&attr, REAP_STACK);
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	while (reap.nthreads < REAP_THREADS &&
	    pthread_create(&reap.thread[reap.nthreads], &attr, reap_thread,
	    NULL) == 0)
		reap.nthreads++;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	(void)pthread_attr_destroy(&attr);
	return reap.nthreads > 0 ? 0 : -1;
}

/* Closes fd, a queue file already unlinked, now or soon. */
void
reap_close(int fd)
{
#ifdef REAP_SERIAL
	reap.is_started = 1;		/* and none runs */
#endif
	if (!reap.is_started)
		(void)reap_start();
	if (reap.nthreads > 0) {
		(void)pthread_mutex_lock(&reap.lock);
		while (reap.n == REAP_QUEUE)
			(void)pthread_cond_wait(&reap.has_room, &reap.lock);
		reap.fd[(reap.head + reap.n) % REAP_QUEUE] = fd;
		reap.n++;
		(void)pthread_cond_signal(&reap.has_fd);
		(void)pthread_mutex_unlock(&reap.lock);
		return;
	}
	(void)close(fd);
}

/* Waits until every descriptor given is closed, and the threads gone. */
void
reap_wait(void)
{
	size_t i;

	if (reap.nthreads == 0) {
		reap.is_started = 0;
		return;
	}
	(void)pthread_mutex_lock(&reap.lock);
	reap.is_stopping = 1;
	(void)pthread_cond_broadcast(&reap.has_fd);
	(void)pthread_mutex_unlock(&reap.lock);
	for (i = 0; i < reap.nthreads; i++)
		(void)pthread_join(reap.thread[i], NULL);
	reap.nthreads = 0;
	reap.is_started = reap.is_stopping = 0;
}
