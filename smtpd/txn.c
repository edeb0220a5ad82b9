/*
 * txn.c: the mail transaction of an smtpd session (RFC 5321 3.3): MAIL
 * with its parameters, RCPT with the relay decision, DATA streaming into
 * a queue file behind our envelope and Received: header.
 *
 * It holds the envelope (sender, recipients, BODY, SIZE) and nothing
 * else; the session, the configuration and every reply come from
 * smtpd.c through smtpd.h.  A message is acknowledged only after
 * submit_commit() has made it durable; a lost client aborts the file.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "smtpd.h"

static char sender[ADDR_MAX + 1];
static int is_8bitmime;
static int is_smtputf8;			/* MAIL's SMTPUTF8 (RFC 6531 3.4) */
static unsigned long mail_size;		/* MAIL's SIZE=, 0 without */
static char rcpts[RCPT_MAX][ADDR_MAX + 1];
static size_t nrcpts;
static unsigned overshoot;		/* RCPTs past RCPT_MAX */
static struct out qout;			/* the queue file being written */

/* Forgets the envelope; the caller sets the state. */
void
txn_clear(void)
{
	sender[0] = '\0';
	is_8bitmime = 0;
	is_smtputf8 = 0;
	nrcpts = 0;
	overshoot = 0;
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
mail_params(char *params)
{
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
			if (opt_number(value, (unsigned long)-1, &size) == -1) {
				refuse(501, 1, sender, NULL,
				    "5.5.4 Bad SIZE syntax", NULL);
				return -1;
			}
			if (size > max_size) {
				refuse(552, 1, sender, NULL, "5.3.4 Message "
				    "size exceeds fixed limit", NULL);
				return -1;
			}
			mail_size = size;
		} else if (strcasecmp(p, "BODY") == 0 && value != NULL &&
		    strcasecmp(value, "7BIT") == 0) {
			is_8bitmime = 0;
		} else if (strcasecmp(p, "BODY") == 0 && value != NULL &&
		    strcasecmp(value, "8BITMIME") == 0) {
			is_8bitmime = 1;
		} else if (strcasecmp(p, "SMTPUTF8") == 0 && value == NULL &&
		    is_esmtp) {
			is_smtputf8 = 1;
		} else {
			refuse(555, 1, sender, NULL,
			    "5.5.4 Unsupported option:", p);
			return -1;
		}
	}
	return 0;
}

void
smtp_mail(const char *verb, char *arg)
{
	const char *rest;
	char *path;

	(void)verb;
	if (messages >= MESSAGES_MAX && !is_trusted && user[0] == '\0') {
		reply(&out, 421, "4.7.0 %s Error: too many messages in one "
		    "session", hostname);
		log_info("peer=%s messages=%u result=disconnect: too many "
		    "messages in one session", peer.addr, messages);
		session_exit(0);
	}
	/* RFC 6409 4.3: submission needs AUTH, but from a local pipe. */
	if (is_submission && user[0] == '\0' &&
	    (is_tls || strcmp(peer.addr, "stdin") != 0)) {
		refuse(530, 0, NULL, NULL, "5.7.0 Authentication required",
		    NULL);
		return;
	}
	if ((path = arg_after(arg, "FROM:")) == NULL) {
		refuse(501, 1, NULL, NULL, "5.5.4 Syntax: MAIL FROM:<address>",
		    NULL);
		return;
	}
	if (addr_parse_utf8(path, sender, sizeof(sender), &rest) == -1 ||
	    (sender[0] != '\0' && addr_domain(sender) == NULL)) {
		sender[0] = '\0';
		refuse(501, 1, NULL, NULL, "5.1.7 Bad sender address syntax",
		    NULL);
		return;
	}
	is_8bitmime = 0;
	is_smtputf8 = 0;
	mail_size = 0;
	if (mail_params((char *)rest) == -1) {
		sender[0] = '\0';
		return;
	}
	/* RFC 6531 3.4: UTF-8 paths only in a transaction MAIL declared
	 * SMTPUTF8; else 553 with its X.6.7. */
	if (!is_smtputf8 && !addr_is_ascii(sender)) {
		refuse(553, 1, sender, NULL, "5.6.7 Error: a UTF-8 address "
		    "needs SMTPUTF8", NULL);
		sender[0] = '\0';
		return;
	}
	if (!limits_disk_ok(queue.dir, (unsigned long long)min_free +
	    mail_size)) {
		refuse(452, 0, sender, NULL, "4.3.1 Insufficient system "
		    "storage", NULL);
		sender[0] = '\0';
		return;
	}
	state_enter(ST_MAIL);
	respond(250, "2.1.0 Ok");
}

static int
domain_is_ours(const char *domain)
{
	size_t i;

	for (i = 0; i < ndomains; i++)
		if (strcasecmp(domain, domains[i]) == 0)
			return 1;
	return 0;
}

