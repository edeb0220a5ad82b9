/*
 * sendmail_message.c: the envelope (-f, the recipients given or, with -t,
 * those in To:, Cc: and Bcc:) and the message sendmail queues: a
 * Received: first, the caller's fields with bare names qualified and Bcc:
 * left out, Date:, Message-ID: and From: where missing (RFC 5322 3.6),
 * then the body streamed from stdin with CRLF line ends.  Into the queue
 * through submit.c, between the reserve and budget checks
 * (sendmail_limit.c); exit 0 only once the file is in new/.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sendmail.h"

static void
message_put(struct sendmail *sm, const char *p, size_t n)
{
	sm->size += n;
	if (sm->size > sm->max_size)
		sendmail_fail(sm, EXIT_DATAERR, "message larger than %lu octets",
		    sm->max_size);
	out_write(&sm->qout, p, n);
}

/* Adds a recipient, once; a bare local name gets our host name. */
static void
message_rcpt(struct sendmail *sm, const char *addr)
{
	char full[ADDR_MAX + 1];
	size_t i;
	int n;

	if (strchr(addr, '@') == NULL) {
		n = snprintf(full, sizeof(full), "%s@%s", addr, sm->hostname);
		if (n < 0 || (size_t)n >= sizeof(full))
			sendmail_fail(sm, EXIT_DATAERR, "recipient too long: %s",
			    sendmail_esc(addr));
		addr = full;
	}
	for (i = 0; i < sm->nrcpts; i++)
		if (strcmp(sm->rcpts[i], addr) == 0)
			return;
	if (sm->nrcpts == RCPT_MAX)
		sendmail_fail(sm, EXIT_DATAERR, "more than %d recipients",
		    RCPT_MAX);
	strcpy(sm->rcpts[sm->nrcpts++], addr);
}

/* A command-line argument: one address or a comma-separated list. */
void
message_rcpt_arg(struct sendmail *sm, const char *arg)
{
	char addr[ADDR_MAX + 1];
	const char *p = arg;
	int rc;

	while ((rc = addrlist_next(&p, addr, sizeof(addr))) == 1)
		message_rcpt(sm, addr);
	if (rc == -1)
		sendmail_fail(sm, EXIT_DATAERR, "bad recipient address: %s",
		    sendmail_esc(arg));
}

