/*
 * sendmail.c: the sendmail(8) command (and mailq): the host's own programs
 * hand a message to the queue through a pipe.
 *
 * The message comes on stdin, LF or CRLF line ends; it is queued the way
 * smtpd queues (submit.c: the same envelope writer and commit), with a
 * Received: naming the local user and uid first, and Date:, From: and
 * Message-ID: added when missing (RFC 5322 3.6).  With -t the recipients
 * are read from To:, Cc: and Bcc: (addrlist.c); Bcc: never reaches the
 * queue.  Addresses may be UTF-8 (RFC 6531 3.3, valid UTF-8 only); a
 * message that needs SMTPUTF8 says so in its envelope.  Exit 0 only once the file is in new/; 75 when it cannot be
 * queued, 64 for usage, 65 for bad data.  Installed setgid to the queue
 * group: the only file an ordinary user can make in the queue is the one
 * written here; -bp, -q and -oQ give that privilege up first.  It runs no
 * other program (-bs is refused).  The header section
 * is held in a fixed buffer; the body streams, line by line.  Its other
 * modes have files of their own: -bp (sendmail_mailq.c), -bv
 * (sendmail_verify.c); the limits (sendmail_limit.c) and the qualifying
 * of header addresses (sendmail_qualify.c) likewise.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sendmail.h"

#ifndef SBINDIR
#define SBINDIR		"/usr/local/sbin"	/* where smtpsend is installed */
#endif

/* Not POSIX (BSD and Linux have it), hidden by _POSIX_C_SOURCE. */
int	setgroups(size_t, const gid_t *);

/* The header section kept in memory to look at before writing; more:
 * exit 65.  Fields in it, likewise. */
#define HEAD_MAX	(128 * 1024)
#define FIELDS_MAX	1000

static const char usage[] =
"usage: sendmail [-t] [-i] [-f sender] [-F name] [-oQdir] [recipient ...]\n"
"       sendmail -bp | -q           (mailq: the same as sendmail -bp)\n"
"  -t          recipients also from To:, Cc:, Bcc: (Bcc: is removed)\n"
"  -i, -oi     a line with a lone dot does not end the message\n"
"  -f sender   envelope sender (default: your login @ this host)\n"
"  -F name     display name for a From: header added here\n"
"  -bm         deliver a message from stdin (the default)\n"

"  -bp         list the queue;  -q  wake the waiting smtpsend -w\n"
"  -bv         say what would become of each address (0, or 67)\n"
"  -oQdir      queue directory (default " QUEUE_DIR_DEFAULT ")\n"
"  other -o, -B, -v, -N, -R, -V, -L, -e, -h, -O options are ignored\n";

static const char *queue_dir = QUEUE_DIR_DEFAULT;
static int is_queue_given;
static char hostname[HOST_MAX + 1];
static char login[ADDR_LOCAL_MAX + 1];
static char gecos[128];
static uid_t uid;
static const char *from_arg;		/* -f */
static const char *name_arg;		/* -F */
static int is_extract;			/* -t */
static int is_dot_ok;			/* -i: a lone dot is text */

static char sender[ADDR_MAX + 1];
static char rcpts[RCPT_MAX][ADDR_MAX + 1];
static size_t nrcpts;

/* The header section as read, CRLF line ends, and where each field is. */
static char head[HEAD_MAX];
static size_t headlen;
static struct { size_t off, len; } fields[FIELDS_MAX];
static size_t nfields;
static char unfolded[HEAD_MAX];

/* stdin, one byte at a time through a buffer; one byte of push-back. */
static char ibuf[IO_BUFSIZE];
static size_t ipos, iend;
static int pushed = -1;
static int is_eof;
static unsigned long nuls;

static struct queue queue;
static struct queue_file qf;
static struct out qout;
static unsigned long long size;
static unsigned long max_size = SIZE_DEFAULT;

/*
 * A value of the caller's (an argument, a header) for a message that is
 * logged: log_esc()'d as smtpd does, so that it can neither end the log
 * line nor pass for another key=value.  Two at a time.
 */
