/*
 * smtpd.h: what the parts of smtpd share.
 */
#ifndef SMTPD_H
#define SMTPD_H

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

/* prog.c: helper programs, -T and -A */
#define PROG_ARGS_MAX	32	/* words in -T or -A; more: usage error */
#define PROG_PATH_MAX	4096

int	prog_split(char *spec, char *argv[], size_t max);
int	prog_find(const char *name, char *path, size_t size);
int	prog_exec(const char *path, char *const argv[]);
int	prog_devnull(int fd);

/* starttls.c: STARTTLS by exec (RFC 3207) */
#define STARTTLS_ENV	"SMTPD_STARTTLS"	/* the client, for the next smtpd */
#define TLS_PEER_ENV	"REMOTE_HOST"		/* stunnel's client address */

int	starttls_exec(struct line *, struct out *, char *const argv[],
	    const char *peer);
void	starttls_guard_stderr(int argc, char **argv, const char *optstring);

/* auth.c: AUTH PLAIN and LOGIN (RFC 4954, 4616) */
#define AUTH_USER_MAX	255
#define AUTH_PASS_MAX	255

int	auth_run(struct line *, struct out *, char *arg, char *const argv[],
	    const char *peer, char *user, const char **text,
	    enum line_status *);

/* authlimit.c: AUTH failures across sessions, in QUEUE/auth/failures
 * (limits in common.h, by AUTH_FAIL_DELAY) */
#define AUTHLIMIT_SLOTS		1024	/* records: the file is 98400 bytes */
#define AUTHLIMIT_RECORD	96	/* bytes a record, LF included */
#define AUTHLIMIT_KEY_MAX	64	/* a longer user name is cut */

struct authlimit_record {
	char		kind;		/* 'u' user, 'n' network */
	unsigned	count;		/* failures still in the bucket */
	long long	last;		/* when the bucket last leaked */
	char		key[AUTHLIMIT_KEY_MAX + 1];
};

int	authlimit_parse(const char *, struct authlimit_record *);
void	authlimit_format(const struct authlimit_record *, char *);
void	authlimit_net(const char *peer, char *key);
int	authlimit_admit(const char *peer, const char *user, const char **);
unsigned authlimit_settle(int code);

/* proxy.c: -P, the PROXY header of a load balancer (DESIGN "Behind a
 * load balancer").  Missing, bad or late: "421 4.7.0 ... PROXY header
 * expected" (4.4.2 ... timeout) and exit. */
#define PROXY_NETWORKS_MAX	64	/* -P networks; more: usage error */
#define PROXY_DEADLINE		10	/* seconds for the header (or -t) */
#define PROXY_V1_MIN		15	/* "PROXY UNKNOWN\r\n" */

extern char proxy_via[64];		/* the balancer; "": not proxied */

void	proxy_option(const char *);
int	proxy_expected(const struct peer *);
void	proxy_read(struct line *, unsigned timeout);

/* smtpd.c: the session and its configuration, shared with txn.c */
#define DOMAINS_MAX	64	/* -d given more often: usage error */

/* RFC 5321 4.1.4 and 3.3: where a session stands. */
enum state {
	ST_INIT,	/* greeted the client, no HELO/EHLO yet */
	ST_HELO,	/* HELO/EHLO done, no transaction */
	ST_MAIL,	/* MAIL accepted, no recipient yet */
	ST_RCPT,	/* at least one recipient accepted */
	ST_DATA		/* reading the message */
};

/* Configuration, set once by smtpd.c's options(). */
extern char hostname[HOST_MAX + 1];
extern const char *domains[DOMAINS_MAX];
extern size_t ndomains;
extern unsigned long max_size;
extern unsigned long min_free;		/* -m */
extern int is_tls;			/* -E */
extern int is_submission;		/* -S */

/* The session, owned by smtpd.c; txn.c reads it and counts messages. */
extern struct line in;			/* the client, fd 0 */
extern struct out out;			/* our replies, fd 1 */
extern struct queue queue;
extern struct peer peer;
extern int is_trusted;
extern int is_esmtp;
extern struct limits limits;
extern unsigned junk;			/* NOOP, RSET, HELP (JUNK_MAX) */
extern unsigned messages;
extern char helo[HOST_MAX + 1];
extern const char *last_verb;
extern int line_bare_lf;		/* the last command ended in LF alone */
extern char user[AUTH_USER_MAX + 1];	/* authenticated as, "": not */

void	state_enter(enum state);
void	session_exit(int) __attribute__((noreturn));
void	respond(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	refuse(int code, int counts, const char *from, const char *to,
	    const char *words, const char *value);
void	respond_local_failure(int err);
void	transaction_reset(void);
const char *timeout_words(void);
const char *timeout_log(void);

/* txn.c: MAIL, RCPT, DATA and the envelope they build */
void	smtp_mail(const char *, char *);
void	smtp_rcpt(const char *, char *);

/* rcptcheck.c: who exists at our domains (-D, -W, -U) */
void	rcptcheck_option(int letter, const char *value);
int	rcptcheck_enabled(void);
int	rcptcheck_load(char *why, size_t);
int	rcptcheck_match(const char *text, size_t len, int is_aliases,
	    const char *box, const char *domain);
int	rcptcheck(const char *sender, const char *addr);
void	smtp_data(const char *, char *);
void	txn_clear(void);

#endif
