/*
 * smtpd.c: receive mail by SMTP on stdin/stdout, one session, into the
 * queue.
 *
 * inetd, systemd (Accept=yes) or tcpserver hands us one connection as fd 0
 * and 1; a pipe from a local user works the same way.  We never listen and
 * never fork.  The protocol is one command table and an explicit state; a
 * message streams through a byte-level DATA machine into tmp/, and the 250
 * after the final dot is sent only once the file is fsync'd and renamed
 * into new/ (queue.c).  Nothing here grows with the size of the input.
 *
 * This file holds the options, the session, the command table and its
 * dispatcher; the transaction (MAIL, RCPT, DATA) is in txn.c, and what the
 * two share is declared in smtpd.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtpd.h"

#define NETWORKS_MAX	64	/* -R likewise */

static const char usage[] =
"usage: smtpd [-q dir] [-n name] [-l file] [-t timeout] [-r rate] [-L life]\n"
"             [-s bytes] [-m bytes] [-c n] [-d domain]... [-R cidr]...\n"
"             [-T program] [-E] [-A program] [-S] [-P cidr]... [-F file] [-N]\n"
"             [-D dir] [-W file] [-U file]\n"
"  -q dir      queue directory (default /var/spool/smtpq)\n"
"  -n name     host name in replies and Received: (default: the system's)\n"
"  -l file     log file, - for stderr (default: syslog, facility mail)\n"
"  -t timeout  time for one command line, e.g. 300, 5m (default 300s)\n"
"  -r rate     minimum DATA rate in bytes a second (default 500)\n"
"  -L life     session lifetime, e.g. 3600, 1h (default 1h)\n"
"  -s bytes    maximum message size, e.g. 10485760, 10M (default 10M)\n"
"  -m bytes    free space the queue must keep (default: twice -s)\n"
"  -c n        sessions at once per queue (default 30)\n"
"  -d domain   accept mail for this domain from anyone (repeatable)\n"
"  -R cidr     trust (relay for) this client network (repeatable)\n"
"  -T program  offer STARTTLS, run by exec'ing this (e.g. stunnel config)\n"
"  -E          the connection is TLS already; client from $REMOTE_HOST\n"
"  -A program  offer AUTH over TLS, checkpassword(8) program to verify\n"
"  -S          submission: MAIL needs AUTH (but from a pipe)\n"
"  -P cidr     a load balancer: its connections start with a PROXY header\n"
"  -D dir      Maildir root: a local part with a Maildir there exists\n"
"  -W file     aliases file: a local part with an alias exists\n"
"  -U file     recipients file: the local parts (or addresses) that exist\n"
"  -F file     configuration file (default " CONF_PATH ")\n"
"  -N          check the configuration and flags, then exit\n";

#define OPTSTRING	":q:n:l:t:r:L:s:m:c:d:R:T:EA:SP:hF:ND:W:U:"


#define IN(st)		(1u << (st))
#define ANY		(IN(ST_INIT) | IN(ST_HELO) | IN(ST_MAIL) | IN(ST_RCPT))

static const char *const state_names[] = {
	"init", "helo", "mail", "rcpt", "data"
};

struct command {
	const char	*verb;
	void		(*handler)(const char *verb, char *arg);
	unsigned	 states;	/* where it is allowed */
	const char	*refusal;	/* 503 text elsewhere */
};

/* Configuration, from the command line. */
static const char *queue_dir = "/var/spool/smtpq";
static const char *logfile;		/* -l; NULL: syslog */
char hostname[HOST_MAX + 1];
const char *domains[DOMAINS_MAX];
size_t ndomains;
static struct cidr networks[NETWORKS_MAX];
static size_t nnetworks;
unsigned long max_size = SIZE_DEFAULT;
unsigned long min_free;		/* -m */
static int is_min_free_set;		/* else MINFREE_SIZES * max_size */
static unsigned timeout = TIMEOUT_DEFAULT;
static unsigned lifetime = LIFETIME_DEFAULT;
static unsigned long data_rate = DATA_RATE_DEFAULT;
static unsigned long max_sessions = SESSIONS_DEFAULT;
static char *tls_argv[PROG_ARGS_MAX + 1];	/* -T; [0] NULL: none */
static char *auth_argv[PROG_ARGS_MAX + 1];	/* -A */
int is_tls;				/* -E */
int is_submission;			/* -S */