/*
 * Whether two recipients are one mailbox: domains compare without case
 * (RFC 5321 2.4), local parts too at our own domains and for postmaster
 * (4.5.1), which smtpsend delivers by the lower-cased name: else one
 * message to "postmaster", "Postmaster", ... became one copy each for
 * every alias target (issue 22 item 9).  Elsewhere a local part is the
 * receiving host's to interpret, and case is kept (2.4).
 */
static int
rcpt_same(const char *a, const char *b)
{
	const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');
	size_t n;

	if (at_a == NULL || at_b == NULL)
		return strcmp(a, b) == 0;
	n = (size_t)(at_a - a);
	if (n != (size_t)(at_b - b) || strcasecmp(at_a, at_b) != 0)
		return 0;
	if (domain_is_ours(at_a + 1) || (n == 10 &&
	    strncasecmp(a, "postmaster", n) == 0))
		return strncasecmp(a, b, n) == 0;
	return strncmp(a, b, n) == 0;
}

void
smtp_rcpt(const char *verb, char *arg)
{
	char addr[ADDR_MAX + 1], esc_from[LOG_ADDR_MAX], esc_to[LOG_ADDR_MAX];
	char box[ADDR_LOCAL_MAX + 1];
	const char *rest, *domain;
	char *path;
	size_t i;
	int n;

	(void)verb;
	if ((path = arg_after(arg, "TO:")) == NULL) {
		refuse(501, 1, sender, NULL, "5.5.4 Syntax: RCPT TO:<address>",
		    NULL);
		return;
	}
	if (addr_parse_utf8(path, addr, sizeof(addr), &rest) == -1 ||
	    addr[0] == '\0') {
		refuse(501, 1, sender, NULL,
		    "5.1.3 Bad recipient address syntax", NULL);
		return;
	}
	if (!is_smtputf8 && !addr_is_ascii(addr)) {
		refuse(553, 1, sender, addr, "5.6.7 Error: a UTF-8 address "
		    "needs SMTPUTF8", NULL);
		return;
	}
	if ((domain = addr_domain(addr)) == NULL) {
		/* RFC 5321 4.5.1: <postmaster> needs no domain, and is
		 * always ours. */
		if (strcasecmp(addr, "postmaster") != 0) {
			refuse(501, 1, sender, addr,
			    "5.1.3 Bad recipient address syntax", NULL);
			return;
		}
		n = snprintf(addr, sizeof(addr), "postmaster@%s", hostname);
		if (n < 0 || (size_t)n >= sizeof(addr)) {
			refuse(501, 1, sender, NULL,
			    "5.1.3 Bad recipient address syntax", NULL);
			return;
		}
	} else if (domain_is_ours(domain) &&
	    addr_mailbox(addr, box, sizeof(box)) == -1) {
		/* smtpsend would refuse it for good: no bounce later */
		refuse(550, 1, sender, addr, "5.1.3 Error: unsafe mailbox "
		    "name", NULL);
		return;
	} else if (domain_is_ours(domain) && rcptcheck(sender, addr) == -1) {
		return;		/* no such user (550 5.1.1): answered */
	} else if (!is_trusted && user[0] == '\0' && !domain_is_ours(domain)) {
		log_info("peer=%s from=<%s> to=<%s> result=rejected: 554 5.7.1"
		    " Relay access denied", peer.addr,
		    log_esc(sender, esc_from, sizeof(esc_from)),
		    log_esc(addr, esc_to, sizeof(esc_to)));
		respond(554, "5.7.1 <%s>: Relay access denied", addr);
		return;
	}
	if (*rest != '\0') {
		refuse(555, 1, sender, addr, "5.5.4 Unsupported option:", rest);
		return;
	}
	for (i = 0; i < nrcpts; i++)
		if (rcpt_same(rcpts[i], addr))
			break;
	if (i == nrcpts) {
		/* RFC 5321 4.5.3.1.10: 452 for too many recipients. */
		if (nrcpts == RCPT_MAX) {
			refuse(452, ++overshoot > RCPT_OVERSHOOT_MAX, sender,
			    addr, "4.5.3 Error: too many recipients", NULL);
			return;
		}
		strcpy(rcpts[nrcpts++], addr);
	}
	state_enter(ST_RCPT);
	respond(250, "2.1.5 Ok");
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
data_begin(const char *id)
{
	char date[64], atom[QUEUE_NAME_MAX + 1];

	id_atom(id, atom, sizeof(atom));
	if (date_rfc5322(time(NULL), date, sizeof(date)) == -1)
		strcpy(date, "Thu, 1 Jan 1970 00:00:00 +0000");
	/* Where the message originated, for what smtpsend does only to our
	 * own mail (masquerading, DKIM signing); none for mail from outside. */
	submit_envelope(&qout, sender, (const char (*)[ADDR_MAX + 1])rcpts,
	    nrcpts, (is_8bitmime ? SUBMIT_8BITMIME : 0) |
	    (is_smtputf8 ? SUBMIT_SMTPUTF8 : 0), user[0] != '\0' ? "auth" :
	    is_trusted ? "trusted" : NULL);
	/* RFC 5321 4.1.3: an IPv6 address literal is "[IPv6:...]". */
	out_printf(&qout, "Received: from %s (%s%s%s%s)\r\n", helo,
	    peer.is_known ? "[" : "",
	    peer.is_known && peer.host.family == AF_INET6 ? "IPv6:" : "",
	    peer.addr, peer.is_known ? "]" : "");
	/* RFC 3848: ESMTPS over TLS, ESMTPSA authenticated too; RFC 6531
	 * 4.3: UTF8SMTP for ESMTP with SMTPUTF8, UTF8SMTPS, UTF8SMTPA,
	 * UTF8SMTPSA likewise. */
	out_printf(&qout, "\tby %s (smtpd) with %s%s%s id %s", hostname,
	    is_smtputf8 ? "UTF8SMTP" : is_esmtp ? "ESMTP" : "SMTP",
	    is_tls ? "S" : "",
	    user[0] != '\0' ? "A" : "", atom);
	if (nrcpts == 1)
		out_printf(&qout, "\r\n\tfor <%s>", rcpts[0]);
	return out_printf(&qout, "; %s\r\n", date);
}

/* The client went away or we must stop in the middle of a message. */
static void __attribute__((noreturn))
data_lost(struct queue_file *qf, int rc)
{
	queue_abort(&queue, qf);
	switch (line_status_of(rc)) {
	case LINE_TIMEOUT:
		reply(&out, 421, "4.4.2 %s Error: %s", hostname,
		    timeout_words());
		log_info("peer=%s id=%s result=dropped: %s in DATA",
		    peer.addr, qf->name, timeout_log());
		break;
	case LINE_SIGNAL:
		reply(&out, 421, "4.3.2 %s Service shutting down", hostname);
		log_info("peer=%s id=%s result=dropped: shutting down in DATA",
		    peer.addr, qf->name);
		break;
	default:
		log_info("peer=%s id=%s result=dropped: connection lost in "
		    "DATA", peer.addr, qf->name);
		break;
	}
	session_exit(0);
}

void
smtp_data(const char *verb, char *arg)
{
	char esc[LOG_ADDR_MAX];
	char atom[QUEUE_NAME_MAX + 1];
	struct queue_file qf;
	struct data d;
	int rc, err;

	(void)verb;
	if (*arg != '\0') {
		respond(501, "5.5.4 Syntax: DATA");
		return;
	}
	if (queue_create(&queue, &qf) == -1) {
		err = errno;
		log_error("peer=%s result=deferred: unable to create queue "
		    "file: %s", peer.addr, strerror(err));
		respond_local_failure(err);
		/* The transaction is over, as after the final dot: a
		 * pipelining client's next RCPT must not join it. */
		transaction_reset();
		return;
	}
	out_init(&qout, qf.fd);
	data_begin(qf.name);
	respond(354, "End data with <CR><LF>.<CR><LF>");
	state_enter(ST_DATA);

	data_init(&d, &qout, max_size, line_bare_lf);
	limits_command(&limits, &in);
	while (d.state != D_END) {
		if (line_pending(&in) == 0) {
			if ((rc = line_fill(&in)) <= 0)
				data_lost(&qf, rc);
			limits_data_credit(&limits, &in, (size_t)rc);
		}
		in.start += data_scan(&d, in.buf + in.start,
		    line_pending(&in));
	}

	/* RFC 6152 3: 8-bit mail that came without BODY=8BITMIME (Exim and
	 * OpenSMTPD relay it so) is labelled by what it holds, so smtpsend
	 * never hands it raw to a relay without 8BITMIME. */
	if (!d.is_too_big && d.has_8bit && !is_8bitmime &&
	    (out_flush(&qout) == -1 ||
	    submit_mark_8bit(&queue, &qf, sender) == -1)) {
		err = qout.error != 0 ? qout.error : errno;
		queue_abort(&queue, &qf);
		log_error("peer=%s id=%s result=deferred: unable to write "
		    "queue file: %s", peer.addr, qf.name, strerror(err));
		respond_local_failure(err);
	} else if (d.is_too_big) {
		queue_abort(&queue, &qf);
		log_info("peer=%s id=%s from=<%s> size=%llu result=rejected: "
		    "552 5.3.4 Error: message file too big", peer.addr, qf.name,
		    log_esc(sender, esc, sizeof(esc)), d.size);
		respond(552, "5.3.4 Error: message file too big");
	} else if (submit_commit(&queue, &qf, &qout) == -1) {
		err = errno;
		log_error("peer=%s id=%s result=deferred: unable to write "
		    "queue file: %s", peer.addr, qf.name, strerror(err));
		respond_local_failure(err);
	} else {
		messages++;
		junk = 0;
		id_atom(qf.name, atom, sizeof(atom));
		respond(250, "2.0.0 Ok: queued as %s", atom);
		log_info("peer=%s id=%s from=<%s> rcpts=%zu size=%llu "
		    "result=queued", peer.addr, qf.name,
		    log_esc(sender, esc, sizeof(esc)), nrcpts, d.size);
	}
	last_verb = "END-OF-MESSAGE";
	transaction_reset();
}
