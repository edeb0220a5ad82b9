/*
 * pool.c: delivery in parallel (-j N at once, -J N per destination;
 * smtpsend(8) CONCURRENCY).
 *
 * The parent lists new/ as before (smtpsend.c's scan()), and for each
 * due message reads its envelope (read only, unlocked) and routes its
 * recipients to learn which destinations it goes to.  It keeps up to -j
 * worker processes, each with a socket to it, forked as the due messages
 * need them (a run with two due messages forks two, not -j).  A worker
 * is given one message name at a time and does exactly what a run with
 * -j 1 does with it (msg_try(): open, lock, deliver over
 * the sessions it keeps open, outcome.c's rewrite or removal): one
 * writer per queue file, as ever; the parent writes no queue file.
 *
 * The parent knows, for each worker, the destinations it may hold a
 * session to: the ones the worker said it keeps open after its last
 * message, and those of the message in hand.  A message goes to a
 * worker only when, for each of its destinations, the worker holds it
 * already or fewer than -J workers do: so no destination has more than
 * -J sessions from this run (one, until a message to it was done: a
 * destination that is down costs one attempt, not -J).  Memory: the
 * parent keeps, per due message waiting, its name and the indexes of its
 * destinations (some 200 octets each: 21 MB of RSS with 100,000 waiting);
 * a worker's is what a run with -j 1 needs.  A worker that holds the
 * message's first destination is preferred, so that a connection
 * carries the next messages (up to -c): the parent reads names ahead
 * until POOL_WARM_SCAN wait on the ready list, and a worker done with a
 * message is first given one for a session it keeps open, from among
 * them (the queue's order interleaves destinations: handed to
 * whichever worker was idle, 200 messages to 20 destinations took 108
 * connections, now about 25).  A message that must wait
 * waits on the list of the destination that blocks it, and is looked at
 * again when a worker of that destination is done: a slow destination
 * holds its own mail and no one else's.  A destination a worker found
 * down is down for every worker (told with the next message that goes
 * there).  The destinations and the messages not yet given to a worker
 * (the ready list, each destination's waiting list) are pooldest.c's;
 * this file decides which worker gets what, and when.
 *
 * SIGTERM: the parent passes it on, waits a second (POOL_TERM_WAIT) at
 * most for the workers (each stops as a run with -j 1 does), then kills
 * what is left.  A worker killed at any point leaves its message in new/
 * (the kernel drops the lock), or delivered and gone: see smtpsend(8)
 * for the one window where that makes a duplicate.
 */
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtpsend.h"

/* After SIGTERM a worker stops as a run with -j 1 does, within a second
 * (every worker within a second, its state safe); one that has not
 * by then is killed, which loses nothing either (see the top). */
#define POOL_WARM_SCAN	512	/* ready jobs looked at for an open session */
#define POOL_TERM_WAIT	1000000000LL	/* nanoseconds, line_now() */
#define POOL_END_WAIT	60000000000LL	/* QUIT at a run's end */

struct worker {
	pid_t	 pid;		/* -1: none */
	int	 fd;
	char	*busy;		/* the name in hand; NULL: idle */
	size_t	*bdests;	/* its destinations */
	size_t	 nbdests;
	size_t	*held;		/* destinations it may hold a session to */
	size_t	 nheld;
	size_t	 seen[POOL_HELD_MAX];	/* "open" lines before "done" */
	size_t	 nseen;
	size_t	 nin;
	char	 in[POOL_LINE_MAX + 1];
};

static unsigned jobs = POOL_JOBS_DEFAULT, per_dest = POOL_PER_DEST_DEFAULT;
static struct pool_conf conf;
static struct worker *workers;
static unsigned nworkers;
static int is_forwarded;	/* SIGTERM passed on */
static long long term_deadline;	/* then the workers must be gone
					 * (line_now()) */
static int is_stopping;		/* pool_stop(): no worker in place of one */

