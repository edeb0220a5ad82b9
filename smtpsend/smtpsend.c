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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpsend.h"

#define DOMAINS_MAX	64		/* -d given more often: usage error */
#define EXPIRE_DEFAULT	(5 * 86400)	/* -e: five days, then bounce */
#define RETRY_MIN	60		/* the delay between tries grows from */
#define RETRY_MAX	3600		/* a minute to at most an hour */
#define QUEUE_DEFAULT	"/var/spool/smtpq"
#define MAILDIR_DEFAULT	"/var/spool/smtpq-mail"
#define TMP_STALE	((time_t)36 * 3600) /* older in tmp/: crash debris */

/* What a look at one queue file came to. */
enum try {
	TRY_GONE,	/* vanished, or another sender has it */
	TRY_NOTDUE,	/* its next try lies ahead */
	TRY_DONE,	/* it left new/ */
	TRY_KEPT	/* tried; it stays in new/ for later */
};

/* Names in new/, or the names tried in this run (sorted). */
struct names {
	char	**v;
	size_t	  n, cap;
};

static const char *queue_dir = QUEUE_DEFAULT;
static const char *maildir = MAILDIR_DEFAULT;
static char hostname[HOST_MAX + 1];
static char relay_host[HOST_MAX + 1], relay_port[8];
static char relay_name[HOST_MAX + 10];	/* "host:port", for logs */
static int has_relay, is_flush;
static const char *domains[DOMAINS_MAX];
static size_t ndomains;
static unsigned timeout = TIMEOUT_DEFAULT, expire = EXPIRE_DEFAULT;
static unsigned loop_wait;		/* -w; 0: oneshot */

static struct queue queue;
static int failed_dir;			/* failed/, open, for fsync */
static struct names tried;
static struct line file_in;		/* reads the envelope */
static struct msg msg;			/* the message being delivered */

/* The relay session, kept open from one message to the next. */
static struct {
	int		fd;		/* -1: not connected */
	int		is_down;	/* unreachable: do not retry this run */
	int		is_broken;	/* lost mid-session: no more replies */
	int		has_pipelining, has_8bitmime;
	unsigned long	size_max;	/* RFC 1870 SIZE; 0: none offered */
	int		has_size;
	int		needs_rset;	/* a transaction did not end at "." */
	char		why[REPLY_LINE_MAX + 1];	/* why it is down */
	char		last[REPLY_LINE_MAX + 1];	/* "CODE text" */
	char		text[REPLY_TEXT_MAX + 1];	/* all its lines */
	struct line	in;
	struct out	out;
} relay = { .fd = -1 };

static void
usage(void)
{
	printf("usage: smtpsend [-fp] [-q dir] [-n name] [-l file] "
	    "[-t timeout] [-d domain]\n"
	    "                [-r host[:port]] [-m maildir] [-e expire] "
	    "[-w interval]\n");
	exit(0);
}

/* "45s", "12m", "3h05m", "2d04h": a duration for people. */
static const char *
fmt_duration(long s, char *buf, size_t size)
{
	if (s < 60)
		snprintf(buf, size, "%lds", s < 0 ? 0 : s);
	else if (s < 3600)
		snprintf(buf, size, "%ldm", s / 60);
	else if (s < 86400)
		snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	return buf;
}

