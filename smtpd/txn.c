/*
 * txn.c: the mail transaction of an smtpd session (RFC 5321 3.3): MAIL
 * with its parameters, RCPT with the relay decision, DATA streaming into
 * a queue file behind our envelope and Received: header.
 *
 * The envelope (sender, recipients, BODY, SIZE) is the session's struct
 * txn; the rest of the session, the configuration and every reply come
 * from session.c through smtpd.h.  A message is acknowledged only after
 * submit_commit() has made it durable; a lost client aborts the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtpd.h"

/* Forgets the envelope; the caller sets the state. */
void
txn_clear(struct session *s)
{
	struct txn *t = &s->txn;

	t->sender[0] = '\0';
	t->is_8bitmime = 0;
	t->is_smtputf8 = 0;
	t->nrcpts = 0;
	t->overshoot = 0;
}

/* "FROM:" or "TO:", case-insensitive; returns what follows, or NULL. */
static char *
arg_after(char *arg, const char *keyword)
{
	size_t n = strlen(keyword);

	if (strncasecmp(arg, keyword, n) != 0)
		return NULL;
	return arg + n;
}

/*
 * RFC 1870 SIZE, RFC 6152 BODY and RFC 6531 SMTPUTF8 (after EHLO, which
 * offers it); any other ESMTP parameter is 555 (RFC 5321 4.1.1.11).
 * Returns 0 when all were understood and allowed.
 */
static int
mail_params(struct session *s, char *params)
{
	struct txn *t = &s->txn;
	unsigned long size;
	char *p, *next, *value;

	for (p = params; p != NULL && *p != '\0'; p = next) {
		if ((next = strchr(p, ' ')) != NULL) {
			*next++ = '\0';
			while (*next == ' ')
				next++;
		}
		if ((value = strchr(p, '=')) != NULL)
			*value++ = '\0';
		if (strcasecmp(p, "SIZE") == 0 && value != NULL) {
			if (opt_number(value, (unsigned long)-1, &size) ==
			    -1) {
				refuse(s, 501, 1, t->sender, NULL,
				    "5.5.4 Bad SIZE syntax", NULL);
				return -1;
			}
			if (size > s->cf->max_size) {
				refuse(s, 552, 1, t->sender, NULL, "5.3.4 "
				    "Message size exceeds fixed limit", NULL);
				return -1;
			}
			t->mail_size = size;
		} else if (strcasecmp(p, "BODY") == 0 && value != NULL &&
		    strcasecmp(value, "7BIT") == 0) {
			t->is_8bitmime = 0;
		} else if (strcasecmp(p, "BODY") == 0 && value != NULL &&
		    strcasecmp(value, "8BITMIME") == 0) {
			t->is_8bitmime = 1;
		} else if (strcasecmp(p, "SMTPUTF8") == 0 && value == NULL &&
		    s->is_esmtp) {
			t->is_smtputf8 = 1;
		} else {
			refuse(s, 555, 1, t->sender, NULL,
			    "5.5.4 Unsupported option:", p);
			return -1;
		}
	}
	return 0;
}

void
txn_mail(struct session *s, char *arg)
{
	struct txn *t = &s->txn;
	const char *rest;
	char *path;

	if (s->messages >= MESSAGES_MAX && !s->is_trusted &&
	    s->user[0] == '\0') {
		reply(&s->out, 421, "4.7.0 %s Error: too many messages in one "
		    "session", s->cf->hostname);
		log_info("peer=%s messages=%u result=disconnect: too many "
		    "messages in one session", s->peer.addr, s->messages);
		session_exit(s, 0);
	}
	/* RFC 6409 4.3: submission needs AUTH, but from a local pipe. */
	if (s->cf->is_submission && s->user[0] == '\0' &&
	    (s->cf->is_tls || strcmp(s->peer.addr, "stdin") != 0)) {
		refuse(s, 530, 0, NULL, NULL, "5.7.0 Authentication required",
		    NULL);
		return;
	}
	if ((path = arg_after(arg, "FROM:")) == NULL) {
		refuse(s, 501, 1, NULL, NULL,
		    "5.5.4 Syntax: MAIL FROM:<address>", NULL);
		return;
	}
	if (addr_parse_utf8(path, t->sender, sizeof(t->sender), &rest) == -1 ||
	    (t->sender[0] != '\0' && addr_domain(t->sender) == NULL)) {
		t->sender[0] = '\0';
		refuse(s, 501, 1, NULL, NULL,
		    "5.1.7 Bad sender address syntax", NULL);
		return;
	}
	t->is_8bitmime = 0;
	t->is_smtputf8 = 0;
	t->mail_size = 0;
	if (mail_params(s, (char *)rest) == -1) {
		t->sender[0] = '\0';
		return;
	}
	/* RFC 6531 3.4: UTF-8 paths only in a transaction MAIL declared
	 * SMTPUTF8; else 553 with its X.6.7. */
	if (!t->is_smtputf8 && !addr_is_ascii(t->sender)) {
		refuse(s, 553, 1, t->sender, NULL, "5.6.7 Error: a UTF-8 "
		    "address needs SMTPUTF8", NULL);
		t->sender[0] = '\0';
		return;
	}
	if (!limits_disk_ok(s->queue.dir, (unsigned long long)s->cf->min_free +
	    t->mail_size)) {
		refuse(s, 452, 0, t->sender, NULL, "4.3.1 Insufficient system "
		    "storage", NULL);
		t->sender[0] = '\0';
		return;
	}
	state_enter(s, ST_MAIL);
	respond(s, 250, "2.1.0 Ok");
}