static void pool_lost(struct worker *);
static int pool_grow(void);

void
pool_config(unsigned j, unsigned jd)
{
	jobs = j <= POOL_JOBS_MAX ? j : POOL_JOBS_MAX;	/* pool_wait() */
	per_dest = jd;
}

unsigned
pool_jobs(void)
{
	return jobs;
}

/* --- workers: the parent's side ---------------------------------------- */

static int
is_held(const struct worker *w, size_t id)
{
	size_t i;

	for (i = 0; i < w->nheld; i++)
		if (w->held[i] == id)
			return 1;
	return 0;
}

/* Whether d has all the sessions it may have: -J, but one until a
 * message to it was done, so that a destination that is down costs one
 * attempt in a run, not -J (the next messages learn it is down). */
static int
is_full(const struct pdest *d)
{
	return !d->is_down && d->holders >= (d->is_proven ? per_dest : 1);
}

/* w may take j without a destination getting more than -J sessions. */
static int
is_fit(const struct worker *w, const struct job *j)
{
	size_t i;

	for (i = 0; i < j->ndests; i++)
		if (is_full(pdest_at(j->dests[i])) && !is_held(w, j->dests[i]))
			return 0;
	return 1;
}

/* Writes the line for l to w: 0, or -1 (the worker is gone: its end of
 * the socket says so to the read side). */