const char *
sendmail_esc(const char *s)
{
	static char buf[2][LOG_ADDR_MAX];
	static int i;

	i = !i;
	return log_esc(s, buf[i], sizeof(buf[i]));
}

static void __attribute__((noreturn, format(printf, 2, 3)))
fail(int status, const char *fmt, ...)
{
	static const char hex[] = "0123456789abcdef";
	char buf[512], line[4 * sizeof(buf)];
	size_t i, n = 0;
	unsigned char c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "sendmail: %s\n", buf);
	/* The values in it went through sendmail_esc(); this is the second line of
	 * defence: no control octet reaches the log, whatever a caller
	 * forgot. */
	for (i = 0; buf[i] != '\0'; i++) {
		c = (unsigned char)buf[i];
		if (c < ' ' || c > '~') {
			line[n++] = '\\';
			line[n++] = 'x';
			line[n++] = hex[c >> 4];
			line[n++] = hex[c & 15];
		} else
			line[n++] = (char)c;
	}
	line[n] = '\0';
	log_error("uid=%ld result=%s: %s", (long)uid,
	    status == EXIT_TEMPFAIL ? "deferred" : "rejected", line);
	if (qf.fd != -1)
		queue_abort(&queue, &qf);
	exit(status);
}

static int
in_getc(void)
{
	ssize_t n;
	int c;

	if (pushed != -1) {
		c = pushed;
		pushed = -1;
		return c;
	}
	while (ipos == iend) {
		if (is_eof)
			return EOF;
		n = read(STDIN_FILENO, ibuf, sizeof(ibuf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			fail(EXIT_TEMPFAIL, "unable to read the message: %s",
			    strerror(errno));
		if (n == 0) {
			is_eof = 1;
			return EOF;
		}
		ipos = 0;
		iend = (size_t)n;
	}
	return (unsigned char)ibuf[ipos++];
}

/*
 * Reads one line into buf (max + 1, max at most TEXT_LINE_MAX) without its
 * line end: LF or CRLF, or none at the end of input.  NUL bytes are
 * dropped (RFC 5321 4.1.1.4 forbids them in mail).  A line longer than max
 * comes in pieces, all but the last with *is_broken set.  Returns 0 at the
 * end of input.
 */
static int
in_line(char *buf, size_t max, size_t *len, int *is_broken)
{
	size_t n = 0;
	int c;

	*is_broken = 0;
	for (;;) {
		if ((c = in_getc()) == EOF) {
			if (n == 0)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0') {
			nuls++;
			continue;
		}
		if (c == '\r') {
			if ((c = in_getc()) == '\n')
				break;
			if (c != EOF)
				pushed = c;
			c = '\r';	/* a bare CR is text */
		}
		if (n == max) {
			pushed = c;
			*is_broken = 1;
			break;
		}
		buf[n++] = (char)c;
	}
	buf[n] = '\0';
	*len = n;
	return 1;
}

static void
put(const char *p, size_t n)
{
	size += n;
	if (size > max_size)
		fail(EXIT_DATAERR, "message larger than %lu octets", max_size);
	out_write(&qout, p, n);
}

/* Adds a recipient, once; a bare local name gets our host name. */
static void
rcpt_add(const char *addr)
{
	char full[ADDR_MAX + 1];
	size_t i;
	int n;

	if (strchr(addr, '@') == NULL) {
		n = snprintf(full, sizeof(full), "%s@%s", addr, hostname);
		if (n < 0 || (size_t)n >= sizeof(full))
			fail(EXIT_DATAERR, "recipient too long: %s", sendmail_esc(addr));
		addr = full;
	}
	for (i = 0; i < nrcpts; i++)
		if (strcmp(rcpts[i], addr) == 0)
			return;
	if (nrcpts == RCPT_MAX)
		fail(EXIT_DATAERR, "more than %d recipients", RCPT_MAX);
	strcpy(rcpts[nrcpts++], addr);
}

/* A command-line argument: one address or a comma-separated list. */
static void
rcpt_arg(const char *arg)
{
	char addr[ADDR_MAX + 1];
	const char *p = arg;
	int rc;

	while ((rc = addrlist_next(&p, addr, sizeof(addr))) == 1)
		rcpt_add(addr);
	if (rc == -1)
		fail(EXIT_DATAERR, "bad recipient address: %s", sendmail_esc(arg));
}

/* Field name of a header line ("Name:"), or 0 if it is not one. */
static size_t
field_name_len(const char *line, size_t len)
{
	size_t i;

	for (i = 0; i < len && line[i] != ':'; i++)
		if (line[i] < 33 || line[i] > 126)
			return 0;
	return i < len && i > 0 ? i : 0;
}

static int
field_is(size_t f, const char *name)
{
	size_t n = strlen(name);

	return fields[f].len > n && head[fields[f].off + n] == ':' &&
	    strncasecmp(head + fields[f].off, name, n) == 0;
}

static int
field_find(const char *name)
{
	size_t f;

	for (f = 0; f < nfields; f++)
		if (field_is(f, name))
			return 1;
	return 0;
}

static void
head_add(const char *p, size_t n)
{
	if (headlen + n > sizeof(head))
		fail(EXIT_DATAERR, "header section over %d octets", HEAD_MAX);
	memcpy(head + headlen, p, n);
	headlen += n;
}

/* The value of field f without its line ends (RFC 5322 2.2.3), in
 * unfolded, NUL-terminated. */
static const char *
field_value(size_t f)
{
	const char *p = head + fields[f].off, *end = p + fields[f].len;
	size_t n = 0;

	p = (const char *)memchr(p, ':', fields[f].len) + 1;
	for (; p < end; p++)
		if (*p != '\r' && *p != '\n')
			unfolded[n++] = *p;
	unfolded[n] = '\0';
	return unfolded;
}

/*
 * Reads the header section into head.  Returns 1 when a body follows; 0
 * when the input ended (EOF, or a lone dot without -i).  A line that is
 * neither a field nor a continuation starts the body: it is left in line.
 */
static int
read_head(char *line, size_t *len, int *is_broken, int *is_pending)
{
	int is_first = 1, was_broken = 0, is_separator = 0;

	*is_pending = 0;
	/* A folded piece gets a tab in front: one octet less of it fits. */
	while (in_line(line, was_broken ? TEXT_LINE_MAX - 1 : TEXT_LINE_MAX,
	    len, is_broken)) {
		if (was_broken && is_separator) {
			/* the rest of an over-long separator: dropped too
			 * (there is no field yet to fold it into) */
		} else if (was_broken) {
			/* the rest of an over-long field line: folded */
			head_add("\r\n\t", 3);
			head_add(line, *len);
			fields[nfields - 1].len += 3 + *len;
		} else if (is_first && *len >= 5 &&
		    strncmp(line, "From ", 5) == 0) {
			/* an mbox separator some callers send: dropped */
			is_separator = 1;
		} else if (*len == 0 && !*is_broken) {
			return 1;
		} else if (!is_dot_ok && *len == 1 && line[0] == '.' &&
		    !*is_broken) {
			return 0;
		} else if ((line[0] == ' ' || line[0] == '\t') &&
		    nfields > 0) {
			head_add("\r\n", 2);
			head_add(line, *len);
			fields[nfields - 1].len += 2 + *len;
		} else if (field_name_len(line, *len) > 0) {
			if (nfields == FIELDS_MAX)
				fail(EXIT_DATAERR, "more than %d header "
				    "fields", FIELDS_MAX);
			if (nfields > 0)
				head_add("\r\n", 2);
			fields[nfields].off = headlen;
			fields[nfields].len = *len;
			nfields++;
			head_add(line, *len);
		} else {
			*is_pending = 1;
			return 1;
		}
		is_first = 0;
		was_broken = *is_broken;
		if (!was_broken)
			is_separator = 0;
	}
	return 0;
}

/* RFC 6152: declared 8BITMIME when the header section holds 8-bit octets
 * or says Content-Transfer-Encoding 8bit or binary.  XXX an 8-bit body
 * under a 7-bit header section is queued as 7BIT. */
static int
head_is_8bit(void)
{
	const char *v;
	size_t f, i;

	for (i = 0; i < headlen; i++)
		if ((unsigned char)head[i] >= 0x80)
			return 1;
	for (f = 0; f < nfields; f++) {
		if (!field_is(f, "Content-Transfer-Encoding"))
			continue;
		for (v = field_value(f); *v == ' ' || *v == '\t'; v++)
			;
		if (strncasecmp(v, "8bit", 4) == 0 ||
		    strncasecmp(v, "binary", 6) == 0)
			return 1;
	}
	return 0;
}

/*
 * Whether the message needs SMTPUTF8 (RFC 6531): a UTF-8 address in the
 * envelope, or in the address fields a reader answers to (From:, To:,
 * Cc:, Reply-To:, Sender:).  Its envelope then says "Smtputf8: yes", as
 * smtpd's does for a client that said SMTPUTF8, and smtpsend passes it
 * on or returns the message 5.6.7.  UTF-8 elsewhere in the header (a
 * Subject, a display name) does not: such mail went out as 8-bit text to
 * relays without SMTPUTF8 before, and still does, as Postfix's sendmail
 * does without smtputf8_autodetect_classes.
 */
static int
needs_utf8(void)
{
	char addr[ADDR_MAX + 1];
	const char *p;
	size_t f, i;

	if (!addr_is_ascii(sender))
		return 1;
	for (i = 0; i < nrcpts; i++)
		if (!addr_is_ascii(rcpts[i]))
			return 1;
	for (f = 0; f < nfields; f++) {
		if (!field_is(f, "From") && !field_is(f, "To") &&
		    !field_is(f, "Cc") && !field_is(f, "Reply-To") &&
		    !field_is(f, "Sender"))
			continue;
		/* a field we cannot read is left as it came, unjudged */
		p = field_value(f);
		while (addrlist_next(&p, addr, sizeof(addr)) == 1)
			if (!addr_is_ascii(addr))
				return 1;
	}
	return 0;
}

/* -t: To:, Cc: and Bcc: (RFC 5322 3.6.3).  XXX Resent-* are not read. */
static void
extract_rcpts(void)
{
	char addr[ADDR_MAX + 1];
	const char *p;
	size_t f;
	int rc;

	for (f = 0; f < nfields; f++) {
		if (!field_is(f, "To") && !field_is(f, "Cc") &&
		    !field_is(f, "Bcc"))
			continue;
		p = field_value(f);
		while ((rc = addrlist_next(&p, addr, sizeof(addr))) == 1)
			rcpt_add(addr);
		if (rc == -1)
			fail(EXIT_DATAERR, "bad address in %.*s: header",
			    (int)(strchr(head + fields[f].off, ':') -
			    (head + fields[f].off)), head + fields[f].off);
	}
}

/* A quoted-string display name (RFC 5322 3.2.4), from -F or GECOS. */
static void
put_display_name(const char *name)
{
	char buf[2 * sizeof(gecos) + 4];
	size_t n = 0;

	buf[n++] = '"';
	for (; *name != '\0' && n < sizeof(buf) - 4; name++) {
		if (*name == '\r' || *name == '\n')
			continue;
		if (*name == '"' || *name == '\\')
			buf[n++] = '\\';
		buf[n++] = *name;
	}
	buf[n++] = '"';
	buf[n++] = ' ';
	put(buf, n);
}

static void
write_message(const char *line, size_t len, int is_broken, int has_body,
    int is_pending)
{
	char buf[TEXT_LINE_MAX + 1], date[64], text[512];
	const char *name;
	static char qualified[HEAD_MAX + RCPT_MAX * (HOST_MAX + 1)];
	size_t f, qlen, hostlen = strlen(queue.host);
	int n, is_cont = 0;

	if (date_rfc5322(time(NULL), date, sizeof(date)) == -1)
		fail(EXIT_TEMPFAIL, "unable to format the date");
	/* RFC 5321 4.4: no "from" clause; the comment names the user. */
	n = snprintf(text, sizeof(text), "Received: by %s (sendmail, from "
	    "userid %ld, user %s)\r\n\tid %s%s%s%s; %s\r\n", hostname,
	    (long)uid, login, qf.name, nrcpts == 1 ? "\r\n\tfor <" : "",
	    nrcpts == 1 ? rcpts[0] : "", nrcpts == 1 ? ">" : "", date);
	if (n < 0 || (size_t)n >= sizeof(text))
		fail(EXIT_TEMPFAIL, "Received: header too long");
	put(text, (size_t)n);
	for (f = 0; f < nfields; f++) {
		if (field_is(f, "Bcc"))
			continue;
		/* RFC 5322 3.4.1: a domain in every address */
		qlen = 0;
		if (field_is(f, "From") || field_is(f, "To") ||
		    field_is(f, "Cc") || field_is(f, "Reply-To") ||
		    field_is(f, "Sender"))
			qlen = qualify_field(head + fields[f].off,
			    fields[f].len, hostname, qualified,
			    sizeof(qualified));
		if (qlen > 0)
			put(qualified, qlen);
		else
			put(head + fields[f].off, fields[f].len);
		put("\r\n", 2);
	}
	if (!field_find("Date")) {
		n = snprintf(text, sizeof(text), "Date: %s\r\n", date);
		put(text, (size_t)n);
	}
	if (!field_find("Message-ID")) {
		/* the queue name without its ".host": unique on this host */
		n = snprintf(text, sizeof(text), "Message-ID: <%.*s@%s>\r\n",
		    (int)(strlen(qf.name) - hostlen - 1), qf.name, hostname);
		put(text, (size_t)n);
	}
	if (!field_find("From")) {
		put("From: ", 6);
		name = name_arg != NULL ? name_arg : gecos;
		if (*name != '\0')
			put_display_name(name);
		/* the null sender still has a person behind it */
		n = snprintf(text, sizeof(text), "<%s%s%s>\r\n",
		    sender[0] != '\0' ? sender : login,
		    sender[0] != '\0' ? "" : "@",
		    sender[0] != '\0' ? "" : hostname);
		put(text, (size_t)n);
	}
	put("\r\n", 2);
	if (!has_body)
		return;
	if (is_pending)
		memcpy(buf, line, len);
	else if (!in_line(buf, TEXT_LINE_MAX, &len, &is_broken))
		return;
	for (;;) {
		/* the piece after a broken one is not a line start */
		if (!is_dot_ok && !is_cont && !is_broken && len == 1 &&
		    buf[0] == '.')
			break;
		put(buf, len);
		put("\r\n", 2);
		is_cont = is_broken;
		if (!in_line(buf, TEXT_LINE_MAX, &len, &is_broken))
			break;
	}
}

/* The envelope sender: -f, else login@host; "<>" and "" are null. */
static void
sender_set(void)
{
	const char *rest;
	char spec[ADDR_MAX + 3];
	int n;

	if (from_arg == NULL) {
		n = snprintf(sender, sizeof(sender), "%s@%s", login, hostname);
		if (n < 0 || (size_t)n >= sizeof(sender))
			fail(EXIT_DATAERR, "sender too long");
		return;
	}
	n = snprintf(spec, sizeof(spec), from_arg[0] == '<' ? "%s" : "<%s>",
	    from_arg);
	if (n < 0 || (size_t)n >= sizeof(spec) ||
	    addr_parse_utf8(spec, sender, sizeof(sender), &rest) == -1 ||
	    *rest != '\0')
		fail(EXIT_DATAERR, "bad sender address: %s", sendmail_esc(from_arg));
	if (sender[0] != '\0' && strchr(sender, '@') == NULL) {
		n = snprintf(spec, sizeof(spec), "%s@%s", sender, hostname);
		if (n < 0 || (size_t)n >= sizeof(sender))
			fail(EXIT_DATAERR, "sender too long: %s",
			    sendmail_esc(from_arg));
		strcpy(sender, spec);
	}
}

/* Who runs us, by the real uid (never $USER or getlogin()). */
static void
whoami(void)
{
	const struct passwd *pw;
	size_t n;

	uid = getuid();
	/* cppcheck-suppress getpwuidCalled ; single-threaded */
	if ((pw = getpwuid(uid)) != NULL && pw->pw_name[0] != '\0' &&
	    strlen(pw->pw_name) < sizeof(login) &&
	    strspn(pw->pw_name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	    strlen(pw->pw_name)) {
		strcpy(login, pw->pw_name);
		if (pw->pw_gecos != NULL) {
			n = strcspn(pw->pw_gecos, ",");
			if (n >= sizeof(gecos))
				n = sizeof(gecos) - 1;
			memcpy(gecos, pw->pw_gecos, n);
			gecos[n] = '\0';
		}
	} else
		snprintf(login, sizeof(login), "uid%ld", (long)uid);
}

/* Gives up the queue group, for anything the caller's own rights must
 * cover. */
static void
drop_privilege(void)
{
	if (getegid() != getgid() && setgid(getgid()) == -1)
		fail(EXIT_TEMPFAIL, "unable to drop privileges: %s",
		    strerror(errno));
}

/*
 * -q: wakes the smtpsend -w that waits on QUEUE/trigger (smtpsend.8,
 * -w).  It does not start smtpsend itself: only the unit or
 * the operator knows its relay and Maildir flags, and a run without them
 * would deliver every recipient locally.  The poke is queue_poke()'s:
 * never through a link, only into a FIFO (a link planted there made root
 * write a byte into any file).
 */
static int
queue_run(void)
{
	struct queue q = { -1, -1, -1, "", -1, -1 };
	struct stat st;

	q.dir = open(queue_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q.dir == -1 || fstatat(q.dir, QUEUE_TRIGGER, &st,
	    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISFIFO(st.st_mode)) {
		fprintf(stderr, "sendmail: no smtpsend -w is waiting on "
		    "%s/%s: the next timer run delivers (or: systemctl start "
		    "smtpsend)\n", sendmail_esc(queue_dir), QUEUE_TRIGGER);
		if (q.dir != -1)
			close(q.dir);
		return 0;
	}
	queue_poke(&q);
	close(q.dir);
	return 0;
}

/*
 * -q by root: smtpqctl flush, which makes every queued message due now
 * (as the queue's owner) and, under systemd, starts smtpsend.service: a
 * real queue run, as sendmail -q promises, not a wait for the timer (issue
 * 29).  Only root: no one else may start units or touch others' files.
 */
static int
queue_flush_root(void)
{
#ifndef SBINDIR
#define SBINDIR "/usr/local/sbin"
#endif
	static const char path[] = SBINDIR "/smtpqctl";

	char *given[] = { "smtpqctl", "-q", NULL, "flush", NULL };
	char *dflt[] = { "smtpqctl", "flush", NULL };

	given[2] = (char *)queue_dir;
	fflush(stdout);
	prog_exec(path, is_queue_given ? given : dflt);
	fprintf(stderr, "sendmail: unable to run %s: %s; poking the queue "
	    "instead\n", path, strerror(errno));
	return -1;
}

/*
 * Run by root, sendmail works as the queue's owner, whatever the mode:
 * nothing that owner can plant under the queue (a link for
 * tmp/, new/ or trigger) then makes us do more than it could itself.  A
 * queue that does not exist yet, or that root owns, leaves us root.
 */
static void
owner_become(void)
{
	struct stat st;
	gid_t gid;

	if (getuid() != 0 && geteuid() != 0)
		return;
	if (stat(queue_dir, &st) == -1) {
		if (errno == ENOENT)
			return;
		fail(EXIT_TEMPFAIL, "unable to look at queue %s: %s",
		    sendmail_esc(queue_dir), strerror(errno));
	}
	if (st.st_uid == 0)
		return;
	gid = st.st_gid;
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
	    setuid(st.st_uid) == -1 || setuid(0) != -1)
		fail(EXIT_TEMPFAIL, "unable to become the owner of queue %s "
		    "(uid %ld): %s", sendmail_esc(queue_dir), (long)st.st_uid,
		    strerror(errno));
}

/* Refuses a queue whose tmp/ or new/ is not a plain directory (a link
 * the queue's owner put there). */
static void
queue_check(void)
{
	static const char *const dirs[] = { "tmp", "new" };
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (fstatat(queue.dir, dirs[i], &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode))
			fail(EXIT_TEMPFAIL, "queue %s: %s is not a directory "
			    "(a link?): refused", sendmail_esc(queue_dir), dirs[i]);
}

/* The reserve and the caller's budget (sendmail_limit.c); size 0: only
 * look, before the message is read. */
static void
limits_check(unsigned long long msg_size)
{
	char why[256];
	int rc;

	if (!limit_space_ok(queue.dir, max_size))
		fail(EXIT_TEMPFAIL, "the queue's file system has less than "
		    "%lu MiB free (the reserve): try again later",
		    MINFREE_SIZES * max_size / (1024UL * 1024));
	if ((rc = limit_user(queue.dir, uid, msg_size, why, sizeof(why))) ==
	    -1)
		fail(EXIT_TEMPFAIL, "unable to count uid %ld's messages: %s",
		    (long)uid, strerror(errno));
	if (rc == 1)
		fail(EXIT_TEMPFAIL, "too much mail: %s; try again later", why);
}

/* The value of an option: the rest of this word or the next word. */
static const char *
opt_value(char **argv, int *i, const char *rest, char flag)
{
	if (*rest != '\0')
		return rest;
	if (argv[*i + 1] == NULL)
		die_usage("-%c needs a value", flag);
	return argv[++*i];
}

/* Reads the flags into the globals and *mode ("m", "p", "q", "v", "i");
 * the index of the first recipient.  -h alone prints the usage and
 * exits. */
static int
options(char **argv, const char **mode)
{
	const char *arg;
	int i;

	for (i = 1; argv[i] != NULL && argv[i][0] == '-'; i++) {
		arg = argv[i] + 1;
		if (strcmp(arg, "-") == 0)
			return i + 1;
		switch (*arg++) {
		case 't': is_extract = 1; break;
		case 'i': is_dot_ok = 1; break;
		case 'f':
		case 'r': from_arg = opt_value(argv, &i, arg, 'f'); break;
		case 'F': name_arg = opt_value(argv, &i, arg, 'F'); break;
		case 'b':
			if (strcmp(arg, "s") == 0)
				die_usage("-bs is not supported: smtpd cannot "
				    "yet queue a local user's SMTP session "
				    "safely; pipe the message to sendmail, or "
				    "submit on port 587");
			if (strcmp(arg, "m") != 0 && strcmp(arg, "v") != 0 &&
			    strcmp(arg, "p") != 0 && strcmp(arg, "i") != 0)
				die_usage("-b%s: not supported", arg);
			*mode = arg;
			break;
		case 'q':
			*mode = "q";	/* -q, -q30m: one run now */
			break;
		case 'A':
			/* sendmail 8's submit.cf choice (-Am, -Ac):
			 * ignored, as Postfix does */
			arg = opt_value(argv, &i, arg, 'A');
			if (strcmp(arg, "m") != 0 && strcmp(arg, "c") != 0)
				die_usage("-A%s: only -Am and -Ac", arg);
			break;
		case 'o':
			arg = opt_value(argv, &i, arg, 'o');
			if (strcmp(arg, "i") == 0)
				is_dot_ok = 1;
			else if (arg[0] == 'Q' && arg[1] != '\0') {
				queue_dir = arg + 1;
				is_queue_given = 1;
			}
			break;		/* other -o: ignored */
		case 'h':
			if (*arg == '\0' && argv[i + 1] == NULL) {
				fputs(usage, stdout);
				exit(0);
			}
			/* FALLTHROUGH */
		case 'B': case 'N': case 'R': case 'V': case 'L': case 'O':
		case 'X': case 'C':
			(void)opt_value(argv, &i, arg, arg[-1]);
			break;
		case 'v': case 'e': case 'm': case 'n': case 'U': case 'G':
		case 'd': case 'x':
			break;		/* accepted, ignored */
		default:
			die_usage("unknown option -%c", arg[-1]);
		}
	}
	return i;
}

/*
 * smtpq.conf's name and queue, as smtpd and smtpsend read them: mail
 * qualified with another name than smtpsend's own would go to the world
 * instead of a local Maildir.  -oQ still wins.
 */
static void
sendmail_conf(void)
{
	conf_read(CONF_SENDMAIL);
	if (!is_queue_given && conf_get('q') != NULL)
		queue_dir = conf_get('q');
	if (opt_hostname(conf_get('n'), hostname, sizeof(hostname)) == -1) {
		conf_blame('n');
		if (conf_get('n') != NULL)
			die_usage("not a host name: %s", conf_get('n'));
		fail(EXIT_TEMPFAIL, "this host has no usable name");
	}
}

/* The message on stdin into the queue, for the recipients in rcpts (and
 * in its header with -t); 0, or it exits. */
static int
queue_stdin(char **rcpts_given)
{
	char line[TEXT_LINE_MAX + 1];
	size_t len = 0;
	int is_broken = 0, is_pending, has_body;

	sender_set();
	for (; *rcpts_given != NULL; rcpts_given++)
		rcpt_arg(*rcpts_given);
	if (queue_open(&queue, queue_dir, hostname) == -1)
		fail(EXIT_TEMPFAIL, "unable to open queue %s: %s",
		    sendmail_esc(queue_dir), strerror(errno));
	queue_check();
	limits_check(0);
	has_body = read_head(line, &len, &is_broken, &is_pending);
	if (is_extract)
		extract_rcpts();
	if (nrcpts == 0)
		fail(EXIT_DATAERR, "no recipients");
	/* Owned by the caller, but smtpsend (the group) locks and rewrites
	 * it: queue_create() makes it 0660; nobody else can enter the
	 * queue. */
	if (submit_begin(&queue, &qf, &qout) == -1)
		fail(EXIT_TEMPFAIL, "unable to create a queue file: %s",
		    strerror(errno));
	submit_envelope(&qout, sender, (const char (*)[ADDR_MAX + 1])rcpts,
	    nrcpts, (head_is_8bit() ? SUBMIT_8BITMIME : 0) |
	    (needs_utf8() ? SUBMIT_SMTPUTF8 : 0), "local");
	write_message(line, len, is_broken, has_body, is_pending);
	if (out_flush(&qout) == -1)
		fail(EXIT_TEMPFAIL, "unable to write %s: %s", qf.tmp,
		    strerror(qout.error));
	limits_check(size);
	if (submit_commit(&queue, &qf, &qout) == -1) {
		qf.fd = -1;
		fail(EXIT_TEMPFAIL, "unable to queue the message: %s",
		    strerror(errno));
	}
	log_info("id=%s uid=%ld from=<%s> rcpts=%zu size=%llu%s result=queued",
	    qf.name, (long)uid, sendmail_esc(sender), nrcpts, size,
	    nuls > 0 ? " nul=removed" : "");
	queue_close(&queue);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *base, *mode = "m";
	int i;

	(void)argc;
	log_prog = "sendmail";
	qf.fd = -1;
	/* Files must be readable by the queue group whatever the caller's
	 * umask; nobody else reads them. */
	umask(027);
	whoami();
	base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	if (strcmp(base, "mailq") == 0)
		mode = "p";
	i = options(argv, &mode);
	sendmail_conf();
	log_open("sendmail", NULL);
	if (strcmp(mode, "q") == 0 && getuid() == 0 && queue_flush_root() ==
	    -1)
		errno = 0;	/* said; the poke below is the fallback */
	owner_become();
	/* A queue of the caller's choosing gets the caller's rights only. */
	if (is_queue_given || strcmp(mode, "p") == 0 ||
	    strcmp(mode, "q") == 0 || strcmp(mode, "v") == 0)
		drop_privilege();
	if (strcmp(mode, "i") == 0)
		return 0;		/* newaliases: smtpsend reads -A itself */
	if (strcmp(mode, "q") == 0)
		return queue_run();
	if (strcmp(mode, "v") == 0)
		return sendmail_verify(argv + i, hostname);
	if (strcmp(mode, "p") == 0)
		return mailq_list(queue_dir);
	return queue_stdin(argv + i);
}
