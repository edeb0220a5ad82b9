/*
 * pooldest.c: the parent's side of smtpsend -j (pool.c) that is not about
 * workers: the destinations it knows (a table and its hash, by name: a
 * relay URL's host:port, an MX domain in lower case), how many workers
 * may hold a session to each and whether it is down, and the due
 * messages not yet given to a worker (jobs): the ready list, oldest
 * first, and each destination's list of the messages it holds back.
 * pool.c decides who gets what; this file keeps the lists.
 *
 * A job's destinations come from its envelope, read here without a lock
 * (the worker that takes the message locks it) and routed as a worker
 * would route it.  Memory: some 200 octets a waiting job (pool.c).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpsend.h"

static struct pdest *pdests;
static size_t npdests, cappdests;
static size_t *hash;		/* index + 1 into pdests; 0: free */
static size_t hashsize;
static struct job *ready, *ready_tail;	/* due, oldest first */
static size_t nready;			/* jobs on it */
static struct msg pmsg;		/* the parent's look at an envelope */
static struct line pin;

static size_t
pdest_hash(const char *s)
{
	size_t h = 5381;

	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

static int
pdest_rehash(void)
{
	size_t i, h, size = hashsize == 0 ? 256 : hashsize * 2;
	size_t *t;

	if ((t = calloc(size, sizeof(*t))) == NULL)
		return -1;
	for (i = 0; i < npdests; i++) {
		for (h = pdest_hash(pdests[i].name) & (size - 1); t[h] != 0;
		    h = (h + 1) & (size - 1))
			;
		t[h] = i + 1;
	}
	free(hash);
	hash = t;
	hashsize = size;
	return 0;
}

/* The index of the destination called name, made when new: or -1. */
long
pdest_id(const char *name)
{
	struct pdest *v;
	size_t h, cap;

	if (hashsize > 0)
		for (h = pdest_hash(name) & (hashsize - 1); hash[h] != 0;
		    h = (h + 1) & (hashsize - 1))
			if (strcmp(pdests[hash[h] - 1].name, name) == 0)
				return (long)(hash[h] - 1);
	if (npdests == cappdests) {
		cap = cappdests == 0 ? 64 : cappdests * 2;
		if ((v = realloc(pdests, cap * sizeof(*v))) == NULL)
			return -1;
		pdests = v;
		cappdests = cap;
	}
	memset(&pdests[npdests], 0, sizeof(pdests[npdests]));
	if ((pdests[npdests].name = strdup(name)) == NULL)
		return -1;
	npdests++;
	if ((npdests * 2 > hashsize && pdest_rehash() == -1)) {
		free(pdests[--npdests].name);
		return -1;
	}
	for (h = pdest_hash(name) & (hashsize - 1); hash[h] != 0;
	    h = (h + 1) & (hashsize - 1))
		;
	hash[h] = npdests;
	return (long)(npdests - 1);
}

/* The destination of index id (from pdest_id()). */
struct pdest *
pdest_at(size_t id)
{
	return &pdests[id];
}

/* Every destination forgotten: the end of a run. */
void
pdest_free(void)
{
	size_t k;

	for (k = 0; k < npdests; k++) {
		free(pdests[k].name);
		free(pdests[k].why);
	}
	free(pdests);
	pdests = NULL;
	npdests = cappdests = 0;
	free(hash);
	hash = NULL;
	hashsize = 0;
}

/* --- jobs -------------------------------------------------------------- */

void
job_free(struct job *j)
{
	free(j->name);
	free(j->dests);
	free(j);
}

static void
job_append(struct job **head, struct job **tail, struct job *j)
{
	j->next = NULL;
	if (*head == NULL)
		*head = j;
	else
		(*tail)->next = j;
	*tail = j;
}

/* j waits until destination id lets it go (pdest_wake()). */
void
pdest_hold(size_t id, struct job *j)
{
	job_append(&pdests[id].wait, &pdests[id].wait_tail, j);
}

/* Up to n of destination id's waiting messages go back to the ready
 * list's front. */
void
pdest_wake(size_t id, size_t n)
{
	struct pdest *d = &pdests[id];
	struct job *j;

	while (n-- > 0 && (j = d->wait) != NULL) {
		if ((d->wait = j->next) == NULL)
			d->wait_tail = NULL;
		j->next = ready;
		ready = j;
		if (ready_tail == NULL)
			ready_tail = j;
		nready++;
	}
}

/* Every message waiting for a destination goes back to the ready list. */
void
pdest_wake_all(void)
{
	size_t i;

	for (i = 0; i < npdests; i++)
		pdest_wake(i, (size_t)-1);
}

/* The ready list: its first job, left there; taken off; one put last. */
struct job *
job_peek(void)
{
	return ready;
}

struct job *
job_pop(void)
{
	struct job *j = ready;

	if (j == NULL)
		return NULL;
	nready--;
	if ((ready = j->next) == NULL)
		ready_tail = NULL;
	return j;
}

void
job_push(struct job *j)
{
	job_append(&ready, &ready_tail, j);
	nready++;
}

size_t
job_ready_count(void)
{
	return nready;
}

/* The first of the ready list's first limit jobs that is_ok() takes,
 * taken off the list; NULL when none is. */
struct job *
job_take(int (*is_ok)(const struct job *, const void *), const void *arg,
    size_t limit)
{
	struct job *j, *prev = NULL;

	for (j = ready; j != NULL && limit-- > 0; prev = j, j = j->next) {
		if (!is_ok(j, arg))
			continue;
		if (prev == NULL)
			ready = j->next;
		else
			prev->next = j->next;
		if (ready_tail == j)
			ready_tail = prev;
		j->next = NULL;
		nready--;
		return j;
	}
	return NULL;
}

/* Every job dropped, ready or waiting (their messages stay in new/). */
void
job_clear(void)
{
	struct job *j;
	size_t i;

	while ((j = job_pop()) != NULL)
		job_free(j);
	for (i = 0; i < npdests; i++) {
		while ((j = pdests[i].wait) != NULL) {
			pdests[i].wait = j->next;
			job_free(j);
		}
		pdests[i].wait_tail = NULL;
	}
}

/* The job for new/NAME (new_dir: the queue's new/): its destinations,
 * from its envelope as it stands.  One we cannot read goes with none:
 * the worker that takes it says what is wrong, as a run with -j 1
 * would. */
struct job *
job_make(int new_dir, const char *name, int is_regular)
{
	char why[128], key[sizeof(pmsg.rcpt[0].dest->name)];
	struct job *j;
	struct stat st;
	size_t i, k;
	long id;
	int fd;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (j->name = strdup(name)) == NULL ||
	    (j->dests = calloc(RCPT_MAX, sizeof(*j->dests))) == NULL) {
		if (j != NULL)
			free(j->name);
		free(j);
		return NULL;
	}
	if (!is_regular || (fd = openat(new_dir, name, O_RDONLY |
	    O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return j;
	line_init(&pin, fd, 0);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    envelope_read(&pin, &pmsg.env, why, sizeof(why)) != RES_OK) {
		close(fd);
		return j;
	}
	close(fd);
	for (i = 0; i < pmsg.env.nrcpt; i++) {
		memset(&pmsg.rcpt[i], 0, sizeof(pmsg.rcpt[i]));
		pmsg.rcpt[i].addr = pmsg.env.rcpt[i];
	}
	route_decide(&pmsg);
	for (i = 0; i < pmsg.env.nrcpt; i++) {
		if (pmsg.rcpt[i].dest == NULL)
			continue;
		snprintf(key, sizeof(key), "%s", pmsg.rcpt[i].dest->name);
		if (pmsg.rcpt[i].dest->kind == ROUTE_MX)
			for (k = 0; key[k] != '\0'; k++)
				if (key[k] >= 'A' && key[k] <= 'Z')
					key[k] = (char)(key[k] - 'A' + 'a');
		if ((id = pdest_id(key)) == -1)
			continue;	/* no memory: not held back by it */
		for (k = 0; k < j->ndests; k++)
			if (j->dests[k] == (size_t)id)
				break;
		if (k == j->ndests)
			j->dests[j->ndests++] = (size_t)id;
	}
	if (j->ndests < RCPT_MAX) {	/* a queue of them stays small */
		size_t *v = realloc(j->dests, (j->ndests > 0 ? j->ndests : 1) *
		    sizeof(*v));

		if (v != NULL)
			j->dests = v;
	}
	return j;
}
