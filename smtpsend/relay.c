/*
 * relay.c: the SMTP client to the relay (-r).
 *
 * Connects, reads the greeting, says EHLO (HELO when refused) and notes
 * the extensions it uses, then runs one transaction per message over the
 * same session: MAIL, RCPT, DATA, the message, its final dot.  Each
 * relayed recipient's outcome goes into the message (rcpt_set()).  A
 * relay that cannot be reached or refuses the session (greeting, EHLO,
 * TLS, AUTH), or says 421, is down: its recipients stay pending (4xx) and
 * it is not tried again in this run.  A session lost in the middle of a
 * message (msmtpd closes after any failed message) costs that message
 * alone: it keeps what the relay said, the rest of it stays pending, and
 * the next message gets a new connection.  A relay that took messages
 * over this session and then refuses one whole for now (4xx to MAIL or
 * to every RCPT: OpenSMTPD's "452 4.5.3 Too many messages sent" after
 * its limit of messages per session), or says 421 in its transaction,
 * is ending the session: that message goes again over a new one, once.
 * Every reply read is bounded (reply_read()), every wait bounded by -t.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpsend.h"

#define RELAYS_MAX	8		/* -r given more often: usage error */

/* The relays (-r), tried in turn until one takes the session. */
static struct relay_conf {
	struct url	url;
	char		pass[AUTH_PASS_MAX + 1];	/* for url.user */
} relays[RELAYS_MAX];
static size_t nrelays, cur;		/* relays[cur] is in use */
#define relay_name	(relays[cur].url.name)

static const char *relay_helo = "localhost";	/* our EHLO name */
static unsigned relay_timeout = TIMEOUT_DEFAULT;
static const char *relay_cafile;		/* -C; NULL: the system's */
static unsigned long relay_max_messages = RELAY_MESSAGES_DEFAULT; /* -c */

/* The relay session, kept open from one message to the next. */
static struct {
	int		fd;		/* -1: not connected */
	int		is_down;	/* unreachable: do not retry this run */
	int		is_broken;	/* lost mid-session: no more replies */
	int		is_closing;	/* it said 421 (RFC 5321 3.8) */
	unsigned	nreplies;	/* read in this try of a message */
	int		has_pipelining, has_8bitmime, has_smtputf8;
	unsigned long	size_max;	/* RFC 1870 SIZE; 0: none offered */
	int		has_size;
	int		needs_rset;	/* a transaction did not end at "." */
	unsigned	nsent;		/* messages this session took */
	unsigned long	nmessages;	/* transactions begun on it (-c) */
	int		has_starttls, has_plain, has_login;
	int		is_tls;		/* through s_client */
	int		is_verified;	/* and the certificate checked */
	int		got_reply;	/* one since connecting */
	enum line_status status;	/* of the last reply read */
	struct tls	tls;
	char		why[REPLY_LINE_MAX + 1];	/* why it is down */
	char		last[REPLY_LINE_MAX + 1];	/* "CODE text" */
	char		text[REPLY_TEXT_MAX + 1];	/* all its lines */
	struct line	in;
	struct out	out;
} relay = { .fd = -1, .tls = { -1, -1 } };

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

/* Whether w is one of the words in list (an AUTH line's mechanisms). */
static int
has_word(const char *list, const char *w)
{
	size_t len = strlen(w), n;

	while (*list != '\0') {
		list += strspn(list, " ");
		n = strcspn(list, " ");
		if (n == len && strncasecmp(list, w, len) == 0)
			return 1;
		list += n;
	}
	return 0;
}

/* -r URL, once more: 0, or -1 with err saying why (malformed, a user
 * without verified TLS, one too many). */
int
relay_config(const char *arg, char *err, size_t errsize)
{
	if (nrelays == RELAYS_MAX) {
		snprintf(err, errsize, "more than %d relays", RELAYS_MAX);
		return -1;
	}
	if (url_parse(arg, &relays[nrelays].url, err, errsize) == -1)
		return -1;
	nrelays++;
	return 0;
}

/*
 * Our name for EHLO, the bound on every wait (-t), the CA bundle (-C) and
 * the secrets file (-a).  Exits 78 when a relay names a user whose
 * password cannot be had, or the file is one others can read.
 */
