/*
 * session.c: one SMTP session on stdin/stdout, into the queue.
 *
 * The protocol is one command table and an explicit state; a message
 * streams through a byte-level DATA machine into tmp/, and the 250 after
 * the final dot is sent only once the file is fsync'd and renamed into
 * new/ (queue.c).  Nothing here grows with the size of the input.
 *
 * Everything a session knows is in its struct session (smtpd.h), which
 * every function here is given: the configuration it runs under (read
 * only, from smtpd.c's options), the connection and where it stands,
 * and the transaction (txn.c).  A session ends from wherever it must
 * (QUIT, a lost client, too many errors) through session_exit(), which
 * unwinds to session_run(); smtpd.c's main() exits with its status, and
 * a test (tests/fuzz/fuzz_session.c) starts the next session.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpd.h"

#define IN(st)		(1u << (st))
#define ANY		(IN(ST_INIT) | IN(ST_HELO) | IN(ST_MAIL) | IN(ST_RCPT))

struct command {
	const char	*verb;
	void		(*handler)(struct session *, char *arg);
	unsigned	 states;	/* where it is allowed */
	const char	*refusal;	/* 503 text elsewhere */
};

static void smtp_helo(struct session *, char *);
static void smtp_ehlo(struct session *, char *);
static void smtp_rset(struct session *, char *);
static void smtp_noop(struct session *, char *);
static void smtp_help(struct session *, char *);
static void smtp_quit(struct session *, char *);
static void smtp_unimplemented(struct session *, char *);
static void smtp_starttls(struct session *, char *);
static void smtp_auth(struct session *, char *);

static const struct command commands[] = {
	{ "HELO", smtp_helo, ANY, NULL },
	{ "EHLO", smtp_ehlo, ANY, NULL },
	{ "MAIL", txn_mail, IN(ST_HELO), "Error: nested MAIL command" },
	{ "RCPT", txn_rcpt, IN(ST_MAIL) | IN(ST_RCPT),
	    "Error: need MAIL command" },
	{ "DATA", txn_data, IN(ST_RCPT), "Error: need RCPT command" },
	{ "RSET", smtp_rset, ANY, NULL },
	{ "NOOP", smtp_noop, ANY, NULL },
	{ "HELP", smtp_help, ANY, NULL },
	{ "QUIT", smtp_quit, ANY, NULL },
	{ "EXPN", smtp_unimplemented, ANY, NULL },
	{ "VRFY", smtp_unimplemented, ANY, NULL },
	{ "SOML", smtp_unimplemented, ANY, NULL },
	{ "SAML", smtp_unimplemented, ANY, NULL },
	{ "SEND", smtp_unimplemented, ANY, NULL },
	{ "TURN", smtp_unimplemented, ANY, NULL },
	{ "STARTTLS", smtp_starttls, ANY, NULL },
	{ "AUTH", smtp_auth, IN(ST_HELO), "Error: MAIL transaction in progress" },
};

void
state_enter(struct session *s, enum state next)
{
	/* The one place the state changes; a trace would go here. */
	s->state = next;
}

/* Ends the session: flush what we owe the client, and go. */
void __attribute__((noreturn))
session_exit(struct session *s, int status)
{
	out_flush(&s->out);
	queue_close(&s->queue);
	if (s->authlimit.fd != -1)
		close(s->authlimit.fd);
	rcptcheck_free(&s->rcptcheck);
	s->status = status;
	longjmp(s->done, 1);
}

/*
 * Every reply goes through here.  Error replies count towards the hard
 * limit (Postfix's smtpd_hard_error_limit); past it the client is cut off.
 */
static void
respond_va(struct session *s, int code, int counts, const char *fmt,
    va_list ap)
{
	reply_va(&s->out, code, 1, fmt, ap);
	if (counts && ++s->errors >= SMTP_ERRORS_MAX) {
		reply(&s->out, 421, "4.7.0 %s Error: too many errors",
		    s->cf->hostname);
		log_info("peer=%s result=disconnect: too many errors",
		    s->peer.addr);
		session_exit(s, 0);
	}
}

