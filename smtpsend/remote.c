/*
 * remote.c: delivery of a message to one destination over SMTP.
 *
 * A destination (struct dest, route.c) is a relay, its URLs tried in
 * order until one takes the session, or a domain's MX hosts.  Sessions
 * (struct smtp, smtp.c) are kept open from one message to the next, one
 * per destination, at most REMOTE_OPEN_MAX at once: the one used least
 * recently is ended when another is needed.  A destination that cannot
 * be reached or refuses the session (greeting, EHLO, TLS, AUTH), or says
 * 421, is down: its recipients stay pending (4xx) and it is not tried
 * again in this run.  A session lost in the middle of a message (msmtpd
 * closes after any failed message) costs that message alone: it keeps
 * what the server said, the rest of it stays pending, and the next
 * message gets a new connection.  A server that took messages over this
 * session and then refuses one whole for now (4xx to MAIL or to every
 * RCPT: OpenSMTPD's "452 4.5.3 Too many messages sent" after its limit
 * of messages per session), or says 421 in its transaction, is ending
 * the session: that message goes again over a new one, once.
 *
 * An MX destination (RFC 5321 5.1): its addresses, from mx_lookup()
 * (mx.c), tried in order, at most MX_ADDR_MAX of them and MX_SESSIONS_MAX
 * sessions an attempt; the first session that has its say on the message
 * decides it; a session lost leaves what it did not decide to the next
 * address.  A null MX, a domain that does not exist, or mail that would
 * loop back to us fails for good; a failed lookup defers (4.4.3).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpsend.h"
#include "mx.h"

#define REMOTE_OPEN_MAX	8	/* sessions kept open at once */
#define MX_PORT		"25"	/* RFC 5321 4.5.4.2 */

static struct smtp open_sessions[REMOTE_OPEN_MAX];
static struct url mx_urls[REMOTE_OPEN_MAX];	/* an MX session's server */
static struct mx_cache mx;		/* large: the run's MX answers */
static const char *our_name;
static int is_ready;
static unsigned long use_clock;	/* orders the sessions by last use */
static unsigned long max_messages = RELAY_MESSAGES_DEFAULT;	/* -c */

/* A new run: our name (the MX loop check) and -t for the lookups. */
void
remote_begin(const char *hostname, unsigned timeout)
{
	our_name = hostname;
	mx_cache_init(&mx, hostname, (int)timeout,
	    (unsigned long)time(NULL) ^ (unsigned long)getpid());
}

/* -c: the messages one connection carries at most. */
void
remote_limit(unsigned long messages)
{
	max_messages = messages;
}

static void
remote_ready(void)
{
	size_t i;

	if (is_ready)
		return;
	for (i = 0; i < REMOTE_OPEN_MAX; i++)
		smtp_init(&open_sessions[i]);
	is_ready = 1;
}

/* The session for d: its open one, else a closed slot, else the one used
 * least recently, ended. */
static struct smtp *
remote_session(struct dest *d)
{
	struct smtp *s, *lru = NULL, *closed = NULL;
	size_t i;

	remote_ready();
	for (i = 0; i < REMOTE_OPEN_MAX; i++) {
		s = &open_sessions[i];
		if (s->fd != -1 && s->dest == d &&
		    s->dest_serial == d->serial)
			return s;
		if (s->fd == -1 && closed == NULL)
			closed = s;
		if (s->fd != -1 && (lru == NULL || s->last_use < lru->last_use))
			lru = s;
	}
	if (closed != NULL)
		return closed;
	smtp_close(lru);
	return lru;
}

/* Opens s with the first of d's URLs that takes a session.  0, or -1
 * with d down for the rest of this run and d->why saying why. */
static int
remote_open(struct smtp *s, struct dest *d)
{
	size_t i;

	for (i = 0; i < d->nurls; i++)
		if (smtp_open(s, d->urls[i], d, d->pass[i]) == 0)
			return 0;
	snprintf(d->why, sizeof(d->why), "%s", s->why);
	d->is_down = 1;
	return -1;
}

/* The session ended before m's transaction did: each of d's pending
 * recipients the server has not refused (4xx, 5xx) stays pending with
 * why.  Whether d is down is the caller's to say. */
static void
remote_lost(struct msg *m, const struct dest *d, const struct txn *t,
    const char *why)
{
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++)
		if (m->rcpt[i].dest == d && (t->mine[i] ||
		    m->rcpt[i].result == RES_TEMP) && !t->decided[i])
			rcpt_set(m, i, 451, why);
}

/*
 * Whether the server refused all of m for now (4xx to MAIL, or to every
 * RCPT) over a session that took messages before it: a server that ends
 * a session this way (OpenSMTPD after its "max-mails", 100 by default,
 * answers every RCPT "452 4.5.3 Too many messages sent") takes the
 * message over a new one.  A session that took nothing is no sign: a
 * server that refuses every message so is not connected to again.
 */
