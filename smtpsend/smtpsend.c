/*
 * smtpsend.c: the queue sender.
 *
 * Takes each due message from QUEUE/new/, oldest first, and hands every
 * recipient either to the relay (-r) over one reused SMTP connection or,
 * for local domains (-d) and when there is no relay, to a Maildir under -m.
 * Then the message leaves new/ (all delivered), goes to failed/ with a
 * bounce queued (some failed for good), or is rewritten to list only the
 * recipients still pending, with its next try as its mtime.  Rescans until
 * a scan finds nothing new, so mail that arrives meanwhile goes too; -w
 * repeats that forever.
 *
 * Safety: a message is locked (fcntl) while one process works on it, and
 * leaves new/ only after the relay answered 250 or its bounce is queued:
 * a crash at any point leaves it delivered, still queued, or both.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpsend.h"
#include "sign.h"

#define EXPIRE_DEFAULT	(5 * 86400)	/* -e: five days, then bounce */
#define MAILDIR_DEFAULT	"/var/spool/smtpq-mail"
#define TMP_STALE	((time_t)36 * 3600) /* older in tmp/: crash debris */
/* Linux stamps files from a clock that may run a tick ahead of time()
 * (multigrain timestamps, 6.13 on): a file committed just after a second
 * began can carry the next second.  A next try is always at least
 * RETRY_MIN ahead, so a file at most this far ahead is new, and due. */
#define CLOCK_SLACK	1

/* Names in new/, or the names tried in this run (sorted). */
struct names {
	char	**v;
	size_t	  n, cap;
};

static const char *queue_dir = QUEUE_DIR_DEFAULT;
static const char *maildir = MAILDIR_DEFAULT;
static char hostname[HOST_MAX + 1];
static int is_flush;
static unsigned timeout = TIMEOUT_DEFAULT;
static unsigned loop_wait;		/* -w; 0: oneshot */

static struct queue queue;
static struct names tried;
static size_t scan_done, scan_left;	/* of the scan in hand */
static struct line file_in;		/* reads the envelope */
static struct msg msg;			/* the message being delivered */
static struct outcome_conf outcome = { &queue, hostname, EXPIRE_DEFAULT };

static void
usage(void)
{
	printf("usage: smtpsend [-fp] [-q dir] [-n name] [-l file] "
	    "[-t timeout] [-d domain]\n"
	    "                [-r url]... [-a secrets] [-C cafile] [-k] "
	    "[-m maildir]\n"
	    "                [-e expire] [-w interval] "
	    "[-M address|@domain] [-A aliases]\n"
	    "                [-c messages] [-D 'domain selector keyfile']"
	    " [-O metrics]\n"
	    "                [-F conffile] [-N] [-j jobs] "
	    "[-J jobs-per-destination]\n");
	exit(0);
}

/* --- names: listing new/, remembering what this run tried ------------- */

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
names_add(struct names *ns, const char *name)
{
	char **v;

	if (ns->n == ns->cap) {
		ns->cap = ns->cap == 0 ? 64 : ns->cap * 2;
		if ((v = realloc(ns->v, ns->cap * sizeof(*v))) == NULL)
			return -1;
		ns->v = v;
	}
	if ((ns->v[ns->n] = strdup(name)) == NULL)
		return -1;
	ns->n++;
	return 0;
}

static int
names_has(const struct names *ns, const char *name)
{
	return ns->n > 0 && bsearch(&name, ns->v, ns->n, sizeof(*ns->v),
	    names_cmp) != NULL;
}

static void
names_free(struct names *ns)
{
	while (ns->n > 0)
		free(ns->v[--ns->n]);
	free(ns->v);
	ns->v = NULL;
	ns->cap = 0;
}

