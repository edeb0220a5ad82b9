/*
 * smtpd.h: what the parts of smtpd share.
 */
#ifndef SMTPD_H
#define SMTPD_H

#include <setjmp.h>

#include "common.h"

/* data.c: the DATA machine (RFC 5321 4.1.1.4, 4.5.2) */
enum data_state {
	D_BOL,		/* at a line start: a dot here is special */
	D_DOT,		/* "." at a line start */
	D_DOTCR,	/* "." CR at a line start: LF ends the message */
	D_TEXT,		/* inside a line */
	D_CR,		/* a CR inside a line, not yet written */
	D_END		/* the final dot's line has been read */
};

struct data {
	enum data_state	 state;
	int		 lf_ends_line;	/* DATA came with a bare LF */
	unsigned long long size;	/* message bytes as stored */
	unsigned long	 max_size;	/* over it: is_too_big, nothing written */
	int		 is_too_big;
	int		 has_8bit;	/* an octet over 127 was stored */
	struct out	*out;		/* where the message goes */
};

void	data_init(struct data *, struct out *, unsigned long max_size,
	    int lf_ends_line);
size_t	data_scan(struct data *, const char *, size_t);

/* limits.c: deadlines for reads, a session's lifetime */
struct limits {
	long long	end;		/* line_now() when the session must end */
	unsigned	timeout;	/* -t: seconds per command line */
	unsigned long	rate;		/* -r: DATA bytes a second, at least */
};

void	limits_start(struct limits *, unsigned timeout, unsigned lifetime,
	    unsigned long rate);
void	limits_command(const struct limits *, struct line *);
void	limits_data_credit(const struct limits *, struct line *, size_t);
int	limits_life_over(const struct limits *);
int	limits_disk_ok(int dir, unsigned long long need);
const char *limits_pool(int is_submission, int is_tls, int is_starttls);

/* starttls.c: STARTTLS by exec (RFC 3207) */
#define STARTTLS_ENV	"SMTPD_STARTTLS"	/* the client, for the next smtpd */
#define TLS_PEER_ENV	"REMOTE_HOST"		/* stunnel's client address */

int	starttls_exec(struct line *, struct out *, char *const argv[],
	    const char *peer);
void	starttls_guard_stderr(int argc, char **argv, const char *optstring);

/* authlimit.c: AUTH failures across sessions, in QUEUE/auth/failures.
 *
 * Failures are kept as leaky buckets.  A client network (/24, /64)
 * holds AUTH_NET_FAILURES and forgets one each AUTH_NET_LEAK seconds (10
 * an hour: a stale password in a mail client retrying every 10 minutes
 * never fills it); a user name AUTH_USER_FAILURES, one each
 * AUTH_USER_LEAK s (30 an hour, from everywhere).  A full bucket: "454
 * 4.7.0 Too many authentication failures" with no check.  The 535's
 * delay is one second per failure in the fuller bucket, up to
 * AUTH_DELAY_MAX.  At most AUTH_CHECKS_PER_SECOND checker runs a second
 * on the host; a check waits up to AUTH_CHECK_WAIT s for one, then 454
 * 4.7.0. */
#define AUTH_NET_FAILURES	10
#define AUTH_NET_LEAK		360
#define AUTH_USER_FAILURES	30
#define AUTH_USER_LEAK		120
#define AUTH_DELAY_MAX		5
#define AUTH_CHECKS_PER_SECOND	10
#define AUTH_CHECK_WAIT		2

#define AUTHLIMIT_SLOTS		1024	/* records: the file is 98400 bytes */
#define AUTHLIMIT_RECORD	96	/* bytes a record, LF included */
#define AUTHLIMIT_KEY_MAX	64	/* a longer user name is cut */
#define AUTHLIMIT_FILE_SIZE \
	((size_t)(AUTHLIMIT_SLOTS + 1) * AUTHLIMIT_RECORD)

struct authlimit_record {
	char		kind;		/* 'u' user, 'n' network */
	unsigned	count;		/* failures still in the bucket */
	long long	last;		/* when the bucket last leaked */
	char		key[AUTHLIMIT_KEY_MAX + 1];
};

/* A session's view of the file: its copy while locked, and the keys of
 * an admitted check until authlimit_settle(). */
struct authlimit {
	int		 dir;		/* the queue directory */
	int		 fd;		/* auth/failures, -1: not yet open */
	char		 table[AUTHLIMIT_FILE_SIZE];
	char		 pending_user[AUTHLIMIT_KEY_MAX + 1];
	char		 pending_net[AUTHLIMIT_KEY_MAX + 1];
	int		 is_pending;
	long long	 admitted;	/* the second the run was counted in */
};

