/*
 * smtp.c: one SMTP client connection (struct smtp; several may be open at
 * once, each to its own server, for its own destination).
 *
 * smtp_open() connects, reads the greeting, says EHLO (HELO when refused)
 * and notes the extensions it uses, starts TLS as the URL and the
 * destination's policy say, and authenticates; smtp_txn() runs one
 * transaction over it: MAIL, RCPT for the message's recipients bound for
 * this connection's destination, DATA, the message, its final dot, and
 * sets their outcomes (rcpt_said()).  What to do when a session is lost,
 * refused or ending is remote.c's to decide: here s->why says why.
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

static const char *smtp_helo = "localhost";	/* our EHLO name */
static unsigned smtp_timeout = TIMEOUT_DEFAULT;
static const char *smtp_cafile;		/* -C; NULL: the system's */

/* Our name for EHLO, the bound on every wait (-t), the CA bundle (-C). */
void
smtp_setup(const char *helo, unsigned timeout, const char *cafile)
{
	smtp_helo = helo;
	smtp_timeout = timeout;
	smtp_cafile = cafile;
}

/* A connection not yet open. */
void
smtp_init(struct smtp *s)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->tls.pid = -1;
	s->tls.err = -1;
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

/*
 * Reads the relay's next reply (RFC 5321 4.2.1: one or more lines) into
 * s->last and s->text and returns its code.  Returns -1 when the
 * relay is lost: timeout, end of connection, garbage, or a 421, after
 * which the server closes (RFC 5321 3.8); s->why then says which.
 */
static int
smtp_reply(struct smtp *s)
{
	enum line_status st;
	char text[REPLY_LINE_MAX + 1];
	int code;

	if (s->is_broken)
		return -1;
	code = reply_read(&s->in, s->text, sizeof(s->text), &st);
	s->status = st;
	s->got_reply |= code != -1;
	if (code != -1) {
		printable(text, sizeof(text), s->text);
		say(s->last, sizeof(s->last), "%d %s", code, text);
		if (code != 421) {
			s->nreplies++;
			return code;
		}
		say(s->why, sizeof(s->why), "%s", s->last);
		s->is_closing = 1;
	} else if (st == LINE_TIMEOUT)
		say(s->why, sizeof(s->why), "451 4.4.2 relay %s: "
		    "timeout after %us", s->name, smtp_timeout);
	else if ((st == LINE_EOF || st == LINE_ERROR) && s->tls.pid != -1) {
		tls_stop(&s->tls, text, sizeof(text));
		say(s->why, sizeof(s->why), "451 4.4.2 relay %s: "
		    "connection closed: %s", s->name, text);
	} else if (st == LINE_EOF)
		say(s->why, sizeof(s->why), "451 4.4.2 relay %s: "
		    "connection closed", s->name);
	else if (st == LINE_SIGNAL)
		say(s->why, sizeof(s->why), "451 4.3.2 relay %s: "
		    "interrupted, shutting down", s->name);
	else if (st == LINE_OK)
		say(s->why, sizeof(s->why), "451 4.5.0 relay %s: "
		    "malformed reply", s->name);
	else
		say(s->why, sizeof(s->why), "451 4.4.2 relay %s: "
		    "%s", s->name, strerror(errno));
	s->is_broken = 1;
	return -1;
}

/* Ends the session: QUIT on every connection (RFC 5321 4.1.1.10), its
 * reply awaited unless the session is already broken. */
void
smtp_close(struct smtp *s)
{
	enum line_status st;

	if (s->fd == -1)
		return;
	out_puts(&s->out, "QUIT\r\n");
	if (s->is_broken)
		out_flush(&s->out);
	else	/* not smtp_reply(s): s->why must stay as it is */
		(void)reply_read(&s->in, s->text, sizeof(s->text),
		    &st);
	close(s->fd);
	s->fd = -1;
	tls_stop(&s->tls, NULL, 0);
}

/* The EHLO reply's lines after the first are extensions (RFC 5321
 * 4.1.1.1): note the ones we use. */