static int
pool_send(struct worker *w, const struct pool_line *l)
{
	char buf[POOL_LINE_MAX + 1];
	size_t n, off = 0;
	ssize_t k;

	if ((n = pool_format(buf, sizeof(buf), l)) == 0)
		return -1;
	while (off < n) {
		if ((k = write(w->fd, buf + off, n - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)k;
	}
	return 0;
}

/* w's held set becomes ids (n of them); a destination no longer held
 * lets one of its waiting messages try again. */
static void
pool_hold(struct worker *w, const size_t *ids, size_t n)
{
	size_t i, *v;

	for (i = 0; i < w->nheld; i++)
		pdest_at(w->held[i])->holders--;
	if ((v = realloc(w->held, (n > 0 ? n : 1) * sizeof(*v))) == NULL) {
		/* keep the old array and claim nothing held: -J may then be
		 * passed by one, never a message lost */
		w->nheld = 0;
		n = 0;
	} else
		w->held = v;
	for (i = 0; i < n; i++) {
		w->held[i] = ids[i];
		pdest_at(ids[i])->holders++;
	}
	w->nheld = n;
}

/* Gives j to the idle w: the destinations down first, then the name. */
static int
pool_give(struct worker *w, struct job *j)
{
	struct pool_line l;
	size_t i, n, ids[POOL_HELD_MAX + RCPT_MAX];

	for (i = 0; i < j->ndests; i++) {
		if (!pdest_at(j->dests[i])->is_down)
			continue;
		memset(&l, 0, sizeof(l));
		l.verb = POOL_DOWN;
		snprintf(l.arg, sizeof(l.arg), "%s",
		    pdest_at(j->dests[i])->name);
		snprintf(l.why, sizeof(l.why), "%s",
		    pdest_at(j->dests[i])->why);
		if (pool_send(w, &l) == -1)
			return -1;
	}
	memset(&l, 0, sizeof(l));
	l.verb = POOL_TRY;
	snprintf(l.arg, sizeof(l.arg), "%s", j->name);
	if (pool_send(w, &l) == -1)
		return -1;
	n = w->nheld < POOL_HELD_MAX ? w->nheld : POOL_HELD_MAX;
	memcpy(ids, w->held, n * sizeof(*ids));
	for (i = 0; i < j->ndests; i++)
		if (!pdest_at(j->dests[i])->is_down && !is_held(w, j->dests[i]))
			ids[n++] = j->dests[i];
	pool_hold(w, ids, n);
	w->busy = j->name;
	free(w->bdests);
	w->bdests = j->dests;
	w->nbdests = j->ndests;
	j->name = NULL;
	j->dests = NULL;
	job_free(j);
	w->nseen = 0;
	return 0;
}

/* pool_give(), and when the worker is gone: the message waits for a
 * run, the worker is reaped. */
static void
pool_hand(struct worker *w, struct job *j)
{
	if (pool_give(w, j) == 0)
		return;
	log_error("id=%s result=error: unable to hand to worker %ld: %s",
	    j->name, (long)w->pid, strerror(errno));
	conf.result(j->name, TRY_KEPT);
	job_free(j);
	(void)kill(w->pid, SIGKILL);
	pool_lost(w);
}

/* Whether the idle worker arg holds a session open to j's first
 * destination not down, and may take j. */
static int
is_warm(const struct job *j, const void *arg)
{
	const struct worker *w = arg;
	size_t k;

	for (k = 0; k < j->ndests && pdest_at(j->dests[k])->is_down; k++)
		;
	return k < j->ndests && is_held(w, j->dests[k]) && is_fit(w, j);
}

/*
 * Each idle worker with sessions open is given, first, a ready message
 * for one of them (among the ready list's first POOL_WARM_SCAN), so a
 * connection carries the next messages to its destination (up to -c)
 * rather than a new one being opened while it idles: the queue's order
 * interleaves destinations.
 */
static void
pool_warm(void)
{
	struct worker *w;
	struct job *j;
	size_t i;

	for (i = 0; i < nworkers && !sig_term; i++) {
		w = &workers[i];
		if (w->pid == -1 || w->busy != NULL || w->nheld == 0)
			continue;
		if ((j = job_take(is_warm, w, POOL_WARM_SCAN)) != NULL)
			pool_hand(w, j);
	}
}

/*
 * Hands ready messages to idle workers while there are both.  A message
 * no idle worker may take waits on the list of a destination at its
 * limit; when no worker is busy at all nothing would wake it, so then it
 * goes anyway (two destinations each at its limit in idle workers).
 */
static void
pool_dispatch(void)
{
	struct worker *w, *pick;
	struct job *j;
	size_t i, k, nidle, nbusy;

	pool_warm();
	while ((j = job_peek()) != NULL && !sig_term) {
		pick = NULL;
		nidle = nbusy = 0;
		for (i = 0; i < nworkers; i++) {
			w = &workers[i];
			if (w->pid == -1)
				continue;
			if (w->busy != NULL) {
				nbusy++;
				continue;
			}
			nidle++;
			for (k = 0; k < j->ndests &&
			    pdest_at(j->dests[k])->is_down; k++)
				;
			if (k < j->ndests && is_held(w, j->dests[k]) &&
			    is_fit(w, j)) {
				pick = w;	/* its session is open */
				break;
			}
			if (pick == NULL && is_fit(w, j))
				pick = w;
		}
		if (nidle == 0) {
			/* workers are forked as messages need them: a run
			 * with 3 due messages starts 3, not -j */
			if (pool_grow() == 0)
				continue;
			return;
		}
		(void)job_pop();
		if (pick == NULL && nbusy > 0) {
			for (k = 0; k < j->ndests; k++)
				if (is_full(pdest_at(j->dests[k])))
					break;
			if (k < j->ndests) {
				pdest_hold(j->dests[k], j);
				continue;
			}
		}
		for (i = 0; pick == NULL && i < nworkers; i++)
			if (workers[i].pid != -1 && workers[i].busy == NULL)
				pick = &workers[i];
		if (pick == NULL) {	/* nidle > 0: cannot be */
			job_push(j);
			return;
		}
		pool_hand(pick, j);
	}
}

/* Starts worker w: 0, or -1. */
static int
pool_fork(struct worker *w)
{
	int sv[2];
	unsigned i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("result=error: unable to make a worker's socket: %s",
		    strerror(errno));
		return -1;
	}
	if (sv[0] >= FD_SETSIZE || sv[1] >= FD_SETSIZE) {	/* pselect() */
		log_error("result=error: unable to start a worker: "
		    "descriptor %d past FD_SETSIZE", sv[1]);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	(void)fflush(NULL);	/* nothing buffered is written twice */
	switch (w->pid = fork()) {
	case -1:
		log_error("result=error: unable to start a worker: %s",
		    strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	case 0:
		close(sv[0]);
		for (i = 0; i < nworkers; i++)
			if (workers[i].pid != -1 && &workers[i] != w)
				close(workers[i].fd);
		pool_worker(sv[1], conf.try);
		_exit(0);
	default:
		close(sv[1]);
		w->fd = sv[0];
		w->busy = NULL;
		w->nin = w->nseen = 0;
		pool_hold(w, NULL, 0);
		return 0;
	}
}

/* One worker more, in a free slot, while there are fewer than -j: 0, or
 * -1 (-j of them, stopping, or no fork). */
static int
pool_grow(void)
{
	unsigned i;

	if (sig_term || is_stopping)
		return -1;
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid == -1)
			return pool_fork(&workers[i]);
	return -1;
}

/* Whether a worker may yet be forked (pool_grow()). */
static int
is_room(void)
{
	unsigned i;

	for (i = 0; i < nworkers; i++)
		if (workers[i].pid == -1)
			return 1;
	return 0;
}

/* The workers of a run: the first one forked, the others as messages
 * need them (pool_dispatch()).  0, or -1 when none could be had (then
 * the run goes on as with -j 1). */
int
pool_start(const struct pool_conf *c)
{
	unsigned i;

	conf = *c;
	is_forwarded = is_stopping = 0;
	if ((workers = calloc(jobs, sizeof(*workers))) == NULL)
		return -1;
	for (i = 0; i < jobs; i++)
		workers[i].pid = -1;
	nworkers = jobs;
	if (pool_fork(&workers[0]) == -1) {
		free(workers);
		workers = NULL;
		nworkers = 0;
		return -1;
	}
	return 0;
}

/* w's socket ended: the worker is gone.  Its message, if any, stays in
 * new/ or left it: either way not tried again in this run. */
static void
pool_lost(struct worker *w)
{
	int status = 0;

	close(w->fd);
	while (waitpid(w->pid, &status, 0) == -1 && errno == EINTR)
		;
	if (w->busy != NULL || status != 0)
		log_error("%s%s%sresult=error: worker %ld ended (%s %d)",
		    w->busy != NULL ? "id=" : "", w->busy != NULL ? w->busy :
		    "", w->busy != NULL ? " " : "", (long)w->pid,
		    WIFSIGNALED(status) ? "signal" : "status",
		    WIFSIGNALED(status) ? WTERMSIG(status) :
		    WEXITSTATUS(status));
	if (w->busy != NULL) {
		conf.result(w->busy, TRY_KEPT);
		free(w->busy);
		w->busy = NULL;
	}
	w->pid = -1;
	pool_hold(w, NULL, 0);
	free(w->held);
	w->held = NULL;
	free(w->bdests);
	w->bdests = NULL;
	w->nbdests = 0;
}

/* One line from w: 0, or -1 (a worker that says what it may not is
 * ended: its word is no longer taken). */
static int
pool_heard(struct worker *w, const char *line, size_t len)
{
	struct pool_line l;
	struct pdest *d;
	size_t i;
	long id;

	if (pool_parse(line, len, &l) == -1)
		return -1;
	switch (l.verb) {
	case POOL_OPEN:
		if (w->busy == NULL || w->nseen == POOL_HELD_MAX ||
		    (id = pdest_id(l.arg)) == -1)
			return -1;
		w->seen[w->nseen++] = (size_t)id;
		return 0;
	case POOL_DOWN:
		if ((id = pdest_id(l.arg)) == -1)
			return -1;
		d = pdest_at((size_t)id);
		if (!d->is_down && (d->why = strdup(l.why)) != NULL) {
			d->is_down = 1;
			pdest_wake((size_t)id, (size_t)-1);	/* none waits */
		}
		return 0;
	case POOL_DONE:
		if (w->busy == NULL || strcmp(w->busy, l.arg) != 0)
			return -1;
		for (i = 0; i < w->nbdests; i++) {
			d = pdest_at(w->bdests[i]);
			if (!d->is_down && !d->is_proven) {
				d->is_proven = 1;
				pdest_wake(w->bdests[i], per_dest);
			}
		}
		for (i = 0; i < w->nheld; i++)	/* held no longer: one can go */
			pdest_wake(w->held[i], 1);
		pool_hold(w, w->seen, w->nseen);
		for (i = 0; i < w->nheld; i++)	/* held by an idle worker */
			pdest_wake(w->held[i], 1);
		conf.result(w->busy, (enum try)l.n[0]);
		free(w->busy);
		w->busy = NULL;
		return 0;
	case POOL_COUNT:
		metrics_add(l.n[0], l.n[1], l.n[2]);
		return 0;
	default:
		return -1;
	}
}

/* Reads what w has to say: 0, or -1 when it is gone. */
static int
pool_read(struct worker *w)
{
	char *nl;
	ssize_t n;
	size_t len;

	n = read(w->fd, w->in + w->nin, sizeof(w->in) - 1 - w->nin);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0)
		return -1;
	w->nin += (size_t)n;
	while ((nl = memchr(w->in, '\n', w->nin)) != NULL) {
		len = (size_t)(nl - w->in);
		if (pool_heard(w, w->in, len) == -1) {
			log_error("result=error: worker %ld said what it may "
			    "not; ended", (long)w->pid);
			(void)kill(w->pid, SIGKILL);
			return -1;
		}
		memmove(w->in, nl + 1, w->nin - len - 1);
		w->nin -= len + 1;
	}
	if (w->nin == sizeof(w->in) - 1) {
		log_error("result=error: worker %ld: line too long; ended",
		    (long)w->pid);
		(void)kill(w->pid, SIGKILL);
		return -1;
	}
	return 0;
}

/* SIGTERM, once: passed on to every worker. */
static void
pool_forward(void)
{
	unsigned i;

	if (!sig_term || is_forwarded)
		return;
	is_forwarded = 1;
	term_deadline = line_now() + POOL_TERM_WAIT;
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid != -1)
			(void)kill(workers[i].pid, SIGTERM);
}