void
relay_setup(const char *helo, unsigned timeout, const char *cafile,
    const char *secrets)
{
	char err[512];
	size_t i;

	relay_helo = helo;
	relay_timeout = timeout;
	relay_cafile = cafile;
	for (i = 0; i < nrelays; i++) {
		if (relays[i].url.user[0] == '\0')
			continue;
		if (secrets == NULL)
			die(EXIT_CONFIG, "relay %s: user %s, but no -a file "
			    "with the password", relays[i].url.name,
			    relays[i].url.user);
		if (auth_secret(secrets, relays[i].url.host,
		    relays[i].url.user, relays[i].pass,
		    sizeof(relays[i].pass), err, sizeof(err)) == -1)
			die(EXIT_CONFIG, "relay %s: %s", relays[i].url.name,
			    err);
	}
}

/* -c: the messages one connection carries at most. */
void
relay_limit(unsigned long messages)
{
	relay_max_messages = messages;
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

/* The TLS of the last session, for metrics.c. */
const char *
relay_tls(void)
{
	return !relay.is_tls ? "none" : relay.is_verified ? "verified" :
	    "unverified";
}

/* The relay's host name, for a bounce's Remote-MTA. */
const char *
relay_hostname(void)
{
	return relays[cur].url.host;
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
	relay.status = st;
	relay.got_reply |= code != -1;
	if (code != -1) {
		printable(text, sizeof(text), relay.text);
		say(relay.last, sizeof(relay.last), "%d %s", code, text);
		if (code != 421) {
			relay.nreplies++;
			return code;
		}
		say(relay.why, sizeof(relay.why), "%s", relay.last);
		relay.is_closing = 1;
	} else if (st == LINE_TIMEOUT)
		say(relay.why, sizeof(relay.why), "451 4.4.2 relay %s: "
		    "timeout after %us", relay_name, relay_timeout);
	else if ((st == LINE_EOF || st == LINE_ERROR) && relay.tls.pid != -1) {
		tls_stop(&relay.tls, text, sizeof(text));
		say(relay.why, sizeof(relay.why), "451 4.4.2 relay %s: "
		    "connection closed: %s", relay_name, text);
	} else if (st == LINE_EOF)
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
	tls_stop(&relay.tls, NULL, 0);
}

/* The EHLO reply's lines after the first are extensions (RFC 5321
 * 4.1.1.1): note the ones we use. */
static void
relay_extensions(void)
{
	char *line, *next;

	relay.has_pipelining = relay.has_8bitmime = relay.has_size = 0;
	relay.has_smtputf8 = 0;
	relay.has_starttls = relay.has_plain = relay.has_login = 0;
	relay.size_max = 0;
	for (line = strchr(relay.text, '\n'); line != NULL; line = next) {
		line++;
		if ((next = strchr(line, '\n')) != NULL)
			*next = '\0';
		if (strcasecmp(line, "PIPELINING") == 0)
			relay.has_pipelining = 1;	/* RFC 2920 */
		else if (strcasecmp(line, "8BITMIME") == 0)
			relay.has_8bitmime = 1;		/* RFC 6152 */
		else if (strcasecmp(line, "SMTPUTF8") == 0)
			relay.has_smtputf8 = 1;		/* RFC 6531 */
		else if (strcasecmp(line, "STARTTLS") == 0)
			relay.has_starttls = 1;		/* RFC 3207 */
		else if (strncasecmp(line, "AUTH ", 5) == 0) {	/* RFC 4954 */
			relay.has_plain = has_word(line + 5, "PLAIN");
			relay.has_login = has_word(line + 5, "LOGIN");
		}
		else if (strncasecmp(line, "SIZE", 4) == 0 &&
		    (line[4] == '\0' || line[4] == ' ')) {
			relay.has_size = 1;		/* RFC 1870 */
			if (line[4] == ' ' && opt_number(line + 5,
			    (unsigned long)-1, &relay.size_max) == -1)
				relay.size_max = 0;
		}
	}
}

/* Says EHLO (HELO when refused) and notes the extensions.  The reply's
 * code, -1 when the relay is lost. */
static int
relay_ehlo(void)
{
	int code;

	out_printf(&relay.out, "EHLO %s\r\n", relay_helo);
	if ((code = relay_reply()) == -1)
		return -1;
	if (code / 100 != 2)		/* RFC 5321 4.1.4: still HELO */
		relay.text[0] = '\0';
	relay_extensions();
	if (code / 100 == 2)
		return code;
	out_printf(&relay.out, "HELO %s\r\n", relay_helo);
	return relay_reply();
}

/* Connects to u over TCP, or through s_client when is_tls (STARTTLS
 * when is_starttls, else TLS at once).  0, or -1 with relay.why set. */
static int
relay_connect(const struct url *u, int is_tls, int is_starttls)
{
	char err[REPLY_LINE_MAX + 1];
	int flags;

	/* Both ways fork (a resolver child, s_client): first the closing
	 * threads go, so the child is a copy of one thread only. */
	reap_wait();
	relay.is_broken = relay.needs_rset = relay.got_reply = 0;
	relay.is_closing = 0;
	relay.nsent = 0;
	relay.nmessages = 0;
	relay.is_tls = is_tls;
	relay.is_verified = is_tls && u->tls != URL_TLS_MAY;
	if (is_tls)
		relay.fd = tls_start(&relay.tls, u, is_starttls,
		    relay.is_verified, relay_cafile, relay_helo,
		    (int)relay_timeout, err, sizeof(err));
	else
		relay.fd = net_connect(u->host, u->port, (int)relay_timeout,
		    err, sizeof(err));
	if (relay.fd == -1) {
		printable(relay.text, sizeof(relay.text), err);
		say(relay.why, sizeof(relay.why), "451 4.4.1 relay %s: %s",
		    u->name, relay.text);
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
		    u->name, strerror(errno));
		close(relay.fd);
		relay.fd = -1;
		tls_stop(&relay.tls, NULL, 0);
		return -1;
	}
	return 0;
}