/* The session. */
struct line in;			/* the client, fd 0 */
struct out out;			/* our replies, fd 1 */
struct queue queue;
struct peer peer;
static enum state state;
int is_trusted;
int is_esmtp;
struct limits limits;
static unsigned errors;
unsigned junk;			/* NOOP, RSET, HELP (JUNK_MAX) */
unsigned messages;
char helo[HOST_MAX + 1];
const char *last_verb = "CONNECT";
int line_bare_lf;		/* the last command ended in LF alone */
char user[AUTH_USER_MAX + 1];	/* authenticated as, "": not */

static void smtp_helo(const char *, char *);
static void smtp_ehlo(const char *, char *);
static void smtp_rset(const char *, char *);
static void smtp_noop(const char *, char *);
static void smtp_help(const char *, char *);
static void smtp_quit(const char *, char *);
static void smtp_unimplemented(const char *, char *);
static void smtp_starttls(const char *, char *);
static void smtp_auth(const char *, char *);

static const struct command commands[] = {
	{ "HELO", smtp_helo, ANY, NULL },
	{ "EHLO", smtp_ehlo, ANY, NULL },
	{ "MAIL", smtp_mail, IN(ST_HELO), "Error: nested MAIL command" },
	{ "RCPT", smtp_rcpt, IN(ST_MAIL) | IN(ST_RCPT),
	    "Error: need MAIL command" },
	{ "DATA", smtp_data, IN(ST_RCPT), "Error: need RCPT command" },
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
state_enter(enum state next)
{
	/* The one place the state changes; a trace would go here. */
	(void)state_names;
	state = next;
}

/* Ends the session: flush what we owe the client, and go. */
void __attribute__((noreturn))
session_exit(int status)
{
	out_flush(&out);
	queue_close(&queue);
	exit(status);
}

/*
 * Every reply goes through here.  Error replies count towards the hard
 * limit (Postfix's smtpd_hard_error_limit); past it the client is cut off.
 */
static void
respond_va(int code, int counts, const char *fmt, va_list ap)
{
	reply_va(&out, code, 1, fmt, ap);
	if (counts && ++errors >= SMTP_ERRORS_MAX) {
		reply(&out, 421, "4.7.0 %s Error: too many errors", hostname);
		log_info("peer=%s result=disconnect: too many errors",
		    peer.addr);
		session_exit(0);
	}
}

void __attribute__((format(printf, 2, 3)))
respond(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_va(code, code >= 400, fmt, ap);
	va_end(ap);
}

/* The reply to NOOP, RSET or HELP: past JUNK_MAX of them it counts as an
 * error, so that they cannot keep a session alive for ever. */
static void __attribute__((format(printf, 2, 3)))
respond_junk(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_va(code, code >= 400 || ++junk > JUNK_MAX, fmt, ap);
	va_end(ap);
}

/* counts: whether the reply is the client's error (not so the 452 for
 * a recipient past the limit, which RFC 5321 4.5.3.1.10 expects). */
static void __attribute__((format(printf, 3, 4)))
respond_counts(int code, int counts, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_va(code, counts, fmt, ap);
	va_end(ap);
}

/*
 * A refused sender, recipient or message: a log line in the reply's words
 * ("result=rejected: 501 5.1.7 Bad sender address syntax"), then the
 * reply "code words value".  Whatever the client sent (from, to, value) is
 * escaped in the log (log_esc), so it cannot forge a field or a line.
 */
void
refuse(int code, int counts, const char *from, const char *to,
    const char *words, const char *value)
{
	char f[LOG_ADDR_MAX], t[LOG_ADDR_MAX], v[4 * SMTP_LINE_MAX + 1];

	log_info("peer=%s%s%s%s%s%s%s result=rejected: %d %s%s%s", peer.addr,
	    from != NULL ? " from=<" : "",
	    from != NULL ? log_esc(from, f, sizeof(f)) : "",
	    from != NULL ? ">" : "",
	    to != NULL ? " to=<" : "", to != NULL ? log_esc(to, t, sizeof(t)) :
	    "", to != NULL ? ">" : "", code, words, value != NULL ? " " : "",
	    value != NULL ? log_esc(value, v, sizeof(v)) : "");
	if (value != NULL)
		respond_counts(code, counts, "%s %s", words, value);
	else
		respond_counts(code, counts, "%s", words);
}

void
transaction_reset(void)
{
	txn_clear();
	if (state != ST_INIT)
		state_enter(ST_HELO);
}

/* The 4xx for a local failure; err, the errno where it failed, says
 * which. */
void
respond_local_failure(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		respond(452, "4.3.1 Insufficient system storage");
	else
		respond(451, "4.3.0 Error: local error in processing");
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
smtp_helo(const char *verb, char *arg)
{
	if (!helo_arg_valid(arg)) {
		respond(501, "5.5.4 Syntax: HELO hostname");
		return;
	}
	/* RFC 5321 4.1.4: a repeated HELO/EHLO resets like RSET. */
	strcpy(helo, arg);
	is_esmtp = 0;
	state_enter(ST_HELO);
	transaction_reset();
	(void)verb;
	respond(250, "%s", hostname);
}

static void
smtp_ehlo(const char *verb, char *arg)
{
	if (!helo_arg_valid(arg)) {
		respond(501, "5.5.4 Syntax: EHLO hostname");
		return;
	}
	strcpy(helo, arg);
	is_esmtp = 1;
	state_enter(ST_HELO);
	transaction_reset();
	(void)verb;
	reply_more(&out, 250, "%s", hostname);
	reply_more(&out, 250, "PIPELINING");
	reply_more(&out, 250, "SIZE %lu", max_size);
	reply_more(&out, 250, "8BITMIME");
	reply_more(&out, 250, "ENHANCEDSTATUSCODES");
	reply_more(&out, 250, "SMTPUTF8");
	if (tls_argv[0] != NULL && !is_tls)
		reply_more(&out, 250, "STARTTLS");
	if (auth_argv[0] != NULL && is_tls)
		reply_more(&out, 250, "AUTH PLAIN LOGIN");
	respond(250, "HELP");
}


static void
smtp_rset(const char *verb, char *arg)
{
	(void)verb;
	if (*arg != '\0') {
		respond(501, "5.5.4 Syntax: RSET");
		return;
	}
	transaction_reset();
	respond_junk(250, "2.0.0 Ok");
}

static void
smtp_noop(const char *verb, char *arg)
{
	(void)verb;
	(void)arg;		/* RFC 5321 4.1.1.9: a parameter is ignored */
	respond_junk(250, "2.0.0 Ok");
}

static void
smtp_help(const char *verb, char *arg)
{
	(void)verb;
	(void)arg;
	respond_junk(214, "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP "
	    "HELP QUIT");
}

static void
smtp_quit(const char *verb, char *arg)
{
	(void)verb;
	(void)arg;
	reply(&out, 221, "2.0.0 %s closing connection", hostname);
	log_info("peer=%s messages=%u result=quit", peer.addr, messages);
	session_exit(0);
}

static void
smtp_unimplemented(const char *verb, char *arg)
{
	(void)arg;
	respond(502, "5.5.1 Error: %s not implemented", verb);
}

static void
smtp_starttls(const char *verb, char *arg)
{
	(void)verb;
	if (*arg != '\0')
		respond(501, "5.5.4 Syntax: STARTTLS");
	else if (tls_argv[0] == NULL)
		respond(502, "5.5.1 Error: STARTTLS not implemented");
	else if (is_tls)
		respond(503, "5.5.1 Error: TLS already active");
	else if (state == ST_MAIL || state == ST_RCPT)
		respond(503, "5.5.1 Error: MAIL transaction in progress");
	else if (!peer.is_known) {
		/* The next smtpd learns the client from us (STARTTLS_ENV),
		 * and only a network address can be carried over. */
		log_info("peer=%s result=starttls refused: not a network "
		    "client", peer.addr);
		respond(454, "4.7.0 TLS not available");
	} else {
		starttls_exec(&in, &out, tls_argv, peer.addr);
		respond(454, "4.7.0 TLS not available");
	}
}

static void session_end(enum line_status) __attribute__((noreturn));

static void
smtp_auth(const char *verb, char *arg)
{
	enum line_status st = LINE_OK;
	char tried[AUTH_USER_MAX + 1];
	const char *text;
	int code;

	(void)verb;
	if (auth_argv[0] == NULL || !is_tls) {
		respond(503, "5.5.1 Error: authentication not enabled");
		return;
	}
	if (user[0] != '\0') {
		respond(503, "5.5.1 Error: already authenticated");
		return;
	}
	code = auth_run(&in, &out, arg, auth_argv, peer.addr, tried, &text,
	    &st);
	if (code == -1)
		session_end(st);
	if (code == 421) {
		reply(&out, 535, "%s", text);
		reply(&out, 421, "4.7.0 %s Error: too many authentication "
		    "failures", hostname);
		session_exit(0);
	}
	if (code == 235)
		strcpy(user, tried);
	respond(code, "%s", text);
}

/* Why a deadline passed: the reply's words, and the log's. */
const char *
timeout_words(void)
{
	return limits_life_over(&limits) ? "session too long" :
	    "timeout exceeded";
}

const char *
timeout_log(void)
{
	return limits_life_over(&limits) ? "session too long" : "timeout";
}

/* Finds and runs the command on one line. */
static void
dispatch(char *line, size_t len, int bare_lf)
{
	const struct command *cmd;
	char *arg;
	size_t i, n;

	if (memchr(line, '\0', len) != NULL) {
		respond(500, "5.5.2 Error: NUL in command");
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
		respond(500, "5.5.2 Error: command not recognized");
		return;
	}
	cmd = &commands[i];
	last_verb = cmd->verb;
	if (!(cmd->states & IN(state))) {
		respond(503, "5.5.1 %s", state == ST_INIT ?
		    "Error: send HELO/EHLO first" : cmd->refusal);
		return;
	}
	line_bare_lf = bare_lf;
	cmd->handler(cmd->verb, arg);
}

/* Input ended between commands: end of input, timeout, signal, error. */
static void
session_end(enum line_status st)
{
	switch (st) {
	case LINE_TIMEOUT:
		reply(&out, 421, "4.4.2 %s Error: %s", hostname,
		    timeout_words());
		log_info("peer=%s messages=%u result=%s after %s", peer.addr,
		    messages, timeout_log(), last_verb);
		break;
	case LINE_SIGNAL:
		reply(&out, 421, "4.3.2 %s Service shutting down", hostname);
		log_info("peer=%s result=shutting down", peer.addr);
		break;
	case LINE_ERROR:
		/* line_fill() flushes our replies first: a client that
		 * stops reading fails there, not in read(). */
		if (out.error != 0)
			log_info("peer=%s result=write error: %s", peer.addr,
			    strerror(out.error));
		else
			log_info("peer=%s result=read error: %s", peer.addr,
			    strerror(errno));
		break;
	default:
		log_info("peer=%s messages=%u result=lost connection after %s",
		    peer.addr, messages, last_verb);
		break;
	}
	session_exit(0);
}

static void
session(void)
{
	char buf[SMTP_LINE_MAX];
	enum line_status st;
	size_t len;
	int bare_lf;

	for (;;) {
		limits_command(&limits, &in);
		st = line_read(&in, buf, sizeof(buf), &len, &bare_lf);
		if (st == LINE_OK)
			dispatch(buf, len, bare_lf);
		else if (st == LINE_LONG)
			respond(500, "5.5.2 Error: line too long");
		else
			session_end(st);
		if (out.error != 0) {
			log_info("peer=%s result=write error: %s", peer.addr,
			    strerror(out.error));
			session_exit(0);
		}
	}
}

static int
is_trusted_peer(void)
{
	size_t i;

	if (peer.is_trusted)
		return 1;
	for (i = 0; peer.is_known && i < nnetworks; i++)
		if (net_cidr_match(&networks[i], &peer.host))
			return 1;
	return 0;
}

static void
options(int argc, char **argv)
{
	const char *name = NULL;
	char why[512];
	int c, is_check = 0;

	/* smtpq.conf's values first, through the same cases (conf.c). */
	while ((c = conf_getopt(argc, argv, OPTSTRING, CONF_SMTPD)) != -1) {
		switch (c) {
		case 'q':
			queue_dir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'l':
			logfile = optarg;
			break;
		case 't':
			if (opt_duration(optarg, &timeout) == -1 ||
			    timeout == 0)
				die_usage("-t: not a duration: %s", optarg);
			break;
		case 'r':
			if (opt_number(optarg, 1000000000UL, &data_rate) == -1
			    || data_rate == 0)
				die_usage("-r: not a rate in bytes a second: "
				    "%s", optarg);
			break;
		case 'L':
			if (opt_duration(optarg, &lifetime) == -1 ||
			    lifetime == 0)
				die_usage("-L: not a duration: %s", optarg);
			break;
		case 's':
			if (opt_size(optarg, &max_size) == -1 || max_size == 0)
				die_usage("-s: not a size: %s", optarg);
			break;
		case 'm':
			if (opt_size(optarg, &min_free) == -1)
				die_usage("-m: not a size: %s", optarg);
			is_min_free_set = 1;
			break;
		case 'c':
			if (opt_number(optarg, 10000, &max_sessions) == -1 ||
			    max_sessions == 0)
				die_usage("-c: not a number from 1 to 10000: "
				    "%s", optarg);
			break;
		case 'd':
			if (!addr_domain_valid(optarg))
				die_usage("-d: not a domain: %s", optarg);
			if (ndomains == DOMAINS_MAX)
				die_usage("-d: more than %d domains",
				    DOMAINS_MAX);
			domains[ndomains++] = optarg;
			break;
		case 'R':
			if (nnetworks == NETWORKS_MAX)
				die_usage("-R: more than %d networks",
				    NETWORKS_MAX);
			if (net_cidr_parse(optarg, &networks[nnetworks++]) ==
			    -1)
				die_usage("-R: not an address/prefix: %s",
				    optarg);
			break;
		case 'T':
			if (prog_split(optarg, tls_argv, PROG_ARGS_MAX) == -1)
				die_usage("-T: not a program and at most %d "
				    "words: %s", PROG_ARGS_MAX, optarg);
			break;
		case 'A':
			if (prog_split(optarg, auth_argv, PROG_ARGS_MAX) == -1)
				die_usage("-A: not a program and at most %d "
				    "words: %s", PROG_ARGS_MAX, optarg);
			break;
		case 'E':
			is_tls = 1;
			break;
		case 'S':
			is_submission = 1;
			break;
		case 'P':
			proxy_option(optarg);
			break;
		case 'N':
			is_check = 1;
			break;
		case 'D':
		case 'W':
		case 'U':
			rcptcheck_option(c, optarg);
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case ':':
			die_usage("-%c needs a value", optopt);
		default:
			die_usage("unknown option -%c", optopt);
		}
	}
	if (!is_min_free_set)
		min_free = max_size > (unsigned long)-1 / MINFREE_SIZES ?
		    (unsigned long)-1 : MINFREE_SIZES * max_size;
	if (optind != argc)
		die_usage("unexpected argument: %s", argv[optind]);
	if (is_submission && auth_argv[0] == NULL)
		die_usage("-S needs -A: submission without AUTH takes no mail");
	if (is_tls && logfile != NULL && strcmp(logfile, "-") == 0)
		die_usage("-E with -l -: stderr may be the client's connection");
	conf_blame('n');
	if (opt_hostname(name, hostname, sizeof(hostname)) == -1)
		die_usage("%s: not a usable host name; give one with -n",
		    name != NULL ? name : "the system's name");
	conf_blame(0);
	if (is_check && (c = rcptcheck_load(why, sizeof(why))) != 0) {
		conf_blame(c);
		die_usage("%s", why);
	}
	if (is_check)
		exit(0);
}

int
main(int argc, char **argv)
{
	const char *env = NULL, *env_name = TLS_PEER_ENV, *pool;
	int rc;

	log_prog = "smtpd";
	starttls_guard_stderr(argc, argv, OPTSTRING);
	options(argc, argv);
	sig_init();
	limits_start(&limits, timeout, lifetime, data_rate);
	line_init(&in, STDIN_FILENO, (int)timeout);
	in.flush = &out;
	in.stop_on_signal = 1;
	out_init(&out, STDOUT_FILENO);
	/* Like a queue that cannot be opened: the client is told to come
	 * back later, and syslog gets the reason (not stderr, which under
	 * inetd is the connection). */
	if (log_open("smtpd", logfile) == -1) {
		int saved = errno;

		reply(&out, 421, "4.3.0 %s Service not available: local error",
		    hostname);
		out_flush(&out);
		die(EXIT_TEMPFAIL, "unable to open log %s: %s", logfile,
		    strerror(saved));
	}
	/* A client that stops reading must not hold us forever. */
	net_set_timeout(STDOUT_FILENO, (int)timeout);
	/* -E: fd 0 is the TLS program's loopback pair; only a variable
	 * names the client, and without it nobody is trusted: 421.  After
	 * our own STARTTLS it is the address the smtpd before us saw
	 * (STARTTLS_ENV), not the TLS program's view of its peer, which
	 * behind a proxy is the proxy. */
	if (is_tls && (env = getenv(STARTTLS_ENV)) != NULL)
		env_name = STARTTLS_ENV;
	else if (is_tls)
		env = getenv(TLS_PEER_ENV);
	if (!is_tls)
		net_peer(STDIN_FILENO, &peer);
	else if (env == NULL || net_peer_parse(env, &peer) == -1) {
		log_error("peer=unknown result=refused: -E without a usable "
		    "$%s", env_name);
		reply(&out, 421, "4.3.0 %s Service not available: local error",
		    hostname);
		session_exit(EXIT_TEMPFAIL);
	}
	/* -E: the TLS program named the client already. */
	if (!is_tls && proxy_expected(&peer))
		proxy_read(&in, timeout);
	is_trusted = is_trusted_peer();
	log_info("peer=%s%s%s trusted=%s%s result=connect", peer.addr,
	    proxy_via[0] != '\0' ? " proxy=" : "", proxy_via,
	    is_trusted ? "yes" : "no", is_tls ? " tls=yes" : "");

	if (queue_open(&queue, queue_dir, hostname) == -1) {
		log_error("peer=%s result=refused: unable to open queue %s: %s",
		    peer.addr, queue_dir, strerror(errno));
		reply(&out, 421, "4.3.0 %s Service not available: local error",
		    hostname);
		session_exit(EXIT_TEMPFAIL);
	}
	pool = limits_pool(is_submission, is_tls,
	    getenv(STARTTLS_ENV) != NULL);
	if ((rc = queue_slot(&queue, pool, (unsigned)max_sessions)) != 0) {
		if (rc == -1)
			log_error("peer=%s result=refused: unable to lock "
			    "%s/%s: %s", peer.addr, queue_dir, pool,
			    strerror(errno));
		else
			log_info("peer=%s pool=%s result=refused: too many "
			    "sessions", peer.addr, pool);
		reply(&out, 421, "%s %s Service not available: %s",
		    rc == 1 ? "4.3.2" : "4.3.0", hostname,
		    rc == 1 ? "too many sessions" : "local error");
		session_exit(rc == 1 ? 0 : EXIT_TEMPFAIL);
	}
	/* RFC 3207 4.2: after STARTTLS the client speaks first (EHLO). */
	if (!is_tls || getenv(STARTTLS_ENV) == NULL)
		reply(&out, 220, "%s ESMTP smtpd", hostname);
	unsetenv(STARTTLS_ENV);
	state_enter(ST_INIT);
	session();
	return 0;
}