/* Waits for what a worker says, until deadline (line_now(); 0: none) or
 * a signal: 0, or -1 when the deadline passed. */
static int
pool_wait(long long deadline)
{
	int fds[POOL_JOBS_MAX];
	unsigned char ready[POOL_JOBS_MAX];
	unsigned i, nw = nworkers;	/* at most POOL_JOBS_MAX */
	int n = 0;

	pool_forward();
	for (i = 0; i < nw; i++) {
		fds[i] = workers[i].pid != -1 ? workers[i].fd : -1;
		if (fds[i] != -1)
			n++;
	}
	if (n == 0)
		return 0;
	if (sig_term && (deadline == 0 || deadline > term_deadline))
		deadline = term_deadline;
	if (deadline != 0 && line_now() >= deadline)
		return -1;
	/* WAIT_NEXT: after a SIGTERM we still wait for the workers' last
	 * words, and each new signal comes back here to be passed on. */
	if (sig_wait_any(fds, nw, 0, deadline, WAIT_NEXT, ready) == -1) {
		if (errno != EINTR && errno != ETIMEDOUT)
			log_error("result=error: pselect: %s", strerror(errno));
		return 0;
	}
	for (i = 0; i < nw; i++)
		if (fds[i] != -1 && ready[i] && workers[i].pid != -1 &&
		    pool_read(&workers[i]) == -1) {
			pool_lost(&workers[i]);
			if (!sig_term && !is_stopping)	/* in its place */
				(void)pool_fork(&workers[i]);
		}
	return 0;
}