/* The names in new/, sorted: by arrival, as names start with the epoch. */
static int
names_list(struct names *ns)
{
	struct dirent *d;
	DIR *dir;
	int fd;

	/* new/ as queue_open() found it, never through a path again */
	if ((fd = openat(queue.new_dir, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* Every name but . and ..: a hidden file is damage, not ignored. */
	while ((errno = 0, d = readdir(dir)) != NULL)
		if (strcmp(d->d_name, ".") != 0 &&
		    strcmp(d->d_name, "..") != 0 &&
		    names_add(ns, d->d_name) == -1)
			break;
	closedir(dir);
	if (errno != 0)
		return -1;
	if (ns->n > 1)
		qsort(ns->v, ns->n, sizeof(*ns->v), names_cmp);
	return 0;
}


/* --- one message ----------------------------------------------------- */

/* Whether a name in the queue is one we may log and print as it is:
 * queue names are digits, letters, dots and a host name.  Anyone who
 * runs as the queue's owner can make others, with terminal escapes or
 * newlines that would forge log lines; those are logged escaped, once,
 * and moved to failed/. */
static int
is_printable_name(const char *name)
{
	for (; *name != '\0'; name++)
		if (*name <= ' ' || *name > '~')
			return 0;
	return 1;
}

/* Whether a queue file's name starts with its arrival time, digits and
 * a dot (a dot file, say, does not); why says so when it does not. */
static int
is_timed_name(const char *name, char *why, size_t size)
{
	size_t n = strspn(name, "0123456789");

	if (n > 0 && name[n] == '.')
		return 1;
	snprintf(why, size, "name does not start with a time");
	return 0;
}

/* Delivers the open, locked new/NAME. */
static enum try
msg_deliver(time_t now, const struct stat *st)
{
	char why[128], age[32];
	struct rcpt *r;
	enum result rc;
	size_t i, j;
	int aliased;

	/* The name starts with the arrival epoch (queue.c). */
	msg.arrival = (time_t)strtoll(msg.name, NULL, 10);
	line_init(&file_in, msg.fd, 0);
	if (!is_timed_name(msg.name, why, sizeof(why)))
		rc = RES_PERM;
	else
		rc = envelope_read(&file_in, &msg.env, why, sizeof(why));
	if (rc == RES_TEMP) {
		log_error("id=%s result=error: unable to read: %s", msg.name,
		    why);
		return TRY_KEPT;
	}
	if (rc == RES_PERM) {
		log_info("id=%s result=failed: damaged queue file: %s",
		    msg.name, why);
		return outcome_fail(&queue, msg.name) == 0 ? TRY_DONE : TRY_KEPT;
	}
	msg.size = st->st_size - msg.env.body;
	msg.scan = -1;		/* read when a server needs it (smtp.c) */
	log_info("id=%s from=<%s> size=%lld rcpts=%zu age=%s result=trying",
	    msg.name, msg.env.from, (long long)msg.size, msg.env.nrcpt,
	    date_age((long)(now - msg.arrival), age, sizeof(age)));

	for (i = 0; i < msg.env.nrcpt; i++) {
		memset(&msg.rcpt[i], 0, sizeof(msg.rcpt[i]));
		msg.rcpt[i].addr = msg.env.rcpt[i];
		rcpt_set(&msg, i, 451, "451 4.4.0 not tried");
	}
	/* Every recipient's place first: alias.c drops a target that is
	 * also one of the message's own recipients. */
	route_decide(&msg);
	for (i = 0; i < msg.env.nrcpt; i++) {
		r = &msg.rcpt[i];
		if (r->route != ROUTE_LOCAL)
			continue;
		if ((aliased = alias_deliver(&msg, i, &queue, r->reply,
		    sizeof(r->reply))) != -1)
			r->result = (enum result)aliased;
		else
			r->result = local_deliver(&msg, i, maildir, hostname,
			    r->reply, sizeof(r->reply));
	}
	/* Signed once, before the first remote attempt: the signature stays
	 * in the queue file, so every retry sends the same bytes. */
	for (i = 0; i < msg.env.nrcpt; i++)
		if (msg.rcpt[i].dest != NULL)
			break;
	if (i < msg.env.nrcpt && sign_queued(&queue, &msg) != RES_OK)
		return outcome_finish(&outcome, &msg, time(NULL));
	/* Then each destination, once, in the order its recipients come. */
	for (i = 0; i < msg.env.nrcpt; i++) {
		if (msg.rcpt[i].dest == NULL || msg.rcpt[i].is_tried)
			continue;
		for (j = i; j < msg.env.nrcpt; j++)
			msg.rcpt[j].is_tried |= msg.rcpt[j].dest ==
			    msg.rcpt[i].dest;
		remote_send(&msg, msg.rcpt[i].dest);
	}
	return outcome_finish(&outcome, &msg, time(NULL));
}

/* A message we could not look at: gone if it is gone, else left for
 * later (so that the run's exit status says so) with the reason logged. */
static enum try
msg_unseen(const char *name, const char *what)
{
	if (errno == ENOENT)
		return TRY_GONE;
	log_error("id=%s result=error: unable to %s: %s", name, what,
	    strerror(errno));
	return TRY_KEPT;
}

/*
 * Looks at new/NAME: skips it unless it is due and ours to lock (another
 * sender holds it; or it was replaced since we opened it, which a rewrite
 * does), and delivers it.
 */
static enum try
msg_try(const char *name, time_t now)
{
	char safe[QUEUE_NAME_MAX * 4 + 1];
	struct stat st, again;
	struct flock fl;
	enum try rc;

	if (strlen(name) >= sizeof(msg.name))
		return TRY_GONE;
	if (!is_printable_name(name)) {
		log_info("id=%s result=failed: not a queue name",
		    log_esc(name, safe, sizeof(safe)));
		return outcome_fail(&queue, name) == 0 ? TRY_DONE : TRY_KEPT;
	}
	if (fstatat(queue.new_dir, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return msg_unseen(name, "stat");
	strcpy(msg.name, name);
	if (!S_ISREG(st.st_mode)) {
		log_info("id=%s result=failed: not a regular file", name);
		return outcome_fail(&queue, name) == 0 ? TRY_DONE : TRY_KEPT;
	}
	if (!is_flush && st.st_mtime > now + CLOCK_SLACK)
		return TRY_NOTDUE;
	if ((msg.fd = openat(queue.new_dir, name, O_RDWR | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return TRY_GONE;
		log_error("id=%s result=error: unable to open: %s", name,
		    strerror(errno));
		return TRY_KEPT;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(msg.fd, F_SETLK, &fl) == -1)
		rc = errno == EAGAIN || errno == EACCES ? TRY_GONE :
		    msg_unseen(name, "lock");
	else if (fstat(msg.fd, &st) == -1 || fstatat(queue.new_dir, name,
	    &again, AT_SYMLINK_NOFOLLOW) == -1)
		rc = msg_unseen(name, "stat");
	else if (st.st_ino != again.st_ino || st.st_dev != again.st_dev ||
	    !S_ISREG(st.st_mode))
		rc = TRY_GONE;		/* rewritten by another sender */
	else if (!is_flush && st.st_mtime > now + CLOCK_SLACK)
		rc = TRY_NOTDUE;	/* deferred by another sender */
	else
		rc = msg_deliver(now, &st);
	if (msg.fd != -1)
		close(msg.fd);	/* and with it the lock */
	msg.fd = -1;
	return rc;
}

/* --- runs ------------------------------------------------------------ */

/* What came of new/NAME in this scan: from msg_try(), or a worker's. */
static void
scan_count(const char *name, enum try rc)
{
	if (rc == TRY_NOTDUE)
		scan_left++;
	if (rc == TRY_DONE || rc == TRY_KEPT) {
		scan_done++;
		if (names_add(&tried, name) == -1)
			log_error("id=%s result=error: out of memory", name);
	}
}

/*
 * One pass over new/.  *done counts the messages tried; *left those that
 * stay for later (not due, or tried in this run and still there).  With
 * workers (-j, pool.c) each message goes to one of them, and the pass
 * ends when all came back.
 */
static int
scan(size_t *done, size_t *left, int is_pool)
{
	struct names list = { NULL, 0, 0 };
	size_t i, n = tried.n;

	scan_done = scan_left = 0;
	if (names_list(&list) == -1) {
		log_error("result=error: unable to list %s/new: %s",
		    queue_dir, strerror(errno));
		names_free(&list);
		*done = *left = 0;
		return -1;
	}
	for (i = 0; i < list.n && !sig_term; i++) {
		if (names_has(&tried, list.v[i]))
			scan_left++;
		else if (!is_pool)
			scan_count(list.v[i], msg_try(list.v[i], time(NULL)));
		else if (pool_submit(list.v[i]) == -1)
			break;
	}
	if (is_pool)
		pool_drain();
	names_free(&list);
	if (tried.n > n)
		qsort(tried.v, tried.n, sizeof(*tried.v), names_cmp);
	*done = scan_done;
	*left = scan_left;
	return 0;
}

/*
 * Removes what crashes left in tmp/: files not modified for 36 hours, the
 * Maildir rule.  A rewrite in progress has its next try, in the future,
 * as its time; an smtpd session that wrote nothing for 36 hours would
 * have its rename fail and answer 451.  Trouble here is logged, and the
 * run goes on.
 */
static void
tmp_sweep(time_t now)
{
	char safe[QUEUE_NAME_MAX * 4 + 1];
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int fd;

	if ((fd = openat(queue.tmp_dir, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		log_error("result=error: unable to list %s/tmp: %s",
		    queue_dir, strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	while ((errno = 0, d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		log_esc(d->d_name, safe, sizeof(safe));
		if (fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			/* ENOENT: renamed into new/ or removed meanwhile. */
			if (errno != ENOENT)
				log_error("tmp=%s result=error: unable to "
				    "stat: %s", safe, strerror(errno));
			continue;
		}
		if (!S_ISREG(st.st_mode) || now - st.st_mtime < TMP_STALE)
			continue;
		if (unlinkat(fd, d->d_name, 0) == -1)
			log_error("tmp=%s result=error: unable to remove: %s",
			    safe, strerror(errno));
		else
			log_info("tmp=%s age=%lldh result=removed: stale",
			    safe, (long long)(now - st.st_mtime) / 3600);
	}
	if (errno != 0)
		log_error("result=error: unable to list %s/tmp: %s",
		    queue_dir, strerror(errno));
	closedir(dir);
}

/* Scans until a scan has nothing new to do, so mail that arrives during
 * the run goes too.  Returns whether anything is left for later. */
static int
run(void)
{
	struct pool_conf pc = { &queue, 0, CLOCK_SLACK, msg_try, scan_count };
	size_t done, left = 0;
	int rc, is_pool;

	tmp_sweep(time(NULL));
	route_begin();
	remote_begin(hostname, timeout);
	pc.is_flush = is_flush;
	is_pool = pool_jobs() > 1 && pool_start(&pc) == 0;
	do
		rc = scan(&done, &left, is_pool);
	while (rc == 0 && done > 0 && !sig_term);
	if (is_pool)
		pool_stop();
	remote_end();
	reap_wait();
	names_free(&tried);
	metrics_write(queue.dir);
	return rc == -1 || left > 0;
}

/* Stopped early: whatever is still queued is left for later. */
static int
is_queue_empty(void)
{
	struct names list = { NULL, 0, 0 };
	int rc;

	rc = names_list(&list) == 0 && list.n == 0;
	names_free(&list);
	return rc;
}

/* -p: the queue for people, oldest first, one message a paragraph. */
static void
print_queue(void)
{
	struct names list = { NULL, 0, 0 };
	char why[128], age[32], next[32], safe[QUEUE_NAME_MAX * 4 + 1];
	const char *name;
	struct stat st;
	size_t i, j, nrcpt = 0;
	time_t now = time(NULL);
	int fd;

	if (names_list(&list) == -1)
		die(EXIT_TEMPFAIL, "unable to list %s/new: %s", queue_dir,
		    strerror(errno));
	for (i = 0; i < list.n; i++) {
		/* Escaped: a name holding terminal escapes, printed raw to
		 * root's terminal, would be the queue owner's to command. */
		name = log_esc(list.v[i], safe, sizeof(safe));
		/* Nothing but a regular file is opened: a FIFO would block
		 * the open, a device do worse.  O_NONBLOCK for one put there
		 * between the look and the open. */
		if (fstatat(queue.new_dir, list.v[i], &st,
		    AT_SYMLINK_NOFOLLOW) == -1) {
			printf("%s  unreadable: %s\n", name,
			    strerror(errno));
			continue;
		}
		fd = !S_ISREG(st.st_mode) ? -1 : openat(queue.new_dir,
		    list.v[i], O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (S_ISREG(st.st_mode) && (fd == -1 || fstat(fd, &st) == -1)) {
			printf("%s  unreadable: %s\n", name,
			    strerror(errno));
			if (fd != -1)
				close(fd);
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			printf("%s  damaged: not a regular file\n", name);
			if (fd != -1)
				close(fd);
			continue;
		}
		line_init(&file_in, fd, 0);
		msg.arrival = (time_t)strtoll(list.v[i], NULL, 10);
		if (!is_timed_name(list.v[i], why, sizeof(why)) ||
		    envelope_read(&file_in, &msg.env, why, sizeof(why)) !=
		    RES_OK) {
			printf("%s  damaged: %s\n", name, why);
			close(fd);
			continue;
		}
		close(fd);
		printf("%s  age=%s size=%lld next=%s from=<%s>\n", name,
		    date_age((long)(now - msg.arrival), age, sizeof(age)),
		    (long long)(st.st_size - msg.env.body),
		    st.st_mtime > now ? date_age((long)(st.st_mtime - now),
		    next, sizeof(next)) : "now", msg.env.from);
		for (j = 0; j < msg.env.nrcpt; j++)
			printf("    to=<%s>\n", msg.env.rcpt[j]);
		nrcpt += msg.env.nrcpt;
	}
	printf("%zu message%s, %zu recipient%s pending\n", list.n,
	    list.n == 1 ? "" : "s", nrcpt, nrcpt == 1 ? "" : "s");
	names_free(&list);
}

/* -V ADDRESS: the route an address would take (smtpqctl route, sendmail
 * -bv), as "ADDRESS: local", "ADDRESS: mx DOMAIN" or "ADDRESS: relay
 * URL".  An address with no domain is qualified with our host name. */
static int
print_route(const char *arg)
{
	char addr[ADDR_MAX + 1], full[ADDR_MAX + 1], safe[ADDR_MAX * 4 + 1];
	char where[HOST_MAX + 16];
	const char *rest;
	enum route_kind kind;
	struct dest *d;
	int n;

	n = snprintf(full, sizeof(full), "<%s>", arg);
	if (n < 0 || (size_t)n >= sizeof(full) || addr_parse(full, addr,
	    sizeof(addr), &rest) == -1 || *rest != '\0' || addr[0] == '\0')
		die_usage("-V: bad address: %s", log_esc(arg, safe,
		    sizeof(safe)));
	if (strchr(addr, '@') == NULL) {
		n = snprintf(full, sizeof(full), "%s@%s", addr, hostname);
		if (n < 0 || (size_t)n >= sizeof(full))
			die_usage("-V: address too long");
		strcpy(addr, full);
	}
	route_setup(hostname, NULL);
	d = route_of("", addr, &kind);
	route_describe(kind, d, where, sizeof(where));
	printf("%s: %s\n", log_esc(addr, safe, sizeof(safe)), where);
	return fflush(stdout) == 0 ? 0 : EXIT_TEMPFAIL;
}

/* -k: the sender of a local user's mail (root's, from cron), as -M
 * would masquerade it. */
static const char *
probe_sender(void)
{
	static struct envelope env;
	static char buf[ADDR_MAX + 1];
	int n;

	n = snprintf(env.from, sizeof(env.from), "root@%.*s",
	    (int)sizeof(env.from) - 6, hostname);
	if (n < 0 || (size_t)n >= sizeof(env.from))
		return "";
	snprintf(env.ext[0], sizeof(env.ext[0]), "Origin: local");
	env.next = 1;
	return masq_sender(&env, buf, sizeof(buf));
}

/* What the command line and smtpq.conf asked for, beyond the statics. */
struct opts {
	const char	*name, *log_file, *alias_file, *secrets, *cafile;
	const char	*verify_addr;		/* -V */
	unsigned long	 njobs, per_dest;	/* -j, -J */
	int		 is_print, is_probe, is_check;	/* -p, -k, -N */
};

/* The options that shape delivery (routes, relays, masquerading, how
 * many at once): 1 when c was one of them. */
static int
opts_delivery(int c, struct opts *o)
{
	char why[256];
	unsigned long count;

	switch (c) {
	case 'c':
		if (opt_number(optarg, RELAY_MESSAGES_MAX, &count) ==
		    -1 || count == 0)
			die_usage("bad count for -c: %s", optarg);
		remote_limit(count);
		break;
	case 'd':
		if (!addr_domain_valid(optarg))
			die_usage("bad domain: %s", optarg);
		if (route_domain(optarg) == -1)
			die_usage("too many -d");
		break;
	case 'j':
	case 'J':
		if (opt_number(optarg, POOL_JOBS_MAX, &count) == -1 ||
		    count == 0)
			die_usage("bad count for -%c: %s", c, optarg);
		*(c == 'j' ? &o->njobs : &o->per_dest) = count;
		break;
	case 'M':
		if (masq_config(optarg) == -1)
			die_usage("bad -M address or @domain: %s",
			    optarg);
		break;
	case 'r':
		if (route_relay(optarg, why, sizeof(why)) == -1)
			die_usage("bad relay %s: %s", optarg, why);
		break;
	case 'R':
	case 'S':
		if (route_add(optarg, c == 'S', why, sizeof(why)) == -1)
			die_usage("bad %s %s: %s", c == 'S' ?
			    "route-sender" : "route", optarg, why);
		break;
	default:
		return 0;
	}
	return 1;
}

/* One option c, its value in optarg (conf.c gives smtpq.conf's values
 * through here too). */
static void
opts_one(int c, struct opts *o)
{
	if (opts_delivery(c, o))
		return;
	switch (c) {
	case 'a':
		o->secrets = optarg;
		break;
	case 'A':
		o->alias_file = optarg;
		break;
	case 'C':
		o->cafile = optarg;
		break;
	case 'D':
		sign_config(optarg);
		break;
	case 'e':
		if (opt_duration(optarg, &outcome.expire) == -1)
			die_usage("bad duration for -e: %s", optarg);
		break;
	case 'f':
		is_flush = 1;
		break;
	case 'h':
		usage();
		break;
	case 'k':
		o->is_probe = 1;
		break;
	case 'l':
		o->log_file = optarg;
		break;
	case 'm':
		maildir = optarg;
		break;
	case 'n':
		o->name = optarg;
		break;
	case 'N':
		o->is_check = 1;
		break;
	case 'O':
		if (metrics_config(optarg) == -1)
			die_usage("bad metrics file for -O: %s",
			    optarg);
		break;
	case 'p':
		o->is_print = 1;
		break;
	case 'q':
		queue_dir = optarg;
		break;
	case 'V':
		o->verify_addr = optarg;
		break;
	case 't':
		if (opt_duration(optarg, &timeout) == -1 ||
		    timeout == 0)
			die_usage("bad duration for -t: %s", optarg);
		break;
	case 'w':
		if (opt_duration(optarg, &loop_wait) == -1 ||
		    loop_wait == 0)
			die_usage("bad duration for -w: %s", optarg);
		break;
	case ':':
		die_usage("option -%c needs a value", optopt);
	default:
		die_usage("unknown option -%c", optopt);
	}
}

/* The options of the command line, smtpq.conf's first (conf.c), each
 * given to opts_one(); then what they need before anything runs. */
static void
opts_read(int argc, char *argv[], struct opts *o)
{
	char why[256];
	int c;

	opterr = 0;	/* our own one-line messages */
	while ((c = conf_getopt(argc, argv,
	    ":a:A:c:C:d:D:e:fhj:J:kl:m:M:n:O:pq:r:R:S:t:V:w:F:N", CONF_SMTPSEND)) !=
	    -1)
		opts_one(c, o);
	if (optind != argc)
		die_usage("unexpected argument: %s", argv[optind]);
	conf_blame('A');
	if (o->alias_file != NULL && alias_load(o->alias_file, why,
	    sizeof(why)) == -1)
		die_usage("-A: %s", why);
	conf_blame('n');
	if (opt_hostname(o->name, hostname, sizeof(hostname)) == -1)
		die_usage("bad host name%s%s", o->name != NULL ? ": " : "",
		    o->name != NULL ? o->name : " (use -n)");
	conf_blame(0);
	pool_config((unsigned)o->njobs, (unsigned)o->per_dest);
}

/* The runs over the queue (one, or -w's loop until SIGTERM): 0 when
 * nothing is left for later, else EXIT_TEMPFAIL. */
static int
runs(void)
{
	int is_left;

	if (loop_wait > 0)
		trigger_open(&queue, queue_dir);
	do {
		is_left = run();
		if (loop_wait > 0)
			trigger_wait(loop_wait);
	} while (loop_wait > 0 && !sig_term);
	trigger_close();
	if (sig_term)
		is_left = !is_queue_empty();
	queue_close(&queue);
	return is_left ? EXIT_TEMPFAIL : 0;
}

int
main(int argc, char *argv[])
{
	struct opts o = { .njobs = POOL_JOBS_DEFAULT,
	    .per_dest = POOL_PER_DEST_DEFAULT };

	log_prog = "smtpsend";
	opts_read(argc, argv, &o);
	if (o.verify_addr != NULL)
		return print_route(o.verify_addr);
	if (o.is_check) {
		/* what a run would refuse before touching the queue */
		log_open("smtpsend", "-");
		route_setup(hostname, o.secrets);
		return 0;
	}
	if (o.is_probe && !route_has_relay())
		die_usage("-k needs a relay (-r)");
	if (log_open("smtpsend", o.is_print || (o.is_probe &&
	    o.log_file == NULL) ? "-" : o.log_file) == -1) {
		fprintf(stderr, "smtpsend: unable to open log %s: %s\n",
		    o.log_file, strerror(errno));
		return EXIT_TEMPFAIL;
	}
	route_setup(hostname, o.secrets);
	smtp_setup(hostname, timeout, o.cafile);
	mxtls_setup(queue_dir, o.cafile, (int)timeout);
	sig_init();
	if (o.is_probe)
		return remote_probe(probe_sender());
	owner_become(queue_dir);
	/* smtpsend needs every one: it fails and rewrites files, and
	 * sweeps tmp/ */
	if (queue_open(&queue, queue_dir, hostname) == -1 ||
	    queue_dirfd(&queue, "tmp") == -1 ||
	    queue_dirfd(&queue, "failed") == -1)
		die(EXIT_TEMPFAIL, "unable to open queue %s: %s", queue_dir,
		    strerror(errno));
	if (o.is_print) {
		print_queue();
		return 0;
	}
	return runs();
}