/*
 * AUTH (RFC 4954) as rc's user: PLAIN, else LOGIN; only over TLS whose
 * certificate was verified for the relay's name (url.c lets a user in
 * only with smtp+tls:// and smtps://; this is the second lock).  No
 * exception for a loopback relay: any local user may bind a loopback port
 * before the relay does.  0 on 235; -1 with relay.why saying what to fix.
 */
static int
relay_auth(const struct relay_conf *rc)
{
	char plain[2 * (ADDR_MAX + AUTH_PASS_MAX) + 3];
	char b64[sizeof(plain) / 3 * 4 + 8];
	const char *user = rc->url.user, *hint;
	size_t ulen = strlen(user), plen = strlen(rc->pass);
	int code = -1;

	if (!relay.is_tls || !relay.is_verified) {
		say(relay.why, sizeof(relay.why), "451 4.7.0 relay %s: will "
		    "not send the password of %s without verified TLS (use "
		    "smtp+tls:// or smtps://)", relay_name, user);
		return -1;
	}
	if (relay.has_plain) {
		plain[0] = '\0';
		memcpy(plain + 1, user, ulen);
		plain[ulen + 1] = '\0';
		memcpy(plain + ulen + 2, rc->pass, plen);
		if (base64_encode(plain, ulen + plen + 2, b64,
		    sizeof(b64)) != -1) {
			out_printf(&relay.out, "AUTH PLAIN %s\r\n", b64);
			code = relay_reply();
		}
	} else if (relay.has_login) {
		out_puts(&relay.out, "AUTH LOGIN\r\n");
		if ((code = relay_reply()) == 334 &&
		    base64_encode(user, ulen, b64, sizeof(b64)) != -1) {
			out_printf(&relay.out, "%s\r\n", b64);
			if ((code = relay_reply()) == 334 &&
			    base64_encode(rc->pass, plen, b64, sizeof(b64))
			    != -1) {
				out_printf(&relay.out, "%s\r\n", b64);
				code = relay_reply();
			}
		}
	} else {
		say(relay.why, sizeof(relay.why), "451 4.7.0 relay %s offers "
		    "no AUTH PLAIN or LOGIN%s", relay_name, relay.is_tls ?
		    "" : " without TLS");
		return -1;
	}
	memset(plain, 0, sizeof(plain));
	memset(b64, 0, sizeof(b64));
	out_flush(&relay.out);
	memset(relay.out.buf, 0, sizeof(relay.out.buf));
	if (code == 235)
		return 0;
	if (code == -1)
		return -1;
	hint = code == 535 ? "check the user and password in the -a file" :
	    code == 454 ? "the relay's authentication is out of order: "
	    "try again later" : code == 530 || code == 534 ?
	    "the relay wants a stronger mechanism or TLS" :
	    "check the user and password in the -a file";
	say(relay.why, sizeof(relay.why), "451 4.7.0 relay %s refused AUTH "
	    "as %s: %s; %s", relay_name, user, relay.last, hint);
	return -1;
}