static int
domain_is_ours(const struct session *s, const char *domain)
{
	size_t i;

	for (i = 0; i < s->cf->ndomains; i++)
		if (strcasecmp(domain, s->cf->domains[i]) == 0)
			return 1;
	return 0;
}

/*
 * Whether two recipients are one mailbox: domains compare without case
 * (RFC 5321 2.4), local parts too at our own domains and for postmaster
 * (4.5.1), which smtpsend delivers by the lower-cased name: else one
 * message to "postmaster", "Postmaster", ... became one copy each for
 * every alias target.  Elsewhere a local part is the
 * receiving host's to interpret, and case is kept (2.4).
 */
static int
rcpt_same(const struct session *s, const char *a, const char *b)
{
	const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');
	size_t n;

	if (at_a == NULL || at_b == NULL)
		return strcmp(a, b) == 0;
	n = (size_t)(at_a - a);
	if (n != (size_t)(at_b - b) || strcasecmp(at_a, at_b) != 0)
		return 0;
	if (domain_is_ours(s, at_a + 1) || (n == 10 &&
	    strncasecmp(a, "postmaster", n) == 0))
		return strncasecmp(a, b, n) == 0;
	return strncmp(a, b, n) == 0;
}

void
txn_rcpt(struct session *s, char *arg)
{
	struct txn *t = &s->txn;
	char addr[ADDR_MAX + 1], esc_from[LOG_ADDR_MAX], esc_to[LOG_ADDR_MAX];
	char box[ADDR_LOCAL_MAX + 1];
	const char *rest, *domain;
	char *path;
	size_t i;
	int n;

	if ((path = arg_after(arg, "TO:")) == NULL) {
		refuse(s, 501, 1, t->sender, NULL,
		    "5.5.4 Syntax: RCPT TO:<address>", NULL);
		return;
	}
	if (addr_parse_utf8(path, addr, sizeof(addr), &rest) == -1 ||
	    addr[0] == '\0') {
		refuse(s, 501, 1, t->sender, NULL,
		    "5.1.3 Bad recipient address syntax", NULL);
		return;
	}
	if (!t->is_smtputf8 && !addr_is_ascii(addr)) {
		refuse(s, 553, 1, t->sender, addr, "5.6.7 Error: a UTF-8 "
		    "address needs SMTPUTF8", NULL);
		return;
	}
	if ((domain = addr_domain(addr)) == NULL) {
		/* RFC 5321 4.5.1: <postmaster> needs no domain, and is
		 * always ours. */
		if (strcasecmp(addr, "postmaster") != 0) {
			refuse(s, 501, 1, t->sender, addr,
			    "5.1.3 Bad recipient address syntax", NULL);
			return;
		}
		n = snprintf(addr, sizeof(addr), "postmaster@%s",
		    s->cf->hostname);
		if (n < 0 || (size_t)n >= sizeof(addr)) {
			refuse(s, 501, 1, t->sender, NULL,
			    "5.1.3 Bad recipient address syntax", NULL);
			return;
		}
	} else if (domain_is_ours(s, domain) &&
	    addr_mailbox(addr, box, sizeof(box)) == -1) {
		/* smtpsend would refuse it for good: no bounce later */
		refuse(s, 550, 1, t->sender, addr, "5.1.3 Error: unsafe "
		    "mailbox name", NULL);
		return;
	} else if (domain_is_ours(s, domain) &&
	    rcptcheck(s, t->sender, addr) == -1) {
		return;		/* no such user (550 5.1.1): answered */
	} else if (!s->is_trusted && s->user[0] == '\0' &&
	    !domain_is_ours(s, domain)) {
		log_info("peer=%s from=<%s> to=<%s> result=rejected: 554 5.7.1"
		    " Relay access denied", s->peer.addr,
		    log_esc(t->sender, esc_from, sizeof(esc_from)),
		    log_esc(addr, esc_to, sizeof(esc_to)));
		respond(s, 554, "5.7.1 <%s>: Relay access denied", addr);
		return;
	}
	if (*rest != '\0') {
		refuse(s, 555, 1, t->sender, addr, "5.5.4 Unsupported option:",
		    rest);
		return;
	}
	for (i = 0; i < t->nrcpts; i++)
		if (rcpt_same(s, t->rcpts[i], addr))
			break;
	if (i == t->nrcpts) {
		/* RFC 5321 4.5.3.1.10: 452 for too many recipients. */
		if (t->nrcpts == RCPT_MAX) {
			refuse(s, 452, ++t->overshoot > RCPT_OVERSHOOT_MAX,
			    t->sender, addr, "4.5.3 Error: too many recipients",
			    NULL);
			return;
		}
		strcpy(t->rcpts[t->nrcpts++], addr);
	}
	state_enter(s, ST_RCPT);
	respond(s, 250, "2.1.5 Ok");
}

