/*
 * relay.c: the SMTP client to the relay (-r).
 *
 * Connects, reads the greeting, says EHLO (HELO when refused) and notes
 * the extensions it uses, then runs one transaction per message over the
 * same session: MAIL, RCPT, DATA, the message, its final dot.  Each
 * relayed recipient's outcome goes into the message (rcpt_set()); a
 * relay that cannot be reached, refuses the session or is lost leaves
 * them all pending (4xx) and is not tried again in this run.  Every reply
 * read is bounded (reply_read()), every wait bounded by -t.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpsend.h"

static char relay_host[HOST_MAX + 1], relay_port[8];
static char relay_name[HOST_MAX + 10];	/* "host:port", for logs */
static const char *relay_helo = "localhost";	/* our EHLO name */
static unsigned relay_timeout = TIMEOUT_DEFAULT;

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

/* -r host[:port]: 0, or -1 when malformed.  A later -r replaces it. */
int
relay_config(const char *arg)
{
	if (net_split_hostport(arg, relay_host, sizeof(relay_host),
	    relay_port, sizeof(relay_port), "25") == -1)
		return -1;
	snprintf(relay_name, sizeof(relay_name), "%s:%s", relay_host,
	    relay_port);
	return 0;
}

/* Our name for EHLO, and the bound on every wait (-t). */
void
relay_setup(const char *helo, unsigned timeout)
{
	relay_helo = helo;
	relay_timeout = timeout;
}

/* A new run: a relay that was down may be back. */
void
relay_begin(void)
{
	relay.is_down = 0;
}

/* "host:port", for logs. */
const char *
relay_via(void)
{
	return relay_name;
}

/* The relay's host name, for a bounce's Remote-MTA. */
const char *
relay_hostname(void)
{
	return relay_host;
}

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
		    "timeout after %us", relay_name, relay_timeout);
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
void
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
	int code, flags;

	relay.is_broken = relay.needs_rset = 0;
	relay.fd = net_connect(relay_host, relay_port, (int)relay_timeout, err,
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
	line_init(&relay.in, relay.fd, (int)relay_timeout);
	relay.in.flush = &relay.out;
	relay.in.stop_on_signal = 1;
	out_init(&relay.out, relay.fd);
	/* Non-blocking, so that a relay that stops reading holds a write
	 * no longer than -t, nor past a SIGTERM (out.c). */
	relay.out.timeout = (int)relay_timeout;
	relay.out.stop_on_signal = 1;
	if ((flags = fcntl(relay.fd, F_GETFL)) == -1 ||
	    fcntl(relay.fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		say(relay.why, sizeof(relay.why), "451 4.3.0 relay %s: %s",
		    relay_name, strerror(errno));
		code = -1;
		goto fail;
	}

	/* RFC 5321 3.1: anything but 220 means no service here. */
	if ((code = relay_reply()) != 220)
		goto fail;
	out_printf(&relay.out, "EHLO %s\r\n", relay_helo);
	if ((code = relay_reply()) / 100 == 2)
		relay_extensions();
	else if (code != -1) {
		/* RFC 5321 4.1.4: a server without EHLO still has HELO. */
		relay.has_pipelining = relay.has_8bitmime = 0;
		relay.has_size = 0;
		out_printf(&relay.out, "HELO %s\r\n", relay_helo);
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

/* The relay was lost: every relayed recipient stays pending, the
 * message intact; no more connections this run. */
static void
relay_lost(struct msg *m)
{
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++)
		if (!m->is_local[i])
			rcpt_set(m, i, 451, relay.why);
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
txn_mail(struct msg *m, struct txn *t)
{
	size_t i;

	if ((t->mail = relay_reply()) == -1)
		return -1;
	for (i = 0; t->mail / 100 != 2 && i < m->env.nrcpt; i++)
		if (!m->is_local[i])
			rcpt_set(m, i, t->mail, relay.last);
	return 0;
}

/* Reads the reply to RCPT i; it decides the recipient unless it is 2xx
 * (then DATA and the final dot do), or MAIL was refused. */
static int
txn_rcpt(struct msg *m, struct txn *t, size_t i)
{
	int code;

	if ((code = relay_reply()) == -1)
		return -1;
	if (t->mail / 100 == 2) {
		rcpt_set(m, i, code, relay.last);
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
void
relay_send(struct msg *m)
{
	static struct txn t;
	char params[64] = "", masqbuf[ADDR_MAX + 1];
	const char *body = envelope_ext(&m->env, "Body");
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
	if (relay.size_max > 0 && (unsigned long long)m->size >
	    relay.size_max) {
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->is_local[i])
				rcpt_set(m, i, 552, "552 5.3.4 message larger "
				    "than the relay's SIZE limit");
		return;
	}
	/* RFC 6152 3: 8-bit data goes only to a relay that offers 8BITMIME.
	 * We do not convert to 7 bit: a message declared 8BITMIME that really
	 * holds 8-bit bytes is returned (RFC 3463 5.6.3); one that only
	 * declared it is 7-bit and goes as it is. */
	if (!relay.has_8bitmime && body != NULL &&
	    strcasecmp(body, "8BITMIME") == 0 &&
	    (code = body_has_8bit(m->fd, m->env.body)) != 0) {
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->is_local[i])
				rcpt_set(m, i, code == 1 ? 554 : 451, code == 1 ?
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
		    (long long)m->size);
	/* Never a parameter the relay did not offer. */
	if (relay.has_8bitmime && body != NULL &&
	    strcasecmp(body, "8BITMIME") == 0)
		strcat(params, " BODY=8BITMIME");
	out_printf(&relay.out, "MAIL FROM:<%s>%s\r\n", masq_sender(m->env.from,
	    masqbuf, sizeof(masqbuf)), params);
	if (!is_batch && txn_mail(m, &t) == -1)
		goto lost;
	for (i = 0; i < m->env.nrcpt && t.mail / 100 == 2; i++) {
		if (m->is_local[i])
			continue;
		out_printf(&relay.out, "RCPT TO:<%s>\r\n", m->env.rcpt[i]);
		if (!is_batch && txn_rcpt(m, &t, i) == -1)
			goto lost;
	}
	if (!is_batch && t.n == 0)
		return;			/* nobody to send it to */
	out_puts(&relay.out, "DATA\r\n");
	if (is_batch) {
		if (txn_mail(m, &t) == -1)
			goto lost;
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->is_local[i] && txn_rcpt(m, &t, i) == -1)
				goto lost;
	}
	if ((code = relay_reply()) == -1)
		goto lost;

	if (code == 354) {
		/* RFC 2920 3.1: DATA accepted without recipients: a lone
		 * dot ends the empty message. */
		if (t.n == 0)
			out_puts(&relay.out, ".\r\n");
		else if (body_copy(m->fd, m->env.body, &relay.out,
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
	for (i = 0; i < m->env.nrcpt; i++)
		if (!m->is_local[i] && t.accepted[i])
			rcpt_set(m, i, code, relay.last);
	return;
lost:
	relay_lost(m);
}