/*
 * Opens a session with rc: connects (TLS as the URL says), reads the
 * greeting, says EHLO; for smtp:// starts again through STARTTLS when
 * the relay offers it, and again in plaintext when that fails; then
 * AUTH when the URL has a user.  0, or -1 with relay.why saying why.
 */
static int
relay_try(const struct relay_conf *rc)
{
	const struct url *u = &rc->url;
	int is_tls = u->tls == URL_TLS_STARTTLS || u->tls == URL_TLS_IMPLICIT;
	int is_starttls = u->tls == URL_TLS_STARTTLS, may_tls = 1, code;

again:
	if (relay_connect(u, is_tls, is_starttls) == -1) {
		log_info("relay=%s result=unreachable: %s", u->name,
		    relay.why);
		return -1;
	}
	/* RFC 5321 3.1: anything but 220 means no service here.  Through
	 * s_client -starttls the greeting, our first EHLO and STARTTLS stay
	 * with s_client: EHLO again, as RFC 3207 4.2 wants anyway. */
	if (!is_starttls && (code = relay_reply()) != 220)
		goto fail;
	if ((code = relay_ehlo()) / 100 != 2)
		goto fail;
	if (u->tls == URL_TLS_MAY && !is_tls && relay.has_starttls &&
	    may_tls) {
		relay_close();
		is_tls = is_starttls = 1;
		goto again;
	}
	if (u->user[0] != '\0' && relay_auth(rc) == -1) {
		code = -1;
		goto fail;
	}
	log_info("relay=%s result=connected%s%s%s%s", u->name,
	    relay.has_pipelining ? " pipelining" : "",
	    relay.has_size ? " size" : "", !relay.is_tls ? "" :
	    relay.is_verified ? " tls=verified" : " tls=unverified",
	    u->user[0] != '\0' ? " auth" : "");
	return 0;
fail:
	if (code != -1)
		say(relay.why, sizeof(relay.why), "451 4.4.1 relay %s "
		    "refused the session: %s", u->name, relay.last);
	else if (is_tls && !relay.got_reply &&
	    relay.status == LINE_TIMEOUT)
		say(relay.why, sizeof(relay.why), "451 4.7.0 relay %s: no TLS "
		    "session after %us: the handshake hangs", u->name,
		    relay_timeout);
	log_info("relay=%s result=unusable: %s", u->name, relay.why);
	relay_close();
	if (u->tls == URL_TLS_MAY && is_tls && may_tls && !sig_term) {
		/* Opportunistic: unverified TLS or none, never no mail. */
		log_info("relay=%s result=retrying without TLS", u->name);
		is_tls = is_starttls = may_tls = 0;
		goto again;
	}
	return -1;
}

/* Opens a session with the first relay that takes one.  0, or -1 with
 * the relays down for the rest of this run and relay.why saying why. */
static int
relay_open(void)
{
	for (cur = 0; cur < nrelays; cur++)
		if (relay_try(&relays[cur]) == 0)
			return 0;
	cur = nrelays - 1;
	relay.is_down = 1;
	return -1;
}

/* Where a transaction stands: MAIL's reply, and who the relay took. */
struct txn {
	int	mail;			/* MAIL's reply code */
	int	accepted[RCPT_MAX];	/* RCPT got 2xx: DATA decides */
	int	decided[RCPT_MAX];	/* RCPT or MAIL got 4xx or 5xx */
	size_t	n;			/* how many */
	size_t	nrelayed;		/* recipients for the relay */
	size_t	ntemp;			/* of them refused for now (4xx) */
};

/* The session ended before m's transaction did: each relayed recipient
 * the relay has not refused (4xx, 5xx) stays pending, and the session
 * is closed.  Whether the relay is down is the caller's to say. */
static void
relay_lost(struct msg *m, const struct txn *t)
{
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++)
		if (!m->is_local[i] && !t->decided[i])
			rcpt_set(m, i, 451, relay.why);
	relay.is_broken = 1;
	relay_close();
}