static void	say(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* Formats into buf, cutting what does not fit: a reply we keep is one
 * line of at most REPLY_LINE_MAX octets (RFC 5321 4.5.3.1.5) anyway. */
static void
say(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

/* Copies a reply into a log- and header-safe one-line form. */
static void
printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; i + 1 < size && src[i] != '\0'; i++)
		dst[i] = (src[i] < ' ' || src[i] > '~') ? ' ' : src[i];
	dst[i] = '\0';
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

	if ((fd = openat(queue.dir, "new", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((errno = 0, d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.' && names_add(ns, d->d_name) == -1)
			break;
	closedir(dir);
	if (errno != 0)
		return -1;
	if (ns->n > 1)
		qsort(ns->v, ns->n, sizeof(*ns->v), names_cmp);
	return 0;
}

/* --- the relay: an SMTP client as a straight line of phases ----------- */

/*
 * Reads the relay's next reply (RFC 5321 4.2.1: one or more lines) into
 * relay.last and relay.text and returns its code.  Returns -1 when the
 * relay is lost: timeout, end of connection, garbage, or a 421, after
 * which the server closes (RFC 5321 3.8); relay.why then says which.
 */
static int
relay_reply(void)
{
	enum line_status st;
	char text[REPLY_LINE_MAX + 1];
	int code;

	if (relay.is_broken)
		return -1;
	code = reply_read(&relay.in, relay.text, sizeof(relay.text), &st);
	if (code != -1) {
		printable(text, sizeof(text), relay.text);
		say(relay.last, sizeof(relay.last), "%d %s", code, text);
		if (code != 421)
			return code;
		say(relay.why, sizeof(relay.why), "%s", relay.last);
	} else if (st == LINE_TIMEOUT)
		say(relay.why, sizeof(relay.why), "451 4.4.2 relay %s: "
		    "timeout after %us", relay_name, timeout);
	else if (st == LINE_EOF)
		say(relay.why, sizeof(relay.why), "451 4.4.2 relay %s: "
		    "connection closed", relay_name);
	else if (st == LINE_SIGNAL)
		say(relay.why, sizeof(relay.why), "451 4.3.2 relay %s: "
		    "interrupted, shutting down", relay_name);
	else if (st == LINE_OK)
		say(relay.why, sizeof(relay.why), "451 4.5.0 relay %s: "
		    "malformed reply", relay_name);
	else
		say(relay.why, sizeof(relay.why), "451 4.4.2 relay %s: "
		    "%s", relay_name, strerror(errno));
	relay.is_broken = 1;
	return -1;
}

/* Ends the session: QUIT on every connection (RFC 5321 4.1.1.10), its
 * reply awaited unless the session is already broken. */
static void
relay_close(void)
{
	enum line_status st;

	if (relay.fd == -1)
		return;
	out_puts(&relay.out, "QUIT\r\n");
	if (relay.is_broken)
		out_flush(&relay.out);
	else	/* not relay_reply(): relay.why must stay as it is */
		(void)reply_read(&relay.in, relay.text, sizeof(relay.text),
		    &st);
	close(relay.fd);
	relay.fd = -1;
}

/* The EHLO reply's lines after the first are extensions (RFC 5321
 * 4.1.1.1): note the ones we use. */
static void
relay_extensions(void)
{
	char *line, *next;

	relay.has_pipelining = relay.has_8bitmime = relay.has_size = 0;
	relay.size_max = 0;
	for (line = strchr(relay.text, '\n'); line != NULL; line = next) {
		line++;
		if ((next = strchr(line, '\n')) != NULL)
			*next = '\0';
		if (strcasecmp(line, "PIPELINING") == 0)
			relay.has_pipelining = 1;	/* RFC 2920 */
		else if (strcasecmp(line, "8BITMIME") == 0)
			relay.has_8bitmime = 1;		/* RFC 6152 */
		else if (strncasecmp(line, "SIZE", 4) == 0 &&
		    (line[4] == '\0' || line[4] == ' ')) {
			relay.has_size = 1;		/* RFC 1870 */
			if (line[4] == ' ' && opt_number(line + 5,
			    (unsigned long)-1, &relay.size_max) == -1)
				relay.size_max = 0;
		}
	}
}

/* Connects and greets: 220, EHLO (HELO when refused).  0, or -1 with the
 * relay down for the rest of this run and relay.why saying why. */
static int
relay_open(void)
{
	char err[256];
	int code;

	relay.is_broken = relay.needs_rset = 0;
	relay.fd = net_connect(relay_host, relay_port, (int)timeout, err,
	    sizeof(err));
	if (relay.fd == -1) {
		printable(relay.text, sizeof(relay.text), err);
		say(relay.why, sizeof(relay.why), "451 4.4.1 relay %s: %s",
		    relay_name, relay.text);
		log_info("relay=%s result=unreachable: %s", relay_name,
		    relay.why);
		relay.is_down = 1;
		return -1;
	}
	line_init(&relay.in, relay.fd, (int)timeout);
	relay.in.flush = &relay.out;
	relay.in.stop_on_signal = 1;
	out_init(&relay.out, relay.fd);

	/* RFC 5321 3.1: anything but 220 means no service here. */
	if ((code = relay_reply()) != 220)
		goto fail;
	out_printf(&relay.out, "EHLO %s\r\n", hostname);
	if ((code = relay_reply()) / 100 == 2)
		relay_extensions();
	else if (code != -1) {
		/* RFC 5321 4.1.4: a server without EHLO still has HELO. */
		relay.has_pipelining = relay.has_8bitmime = 0;
		relay.has_size = 0;
		out_printf(&relay.out, "HELO %s\r\n", hostname);
		if ((code = relay_reply()) / 100 != 2)
			goto fail;
	} else
		goto fail;
	log_info("relay=%s result=connected%s%s", relay_name,
	    relay.has_pipelining ? " pipelining" : "",
	    relay.has_size ? " size" : "");
	return 0;
fail:
	if (code != -1)
		say(relay.why, sizeof(relay.why), "451 4.4.1 relay %s "
		    "refused the session: %s", relay_name, relay.last);
	log_info("relay=%s result=unusable: %s", relay_name, relay.why);
	relay_close();
	relay.is_down = 1;
	return -1;
}

/* Sets recipient i's outcome from a reply code and text. */
static void
rcpt_set(size_t i, int code, const char *reply)
{
	msg.result[i] = code / 100 == 2 ? RES_OK :
	    code / 100 == 5 ? RES_PERM : RES_TEMP;
	printable(msg.reply[i], sizeof(msg.reply[i]), reply);
}

/* The relay was lost: every relayed recipient stays pending, the
 * message intact; no more connections this run. */
static void
relay_lost(void)
{
	size_t i;

	for (i = 0; i < msg.env.nrcpt; i++)
		if (!msg.is_local[i])
			rcpt_set(i, 451, relay.why);
	relay.is_broken = relay.is_down = 1;
	relay_close();
}

/* Where a transaction stands: MAIL's reply, and who the relay took. */
struct txn {
	int	mail;			/* MAIL's reply code */
	int	accepted[RCPT_MAX];	/* RCPT got 2xx: DATA decides */
	size_t	n;			/* how many */
};

/* Reads the reply to MAIL; a refusal is every relayed recipient's. */
static int
txn_mail(struct txn *t)
{
	size_t i;

	if ((t->mail = relay_reply()) == -1)
		return -1;
	for (i = 0; t->mail / 100 != 2 && i < msg.env.nrcpt; i++)
		if (!msg.is_local[i])
			rcpt_set(i, t->mail, relay.last);
	return 0;
}

/* Reads the reply to RCPT i; it decides the recipient unless it is 2xx
 * (then DATA and the final dot do), or MAIL was refused. */
static int
txn_rcpt(struct txn *t, size_t i)
{
	int code;

	if ((code = relay_reply()) == -1)
		return -1;
	if (t->mail / 100 == 2) {
		rcpt_set(i, code, relay.last);
		t->accepted[i] = code / 100 == 2;
		t->n += t->accepted[i];
	}
	return 0;
}

/*
 * One transaction for the relayed recipients of msg: MAIL, RCPT each,
 * DATA, the message and its final dot.  With PIPELINING (RFC 2920 3.1)
 * MAIL, the RCPTs and DATA go in one batch and their replies are read in
 * order after it; without, each command waits for its reply.
 */
static void
relay_send(void)
{
	static struct txn t;
	char params[64] = "";
	const char *body = envelope_ext(&msg.env, "Body");
	int code, is_batch;
	size_t i;

	if (relay.is_down)
		goto lost;
	if (relay.fd != -1 && relay.needs_rset) {
		out_puts(&relay.out, "RSET\r\n");
		if ((code = relay_reply()) == -1)
			goto lost;
		if (code / 100 != 2)
			relay_close();		/* start afresh */
	}
	if (relay.fd == -1 && relay_open() == -1)
		goto lost;
	/* RFC 1870 6.1: a message over the declared limit is not sent. */
	if (relay.size_max > 0 && (unsigned long long)msg.size >
	    relay.size_max) {
		for (i = 0; i < msg.env.nrcpt; i++)
			if (!msg.is_local[i])
				rcpt_set(i, 552, "552 5.3.4 message larger "
				    "than the relay's SIZE limit");
		return;
	}
	/* RFC 6152 3: 8-bit data goes only to a relay that offers 8BITMIME.
	 * We do not convert to 7 bit: a message declared 8BITMIME that really
	 * holds 8-bit bytes is returned (RFC 3463 5.6.3); one that only
	 * declared it is 7-bit and goes as it is. */
	if (!relay.has_8bitmime && body != NULL &&
	    strcasecmp(body, "8BITMIME") == 0 &&
	    (code = body_has_8bit(msg.fd, msg.env.body)) != 0) {
		for (i = 0; i < msg.env.nrcpt; i++)
			if (!msg.is_local[i])
				rcpt_set(i, code == 1 ? 554 : 451, code == 1 ?
				    "554 5.6.3 8-bit message, and the relay "
				    "does not offer 8BITMIME" :
				    "451 4.3.0 unable to read queue file");
		return;
	}
	memset(&t, 0, sizeof(t));
	t.mail = 250;		/* batched: RCPTs go out before its reply */
	is_batch = relay.has_pipelining;
	relay.needs_rset = 1;

	if (relay.has_size)
		snprintf(params, sizeof(params), " SIZE=%lld",
		    (long long)msg.size);
	/* Never a parameter the relay did not offer. */
	if (relay.has_8bitmime && body != NULL &&
	    strcasecmp(body, "8BITMIME") == 0)
		strcat(params, " BODY=8BITMIME");
	out_printf(&relay.out, "MAIL FROM:<%s>%s\r\n", msg.env.from, params);
	if (!is_batch && txn_mail(&t) == -1)
		goto lost;
	for (i = 0; i < msg.env.nrcpt && t.mail / 100 == 2; i++) {
		if (msg.is_local[i])
			continue;
		out_printf(&relay.out, "RCPT TO:<%s>\r\n", msg.env.rcpt[i]);
		if (!is_batch && txn_rcpt(&t, i) == -1)
			goto lost;
	}
	if (!is_batch && t.n == 0)
		return;			/* nobody to send it to */
	out_puts(&relay.out, "DATA\r\n");
	if (is_batch) {
		if (txn_mail(&t) == -1)
			goto lost;
		for (i = 0; i < msg.env.nrcpt; i++)
			if (!msg.is_local[i] && txn_rcpt(&t, i) == -1)
				goto lost;
	}
	if ((code = relay_reply()) == -1)
		goto lost;

	if (code == 354) {
		/* RFC 2920 3.1: DATA accepted without recipients: a lone
		 * dot ends the empty message. */
		if (t.n == 0)
			out_puts(&relay.out, ".\r\n");
		else if (body_copy(msg.fd, msg.env.body, &relay.out,
		    BODY_DOTS) == -1) {
			/* Never the final dot after a partial message. */
			say(relay.why, sizeof(relay.why), "451 4.4.2 "
			    "relay %s: %s in DATA: %s", relay_name,
			    relay.out.error != 0 ? "connection lost" :
			    "unable to read queue file", strerror(errno));
			goto lost;
		}
		if ((code = relay_reply()) == -1)
			goto lost;
		relay.needs_rset = 0;
	}
	/* The reply to DATA or to the final dot. */
	for (i = 0; i < msg.env.nrcpt; i++)
		if (!msg.is_local[i] && t.accepted[i])
			rcpt_set(i, code, relay.last);
	return;
lost:
	relay_lost();
}

/* --- one message ----------------------------------------------------- */

static int
is_local_domain(const char *rcpt)
{
	const char *domain = addr_domain(rcpt);
	size_t i;

	if (!has_relay || domain == NULL)
		return 1;	/* no relay; or <postmaster> */
	for (i = 0; i < ndomains; i++)
		if (strcasecmp(domain, domains[i]) == 0)
			return 1;
	return 0;
}

/* Moves new/NAME to failed/, durably. */
static int
msg_fail(const char *name)
{
	char from[QUEUE_NAME_MAX + 8], to[QUEUE_NAME_MAX + 8];

	snprintf(from, sizeof(from), "new/%s", name);
	snprintf(to, sizeof(to), "failed/%s", name);
	if (renameat(queue.dir, from, queue.dir, to) == -1 ||
	    fsync(failed_dir) == -1) {
		log_error("id=%s result=error: unable to move to failed/: %s",
		    name, strerror(errno));
		return -1;
	}
	return 0;
}

/* The delay before the next try: the message's age, so it doubles from
 * try to try, bounded to between a minute and an hour. */
static time_t
msg_next(time_t now)
{
	time_t age = now - msg.arrival;

	return now + (age < RETRY_MIN ? RETRY_MIN : age > RETRY_MAX ?
	    RETRY_MAX : age);
}

/* Logs each recipient's outcome, bounces the failed ones, and removes,
 * fails or rewrites the queue file to match. */
static enum try
msg_finish(time_t now)
{
	static const char *const said[] = { "sent", "deferred", "bounced" };
	int keep[RCPT_MAX];
	char dsn[QUEUE_NAME_MAX + 1], when[32];
	size_t i, pending = 0, failed = 0;
	struct timespec times[2];
	int is_expired = now - msg.arrival >= (time_t)expire;

	for (i = 0; i < msg.env.nrcpt; i++) {
		if (msg.result[i] == RES_TEMP && is_expired) {
			msg.result[i] = RES_PERM;
			msg.is_expired[i] = 1;
		}
		log_info("id=%s to=<%s> via=%s result=%s%s: %s", msg.name,
		    msg.env.rcpt[i], msg.is_local[i] ? "maildir" : relay_name,
		    said[msg.result[i]], msg.is_expired[i] ? " (expired)" : "",
		    msg.reply[i]);
		failed += msg.result[i] == RES_PERM;
	}
	if (failed > 0 && msg.env.from[0] == '\0')
		log_info("id=%s result=failed: no bounce for a bounce "
		    "(null sender)", msg.name);
	else if (failed > 0 && dsn_queue(&queue, &msg, hostname,
	    has_relay ? relay_host : NULL, dsn, sizeof(dsn)) == -1) {
		/* Cannot tell the sender: keep them pending and retry. */
		log_error("id=%s result=deferred: unable to queue bounce: %s",
		    msg.name, strerror(errno));
		for (i = 0; i < msg.env.nrcpt; i++)
			if (msg.result[i] == RES_PERM)
				msg.result[i] = RES_TEMP;
		failed = 0;
	} else if (failed > 0)
		log_info("id=%s dsn=%s result=bounced", msg.name, dsn);
	for (i = 0; i < msg.env.nrcpt; i++)
		pending += keep[i] = msg.result[i] == RES_TEMP;

	if (pending == 0 && failed > 0)
		return msg_fail(msg.name) == 0 ? TRY_DONE : TRY_KEPT;
	if (pending == 0) {
		/* No fsync of new/ here: an unlink lost in a crash brings the
		 * message back, to be delivered twice, which a crash may cause
		 * anyway; nothing is lost.  It halves the time per message. */
		if (unlinkat(queue.new_dir, msg.name, 0) == -1) {
			log_error("id=%s result=error: unable to remove: %s",
			    msg.name, strerror(errno));
			return TRY_KEPT;
		}
		log_info("id=%s result=done", msg.name);
		return TRY_DONE;
	}
	times[0].tv_sec = times[1].tv_sec = msg_next(now);
	times[0].tv_nsec = times[1].tv_nsec = 0;
	/* A failed rewrite leaves the old file, which means duplicates,
	 * never a loss; it still waits for its next try.  Stopped by a
	 * signal, a message that got nowhere stays due. */
	if (pending < msg.env.nrcpt && envelope_rewrite(&queue, msg.fd,
	    msg.name, &msg.env, keep, times[0].tv_sec) == -1)
		log_error("id=%s result=error: unable to rewrite: %s",
		    msg.name, strerror(errno));
	/* A file sendmail(8) made is its caller's, whose times only the
	 * owner may set: a copy of our own takes them. */
	if (!sig_term && futimens(msg.fd, times) == -1 && (errno != EPERM ||
	    envelope_rewrite(&queue, msg.fd, msg.name, &msg.env, keep,
	    times[0].tv_sec) == -1))
		log_error("id=%s result=error: unable to set next try: %s",
		    msg.name, strerror(errno));
	log_info("id=%s pending=%zu next=%s result=deferred", msg.name,
	    pending, fmt_duration((long)(times[0].tv_sec - now), when,
	    sizeof(when)));
	return TRY_KEPT;
}

/* Delivers the open, locked new/NAME. */
static enum try
msg_deliver(time_t now, const struct stat *st)
{
	char why[128], age[32];
	enum result rc;
	char *end;
	size_t i;

	/* The name starts with the arrival epoch (queue.c). */
	msg.arrival = (time_t)strtoll(msg.name, &end, 10);
	line_init(&file_in, msg.fd, 0);
	if (end == msg.name || *end != '.') {
		rc = RES_PERM;
		strcpy(why, "name does not start with a time");
	} else
		rc = envelope_read(&file_in, &msg.env, why, sizeof(why));
	if (rc == RES_TEMP) {
		log_error("id=%s result=error: unable to read: %s", msg.name,
		    why);
		return TRY_KEPT;
	}
	if (rc == RES_PERM) {
		log_info("id=%s result=failed: damaged queue file: %s",
		    msg.name, why);
		return msg_fail(msg.name) == 0 ? TRY_DONE : TRY_KEPT;
	}
	msg.size = st->st_size - msg.env.body;
	log_info("id=%s from=<%s> size=%lld rcpts=%zu age=%s result=trying",
	    msg.name, msg.env.from, (long long)msg.size, msg.env.nrcpt,
	    fmt_duration((long)(now - msg.arrival), age, sizeof(age)));

	for (i = 0; i < msg.env.nrcpt; i++) {
		msg.is_local[i] = is_local_domain(msg.env.rcpt[i]);
		msg.is_expired[i] = 0;
		rcpt_set(i, 451, "451 4.4.0 not tried");
		if (msg.is_local[i])
			msg.result[i] = local_deliver(&msg, i, maildir,
			    hostname, msg.reply[i], sizeof(msg.reply[i]));
	}
	for (i = 0; i < msg.env.nrcpt; i++)
		if (!msg.is_local[i]) {
			relay_send();
			break;
		}
	return msg_finish(time(NULL));
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
	struct stat st, again;
	struct flock fl;
	enum try rc;

	if (fstatat(queue.new_dir, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return msg_unseen(name, "stat");
	if (strlen(name) >= sizeof(msg.name))
		return TRY_GONE;
	strcpy(msg.name, name);
	if (!S_ISREG(st.st_mode)) {
		log_info("id=%s result=failed: not a regular file", name);
		return msg_fail(name) == 0 ? TRY_DONE : TRY_KEPT;
	}
	if (!is_flush && st.st_mtime > now)
		return TRY_NOTDUE;
	if ((msg.fd = openat(queue.new_dir, name, O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
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
	else if (st.st_ino != again.st_ino || st.st_dev != again.st_dev)
		rc = TRY_GONE;		/* rewritten by another sender */
	else if (!is_flush && st.st_mtime > now)
		rc = TRY_NOTDUE;	/* deferred by another sender */
	else
		rc = msg_deliver(now, &st);
	close(msg.fd);		/* and with it the lock */
	msg.fd = -1;
	return rc;
}

/* --- runs ------------------------------------------------------------ */

/*
 * One pass over new/.  *done counts the messages tried; *left those that
 * stay for later (not due, or tried in this run and still there).
 */
static int
scan(size_t *done, size_t *left)
{
	struct names list = { NULL, 0, 0 };
	size_t i, n = tried.n;
	enum try rc;

	*done = *left = 0;
	if (names_list(&list) == -1) {
		log_error("result=error: unable to list %s/new: %s",
		    queue_dir, strerror(errno));
		names_free(&list);
		return -1;
	}
	for (i = 0; i < list.n && !sig_term; i++) {
		if (names_has(&tried, list.v[i])) {
			++*left;
			continue;
		}
		rc = msg_try(list.v[i], time(NULL));
		if (rc == TRY_NOTDUE)
			++*left;
		if (rc == TRY_DONE || rc == TRY_KEPT) {
			++*done;
			if (names_add(&tried, list.v[i]) == -1)
				break;
		}
	}
	names_free(&list);
	if (tried.n > n)
		qsort(tried.v, tried.n, sizeof(*tried.v), names_cmp);
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
	struct dirent *d;
	struct stat st;
	DIR *dir;
	int fd;

	if ((fd = openat(queue.dir, "tmp", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || (dir = fdopendir(fd)) == NULL) {
		log_error("result=error: unable to list %s/tmp: %s",
		    queue_dir, strerror(errno));
		if (fd != -1)
			close(fd);
		return;
	}
	while ((errno = 0, d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' ||
		    fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime < TMP_STALE)
			continue;
		if (unlinkat(fd, d->d_name, 0) == -1)
			log_error("tmp=%s result=error: unable to remove: %s",
			    d->d_name, strerror(errno));
		else
			log_info("tmp=%s age=%lldh result=removed: stale",
			    d->d_name, (long long)(now - st.st_mtime) / 3600);
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
	size_t done, left = 0;
	int rc;

	tmp_sweep(time(NULL));
	relay.is_down = 0;
	do
		rc = scan(&done, &left);
	while (rc == 0 && done > 0 && !sig_term);
	relay_close();
	names_free(&tried);
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
	char why[128], age[32], next[32];
	struct stat st;
	size_t i, j, nrcpt = 0;
	time_t now = time(NULL);
	int fd;

	if (names_list(&list) == -1)
		die(EXIT_TEMPFAIL, "unable to list %s/new: %s", queue_dir,
		    strerror(errno));
	for (i = 0; i < list.n; i++) {
		if ((fd = openat(queue.new_dir, list.v[i], O_RDONLY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
			printf("%s  unreadable: %s\n", list.v[i],
			    strerror(errno));
			if (fd != -1)
				close(fd);
			continue;
		}
		line_init(&file_in, fd, 0);
		msg.arrival = (time_t)strtoll(list.v[i], NULL, 10);
		if (envelope_read(&file_in, &msg.env, why, sizeof(why)) !=
		    RES_OK) {
			printf("%s  damaged: %s\n", list.v[i], why);
			close(fd);
			continue;
		}
		close(fd);
		printf("%s  age=%s size=%lld next=%s from=<%s>\n", list.v[i],
		    fmt_duration((long)(now - msg.arrival), age, sizeof(age)),
		    (long long)(st.st_size - msg.env.body),
		    st.st_mtime > now ? fmt_duration((long)(st.st_mtime - now),
		    next, sizeof(next)) : "now", msg.env.from);
		for (j = 0; j < msg.env.nrcpt; j++)
			printf("    to=<%s>\n", msg.env.rcpt[j]);
		nrcpt += msg.env.nrcpt;
	}
	printf("%zu message%s, %zu recipient%s pending\n", list.n,
	    list.n == 1 ? "" : "s", nrcpt, nrcpt == 1 ? "" : "s");
	names_free(&list);
}

int
main(int argc, char *argv[])
{
	const char *name = NULL, *log_file = NULL;
	int c, is_print = 0, is_left;

	log_prog = "smtpsend";
	opterr = 0;	/* our own one-line messages */
	while ((c = getopt(argc, argv, ":d:e:fhl:m:n:pq:r:t:w:")) != -1) {
		switch (c) {
		case 'd':
			if (!addr_domain_valid(optarg))
				die_usage("bad domain: %s", optarg);
			if (ndomains == DOMAINS_MAX)
				die_usage("more than %d -d", DOMAINS_MAX);
			domains[ndomains++] = optarg;
			break;
		case 'e':
			if (opt_duration(optarg, &expire) == -1)
				die_usage("bad duration for -e: %s", optarg);
			break;
		case 'f':
			is_flush = 1;
			break;
		case 'h':
			usage();
			break;
		case 'l':
			log_file = optarg;
			break;
		case 'm':
			maildir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'p':
			is_print = 1;
			break;
		case 'q':
			queue_dir = optarg;
			break;
		case 'r':
			if (net_split_hostport(optarg, relay_host,
			    sizeof(relay_host), relay_port, sizeof(relay_port),
			    "25") == -1)
				die_usage("bad relay: %s", optarg);
			snprintf(relay_name, sizeof(relay_name), "%s:%s",
			    relay_host, relay_port);
			has_relay = 1;
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
	if (optind != argc)
		die_usage("unexpected argument: %s", argv[optind]);
	if (opt_hostname(name, hostname, sizeof(hostname)) == -1)
		die_usage("bad host name%s%s", name != NULL ? ": " : "",
		    name != NULL ? name : " (use -n)");
	if (log_open("smtpsend", is_print ? "-" : log_file) == -1) {
		fprintf(stderr, "smtpsend: unable to open log %s: %s\n",
		    log_file, strerror(errno));
		return EXIT_TEMPFAIL;
	}
	sig_init();
	if (queue_open(&queue, queue_dir, hostname) == -1 ||
	    (failed_dir = openat(queue.dir, "failed", O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) == -1)
		die(EXIT_TEMPFAIL, "unable to open queue %s: %s", queue_dir,
		    strerror(errno));
	if (is_print) {
		print_queue();
		return 0;
	}
	do {
		is_left = run();
		if (loop_wait > 0)
			sig_sleep(loop_wait);
	} while (loop_wait > 0 && !sig_term);
	if (sig_term)
		is_left = !is_queue_empty();
	close(failed_dir);
	queue_close(&queue);
	return is_left ? EXIT_TEMPFAIL : 0;
}