static int
remote_is_ending(const struct smtp *s, const struct txn *t)
{
	return t->nrelayed > 0 && t->ntemp == t->nrelayed && s->nsent > 0;
}

/*
 * Delivers m to its pending recipients bound for d.  A session kept from
 * the message before that is lost before it replied to this one had gone
 * stale (the server closed it after that message, or timed it out): m is
 * tried once more over a new one.  So is a session the server ends after
 * it took messages: a 421 (RFC 5321 3.8), or all of m refused for now
 * (remote_is_ending()).  A message gets one new connection at most, and
 * only after a session that took mail, so a server that refuses a fresh
 * session the same way costs no more connections.  A session lost later
 * costs m alone; d is down for the run only when no session can be had,
 * or it said 421 or wants AUTH where no new connection mends it.
 */
static void
remote_relay(struct msg *m, struct dest *d)
{
	static struct txn t;
	struct smtp *s = NULL;
	int is_reused, is_retry = 0;
	size_t i;

	for (;;) {
		memset(&t, 0, sizeof(t));
		if (d->is_down) {
			remote_lost(m, d, &t, d->why);
			return;
		}
		s = remote_session(d);
		s->last_use = ++use_clock;
		/* -c: the session carried its share; the next one is new,
		 * so that a relay holding what comes after its first few
		 * messages of a connection (Exim) delivers each at once. */
		if (s->fd != -1 && s->nmessages >= max_messages) {
			log_info("relay=%s messages=%lu result=closing: the "
			    "most one connection carries (-c)", s->name,
			    s->nmessages);
			smtp_close(s);
		}
		is_reused = s->fd != -1;
		s->nreplies = 0;
		if (smtp_rset(s) == 0 && (s->fd != -1 ||
		    remote_open(s, d) == 0) && smtp_txn(s, m, &t) == 0) {
			if (!remote_is_ending(s, &t) || is_retry || sig_term)
				return;
			for (i = 0; !t.mine[i]; i++)
				;	/* the first one's reply */
			log_info("id=%s relay=%s result=reconnecting: refused "
			    "for now after %u messages on this session: %s",
			    m->name, s->name, s->nsent, m->rcpt[i].reply);
			smtp_close(s);
			is_retry = 1;
			continue;
		}
		snprintf(d->why, sizeof(d->why), "%s", s->why);
		if (d->is_down)
			break;
		if (is_reused && !is_retry && !sig_term &&
		    (s->nreplies == 0 || (s->is_closing && s->nsent > 0))) {
			log_info("id=%s relay=%s result=reconnecting: %s: %s",
			    m->name, s->name, s->nreplies == 0 ?
			    "the session went stale" : "the relay ended the "
			    "session", s->why);
			s->is_broken = 1;
			smtp_close(s);
			is_retry = 1;
			continue;
		}
		d->is_down = s->is_closing || sig_term;
		log_info("id=%s relay=%s result=lost: %s%s", m->name,
		    s->name, s->why, d->is_down ? "" :
		    "; the next message gets a new connection");
		break;
	}
	if (s != NULL && s->fd != -1) {
		s->is_broken = 1;
		smtp_close(s);
	}
	remote_lost(m, d, &t, d->why);
}

/* Sets each of m's pending recipients for d to code and text. */
static void
remote_all(struct msg *m, const struct dest *d, int code, const char *text)
{
	size_t i;

	for (i = 0; i < m->env.nrcpt; i++)
		if (m->rcpt[i].dest == d && m->rcpt[i].result == RES_TEMP)
			rcpt_set(m, i, code, text);
}

/* Over s, open to one of d's MX hosts: 0 when it had its say on m, -1
 * when the session was lost (what it did not decide stays pending). */
static int
remote_mx_txn(struct smtp *s, struct msg *m, struct dest *d)
{
	static struct txn t;

	memset(&t, 0, sizeof(t));
	s->last_use = ++use_clock;
	s->nreplies = 0;
	if (smtp_rset(s) == 0 && s->fd != -1 && smtp_txn(s, m, &t) == 0)
		return 0;
	snprintf(d->why, sizeof(d->why), "%s", s->why);
	log_info("id=%s relay=%s result=lost: %s", m->name, s->name, s->why);
	remote_lost(m, d, &t, s->why);
	s->is_broken = 1;
	smtp_close(s);
	return -1;
}

/*
 * Delivers m to its pending recipients for the MX domain d: over the
 * session kept from a message before, else to d's addresses in order.
 * None of them reached, or none that took a session: d is down for the
 * run, its recipients pending.
 */