/* Reads the reply to MAIL; a refusal is every relayed recipient's. */
static int
txn_mail(struct msg *m, struct txn *t)
{
	size_t i;

	if ((t->mail = relay_reply()) == -1)
		return -1;
	if (t->mail == 530) {	/* RFC 4954 6: our configuration, not mail */
		say(relay.why, sizeof(relay.why), "451 4.7.0 relay %s wants "
		    "AUTH (%s): give -r a user@ and -a its password",
		    relay_name, relay.last);
		relay.is_broken = relay.is_down = 1;
		return -1;
	}
	for (i = 0; t->mail / 100 != 2 && i < m->env.nrcpt; i++)
		if (!m->is_local[i]) {
			rcpt_said(m, i, t->mail, relay.last);
			t->decided[i] = 1;
			t->ntemp += t->mail / 100 == 4;
		}
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
		rcpt_said(m, i, code, relay.last);
		t->accepted[i] = code / 100 == 2;
		t->decided[i] = !t->accepted[i];
		t->n += t->accepted[i];
		t->ntemp += code / 100 == 4;
	}
	return 0;
}

/* Whether s holds an octet over 127 (a UTF-8 address, RFC 6531). */
static int
is_8bit_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 127)
			return 1;
	return 0;
}

/*
 * Whether m needs SMTPUTF8 to reach its relayed recipients (RFC 6531
 * 3.4): a UTF-8 address in the envelope always does; UTF-8 in the header
 * section does when the client that sent it said SMTPUTF8 (the envelope's
 * "Smtputf8: yes"), as Postfix decides.  Mail that merely holds UTF-8
 * in its body needs 8BITMIME, not this.
 */
static int
relay_needs_utf8(const struct msg *m)
{
	size_t i;

	if (is_8bit_text(m->env.from))
		return 1;
	for (i = 0; i < m->env.nrcpt; i++)
		if (!m->is_local[i] && is_8bit_text(m->env.rcpt[i]))
			return 1;
	return envelope_ext(&m->env, "Smtputf8") != NULL &&
	    (m->scan & BODY_8BIT_HEADERS);
}

/*
 * One transaction for the relayed recipients of msg: MAIL, RCPT each,
 * DATA, the message and its final dot, over the open session or a new
 * one.  With PIPELINING (RFC 2920 3.1) MAIL, the RCPTs and DATA go in one
 * batch and their replies are read in order after it; without, each
 * command waits for its reply.  0 when the relay had its say, -1 when
 * the session was lost (or none could be had) with relay.why saying why.
 */