static int
is_idle(void)
{
	unsigned i;

	for (i = 0; i < nworkers; i++)
		if (workers[i].pid != -1 && workers[i].busy == NULL)
			return 1;
	return 0;
}

static int
is_busy(void)
{
	unsigned i;

	for (i = 0; i < nworkers; i++)
		if (workers[i].pid != -1 && workers[i].busy != NULL)
			return 1;
	return 0;
}

/*
 * Takes new/NAME for a worker: NAME not due is reported at once; else it
 * waits for one (and goes to it as soon as its destinations allow).
 * Returns when a worker is idle for the next name: 0, or -1 when there
 * is no worker left, or SIGTERM.
 */
int
pool_submit(const char *name)
{
	struct stat st;
	struct job *j;

	if (strlen(name) > POOL_ARG_MAX) {
		conf.result(name, TRY_GONE);	/* as msg_try() */
		return 0;
	}
	if (fstatat(conf.queue->new_dir, name, &st, AT_SYMLINK_NOFOLLOW) ==
	    -1) {
		if (errno == ENOENT) {
			conf.result(name, TRY_GONE);
			return 0;
		}
		st.st_mode = 0;	/* the worker says what is wrong */
	}
	if (!conf.is_flush && S_ISREG(st.st_mode) &&
	    st.st_mtime > time(NULL) + conf.slack) {
		conf.result(name, TRY_NOTDUE);
		return 0;
	}
	if ((j = job_make(conf.queue->new_dir, name, S_ISREG(st.st_mode))) ==
	    NULL) {
		log_error("id=%s result=error: out of memory", name);
		return -1;
	}
	job_push(j);
	for (;;) {
		pool_dispatch();
		if (sig_term)
			return -1;
		/* The next name too while few wait to go: a worker done
		 * with a destination then finds its next message there
		 * (pool_warm()). */
		if (is_idle() || (is_room() && job_peek() == NULL) ||
		    job_ready_count() < POOL_WARM_SCAN)
			return 0;
		if (!is_busy())
			return -1;	/* no worker left */
		(void)pool_wait(0);
	}
}