static void
smtp_extensions(struct smtp *s)
{
	char *line, *next;

	s->has_pipelining = s->has_8bitmime = s->has_size = 0;
	s->has_smtputf8 = 0;
	s->has_starttls = s->has_plain = s->has_login = 0;
	s->size_max = 0;
	for (line = strchr(s->text, '\n'); line != NULL; line = next) {
		line++;
		if ((next = strchr(line, '\n')) != NULL)
			*next = '\0';
		if (strcasecmp(line, "PIPELINING") == 0)
			s->has_pipelining = 1;	/* RFC 2920 */
		else if (strcasecmp(line, "8BITMIME") == 0)
			s->has_8bitmime = 1;		/* RFC 6152 */
		else if (strcasecmp(line, "SMTPUTF8") == 0)
			s->has_smtputf8 = 1;		/* RFC 6531 */
		else if (strcasecmp(line, "STARTTLS") == 0)
			s->has_starttls = 1;		/* RFC 3207 */
		else if (strncasecmp(line, "AUTH ", 5) == 0) {	/* RFC 4954 */
			s->has_plain = has_word(line + 5, "PLAIN");
			s->has_login = has_word(line + 5, "LOGIN");
		}
		else if (strncasecmp(line, "SIZE", 4) == 0 &&
		    (line[4] == '\0' || line[4] == ' ')) {
			s->has_size = 1;		/* RFC 1870 */
			if (line[4] == ' ' && opt_number(line + 5,
			    (unsigned long)-1, &s->size_max) == -1)
				s->size_max = 0;
		}
	}
}

/* Says EHLO (HELO when refused) and notes the extensions.  The reply's
 * code, -1 when the relay is lost. */
static int
smtp_ehlo(struct smtp *s)
{
	int code;

	out_printf(&s->out, "EHLO %s\r\n", smtp_helo);
	if ((code = smtp_reply(s)) == -1)
		return -1;
	if (code / 100 != 2)		/* RFC 5321 4.1.4: still HELO */
		s->text[0] = '\0';
	smtp_extensions(s);
	if (code / 100 == 2)
		return code;
	out_printf(&s->out, "HELO %s\r\n", smtp_helo);
	return smtp_reply(s);
}

/* Connects to u over TCP, or through s_client when is_tls (STARTTLS
 * when is_starttls, else TLS at once).  0, or -1 with s->why set. */