static int
relay_txn(struct msg *m, struct txn *t)
{
	char params[64] = "", masqbuf[ADDR_MAX + 1];
	const char *body = envelope_ext(&m->env, "Body");
	int code, is_batch, is_8bit;
	size_t i;

	if (relay.fd != -1 && relay.needs_rset) {
		out_puts(&relay.out, "RSET\r\n");
		if ((code = relay_reply()) == -1)
			return -1;
		if (code / 100 != 2)
			relay_close();		/* start afresh */
	}
	if (relay.fd == -1 && relay_open() == -1)
		return -1;
	/* RFC 1870 6.1: a message over the declared limit is not sent. */
	if (relay.size_max > 0 && (unsigned long long)m->size >
	    relay.size_max) {
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->is_local[i])
				rcpt_set(m, i, 552, "552 5.3.4 message larger "
				    "than the relay's SIZE limit");
		return 0;
	}
	/* What the message holds, read once per message and run. */
	if (m->scan == -1 && (m->scan = body_scan(m->fd, m->env.body)) == -1) {
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->is_local[i])
				rcpt_set(m, i, 451, "451 4.3.0 unable to read "
				    "queue file");
		return 0;
	}
	is_8bit = (m->scan & BODY_8BIT) || (body != NULL &&
	    strcasecmp(body, "8BITMIME") == 0);
	/* RFC 6152 3 wants 8-bit data converted to 7 bit or returned when
	 * the relay does not offer 8BITMIME.  Postfix converts MIME parts
	 * declared 8bit, sends the rest as it is and returns none; Exim and
	 * OpenSMTPD send it as it is.  We do not convert (a DKIM signature
	 * covers the bytes as queued): the message goes as it is, declared
	 * or not, and the log says so. */
	/* RFC 6531 3.2: without SMTPUTF8 offered, a message that needs it
	 * is returned (5.6.7, as Postfix does); one that does not goes
	 * without the parameter. */
	if (!relay.has_smtputf8 && relay_needs_utf8(m)) {
		say(relay.why, sizeof(relay.why), "554 5.6.7 SMTPUTF8 is "
		    "required, but was not offered by relay %s", relay_name);
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->is_local[i])
				rcpt_set(m, i, 554, relay.why);
		return 0;
	}
	if (!relay.has_8bitmime && (m->scan & BODY_8BIT))
		log_info("id=%s relay=%s body=8bit result=sent as it is: "
		    "the relay does not offer 8BITMIME", m->name, relay_name);
	t->mail = 250;		/* batched: RCPTs go out before its reply */
	for (i = 0; i < m->env.nrcpt; i++)
		t->nrelayed += !m->is_local[i];
	is_batch = relay.has_pipelining;
	relay.needs_rset = 1;

	if (relay.has_size)
		snprintf(params, sizeof(params), " SIZE=%lld",
		    (long long)m->size);
	/* Never a parameter the relay did not offer.  8-bit content is
	 * declared whatever smtpd recorded (RFC 6152 2). */
	if (relay.has_8bitmime && is_8bit)
		strcat(params, " BODY=8BITMIME");
	if (relay.has_smtputf8 && (envelope_ext(&m->env, "Smtputf8") !=
	    NULL || relay_needs_utf8(m)))
		strcat(params, " SMTPUTF8");
	relay.nmessages++;
	out_printf(&relay.out, "MAIL FROM:<%s>%s\r\n", masq_sender(&m->env,
	    masqbuf, sizeof(masqbuf)), params);
	if (!is_batch && txn_mail(m, t) == -1)
		return -1;
	for (i = 0; i < m->env.nrcpt && t->mail / 100 == 2; i++) {
		if (m->is_local[i])
			continue;
		out_printf(&relay.out, "RCPT TO:<%s>\r\n", m->env.rcpt[i]);
		if (!is_batch && txn_rcpt(m, t, i) == -1)
			return -1;
	}
	if (!is_batch && t->n == 0)
		return 0;		/* nobody to send it to */
	out_puts(&relay.out, "DATA\r\n");
	if (is_batch) {
		if (txn_mail(m, t) == -1)
			return -1;
		for (i = 0; i < m->env.nrcpt; i++)
			if (!m->is_local[i] && txn_rcpt(m, t, i) == -1)
				return -1;
	}
	if ((code = relay_reply()) == -1)
		return -1;

	if (code == 354) {
		/* RFC 2920 3.1: DATA accepted without recipients: a lone
		 * dot ends the empty message. */
		if (t->n == 0)
			out_puts(&relay.out, ".\r\n");
		else if (body_copy(m->fd, m->env.body, &relay.out,
		    BODY_DOTS) == -1) {
			/* Never the final dot after a partial message. */
			say(relay.why, sizeof(relay.why), "451 4.4.2 "
			    "relay %s: %s in DATA: %s", relay_name,
			    relay.out.error != 0 ? "connection lost" :
			    "unable to read queue file", strerror(errno));
			return -1;
		}
		if ((code = relay_reply()) == -1)
			return -1;
		relay.needs_rset = 0;
		relay.nsent += code / 100 == 2 && t->n > 0;
	}
	/* The reply to DATA or to the final dot. */
	for (i = 0; i < m->env.nrcpt; i++)
		if (!m->is_local[i] && t->accepted[i])
			rcpt_said(m, i, code, relay.last);
	return 0;
}

/*
 * Whether the relay refused all of m for now (4xx to MAIL, or to every
 * RCPT) over a session that took messages before it: a relay that ends
 * a session this way (OpenSMTPD after its "max-mails", 100 by default,
 * answers every RCPT "452 4.5.3 Too many messages sent") takes the
 * message over a new one.  A session that took nothing is no sign: a
 * relay that refuses every message so is not connected to again.
 */
static int
relay_is_ending(const struct txn *t)
{
	return t->nrelayed > 0 && t->ntemp == t->nrelayed && relay.nsent > 0;
}

/*
 * Delivers m to its relayed recipients.  A session kept from the message
 * before that is lost before it replied to this one had gone stale (the
 * relay closed it after that message, or timed it out): m is tried once
 * more over a new one.  So is a session the relay ends after it took
 * messages: a 421 (RFC 5321 3.8), or all of m refused for now
 * (relay_is_ending()).  A message gets one new connection at most, and
 * only after a session that took mail, so a relay that refuses a fresh
 * session the same way costs no more connections.  A session lost later
 * costs m alone; the relay is down for the run only when no session can
 * be had, or it said 421 or wants AUTH where no new connection mends it.
 */