/*
 * The queue id as Received: and the 250 give it: RFC 5321 4.4's ID is an
 * Atom, and a file name holds dots (and, for an address literal as our
 * name, brackets), so each octet that is not atext is written '_'.  The
 * name's own fields hold none, and a host name none, so "tr _ ." gives
 * the file name back, which the log lines give as id=.
 */
static void
id_atom(const char *name, char *atom, size_t size)
{
	size_t i;

	for (i = 0; i + 1 < size && name[i] != '\0'; i++)
		atom[i] = (name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= 'A' && name[i] <= 'Z') ||
		    (name[i] >= '0' && name[i] <= '9') ||
		    strchr("!#$%&'*+-/=?^_`{|}~", name[i]) != NULL ?
		    name[i] : '_';
	atom[i] = '\0';
}

/* Writes the envelope and our Received: header (RFC 5321 4.4). */
static int
txn_head(struct session *s, const char *id)
{
	struct txn *t = &s->txn;
	char date[64], atom[QUEUE_NAME_MAX + 1];

	id_atom(id, atom, sizeof(atom));
	if (date_rfc5322(time(NULL), date, sizeof(date)) == -1)
		strcpy(date, "Thu, 1 Jan 1970 00:00:00 +0000");
	/* Where the message originated, for what smtpsend does only to our
	 * own mail (masquerading, DKIM signing); none for mail from outside. */
	submit_envelope(&t->qout, t->sender,
	    (const char (*)[ADDR_MAX + 1])t->rcpts, t->nrcpts,
	    (t->is_8bitmime ? SUBMIT_8BITMIME : 0) |
	    (t->is_smtputf8 ? SUBMIT_SMTPUTF8 : 0),
	    s->user[0] != '\0' ? "auth" : s->is_trusted ? "trusted" : NULL);
	/* RFC 5321 4.1.3: an IPv6 address literal is "[IPv6:...]". */
	out_printf(&t->qout, "Received: from %s (%s%s%s%s)\r\n", s->helo,
	    s->peer.is_known ? "[" : "",
	    s->peer.is_known && s->peer.host.family == AF_INET6 ? "IPv6:" : "",
	    s->peer.addr, s->peer.is_known ? "]" : "");
	/* RFC 3848: ESMTPS over TLS, ESMTPSA authenticated too; RFC 6531
	 * 4.3: UTF8SMTP for ESMTP with SMTPUTF8, UTF8SMTPS, UTF8SMTPA,
	 * UTF8SMTPSA likewise. */
	out_printf(&t->qout, "\tby %s (smtpd) with %s%s%s id %s",
	    s->cf->hostname,
	    t->is_smtputf8 ? "UTF8SMTP" : s->is_esmtp ? "ESMTP" : "SMTP",
	    s->cf->is_tls ? "S" : "", s->user[0] != '\0' ? "A" : "", atom);
	if (t->nrcpts == 1)
		out_printf(&t->qout, "\r\n\tfor <%s>", t->rcpts[0]);
	return out_printf(&t->qout, "; %s\r\n", date);
}