static int
smtp_connect(struct smtp *s, const struct url *u, int is_tls,
    int is_starttls, int is_verified)
{
	char err[REPLY_LINE_MAX + 1];
	int flags;

	/* Both ways fork (a resolver child, s_client): first the closing
	 * threads go, so the child is a copy of one thread only. */
	reap_wait();
	s->is_broken = s->needs_rset = s->got_reply = 0;
	s->is_closing = 0;
	s->nsent = 0;
	s->nmessages = 0;
	s->is_tls = is_tls;
	s->is_verified = is_tls && is_verified;
	if (is_tls && u->dane != NULL)
		s->fd = tls_start_dane(&s->tls, u->addr[0] != '\0' ? u->addr :
		    u->host, u->port, u->host, u->dane, smtp_helo,
		    (int)smtp_timeout, err, sizeof(err));
	else if (is_tls)
		s->fd = tls_start(&s->tls, u, is_starttls,
		    s->is_verified, u->is_webpki ? NULL : smtp_cafile,
		    smtp_helo,
		    (int)smtp_timeout, err, sizeof(err));
	else
		s->fd = connect_tcp(u->addr[0] != '\0' ? u->addr : u->host,
		    u->port, (int)smtp_timeout,
		    err, sizeof(err));
	if (s->fd == -1) {
		printable(s->text, sizeof(s->text), err);
		say(s->why, sizeof(s->why), "451 4.4.1 relay %s: %s",
		    s->name, s->text);
		return -1;
	}
	line_init(&s->in, s->fd, (int)smtp_timeout);
	s->in.flush = &s->out;
	s->in.stop_on_signal = 1;
	out_init(&s->out, s->fd);
	/* Non-blocking, so that a relay that stops reading holds a write
	 * no longer than -t, nor past a SIGTERM (out.c). */
	s->out.timeout = (int)smtp_timeout;
	s->out.stop_on_signal = 1;
	if ((flags = fcntl(s->fd, F_GETFL)) == -1 ||
	    fcntl(s->fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		say(s->why, sizeof(s->why), "451 4.3.0 relay %s: %s",
		    s->name, strerror(errno));
		close(s->fd);
		s->fd = -1;
		tls_stop(&s->tls, NULL, 0);
		return -1;
	}
	return 0;
}

/*
 * AUTH (RFC 4954) as rc's user: PLAIN, else LOGIN; only over TLS whose
 * certificate was verified for the relay's name (url.c lets a user in
 * only with smtp+tls:// and smtps://; this is the second lock).  No
 * exception for a loopback relay: any local user may bind a loopback port
 * before the relay does.  0 on 235; -1 with s->why saying what to fix.
 */
static int
smtp_auth(struct smtp *s)
{
	char plain[2 * (ADDR_MAX + AUTH_PASS_MAX) + 3];
	char b64[sizeof(plain) / 3 * 4 + 8];
	const char *user = s->url->user, *hint;
	const char *pass = s->pass != NULL ? s->pass : "";
	size_t ulen = strlen(user), plen = strlen(pass);
	int code = -1;

	if (!s->is_tls || !s->is_verified) {
		say(s->why, sizeof(s->why), "451 4.7.0 relay %s: will "
		    "not send the password of %s without verified TLS (use "
		    "smtp+tls:// or smtps://)", s->name, user);
		return -1;
	}
	if (s->has_plain) {
		plain[0] = '\0';
		memcpy(plain + 1, user, ulen);
		plain[ulen + 1] = '\0';
		memcpy(plain + ulen + 2, pass, plen);
		if (base64_encode(plain, ulen + plen + 2, b64,
		    sizeof(b64)) != -1) {
			out_printf(&s->out, "AUTH PLAIN %s\r\n", b64);
			code = smtp_reply(s);
		}
	} else if (s->has_login) {
		out_puts(&s->out, "AUTH LOGIN\r\n");
		if ((code = smtp_reply(s)) == 334 &&
		    base64_encode(user, ulen, b64, sizeof(b64)) != -1) {
			out_printf(&s->out, "%s\r\n", b64);
			if ((code = smtp_reply(s)) == 334 &&
			    base64_encode(pass, plen, b64, sizeof(b64))
			    != -1) {
				out_printf(&s->out, "%s\r\n", b64);
				code = smtp_reply(s);
			}
		}
	} else {
		say(s->why, sizeof(s->why), "451 4.7.0 relay %s offers "
		    "no AUTH PLAIN or LOGIN%s", s->name, s->is_tls ?
		    "" : " without TLS");
		return -1;
	}
	memset(plain, 0, sizeof(plain));
	memset(b64, 0, sizeof(b64));
	out_flush(&s->out);
	memset(s->out.buf, 0, sizeof(s->out.buf));
	if (code == 235)
		return 0;
	if (code == -1)
		return -1;
	hint = code == 535 ? "check the user and password in the -a file" :
	    code == 454 ? "the relay's authentication is out of order: "
	    "try again later" : code == 530 || code == 534 ?
	    "the relay wants a stronger mechanism or TLS" :
	    "check the user and password in the -a file";
	say(s->why, sizeof(s->why), "451 4.7.0 relay %s refused AUTH "
	    "as %s: %s; %s", s->name, user, s->last, hint);
	return -1;
}

/*
 * Opens a session with u for d: connects (TLS as the URL and d's policy
 * say), reads the greeting, says EHLO; for smtp:// starts again through
 * STARTTLS when the server offers it, and once more in plaintext on the
 * same host when that handshake fails (never when d requires TLS); then
 * AUTH as u's user with pass.  0, or -1 with s->why saying why.
 */
int
smtp_open(struct smtp *s, const struct url *u, struct dest *d,
    const char *pass)
{
	enum url_tls want = u->tls;
	int is_tls, is_starttls, may_tls = 1, code;

	/* A policy that requires TLS makes an smtp:// host a smtp+tls://
	 * one (the hook for DANE and MTA-STS). */
	if (want == URL_TLS_MAY && d->policy == TLS_POLICY_VERIFIED)
		want = URL_TLS_STARTTLS;
	else if (want == URL_TLS_MAY && d->policy == TLS_POLICY_NONE)
		want = URL_TLS_NONE;
	/* DANE (mxtls.c): STARTTLS and never plaintext, verified by the
	 * TLSA records, or unverified when none of them is usable. */
	if (u->dane != NULL || u->is_tls_required)
		want = URL_TLS_STARTTLS;
	is_tls = want == URL_TLS_STARTTLS || want == URL_TLS_IMPLICIT;
	is_starttls = want == URL_TLS_STARTTLS;
	s->url = u;
	s->dest = d;
	s->dest_serial = d->serial;
	s->pass = pass;
	if (u->addr[0] != '\0')
		say(s->name, sizeof(s->name), "%s[%s]:%s", u->host, u->addr,
		    u->port);
	else
		say(s->name, sizeof(s->name), "%s", u->name);
again:
	if (smtp_connect(s, u, is_tls, is_starttls,
	    want != URL_TLS_MAY && !u->is_tls_required) == -1) {
		log_info("relay=%s result=unreachable: %s", s->name, s->why);
		return -1;
	}
	/* RFC 5321 3.1: anything but 220 means no service here.  Through
	 * s_client -starttls the greeting, our first EHLO and STARTTLS stay
	 * with s_client: EHLO again, as RFC 3207 4.2 wants anyway. */
	if (!is_starttls && (code = smtp_reply(s)) != 220)
		goto fail;
	if ((code = smtp_ehlo(s)) / 100 != 2)
		goto fail;
	if (want == URL_TLS_MAY && !is_tls && s->has_starttls && may_tls) {
		smtp_close(s);
		is_tls = is_starttls = 1;
		goto again;
	}
	if (u->user[0] != '\0' && smtp_auth(s) == -1) {
		code = -1;
		goto fail;
	}
	log_info("relay=%s result=connected%s%s%s%s", s->name,
	    s->has_pipelining ? " pipelining" : "",
	    s->has_size ? " size" : "", !s->is_tls ? "" :
	    s->is_verified ? " tls=verified" : " tls=unverified",
	    u->user[0] != '\0' ? " auth" : "");
	return 0;
fail:
	if (code != -1)
		say(s->why, sizeof(s->why), "451 4.4.1 relay %s "
		    "refused the session: %s", s->name, s->last);
	else if (is_tls && !s->got_reply && s->status == LINE_TIMEOUT)
		say(s->why, sizeof(s->why), "451 4.7.0 relay %s: no TLS "
		    "session after %us: the handshake hangs", s->name,
		    smtp_timeout);
	log_info("relay=%s result=unusable: %s", s->name, s->why);
	smtp_close(s);
	if (want == URL_TLS_MAY && is_tls && may_tls && !sig_term) {
		/* Opportunistic: unverified TLS or none, never no mail;
		 * plaintext once, on the same host. */
		log_info("relay=%s result=retrying without TLS", s->name);
		is_tls = is_starttls = may_tls = 0;
		goto again;
	}
	return -1;
}

/* "none", "unverified" or "verified": the session's TLS, for logs. */
const char *
smtp_tls(const struct smtp *s)
{
	return !s->is_tls ? "none" : s->is_verified && s->url != NULL &&
	    s->url->dane != NULL ? "dane" : s->is_verified ? "verified" :
	    "unverified";
}

/* A transaction that did not end at its final dot is reset (RFC 5321
 * 4.1.1.5) before the next; a server that refuses RSET gets a new
 * session.  0, or -1 when the session was lost. */
int
smtp_rset(struct smtp *s)
{
	int code;

	if (s->fd == -1 || !s->needs_rset)
		return 0;
	out_puts(&s->out, "RSET\r\n");
	if ((code = smtp_reply(s)) == -1)
		return -1;
	if (code / 100 != 2)
		smtp_close(s);		/* start afresh */
	return 0;
}

/* -k: MAIL FROM:<sender>, RCPT TO:<sender>, then RSET, sending no mail:
 * 0 when the server would take mail from sender, else -1 with the
 * command and the reason in s->why.  The RCPT: a server that delays its
 * refusals (Postfix's smtpd_delay_reject, the default) refuses a sender
 * it does not allow (reject_sender_login_mismatch) only there. */
int
smtp_try_sender(struct smtp *s, const char *sender)
{
	static const char *const cmds[] = { "MAIL FROM", "RCPT TO", "RSET" };
	size_t i;
	int code;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (i < 2)
			out_printf(&s->out, "%s:<%s>\r\n", cmds[i], sender);
		else
			out_puts(&s->out, "RSET\r\n");
		if ((code = smtp_reply(s)) == -1)
			return -1;
		if (code / 100 != 2) {
			if (i < 2)
				say(s->why, sizeof(s->why), "%s:<%s>: %s",
				    cmds[i], sender, s->last);
			else
				say(s->why, sizeof(s->why), "RSET: %s",
				    s->last);
			return -1;
		}
	}
	return 0;
}