void
relay_send(struct msg *m)
{
	static struct txn t;
	int is_reused, is_retry = 0;
	size_t i;

	for (;;) {
		memset(&t, 0, sizeof(t));
		if (relay.is_down) {
			relay_lost(m, &t);
			return;
		}
		/* -c: the session carried its share; the next one is new,
		 * so that a relay holding what comes after its first few
		 * messages of a connection (Exim) delivers each at once. */
		if (relay.fd != -1 && relay.nmessages >= relay_max_messages) {
			log_info("relay=%s messages=%lu result=closing: the "
			    "most one connection carries (-c)", relay_name,
			    relay.nmessages);
			relay_close();
		}
		is_reused = relay.fd != -1;
		relay.nreplies = 0;
		if (relay_txn(m, &t) == 0) {
			if (!relay_is_ending(&t) || is_retry || sig_term)
				return;
			for (i = 0; m->is_local[i]; i++)
				;	/* the first relayed one's reply */
			log_info("id=%s relay=%s result=reconnecting: refused "
			    "for now after %u messages on this session: %s",
			    m->name, relay_name, relay.nsent, m->reply[i]);
			relay_close();
			is_retry = 1;
			continue;
		}
		if (relay.is_down)
			break;
		if (is_reused && !is_retry && !sig_term &&
		    (relay.nreplies == 0 || (relay.is_closing &&
		    relay.nsent > 0))) {
			log_info("id=%s relay=%s result=reconnecting: %s: %s",
			    m->name, relay_name, relay.nreplies == 0 ?
			    "the session went stale" : "the relay ended the "
			    "session", relay.why);
			relay.is_broken = 1;
			relay_close();
			is_retry = 1;
			continue;
		}
		relay.is_down = relay.is_closing || sig_term;
		log_info("id=%s relay=%s result=lost: %s%s", m->name,
		    relay_name, relay.why, relay.is_down ? "" :
		    "; the next message gets a new connection");
		break;
	}
	relay_lost(m, &t);
}

/* -k: opens a session with each relay in turn and says what it offers,
 * sending no mail: MAIL FROM with sender, the one a local user's mail
 * would carry, then RSET, as a provider that takes only its own domain
 * refuses at MAIL (issue 29: a probe that never tried a sender said "ok"
 * for a relay that refused every message).  0 when one of them would
 * take mail, else 75. */
int
relay_probe(const char *sender)
{
	size_t ok = 0;
	int code;

	for (cur = 0; cur < nrelays; cur++) {
		relay.is_down = 0;
		if (relay_try(&relays[cur]) == -1) {
			printf("%s: unusable: %s\n", relay_name, relay.why);
			continue;
		}
		out_printf(&relay.out, "MAIL FROM:<%s>\r\n", sender);
		if ((code = relay_reply()) / 100 != 2) {
			printf("%s: refused: MAIL FROM:<%s>: %s\n", relay_name,
			    sender, code == -1 ? relay.why : relay.last);
			log_info("relay=%s from=<%s> result=probe refused: %s",
			    relay_name, sender, code == -1 ? relay.why :
			    relay.last);
			relay_close();
			continue;
		}
		out_puts(&relay.out, "RSET\r\n");
		if (relay_reply() / 100 != 2) {
			printf("%s: unusable: RSET: %s\n", relay_name,
			    relay.is_broken ? relay.why : relay.last);
			relay_close();
			continue;
		}
		printf("%s: ok: tls=%s auth=%s%s%s%s%s from=<%s>\n",
		    relay_name, !relay.is_tls ? "none" : relay.is_verified ?
		    "verified" : "unverified", relays[cur].url.user[0] ==
		    '\0' ? "none" : "ok", relay.has_pipelining ?
		    " pipelining" : "", relay.has_8bitmime ? " 8bitmime" : "",
		    relay.has_size ? " size" : "", relay.has_starttls &&
		    !relay.is_tls ? " starttls" : "", sender);
		relay_close();
		ok++;
	}
	cur = 0;
	return ok > 0 ? 0 : EXIT_TEMPFAIL;
}