void __attribute__((format(printf, 3, 4)))
respond(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_va(s, code, code >= 400, fmt, ap);
	va_end(ap);
}

/* The reply to NOOP, RSET or HELP: past JUNK_MAX of them it counts as an
 * error, so that they cannot keep a session alive for ever. */
static void __attribute__((format(printf, 3, 4)))
respond_junk(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_va(s, code, code >= 400 || ++s->junk > JUNK_MAX, fmt, ap);
	va_end(ap);
}

/* counts: whether the reply is the client's error (not so the 452 for
 * a recipient past the limit, which RFC 5321 4.5.3.1.10 expects). */
static void __attribute__((format(printf, 4, 5)))
respond_counts(struct session *s, int code, int counts, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_va(s, code, counts, fmt, ap);
	va_end(ap);
}

/*
 * A refused sender, recipient or message: a log line in the reply's words
 * ("result=rejected: 501 5.1.7 Bad sender address syntax"), then the
 * reply "code words value".  Whatever the client sent (from, to, value) is
 * escaped in the log (log_esc), so it cannot forge a field or a line.
 */
void
refuse(struct session *s, int code, int counts, const char *from,
    const char *to, const char *words, const char *value)
{
	char f[LOG_ADDR_MAX], t[LOG_ADDR_MAX], v[4 * SMTP_LINE_MAX + 1];

	log_info("peer=%s%s%s%s%s%s%s result=rejected: %d %s%s%s",
	    s->peer.addr, from != NULL ? " from=<" : "",
	    from != NULL ? log_esc(from, f, sizeof(f)) : "",
	    from != NULL ? ">" : "",
	    to != NULL ? " to=<" : "", to != NULL ? log_esc(to, t, sizeof(t)) :
	    "", to != NULL ? ">" : "", code, words, value != NULL ? " " : "",
	    value != NULL ? log_esc(value, v, sizeof(v)) : "");
	if (value != NULL)
		respond_counts(s, code, counts, "%s %s", words, value);
	else
		respond_counts(s, code, counts, "%s", words);
}

void
transaction_reset(struct session *s)
{
	txn_clear(s);
	if (s->state != ST_INIT)
		state_enter(s, ST_HELO);
}

/* The 4xx for a local failure; err, the errno where it failed, says
 * which. */
void
respond_local_failure(struct session *s, int err)
{
	if (err == ENOSPC || err == EDQUOT)
		respond(s, 452, "4.3.1 Insufficient system storage");
	else
		respond(s, 451, "4.3.0 Error: local error in processing");
}

/* HELO and EHLO take one word: a domain or an address literal.  Any
 * printable word is accepted, as most MTAs do; it is only recorded. */
static int
helo_arg_valid(const char *arg)
{
	const char *p;

	if (*arg == '\0' || strlen(arg) > HOST_MAX)
		return 0;
	for (p = arg; *p != '\0'; p++)
		if (*p < 33 || *p > 126)
			return 0;
	return 1;
}

static void
smtp_helo(struct session *s, char *arg)
{
	if (!helo_arg_valid(arg)) {
		respond(s, 501, "5.5.4 Syntax: HELO hostname");
		return;
	}
	/* RFC 5321 4.1.4: a repeated HELO/EHLO resets like RSET. */
	strcpy(s->helo, arg);
	s->is_esmtp = 0;
	state_enter(s, ST_HELO);
	transaction_reset(s);
	respond(s, 250, "%s", s->cf->hostname);
}

static void
smtp_ehlo(struct session *s, char *arg)
{
	if (!helo_arg_valid(arg)) {
		respond(s, 501, "5.5.4 Syntax: EHLO hostname");
		return;
	}
	strcpy(s->helo, arg);
	s->is_esmtp = 1;
	state_enter(s, ST_HELO);
	transaction_reset(s);
	reply_more(&s->out, 250, "%s", s->cf->hostname);
	reply_more(&s->out, 250, "PIPELINING");
	reply_more(&s->out, 250, "SIZE %lu", s->cf->max_size);
	reply_more(&s->out, 250, "8BITMIME");
	reply_more(&s->out, 250, "ENHANCEDSTATUSCODES");
	reply_more(&s->out, 250, "SMTPUTF8");
	if (s->cf->tls_argv[0] != NULL && !s->cf->is_tls)
		reply_more(&s->out, 250, "STARTTLS");
	if (s->cf->auth_argv[0] != NULL && s->cf->is_tls)
		reply_more(&s->out, 250, "AUTH PLAIN LOGIN");
	respond(s, 250, "HELP");
}