/* Whether field f is one whose addresses a reader answers to. */
static int
message_is_address_field(const struct head *h, size_t f)
{
	return head_is(h, f, "From") || head_is(h, f, "To") ||
	    head_is(h, f, "Cc") || head_is(h, f, "Reply-To") ||
	    head_is(h, f, "Sender");
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
message_needs_utf8(struct sendmail *sm)
{
	char addr[ADDR_MAX + 1];
	const char *p;
	size_t f, i;

	if (!addr_is_ascii(sm->sender))
		return 1;
	for (i = 0; i < sm->nrcpts; i++)
		if (!addr_is_ascii(sm->rcpts[i]))
			return 1;
	for (f = 0; f < sm->head.nfields; f++) {
		if (!message_is_address_field(&sm->head, f))
			continue;
		/* a field we cannot read is left as it came, unjudged */
		p = head_value(&sm->head, f);
		while (addrlist_next(&p, addr, sizeof(addr)) == 1)
			if (!addr_is_ascii(addr))
				return 1;
	}
	return 0;
}

/* -t: To:, Cc: and Bcc: (RFC 5322 3.6.3).  XXX Resent-* are not read. */
void
message_extract(struct sendmail *sm)
{
	struct head *h = &sm->head;
	char addr[ADDR_MAX + 1];
	const char *p, *name;
	size_t f;
	int rc;

	for (f = 0; f < h->nfields; f++) {
		if (!head_is(h, f, "To") && !head_is(h, f, "Cc") &&
		    !head_is(h, f, "Bcc"))
			continue;
		p = head_value(h, f);
		while ((rc = addrlist_next(&p, addr, sizeof(addr))) == 1)
			message_rcpt(sm, addr);
		name = h->text + h->fields[f].off;
		if (rc == -1)
			sendmail_fail(sm, EXIT_DATAERR,
			    "bad address in %.*s: header",
			    (int)(strchr(name, ':') - name), name);
	}
}

/* A quoted-string display name (RFC 5322 3.2.4), from -F or GECOS. */
static void
message_put_name(struct sendmail *sm, const char *name)
{
	char buf[2 * sizeof(sm->gecos) + 4];
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
	message_put(sm, buf, n);
}

/* The caller's fields, Bcc: left out, bare names qualified. */
static void
message_put_fields(struct sendmail *sm)
{
	static char qualified[HEAD_MAX + RCPT_MAX * (HOST_MAX + 1)];
	const struct head *h = &sm->head;
	size_t f, qlen;

	for (f = 0; f < h->nfields; f++) {
		if (head_is(h, f, "Bcc"))
			continue;
		/* RFC 5322 3.4.1: a domain in every address */
		qlen = 0;
		if (message_is_address_field(h, f))
			qlen = qualify_field(h->text + h->fields[f].off,
			    h->fields[f].len, sm->hostname, qualified,
			    sizeof(qualified));
		if (qlen > 0)
			message_put(sm, qualified, qlen);
		else
			message_put(sm, h->text + h->fields[f].off,
			    h->fields[f].len);
		message_put(sm, "\r\n", 2);
	}
}

/* Received: first, the caller's fields, then what RFC 5322 3.6 wants
 * and the caller left out; the empty line after them. */
static void
message_put_head(struct sendmail *sm)
{
	char date[64], text[512];
	const char *name;
	size_t hostlen = strlen(sm->queue.host);
	int n, is_one = sm->nrcpts == 1;

	if (date_rfc5322(time(NULL), date, sizeof(date)) == -1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to format the date");
	/* RFC 5321 4.4: no "from" clause; the comment names the user. */
	n = snprintf(text, sizeof(text), "Received: by %s (sendmail, from "
	    "userid %ld, user %s)\r\n\tid %s%s%s%s; %s\r\n", sm->hostname,
	    (long)sm->uid, sm->login, sm->qf.name, is_one ? "\r\n\tfor <" : "",
	    is_one ? sm->rcpts[0] : "", is_one ? ">" : "", date);
	if (n < 0 || (size_t)n >= sizeof(text))
		sendmail_fail(sm, EXIT_TEMPFAIL, "Received: header too long");
	message_put(sm, text, (size_t)n);
	message_put_fields(sm);
	if (!head_find(&sm->head, "Date")) {
		n = snprintf(text, sizeof(text), "Date: %s\r\n", date);
		message_put(sm, text, (size_t)n);
	}
	if (!head_find(&sm->head, "Message-ID")) {
		/* the queue name without its ".host": unique on this host */
		n = snprintf(text, sizeof(text), "Message-ID: <%.*s@%s>\r\n",
		    (int)(strlen(sm->qf.name) - hostlen - 1), sm->qf.name,
		    sm->hostname);
		message_put(sm, text, (size_t)n);
	}
	if (!head_find(&sm->head, "From")) {
		message_put(sm, "From: ", 6);
		name = sm->name_arg != NULL ? sm->name_arg : sm->gecos;
		if (*name != '\0')
			message_put_name(sm, name);
		/* the null sender still has a person behind it */
		n = snprintf(text, sizeof(text), "<%s%s%s>\r\n",
		    sm->sender[0] != '\0' ? sm->sender : sm->login,
		    sm->sender[0] != '\0' ? "" : "@",
		    sm->sender[0] != '\0' ? "" : sm->hostname);
		message_put(sm, text, (size_t)n);
	}
	message_put(sm, "\r\n", 2);
}

/* The message as it goes into the queue file: the header section, then
 * the body from line (when head_read() left one pending) and stdin. */
void
message_write(struct sendmail *sm, const char *line, size_t len,
    int is_broken, int has_body, int is_pending)
{
	char buf[TEXT_LINE_MAX + 1];
	int is_cont = 0;

	message_put_head(sm);
	if (!has_body)
		return;
	if (is_pending)
		memcpy(buf, line, len);
	else if (!in_line(sm, buf, TEXT_LINE_MAX, &len, &is_broken))
		return;
	for (;;) {
		/* the piece after a broken one is not a line start */
		if (!sm->is_dot_ok && !is_cont && !is_broken && len == 1 &&
		    buf[0] == '.')
			break;
		message_put(sm, buf, len);
		message_put(sm, "\r\n", 2);
		is_cont = is_broken;
		if (!in_line(sm, buf, TEXT_LINE_MAX, &len, &is_broken))
			break;
	}
}

/* The envelope sender: -f, else login@host; "<>" and "" are null. */
void
message_sender(struct sendmail *sm)
{
	const char *rest;
	char spec[ADDR_MAX + 3];
	int n;

	if (sm->from_arg == NULL) {
		n = snprintf(sm->sender, sizeof(sm->sender), "%s@%s",
		    sm->login, sm->hostname);
		if (n < 0 || (size_t)n >= sizeof(sm->sender))
			sendmail_fail(sm, EXIT_DATAERR, "sender too long");
		return;
	}
	n = snprintf(spec, sizeof(spec), sm->from_arg[0] == '<' ? "%s" :
	    "<%s>", sm->from_arg);
	if (n < 0 || (size_t)n >= sizeof(spec) ||
	    addr_parse_utf8(spec, sm->sender, sizeof(sm->sender), &rest) ==
	    -1 || *rest != '\0')
		sendmail_fail(sm, EXIT_DATAERR, "bad sender address: %s",
		    sendmail_esc(sm->from_arg));
	if (sm->sender[0] != '\0' && strchr(sm->sender, '@') == NULL) {
		n = snprintf(spec, sizeof(spec), "%s@%s", sm->sender,
		    sm->hostname);
		if (n < 0 || (size_t)n >= sizeof(sm->sender))
			sendmail_fail(sm, EXIT_DATAERR, "sender too long: %s",
			    sendmail_esc(sm->from_arg));
		strcpy(sm->sender, spec);
	}
}

/* Refuses a queue whose tmp/ or new/ is not a plain directory (a link
 * the queue's owner put there). */
static void
message_check_queue(struct sendmail *sm)
{
	static const char *const dirs[] = { "tmp", "new" };
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (fstatat(sm->queue.dir, dirs[i], &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISDIR(st.st_mode))
			sendmail_fail(sm, EXIT_TEMPFAIL, "queue %s: %s is not a "
			    "directory (a link?): refused",
			    sendmail_esc(sm->queue_dir), dirs[i]);
}

/* The reserve and the caller's budget (sendmail_limit.c); size 0: only
 * look, before the message is read. */
static void
message_check_limits(struct sendmail *sm, unsigned long long msg_size)
{
	char why[256];
	int rc;

	if (!limit_space_ok(sm->queue.dir, sm->max_size))
		sendmail_fail(sm, EXIT_TEMPFAIL, "the queue's file system has "
		    "less than %lu MiB free (the reserve): try again later",
		    MINFREE_SIZES * sm->max_size / (1024UL * 1024));
	if ((rc = limit_user(sm->queue.dir, sm->uid, msg_size, why,
	    sizeof(why))) == -1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to count uid %ld's "
		    "messages: %s", (long)sm->uid, strerror(errno));
	if (rc == 1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "too much mail: %s; try again "
		    "later", why);
}

/* The message on stdin into the queue, for the recipients given (and
 * in its header with -t); 0, or it exits. */
int
message_queue(struct sendmail *sm, char **rcpts_given)
{
	char line[TEXT_LINE_MAX + 1];
	size_t len = 0;
	int is_broken = 0, is_pending, has_body;

	message_sender(sm);
	for (; *rcpts_given != NULL; rcpts_given++)
		message_rcpt_arg(sm, *rcpts_given);
	if (queue_open(&sm->queue, sm->queue_dir, sm->hostname) == -1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to open queue %s: %s",
		    sendmail_esc(sm->queue_dir), strerror(errno));
	message_check_queue(sm);
	message_check_limits(sm, 0);
	has_body = head_read(sm, line, &len, &is_broken, &is_pending);
	if (sm->is_extract)
		message_extract(sm);
	if (sm->nrcpts == 0)
		sendmail_fail(sm, EXIT_DATAERR, "no recipients");
	/* Owned by the caller, but smtpsend (the group) locks and rewrites
	 * it: queue_create() makes it 0660; nobody else can enter the
	 * queue. */
	if (submit_begin(&sm->queue, &sm->qf, &sm->qout) == -1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to create a queue "
		    "file: %s", strerror(errno));
	submit_envelope(&sm->qout, sm->sender,
	    (const char (*)[ADDR_MAX + 1])sm->rcpts, sm->nrcpts,
	    (head_is_8bit(&sm->head) ? SUBMIT_8BITMIME : 0) |
	    (message_needs_utf8(sm) ? SUBMIT_SMTPUTF8 : 0), "local");
	message_write(sm, line, len, is_broken, has_body, is_pending);
	if (out_flush(&sm->qout) == -1)
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to write %s: %s",
		    sm->qf.tmp, strerror(sm->qout.error));
	message_check_limits(sm, sm->size);
	if (submit_commit(&sm->queue, &sm->qf, &sm->qout) == -1) {
		sm->qf.fd = -1;
		sendmail_fail(sm, EXIT_TEMPFAIL, "unable to queue the message: "
		    "%s", strerror(errno));
	}
	log_info("id=%s uid=%ld from=<%s> rcpts=%zu size=%llu%s result=queued",
	    sm->qf.name, (long)sm->uid, sendmail_esc(sm->sender), sm->nrcpts,
	    sm->size, sm->in.nuls > 0 ? " nul=removed" : "");
	queue_close(&sm->queue);
	return 0;
}