static void
remote_mx(struct msg *m, struct dest *d)
{
	static struct mx_list list;
	static struct txn none;
	char why[REPLY_LINE_MAX + 1];
	struct smtp *s;
	struct url *u;
	size_t k, sessions = 0;
	int code;

	if (d->is_down) {
		remote_lost(m, d, &none, d->why);
		return;
	}
	s = remote_session(d);
	if (s->fd != -1 && s->nmessages < max_messages &&
	    remote_mx_txn(s, m, d) == 0)
		return;
	if (s->fd != -1)
		smtp_close(s);
	if (mx_lookup(&mx, d->name, &list) != MX_OK) {
		code = mx_reply(&list, why, sizeof(why));
		log_info("id=%s domain=%s result=%s: %s", m->name, d->name,
		    code / 100 == 5 ? "failed" : "deferred", why);
		remote_all(m, d, code, why);
		if (code / 100 != 5) {
			d->is_down = 1;
			snprintf(d->why, sizeof(d->why), "%s", why);
		}
		return;
	}
	u = &mx_urls[s - open_sessions];
	snprintf(d->why, sizeof(d->why), "451 4.4.1 %s: no MX host reached",
	    d->name);
	for (k = 0; k < list.n && sessions < MX_SESSIONS_MAX && !sig_term;
	    k++) {
		memset(u, 0, sizeof(*u));
		u->tls = URL_TLS_MAY;
		snprintf(u->host, sizeof(u->host), "%s", list.t[k].host);
		snprintf(u->addr, sizeof(u->addr), "%s", list.t[k].addrtext);
		snprintf(u->port, sizeof(u->port), "%s", MX_PORT);
		snprintf(u->name, sizeof(u->name), "%s:%s", list.t[k].host,
		    MX_PORT);
		/* Each session, or host skipped, counts once in the TLS
		 * report (RFC 8460): a kept session is not counted again. */
		if (mxtls_apply(d->name, list.is_authentic, u, d->why,
		    sizeof(d->why)) == -1) {
			mxtls_report(d->name, list.is_authentic, u, 0, d->why);
			continue;	/* DANE or MTA-STS: not this host */
		}
		s->last_use = ++use_clock;
		if (smtp_open(s, u, d, NULL) == -1) {
			mxtls_report(d->name, list.is_authentic, u, 0, s->why);
			/* one that answered and refused used a session */
			sessions += s->got_reply;
			snprintf(d->why, sizeof(d->why), "%s", s->why);
			continue;
		}
		mxtls_report(d->name, list.is_authentic, u, 1, NULL);
		sessions++;
		if (remote_mx_txn(s, m, d) == 0)
			return;
		if (sig_term)
			break;
	}
	d->is_down = !sig_term;
	remote_lost(m, d, &none, d->why);
}

/* Delivers m to its pending recipients for d. */
void
remote_send(struct msg *m, struct dest *d)
{
	if (d->kind == ROUTE_MX)
		remote_mx(m, d);
	else
		remote_relay(m, d);
}

/* The end of a run: every session ends (QUIT). */
void
remote_end(void)
{
	size_t i;

	remote_ready();
	for (i = 0; i < REMOTE_OPEN_MAX; i++)
		smtp_close(&open_sessions[i]);
}

/* pool.c: the destinations of the sessions open now, at most max. */
size_t
remote_held(const struct dest **v, size_t max)
{
	size_t i, n = 0;

	remote_ready();
	for (i = 0; i < REMOTE_OPEN_MAX && n < max; i++)
		if (open_sessions[i].fd != -1 &&
		    open_sessions[i].dest_serial ==
		    open_sessions[i].dest->serial)
			v[n++] = open_sessions[i].dest;
	return n;
}

/* -k: opens a session with each relay in turn and says what it offers,
 * sending no mail.  0 when one of them would take mail, else 75. */
int
remote_probe(const char *sender)
{
	struct dest *relays[1];
	struct smtp *s;
	size_t i, ok = 0;

	remote_ready();
	s = &open_sessions[0];
	if (route_relays(relays) == 0)
		return EXIT_TEMPFAIL;
	for (i = 0; i < relays[0]->nurls; i++) {
		if (smtp_open(s, relays[0]->urls[i], relays[0],
		    relays[0]->pass[i]) == -1) {
			printf("%s: unusable: %s\n", s->name, s->why);
			continue;
		}
		/* A provider that takes only its own domain refuses at MAIL
		 * or RCPT: a probe that tried no sender said "ok" for a
		 * relay that refused every message. */
		if (smtp_try_sender(s, sender) == -1) {
			printf("%s: refused: %s\n", s->name, s->why);
			log_info("relay=%s from=<%s> result=probe refused: %s",
			    s->name, sender, s->why);
			smtp_close(s);
			continue;
		}
		printf("%s: ok: tls=%s auth=%s%s%s%s%s from=<%s>\n", s->name,
		    smtp_tls(s), relays[0]->urls[i]->user[0] == '\0' ? "none" :
		    "ok", s->has_pipelining ? " pipelining" : "",
		    s->has_8bitmime ? " 8bitmime" : "",
		    s->has_size ? " size" : "",
		    s->has_starttls && !s->is_tls ? " starttls" : "", sender);
		smtp_close(s);
		ok++;
	}
	return ok > 0 ? 0 : EXIT_TEMPFAIL;
}