/* Reads the reply to MAIL; a refusal is every relayed recipient's. */
static int
txn_mail(struct smtp *s, struct msg *m, struct txn *t)
{
	size_t i;

	if ((t->mail = smtp_reply(s)) == -1)
		return -1;
	if (t->mail == 530) {	/* RFC 4954 6: our configuration, not mail */
		say(s->why, sizeof(s->why), "451 4.7.0 relay %s wants "
		    "AUTH (%s): give -r a user@ and -a its password",
		    s->name, s->last);
		s->is_broken = s->dest->is_down = 1;
		return -1;
	}
	for (i = 0; t->mail / 100 != 2 && i < m->env.nrcpt; i++)
		if (t->mine[i]) {
			rcpt_said(m, i, t->mail, s->last, s->url->host);
			t->decided[i] = 1;
			t->ntemp += t->mail / 100 == 4;
		}
	return 0;
}

/* Reads the reply to RCPT i; it decides the recipient unless it is 2xx
 * (then DATA and the final dot do), or MAIL was refused. */
static int
txn_rcpt(struct smtp *s, struct msg *m, struct txn *t, size_t i)
{
	int code;

	if ((code = smtp_reply(s)) == -1)
		return -1;
	if (t->mail / 100 == 2) {
		rcpt_said(m, i, code, s->last, s->url->host);
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
needs_utf8(const struct txn *t, const struct msg *m)
{
	size_t i;

	if (is_8bit_text(m->env.from))
		return 1;
	for (i = 0; i < m->env.nrcpt; i++)
		if (t->mine[i] && is_8bit_text(m->rcpt[i].addr))
			return 1;
	return envelope_ext(&m->env, "Smtputf8") != NULL &&
	    (m->scan & BODY_8BIT_HEADERS);
}

/* Which of m's recipients are t's (bound for s's destination and
 * pending), and whether the message may go to s at all: 1 it may, 0 each
 * of them has its answer (too large, unreadable, needs SMTPUTF8). */
static int
txn_prepare(struct smtp *s, struct msg *m, struct txn *t)
{
	size_t i;

	/* Fixed for the transaction, whatever replies then decide. */
	for (i = 0; i < m->env.nrcpt; i++) {
		t->mine[i] = m->rcpt[i].dest == s->dest &&
		    m->rcpt[i].result == RES_TEMP;
		if (!t->mine[i])
			continue;
		/* for the recipient's log line (outcome.c) */
		say(m->rcpt[i].via, sizeof(m->rcpt[i].via), "%s", s->name);
		say(m->rcpt[i].tls, sizeof(m->rcpt[i].tls), "%s", smtp_tls(s));
	}
	/* RFC 1870 6.1: a message over the declared limit is not sent. */
	if (s->size_max > 0 && (unsigned long long)m->size >
	    s->size_max) {
		for (i = 0; i < m->env.nrcpt; i++)
			if (t->mine[i])
				rcpt_set(m, i, 552, "552 5.3.4 message larger "
				    "than the relay's SIZE limit");
		return 0;
	}
	/* What the message holds, read once per message and run. */
	if (m->scan == -1 && (m->scan = body_scan(m->fd, m->env.body)) == -1) {
		for (i = 0; i < m->env.nrcpt; i++)
			if (t->mine[i])
				rcpt_set(m, i, 451, "451 4.3.0 unable to read "
				    "queue file");
		return 0;
	}
	/* RFC 6152 3 wants 8-bit data converted to 7 bit or returned when
	 * the relay does not offer 8BITMIME.  Postfix converts MIME parts
	 * declared 8bit, sends the rest as it is and returns none; Exim and
	 * OpenSMTPD send it as it is.  We do not convert (a DKIM signature
	 * covers the bytes as queued): the message goes as it is, declared
	 * or not, and the log says so. */
	/* RFC 6531 3.2: without SMTPUTF8 offered, a message that needs it
	 * is returned (5.6.7, as Postfix does); one that does not goes
	 * without the parameter. */
	if (!s->has_smtputf8 && needs_utf8(t, m)) {
		say(s->why, sizeof(s->why), "554 5.6.7 SMTPUTF8 is "
		    "required, but was not offered by relay %s", s->name);
		for (i = 0; i < m->env.nrcpt; i++)
			if (t->mine[i])
				rcpt_set(m, i, 554, s->why);
		return 0;
	}
	if (!s->has_8bitmime && (m->scan & BODY_8BIT))
		log_info("id=%s relay=%s body=8bit result=sent as it is: "
		    "the relay does not offer 8BITMIME", m->name, s->name);
	return 1;
}

/* MAIL FROM's parameters for m: never one the relay did not offer. */
static void
txn_params(const struct smtp *s, const struct msg *m, const struct txn *t,
    char *params, size_t size)
{
	const char *body = envelope_ext(&m->env, "Body");

	params[0] = '\0';
	if (s->has_size)
		snprintf(params, size, " SIZE=%lld", (long long)m->size);
	/* 8-bit content is declared whatever smtpd recorded (RFC 6152 2). */
	if (s->has_8bitmime && ((m->scan & BODY_8BIT) || (body != NULL &&
	    strcasecmp(body, "8BITMIME") == 0)))
		strcat(params, " BODY=8BITMIME");
	if (s->has_smtputf8 && (envelope_ext(&m->env, "Smtputf8") !=
	    NULL || needs_utf8(t, m)))
		strcat(params, " SMTPUTF8");
}

/* MAIL, the RCPTs and DATA, and their replies up to DATA's: with
 * PIPELINING (RFC 2920 3.1) in one batch, their replies read in order
 * after it; without, each command waits for its reply.  1 DATA was sent,
 * 0 nobody took the message, -1 the session was lost. */
static int
txn_envelope(struct smtp *s, struct msg *m, struct txn *t)
{
	char params[64], masqbuf[ADDR_MAX + 1];
	int is_batch = s->has_pipelining;
	size_t i;

	t->mail = 250;		/* batched: RCPTs go out before its reply */
	for (i = 0; i < m->env.nrcpt; i++)
		t->nrelayed += t->mine[i];
	s->needs_rset = 1;
	txn_params(s, m, t, params, sizeof(params));
	s->nmessages++;
	out_printf(&s->out, "MAIL FROM:<%s>%s\r\n", masq_sender(&m->env,
	    masqbuf, sizeof(masqbuf)), params);
	if (!is_batch && txn_mail(s, m, t) == -1)
		return -1;
	for (i = 0; i < m->env.nrcpt && t->mail / 100 == 2; i++) {
		if (!t->mine[i])
			continue;
		out_printf(&s->out, "RCPT TO:<%s>\r\n", m->rcpt[i].addr);
		if (!is_batch && txn_rcpt(s, m, t, i) == -1)
			return -1;
	}
	if (!is_batch && t->n == 0)
		return 0;		/* nobody to send it to */
	out_puts(&s->out, "DATA\r\n");
	if (is_batch) {
		if (txn_mail(s, m, t) == -1)
			return -1;
		for (i = 0; i < m->env.nrcpt; i++)
			if (t->mine[i] &&
			    txn_rcpt(s, m, t, i) == -1)
				return -1;
	}
	return 1;
}

/*
 * One transaction over the open session s for m's pending recipients
 * bound for s's destination: MAIL, RCPT each, DATA, the message and its
 * final dot.  0 when the server had its say, -1 when the session was
 * lost, with s->why saying why.
 */
int
smtp_txn(struct smtp *s, struct msg *m, struct txn *t)
{
	int code, rc;
	size_t i;

	if (!txn_prepare(s, m, t))
		return 0;
	if ((rc = txn_envelope(s, m, t)) != 1)
		return rc;
	if ((code = smtp_reply(s)) == -1)
		return -1;
	if (code == 354) {
		/* RFC 2920 3.1: DATA accepted without recipients: a lone
		 * dot ends the empty message. */
		if (t->n == 0)
			out_puts(&s->out, ".\r\n");
		else if (body_copy(m->fd, m->env.body, &s->out,
		    BODY_DOTS) == -1) {
			/* Never the final dot after a partial message. */
			say(s->why, sizeof(s->why), "451 4.4.2 "
			    "relay %s: %s in DATA: %s", s->name,
			    s->out.error != 0 ? "connection lost" :
			    "unable to read queue file", strerror(errno));
			return -1;
		}
		if ((code = smtp_reply(s)) == -1)
			return -1;
		s->needs_rset = 0;
		s->nsent += code / 100 == 2 && t->n > 0;
	}
	/* The reply to DATA or to the final dot. */
	for (i = 0; i < m->env.nrcpt; i++)
		if (t->accepted[i])
			rcpt_said(m, i, code, s->last, s->url->host);
	return 0;
}