static void
smtp_rset(struct session *s, char *arg)
{
	if (*arg != '\0') {
		respond(s, 501, "5.5.4 Syntax: RSET");
		return;
	}
	transaction_reset(s);
	respond_junk(s, 250, "2.0.0 Ok");
}

static void
smtp_noop(struct session *s, char *arg)
{
	(void)arg;		/* RFC 5321 4.1.1.9: a parameter is ignored */
	respond_junk(s, 250, "2.0.0 Ok");
}

static void
smtp_help(struct session *s, char *arg)
{
	(void)arg;
	respond_junk(s, 214, "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET "
	    "NOOP HELP QUIT");
}

static void
smtp_quit(struct session *s, char *arg)
{
	(void)arg;
	reply(&s->out, 221, "2.0.0 %s closing connection", s->cf->hostname);
	log_info("peer=%s messages=%u result=quit", s->peer.addr, s->messages);
	session_exit(s, 0);
}

static void
smtp_unimplemented(struct session *s, char *arg)
{
	(void)arg;
	respond(s, 502, "5.5.1 Error: %s not implemented", s->last_verb);
}

static void
smtp_starttls(struct session *s, char *arg)
{
	if (*arg != '\0')
		respond(s, 501, "5.5.4 Syntax: STARTTLS");
	else if (s->cf->tls_argv[0] == NULL)
		respond(s, 502, "5.5.1 Error: STARTTLS not implemented");
	else if (s->cf->is_tls)
		respond(s, 503, "5.5.1 Error: TLS already active");
	else if (s->state == ST_MAIL || s->state == ST_RCPT)
		respond(s, 503, "5.5.1 Error: MAIL transaction in progress");
	else if (!s->peer.is_known) {
		/* The next smtpd learns the client from us (STARTTLS_ENV),
		 * and only a network address can be carried over. */
		log_info("peer=%s result=starttls refused: not a network "
		    "client", s->peer.addr);
		respond(s, 454, "4.7.0 TLS not available");
	} else {
		starttls_exec(&s->in, &s->out, s->cf->tls_argv, s->peer.addr);
		respond(s, 454, "4.7.0 TLS not available");
	}
}

static void session_end(struct session *, enum line_status)
    __attribute__((noreturn));

static void
smtp_auth(struct session *s, char *arg)
{
	enum line_status st = LINE_OK;
	char tried[AUTH_USER_MAX + 1];
	const char *text;
	int code;

	if (s->cf->auth_argv[0] == NULL || !s->cf->is_tls) {
		respond(s, 503, "5.5.1 Error: authentication not enabled");
		return;
	}
	if (s->user[0] != '\0') {
		respond(s, 503, "5.5.1 Error: already authenticated");
		return;
	}
	code = sasl_run(s, arg, tried, &text, &st);
	if (code == -1)
		session_end(s, st);
	if (code == 421) {
		reply(&s->out, 535, "%s", text);
		reply(&s->out, 421, "4.7.0 %s Error: too many authentication "
		    "failures", s->cf->hostname);
		session_exit(s, 0);
	}
	if (code == 235)
		strcpy(s->user, tried);
	respond(s, code, "%s", text);
}

/* Why a deadline passed: the reply's words, and the log's. */
const char *
timeout_words(const struct session *s)
{
	return limits_life_over(&s->limits) ? "session too long" :
	    "timeout exceeded";
}

const char *
timeout_log(const struct session *s)
{
	return limits_life_over(&s->limits) ? "session too long" : "timeout";
}