/* The client went away or we must stop in the middle of a message. */
static void __attribute__((noreturn))
txn_lost(struct session *s, struct queue_file *qf, int rc)
{
	queue_abort(&s->queue, qf);
	switch (line_status_of(rc)) {
	case LINE_TIMEOUT:
		reply(&s->out, 421, "4.4.2 %s Error: %s", s->cf->hostname,
		    timeout_words(s));
		log_info("peer=%s id=%s result=dropped: %s in DATA",
		    s->peer.addr, qf->name, timeout_log(s));
		break;
	case LINE_SIGNAL:
		reply(&s->out, 421, "4.3.2 %s Service shutting down",
		    s->cf->hostname);
		log_info("peer=%s id=%s result=dropped: shutting down in DATA",
		    s->peer.addr, qf->name);
		break;
	default:
		log_info("peer=%s id=%s result=dropped: connection lost in "
		    "DATA", s->peer.addr, qf->name);
		break;
	}
	session_exit(s, 0);
}

void
txn_data(struct session *s, char *arg)
{
	struct txn *t = &s->txn;
	char esc[LOG_ADDR_MAX];
	char atom[QUEUE_NAME_MAX + 1];
	struct queue_file qf;
	struct data d;
	int rc, err;

	if (*arg != '\0') {
		respond(s, 501, "5.5.4 Syntax: DATA");
		return;
	}
	if (submit_begin(&s->queue, &qf, &t->qout) == -1) {
		err = errno;
		log_error("peer=%s result=deferred: unable to create queue "
		    "file: %s", s->peer.addr, strerror(err));
		respond_local_failure(s, err);
		/* The transaction is over, as after the final dot: a
		 * pipelining client's next RCPT must not join it. */
		transaction_reset(s);
		return;
	}
	txn_head(s, qf.name);
	respond(s, 354, "End data with <CR><LF>.<CR><LF>");
	state_enter(s, ST_DATA);

	data_init(&d, &t->qout, s->cf->max_size, s->line_bare_lf);
	limits_command(&s->limits, &s->in);
	while (d.state != D_END) {
		if (line_pending(&s->in) == 0) {
			if ((rc = line_fill(&s->in)) <= 0)
				txn_lost(s, &qf, rc);
			limits_data_credit(&s->limits, &s->in, (size_t)rc);
		}
		s->in.start += data_scan(&d, s->in.buf + s->in.start,
		    line_pending(&s->in));
	}

	/* RFC 6152 3: 8-bit mail that came without BODY=8BITMIME (Exim and
	 * OpenSMTPD relay it so) is labelled by what it holds, so smtpsend
	 * never hands it raw to a relay without 8BITMIME. */
	if (!d.is_too_big && d.has_8bit && !t->is_8bitmime &&
	    (out_flush(&t->qout) == -1 ||
	    submit_mark_8bit(&s->queue, &qf, t->sender) == -1)) {
		err = t->qout.error != 0 ? t->qout.error : errno;
		queue_abort(&s->queue, &qf);
		log_error("peer=%s id=%s result=deferred: unable to write "
		    "queue file: %s", s->peer.addr, qf.name, strerror(err));
		respond_local_failure(s, err);
	} else if (d.is_too_big) {
		queue_abort(&s->queue, &qf);
		log_info("peer=%s id=%s from=<%s> size=%llu result=rejected: "
		    "552 5.3.4 Error: message file too big", s->peer.addr,
		    qf.name, log_esc(t->sender, esc, sizeof(esc)), d.size);
		respond(s, 552, "5.3.4 Error: message file too big");
	} else if (submit_commit(&s->queue, &qf, &t->qout) == -1) {
		err = errno;
		log_error("peer=%s id=%s result=deferred: unable to write "
		    "queue file: %s", s->peer.addr, qf.name, strerror(err));
		respond_local_failure(s, err);
	} else {
		s->messages++;
		s->junk = 0;
		id_atom(qf.name, atom, sizeof(atom));
		respond(s, 250, "2.0.0 Ok: queued as %s", atom);
		log_info("peer=%s id=%s from=<%s> rcpts=%zu size=%llu "
		    "result=queued", s->peer.addr, qf.name,
		    log_esc(t->sender, esc, sizeof(esc)), t->nrcpts, d.size);
	}
	s->last_verb = "END-OF-MESSAGE";
	transaction_reset(s);
}