int	authlimit_parse(const char *, struct authlimit_record *);
void	authlimit_format(const struct authlimit_record *, char *);
void	authlimit_net(const char *peer, char *key);
void	authlimit_init(struct authlimit *, int dir);
int	authlimit_admit(struct authlimit *, const char *peer,
	    const char *user, const char **);
unsigned authlimit_settle(struct authlimit *, int code);

/* balancer.c: -P, the PROXY header of a load balancer (smtpd(8), "Behind a
 * load balancer").  Missing, bad or late: "421 4.7.0 ... PROXY header
 * expected" (4.4.2 ... timeout) and the session ends. */
#define PROXY_NETWORKS_MAX	64	/* -P networks; more: usage error */
#define PROXY_DEADLINE		10	/* seconds for the header (or -t) */
#define PROXY_V1_MIN		15	/* "PROXY UNKNOWN\r\n" */

/* smtpd.c: the configuration, set once by options() and read-only after;
 * session_defaults() sets what no option gives (with SIZE_DEFAULT,
 * TIMEOUT_DEFAULT and MINFREE_SIZES, common.h's: sendmail or smtpsend
 * share them). */
#define NETWORKS_MAX	64	/* -R likewise */

/* -r, the minimum DATA rate in bytes a second: each read in DATA moves
 * the deadline on by its bytes / rate, at most -t ahead (Postfix's
 * smtpd_min_data_rate); slower: "421 4.4.2 ... timeout". */
#define DATA_RATE_DEFAULT	500

/* -L, the session lifetime in seconds; then "421 4.4.2 ... session too
 * long", in a command or in DATA. */
#define LIFETIME_DEFAULT	3600

/* -c, sessions at once per queue; the one over the cap gets "421 4.3.2
 * ... Service not available".  A Postfix client opens up to 20 at once to
 * one destination (default_destination_concurrency_limit); 30 takes those
 * and leaves room for others, and the units' per-source caps (20) keep
 * one client from taking all of them. */
#define SESSIONS_DEFAULT	30

struct config {
	const char	*queue_dir;		/* -q */
	const char	*logfile;		/* -l; NULL: syslog */
	char		 hostname[HOST_MAX + 1];
	const char	*domains[DOMAINS_MAX];	/* -d */
	size_t		 ndomains;
	struct cidr	 networks[NETWORKS_MAX];	/* -R */
	size_t		 nnetworks;
	struct cidr	 proxies[PROXY_NETWORKS_MAX];	/* -P */
	size_t		 nproxies;
	unsigned long	 max_size;		/* -s */
	unsigned long	 min_free;		/* -m */
	unsigned	 timeout;		/* -t */
	unsigned	 lifetime;		/* -L */
	unsigned long	 data_rate;		/* -r */
	unsigned long	 max_sessions;		/* -c */
	char		*tls_argv[PROG_ARGS_MAX + 1];	/* -T; [0] NULL: no */
	char		*auth_argv[PROG_ARGS_MAX + 1];	/* -A */
	int		 is_tls;		/* -E */
	int		 is_submission;		/* -S */
	const char	*maildir_root;		/* -D */
	const char	*alias_path;		/* -W */
	const char	*list_path;		/* -U */
};

/* rcptcheck.c: the aliases (-W) and recipients (-U) files as read, once
 * a session, at its first local recipient (or at -N); NULL: not read. */
struct rcptcheck {
	char		*alias_text;	/* RCPTCHECK_FILE_MAX + 1 bytes */
	char		*list_text;
	size_t		 alias_len;
	size_t		 list_len;
	int		 is_loaded;
};

/* RFC 5321 4.1.4 and 3.3: where a session stands. */
enum state {
	ST_INIT,	/* greeted the client, no HELO/EHLO yet */
	ST_HELO,	/* HELO/EHLO done, no transaction */
	ST_MAIL,	/* MAIL accepted, no recipient yet */
	ST_RCPT,	/* at least one recipient accepted */
	ST_DATA		/* reading the message */
};

/* txn.c: the envelope MAIL and RCPT build, and the file DATA writes.
 *
 * RCPT_MAX's 452s are not the client's errors (RFC 5321 4.5.3.1.10: it
 * goes on with the accepted ones); only this many past RCPT_MAX in one
 * transaction are free, each one more counts towards SMTP_ERRORS_MAX
 * (Postfix's smtpd_recipient_overshoot_limit). */
#define RCPT_OVERSHOOT_MAX	1000

/* Messages in one session from a client neither trusted nor
 * authenticated; MAIL after them gets "421 4.7.0 ... too many messages"
 * and the session ends (a new one may go on).  It bounds what one
 * connection of an abuser can queue, and no standard MTA's batching
 * meets it: Exim's own server limit is 1,000 (smtp_accept_max_per_
 * connection), Postfix has none.  Trusted and authenticated clients have
 * no cap (100 held Postfix and Exim backlogs for 10-24 minutes); -L still
 * ends every session. */