/* Finds and runs the command on one line. */
static void
dispatch(struct session *s, char *line, size_t len, int bare_lf)
{
	const struct command *cmd;
	char *arg;
	size_t i, n;

	if (memchr(line, '\0', len) != NULL) {
		respond(s, 500, "5.5.2 Error: NUL in command");
		return;
	}
	n = strcspn(line, " ");
	arg = line + n;
	while (*arg == ' ')
		arg++;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (n == strlen(commands[i].verb) &&
		    strncasecmp(line, commands[i].verb, n) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		respond(s, 500, "5.5.2 Error: command not recognized");
		return;
	}
	cmd = &commands[i];
	s->last_verb = cmd->verb;
	if (!(cmd->states & IN(s->state))) {
		respond(s, 503, "5.5.1 %s", s->state == ST_INIT ?
		    "Error: send HELO/EHLO first" : cmd->refusal);
		return;
	}
	s->line_bare_lf = bare_lf;
	cmd->handler(s, arg);
}

/* Input ended between commands: end of input, timeout, signal, error. */
static void
session_end(struct session *s, enum line_status st)
{
	switch (st) {
	case LINE_TIMEOUT:
		reply(&s->out, 421, "4.4.2 %s Error: %s", s->cf->hostname,
		    timeout_words(s));
		log_info("peer=%s messages=%u result=%s after %s",
		    s->peer.addr, s->messages, timeout_log(s), s->last_verb);
		break;
	case LINE_SIGNAL:
		reply(&s->out, 421, "4.3.2 %s Service shutting down",
		    s->cf->hostname);
		log_info("peer=%s result=shutting down", s->peer.addr);
		break;
	case LINE_ERROR:
		/* line_fill() flushes our replies first: a client that
		 * stops reading fails there, not in read(). */
		if (s->out.error != 0)
			log_info("peer=%s result=write error: %s",
			    s->peer.addr, strerror(s->out.error));
		else
			log_info("peer=%s result=read error: %s", s->peer.addr,
			    strerror(errno));
		break;
	default:
		log_info("peer=%s messages=%u result=lost connection after %s",
		    s->peer.addr, s->messages, s->last_verb);
		break;
	}
	session_exit(s, 0);
}

static void
session_loop(struct session *s)
{
	char buf[SMTP_LINE_MAX];
	enum line_status st;
	size_t len;
	int bare_lf;

	for (;;) {
		limits_command(&s->limits, &s->in);
		st = line_read(&s->in, buf, sizeof(buf), &len, &bare_lf);
		if (st == LINE_OK)
			dispatch(s, buf, len, bare_lf);
		else if (st == LINE_LONG)
			respond(s, 500, "5.5.2 Error: line too long");
		else
			session_end(s, st);
		if (s->out.error != 0) {
			log_info("peer=%s result=write error: %s",
			    s->peer.addr, strerror(s->out.error));
			session_exit(s, 0);
		}
	}
}

static int
is_trusted_peer(const struct session *s)
{
	size_t i;

	if (s->peer.is_trusted)
		return 1;
	for (i = 0; s->peer.is_known && i < s->cf->nnetworks; i++)
		if (net_cidr_match(&s->cf->networks[i], &s->peer.host))
			return 1;
	return 0;
}


/* The configuration before any option: smtpd's defaults. */
void
session_defaults(struct config *cf)
{
	memset(cf, 0, sizeof(*cf));
	cf->queue_dir = QUEUE_DIR_DEFAULT;
	cf->max_size = SIZE_DEFAULT;
	cf->timeout = TIMEOUT_DEFAULT;
	cf->lifetime = LIFETIME_DEFAULT;
	cf->data_rate = DATA_RATE_DEFAULT;
	cf->max_sessions = SESSIONS_DEFAULT;
}

/* A new session under cf on fd 0 and 1; the clock of its lifetime
 * starts now. */
void
session_init(struct session *s, const struct config *cf)
{
	memset(s, 0, sizeof(*s));
	s->cf = cf;
	s->state = ST_INIT;
	s->last_verb = "CONNECT";
	limits_start(&s->limits, cf->timeout, cf->lifetime, cf->data_rate);
	line_init(&s->in, STDIN_FILENO, (int)cf->timeout);
	s->in.flush = &s->out;
	s->in.stop_on_signal = 1;
	out_init(&s->out, STDOUT_FILENO);
	s->queue.dir = s->queue.new_dir = s->queue.slot_fd = -1;
	s->queue.tmp_dir = s->queue.failed_dir = -1;
	authlimit_init(&s->authlimit, -1);
}