/* Waits until every message taken went to a worker and came back (or,
 * after SIGTERM, until the workers are gone or POOL_TERM_WAIT passed). */
void
pool_drain(void)
{
	for (;;) {
		pool_dispatch();
		if (sig_term) {
			if (!is_busy() || pool_wait(0) == -1)
				break;
			continue;
		}
		if (!is_busy()) {
			if (job_peek() != NULL)
				break;	/* no worker left */
			/* every worker idle: who waits goes (pool_dispatch) */
			pdest_wake_all();
			if (job_peek() == NULL)
				break;
			continue;
		}
		(void)pool_wait(0);
	}
	job_clear();	/* SIGTERM: left for later */
}

/* The end of a run: each worker ends its sessions (QUIT), says what it
 * counted and leaves; one that takes too long is killed. */
void
pool_stop(void)
{
	long long deadline;
	unsigned i, left;

	is_stopping = 1;
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid != -1)
			(void)shutdown(workers[i].fd, SHUT_WR);
	deadline = sig_term ? term_deadline : line_now() + POOL_END_WAIT;
	for (;;) {
		for (i = left = 0; i < nworkers; i++)
			left += workers[i].pid != -1;
		if (left == 0 || pool_wait(deadline) == -1)
			break;
	}
	for (i = 0; i < nworkers; i++)
		if (workers[i].pid != -1) {
			(void)kill(workers[i].pid, SIGKILL);
			pool_lost(&workers[i]);
		}
	free(workers);
	workers = NULL;
	nworkers = 0;
	pdest_free();
}