#define MESSAGES_MAX		1000

struct txn {
	char		 sender[ADDR_MAX + 1];
	int		 is_8bitmime;
	int		 is_smtputf8;	/* MAIL's SMTPUTF8 (RFC 6531 3.4) */
	unsigned long	 mail_size;	/* MAIL's SIZE=, 0 without */
	char		 rcpts[RCPT_MAX][ADDR_MAX + 1];
	size_t		 nrcpts;
	unsigned	 overshoot;	/* RCPTs past RCPT_MAX */
	struct out	 qout;		/* the queue file being written */
};

/* Client errors in one session before "421 4.7.0 Too many errors" and exit
 * (Postfix's smtpd_hard_error_limit). */
#define SMTP_ERRORS_MAX		20

/* NOOP, RSET and HELP in a session (since the last queued message) that
 * are free; each one more counts towards SMTP_ERRORS_MAX (Postfix's
 * smtpd_junk_command_limit). */
#define JUNK_MAX		100

/* RFC 4954 4: a failed AUTH is answered "535 5.7.8" only after this many
 * seconds, and counts as an error; the AUTH_FAILURES_MAXth failure in a
 * session is followed by "421 4.7.0 Too many authentication failures". */
#define AUTH_FAIL_DELAY		1
#define AUTH_FAILURES_MAX	3

/* Octets of an AUTH user name (RFC 4954 sets no bound); the password's,
 * AUTH_PASS_MAX, is common.h's: smtpsend -a sends one. */
#define AUTH_USER_MAX		255

/*
 * session.c: one SMTP session, everything it knows, as OpenSMTPD's
 * smtp_session and Postfix's SMTPD_STATE: the configuration it runs
 * under (read only), the connection, where it stands, and the
 * transaction.  Every function of smtpd that needs any of it is given
 * the session.
 */
struct session {
	const struct config *cf;
	struct line	 in;		/* the client, fd 0 */
	struct out	 out;		/* our replies, fd 1 */
	struct queue	 queue;
	struct peer	 peer;
	char		 proxy_via[64];	/* the balancer; "": not proxied */
	enum state	 state;
	int		 is_trusted;
	int		 is_esmtp;
	struct limits	 limits;
	unsigned	 errors;
	unsigned	 junk;		/* NOOP, RSET, HELP (JUNK_MAX) */
	unsigned	 messages;
	unsigned	 auth_failures;	/* AUTH_FAILURES_MAX */
	char		 helo[HOST_MAX + 1];
	const char	*last_verb;
	int		 line_bare_lf;	/* the last command ended in bare LF */
	char		 user[AUTH_USER_MAX + 1];	/* authenticated as; "": no */
	struct authlimit authlimit;
	struct rcptcheck rcptcheck;
	struct txn	 txn;
	jmp_buf		 done;		/* session_exit() ends session_run() */
	int		 status;	/* what session_run() returns */
};

void	session_defaults(struct config *);
void	session_init(struct session *, const struct config *);
int	session_run(struct session *);
void	session_exit(struct session *, int) __attribute__((noreturn));
void	state_enter(struct session *, enum state);
void	respond(struct session *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	refuse(struct session *, int code, int counts, const char *from,
	    const char *to, const char *words, const char *value);
void	respond_local_failure(struct session *, int err);
void	transaction_reset(struct session *);
const char *timeout_words(const struct session *);
const char *timeout_log(const struct session *);

/* sasl.c: AUTH PLAIN and LOGIN (RFC 4954, 4616) */
int	sasl_run(struct session *, char *arg, char *user, const char **text,
	    enum line_status *);

/* balancer.c */
void	balancer_option(struct config *, const char *);
int	balancer_expected(const struct config *, const struct peer *);
void	balancer_read(struct session *);

/* txn.c: MAIL, RCPT, DATA and the envelope they build */
void	txn_mail(struct session *, char *);
void	txn_rcpt(struct session *, char *);
void	txn_data(struct session *, char *);
void	txn_clear(struct session *);

/* rcptcheck.c: who exists at our domains (-D, -W, -U) */
int	rcptcheck_enabled(const struct config *);
int	rcptcheck_load(const struct config *, struct rcptcheck *, char *why,
	    size_t);
void	rcptcheck_free(struct rcptcheck *);
int	rcptcheck_match(const char *text, size_t len, int is_aliases,
	    const char *box, const char *domain);
int	rcptcheck(struct session *, const char *sender, const char *addr);

#endif