/* Who the client is, and whether we trust it; logs the connection. */
static void
session_peer(struct session *s)
{
	const char *env = NULL, *env_name = TLS_PEER_ENV;

	/* -E: fd 0 is the TLS program's loopback pair; only a variable
	 * names the client, and without it nobody is trusted: 421.  After
	 * our own STARTTLS it is the address the smtpd before us saw
	 * (STARTTLS_ENV), not the TLS program's view of its peer, which
	 * behind a proxy is the proxy. */
	if (s->cf->is_tls && (env = getenv(STARTTLS_ENV)) != NULL)
		env_name = STARTTLS_ENV;
	else if (s->cf->is_tls)
		env = getenv(TLS_PEER_ENV);
	if (!s->cf->is_tls)
		net_peer(STDIN_FILENO, &s->peer);
	else if (env == NULL || net_peer_parse(env, &s->peer) == -1) {
		log_error("peer=unknown result=refused: -E without a usable "
		    "$%s", env_name);
		reply(&s->out, 421, "4.3.0 %s Service not available: local "
		    "error", s->cf->hostname);
		session_exit(s, EXIT_TEMPFAIL);
	}
	/* -E: the TLS program named the client already. */
	if (!s->cf->is_tls && balancer_expected(s->cf, &s->peer))
		balancer_read(s);
	s->is_trusted = is_trusted_peer(s);
	log_info("peer=%s%s%s trusted=%s%s result=connect", s->peer.addr,
	    s->proxy_via[0] != '\0' ? " proxy=" : "", s->proxy_via,
	    s->is_trusted ? "yes" : "no", s->cf->is_tls ? " tls=yes" : "");
}

/* The queue, and a slot in the session pool; else 421 and the end. */
static void
session_queue(struct session *s)
{
	const char *pool;
	int rc;

	if (queue_open(&s->queue, s->cf->queue_dir, s->cf->hostname) == -1) {
		log_error("peer=%s result=refused: unable to open queue %s: "
		    "%s", s->peer.addr, s->cf->queue_dir, strerror(errno));
		reply(&s->out, 421, "4.3.0 %s Service not available: local "
		    "error", s->cf->hostname);
		session_exit(s, EXIT_TEMPFAIL);
	}
	authlimit_init(&s->authlimit, s->queue.dir);
	pool = limits_pool(s->cf->is_submission, s->cf->is_tls,
	    getenv(STARTTLS_ENV) != NULL);
	rc = queue_slot(&s->queue, pool, (unsigned)s->cf->max_sessions);
	if (rc == 0)
		return;
	if (rc == -1)
		log_error("peer=%s result=refused: unable to lock %s/%s: %s",
		    s->peer.addr, s->cf->queue_dir, pool, strerror(errno));
	else
		log_info("peer=%s pool=%s result=refused: too many sessions",
		    s->peer.addr, pool);
	reply(&s->out, 421, "%s %s Service not available: %s",
	    rc == 1 ? "4.3.2" : "4.3.0", s->cf->hostname,
	    rc == 1 ? "too many sessions" : "local error");
	session_exit(s, rc == 1 ? 0 : EXIT_TEMPFAIL);
}

/*
 * The whole session, from the client's address to its end; returns the
 * status to exit with.  Every end comes back here (session_exit()).
 */
int
session_run(struct session *s)
{
	if (setjmp(s->done) != 0)
		return s->status;
	/* A client that stops reading must not hold us forever. */
	net_set_timeout(STDOUT_FILENO, (int)s->cf->timeout);
	session_peer(s);
	session_queue(s);
	/* RFC 3207 4.2: after STARTTLS the client speaks first (EHLO). */
	if (!s->cf->is_tls || getenv(STARTTLS_ENV) == NULL)
		reply(&s->out, 220, "%s ESMTP smtpd", s->cf->hostname);
	unsetenv(STARTTLS_ENV);
	state_enter(s, ST_INIT);
	session_loop(s);
	return 0;
}
