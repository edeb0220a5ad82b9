/*
 * smtpsend.h: what the parts of smtpsend share: the message being
 * delivered, and the jobs that have their own file (route.c decides where
 * each recipient goes, remote.c delivers to a destination over smtp.c's
 * client connections, local.c into a Maildir, outcome.c records what came
 * of each recipient, dsn.c writes a bounce, body.c streams the message).
 * Calls go one way: smtpsend.c -> route, remote, local, alias, outcome;
 * remote -> smtp -> tls; all of them -> outcome's rcpt_set(); outcome ->
 * dsn.  With -j, smtpsend.c -> pool (the workers, poolmsg.c their lines)
 * -> route, remote, metrics; a worker calls back into smtpsend.c's
 * msg_try() through struct pool_conf.
 */
#ifndef SMTPSEND_H
#define SMTPSEND_H

#include "common.h"

/* Where a recipient goes (route.c decides, smtpsend(8) ROUTES). */
enum route_kind {
	ROUTE_LOCAL,		/* a Maildir under -m, or an alias */
	ROUTE_RELAY,		/* a relay URL (-r, route DOMAIN URL) */
	ROUTE_MX		/* the domain's MX hosts */
};

/* The TLS a destination requires: the hook for per-destination policies
 * (DANE, MTA-STS).  Opportunistic: STARTTLS when offered, unverified,
 * plaintext after a failed handshake; verified: never plaintext. */
enum tls_policy {
	TLS_POLICY_NONE,		/* smtp+notls:// */
	TLS_POLICY_OPPORTUNISTIC,	/* smtp://, an MX by default */
	TLS_POLICY_VERIFIED		/* smtp+tls://, smtps:// */
};

struct url;

/* One recipient of the message being delivered, and its outcome so far. */
struct rcpt {
	const char	*addr;		/* the envelope's */
	enum route_kind	 route;
	struct dest	*dest;		/* ROUTE_RELAY, ROUTE_MX: where */
	enum result	 result;
	int		 is_expired;	/* failed for lack of time */
	int		 is_tried;	/* an attempt was made in this run */
	char		 remote[HOST_MAX + 1];	/* the host whose reply it is;
						 * "": a decision of ours */
	char		 via[HOST_MAX + 64];	/* "HOST[ADDR]:PORT" or "" */
	char		 tls[12];		/* "none", "unverified", ... */
	char		 reply[REPLY_LINE_MAX + 1]; /* "550 5.1.1 ..." */
};

/* The message being delivered. */
struct msg {
	char		 name[QUEUE_NAME_MAX + 1];	/* also the queue id */
	int		 fd;		/* open and locked */
	time_t		 arrival;	/* the epoch in the name */
	off_t		 size;		/* octets after the envelope */
	struct envelope	 env;
	struct rcpt	 rcpt[RCPT_MAX];	/* env.nrcpt of them */
	int		 scan;		/* body_scan()'s, once; -1: not yet */
};

/* What a look at one queue file came to. */
enum try {
	TRY_GONE,	/* vanished, or another sender has it */
	TRY_NOTDUE,	/* its next try lies ahead */
	TRY_DONE,	/* it left new/ */
	TRY_KEPT	/* tried; it stays in new/ for later */
};

/* outcome.c: each recipient's result, and what it does to the file ----- */

/* Sets m's recipient i's outcome from a reply: 2xx sent, 5xx failed for
 * good, else pending; the reply is kept, made printable.  rcpt_set() is
 * for a decision of ours, rcpt_said() for a server's reply (a bounce
 * then names host as Remote-MTA, RFC 3464 2.3.5). */
void	rcpt_set(struct msg *m, size_t rcpt, int code, const char *reply);
void	rcpt_said(struct msg *m, size_t rcpt, int code, const char *reply,
	    const char *host);
void	printable(char *dst, size_t size, const char *src);

struct outcome_conf {
	struct queue	*queue;
	const char	*hostname;	/* ours, for bounces */
	unsigned	 expire;	/* -e */
};

int		outcome_fail(struct queue *, const char *name);
enum try	outcome_finish(const struct outcome_conf *, struct msg *,
		    time_t now);

/* owner.c: run by root, become the queue directory's owner or exit ----- */

void	owner_become(const char *queue_dir);

/* url.c: -r ------------------------------------------------------------ */

enum url_tls {
	URL_TLS_MAY,		/* smtp://: STARTTLS when offered */
	URL_TLS_STARTTLS,	/* smtp+tls://: STARTTLS, verified */
	URL_TLS_IMPLICIT,	/* smtps://: TLS at once, verified */
	URL_TLS_NONE		/* smtp+notls:// */
};

struct dane;

struct url {
	const struct dane *dane;	/* an MX host's usable TLSA records:
					 * STARTTLS verified by them */
	enum url_tls	tls;
	char		host[HOST_MAX + 1];
	char		port[8];
	char		user[ADDR_MAX + 1];	/* "": no AUTH */
	char		name[HOST_MAX + 10];	/* "host:port", for logs */
	int		is_ip;			/* host is an address */
	int		is_tls_required;	/* STARTTLS, unverified, never
						 * plaintext (RFC 7672 2.2) */
	int		is_webpki;	/* MTA-STS: verified against the
					 * system's CAs, never -C's */
	char		addr[64];		/* "": connect to host; else
						 * this address of it (MX) */
};

int	url_parse(const char *, struct url *, char *err, size_t errsize);

/* tls.c: TLS through openssl s_client ---------------------------------- */

struct tls {
	pid_t	pid;	/* s_client; -1: none */
	int	err;	/* its stderr, our end */
};

int	tls_start(struct tls *, const struct url *, int is_starttls,
	    int is_verified, const char *cafile, const char *helo,
	    int timeout, char *why, size_t size);
void	tls_stop(struct tls *, char *why, size_t size);
struct dane;
int	tls_start_dane(struct tls *, const char *addr, const char *port,
	    const char *name, const struct dane *, const char *helo,
	    int timeout, char *why, size_t size);

/* auth.c: -a and AUTH PLAIN, LOGIN ------------------------------------- */

int	auth_secret(const char *file, const char *host, const char *user,
	    char *pass, size_t size, char *err, size_t errsize);

/* route.c: where each recipient goes ------------------------------------ */

#define DEST_URLS_MAX	8	/* relays of one destination, tried in turn */

/* A destination: a relay (its URLs, tried in order until one takes the
 * session) or a domain's MX hosts.  remote.c delivers to it. */
struct dest {
	struct url	*urls[DEST_URLS_MAX];	/* ROUTE_RELAY */
	char		*pass[DEST_URLS_MAX];	/* for urls[i]->user */
	size_t		 nurls;
	unsigned long	 serial;		/* changes when reused */
	enum route_kind	 kind;			/* ROUTE_RELAY or ROUTE_MX */
	enum tls_policy	 policy;		/* what TLS it requires */
	int		 is_down;		/* refused or timed out: not
						 * tried again this run */
	int		 is_told;		/* pool.c: the parent knows */
	char		 name[HOST_MAX + 10];	/* for logs: url or domain */
	char		 why[REPLY_LINE_MAX + 1];	/* why it is down */
};

int		 route_relay(const char *arg, char *err, size_t errsize);
int		 route_add(const char *arg, int is_sender, char *err,
		    size_t errsize);
int		 route_domain(const char *domain);
int		 route_has_relay(void);
void		 route_setup(const char *hostname, const char *secrets);
void		 route_begin(void);
int		 route_is_local(const char *domain);
struct dest	*route_of(const char *sender, const char *rcpt,
		    enum route_kind *);
void		 route_decide(struct msg *);
void		 route_describe(enum route_kind, const struct dest *,
		    char *buf, size_t size);
size_t		 route_relays(struct dest **);
void		 route_down(const char *name, const char *why);
void		 route_each_down(void (*)(const struct dest *));

/* smtp.c: one SMTP client connection ------------------------------------ */

/* -c: messages per connection.  Exim delivers at once only the first
 * 10 of a connection (smtp_accept_queue_per_connection) and queues the
 * rest for its queue runner, 30 minutes away on Debian. */
#define RELAY_MESSAGES_DEFAULT	10
#define RELAY_MESSAGES_MAX	100000

struct smtp {
	const struct url *url;	/* the server it talks to */
	struct dest	*dest;		/* for whom */
	const char	*pass;		/* url->user's, for AUTH */
	unsigned long	dest_serial;	/* dest's serial then */
	unsigned long	size_max;	/* RFC 1870 SIZE; 0: none offered */
	unsigned long	nmessages;	/* transactions begun on it (-c) */
	unsigned long	last_use;	/* for remote.c's choice of one to end */
	struct line	in;
	struct out	out;
	struct tls	tls;
	int		fd;		/* -1: not connected */
	int		is_broken;	/* lost mid-session: no more replies */
	int		is_closing;	/* it said 421 (RFC 5321 3.8) */
	unsigned	nreplies;	/* read in this try of a message */
	int		has_pipelining, has_8bitmime, has_smtputf8;
	int		has_size;
	int		needs_rset;	/* a transaction did not end at "." */
	unsigned	nsent;		/* messages this session took */
	int		has_starttls, has_plain, has_login;
	int		is_tls;		/* through s_client */
	int		is_verified;	/* and the certificate checked */
	int		got_reply;	/* one since connecting */
	enum line_status status;	/* of the last reply read */
	char		name[HOST_MAX + 80];	/* "host[addr]:port", logs */
	char		why[REPLY_LINE_MAX + 1];	/* why it is lost */
	char		last[REPLY_LINE_MAX + 1];	/* "CODE text" */
	char		text[REPLY_TEXT_MAX + 1];	/* all its lines */
};

/* Where a transaction stands: MAIL's reply, and who the server took. */
struct txn {
	int	mine[RCPT_MAX];		/* bound for this server */
	int	mail;			/* MAIL's reply code */
	int	accepted[RCPT_MAX];	/* RCPT got 2xx: DATA decides */
	int	decided[RCPT_MAX];	/* RCPT or MAIL got 4xx or 5xx */
	size_t	n;			/* how many */
	size_t	nrelayed;		/* recipients for this server */
	size_t	ntemp;			/* of them refused for now (4xx) */
};

void	smtp_setup(const char *helo, unsigned timeout, const char *cafile);
void	smtp_init(struct smtp *);
int	smtp_open(struct smtp *, const struct url *, struct dest *,
	    const char *pass);
int	smtp_rset(struct smtp *);
int	smtp_try_sender(struct smtp *, const char *sender);
int	smtp_txn(struct smtp *, struct msg *, struct txn *);
void	smtp_close(struct smtp *);
const char *smtp_tls(const struct smtp *);

/* mxtls.c: the TLS an MX host must have (DANE, MTA-STS), per run ------- */

void	mxtls_setup(const char *queue_dir, const char *cafile, int timeout);
/* Sets u (an MX host of domain, at one of its addresses) up as DANE and
 * MTA-STS require: 0, or -1 when the host must not be used, why saying
 * why (a 4xx reply: the mail waits). */
int	mxtls_apply(const char *domain, int is_mx_secure, struct url *u,
	    char *why, size_t size);
/* Counts a session with u for the TLS report (RFC 8460, tlsrpt.c): its
 * policy as mxtls_apply() found it, and is_ok, or why it failed. */
void	mxtls_report(const char *domain, int is_mx_secure,
	    const struct url *u, int is_ok, const char *why);

/* remote.c: delivery to a destination over SMTP -------------------------- */

void	remote_begin(const char *hostname, unsigned timeout);
void	remote_limit(unsigned long messages);
void	remote_send(struct msg *, struct dest *);
void	remote_end(void);
int	remote_probe(const char *sender);	/* -k */
size_t	remote_held(const struct dest **v, size_t max);	/* pool.c */

/* body.c: the message, converted on its way out ------------------------ */

#define BODY_DOTS	0x1	/* SMTP DATA: dot-stuff, end with "." */
#define BODY_LF		0x2	/* LF line ends (Maildir), not CRLF */
#define BODY_HEADERS	0x4	/* the header section only, cut at: */
#define BODY_HEADERS_MAX	(8UL * 1024)

#define BODY_8BIT		0x1	/* body_scan(): an octet over 127 */
#define BODY_8BIT_HEADERS	0x2	/* one in the header section */

int	body_copy(int fd, off_t offset, struct out *, int flags);
int	body_scan(int fd, off_t offset);
int	body_headers_8bit(int fd, off_t offset);

/* local.c: Maildir delivery -------------------------------------------- */

enum result	local_deliver(const struct msg *, size_t rcpt,
		    const char *root, const char *host, char *reply,
		    size_t size);

/* dsn.c: bounces ------------------------------------------------------- */

int	dsn_queue(struct queue *, const struct msg *, const char *host,
	    char *id, size_t idsize);
void	dsn_status(const struct msg *, size_t rcpt, char *buf, size_t size);

/* alias.c: -A, aliases for local recipients */
int	alias_load(const char *path, char *err, size_t errsize);
int	alias_deliver(struct msg *, size_t rcpt, struct queue *, char *reply,
	    size_t size);

/* masq.c: -M, the envelope sender given to the relay */
int		 masq_config(const char *arg);
const char	*masq_sender(const struct envelope *, char *buf, size_t size);

/* metrics.c: Prometheus text after each run (-O) */
int		 metrics_config(const char *path);
void		 metrics_count(enum result, const char *tls);
void		 metrics_write(int queue_fd);
int		 metrics_get(size_t r, size_t t, unsigned long *n);
void		 metrics_add(size_t r, size_t t, unsigned long n);

/* reap.c: the close of a file unlinked from new/, off the sending path */
void	reap_close(int fd);
void	reap_wait(void);

/* poolmsg.c: the lines between smtpsend and its workers (pool.c) ------ */

#define POOL_ARG_MAX	QUEUE_NAME_MAX	/* a queue name, a destination's */
#define POOL_LINE_MAX	(8 + 3 * POOL_ARG_MAX + REPLY_LINE_MAX + 2)

enum pool_verb { POOL_TRY, POOL_DOWN, POOL_OPEN, POOL_DONE, POOL_COUNT };

struct pool_line {
	enum pool_verb	verb;
	char		arg[POOL_ARG_MAX + 1];	/* NAME or DEST */
	char		why[REPLY_LINE_MAX + 1];	/* down */
	unsigned long	n[3];		/* done: RC; count: R T N */
};

size_t	pool_format(char *buf, size_t size, const struct pool_line *);
int	pool_parse(const char *line, size_t len, struct pool_line *);

/* pool.c: -j, -J: delivery by worker processes -------------------------- */

/* -j: 20 workers (the suites that assert one process, one session
 * per run, pass -j 1) */
#define POOL_JOBS_DEFAULT	20
#define POOL_JOBS_MAX		256	/* pselect()'s FD_SETSIZE bounds it */
#define POOL_PER_DEST_DEFAULT	4	/* -J */
#define POOL_HELD_MAX		(RCPT_MAX + 16)	/* "open" lines a message */

struct pool_conf {
	struct queue	*queue;
	int		 is_flush;	/* -f: every message is due */
	time_t		 slack;		/* mtime this far ahead: due */
	enum try	(*try)(const char *name, time_t now);	/* msg_try() */
	void		(*result)(const char *name, enum try);	/* scan's */
};

void	pool_config(unsigned jobs, unsigned per_dest);
unsigned pool_jobs(void);
int	pool_start(const struct pool_conf *);
int	pool_submit(const char *name);
void	pool_drain(void);
void	pool_stop(void);
void	pool_worker(int fd, enum try (*try)(const char *, time_t));

/* pooldest.c: the parent's destinations and jobs (pool.c's lists) ------ */

/* A destination as the parent knows it. */
struct pdest {
	char		*name;		/* dest->name, MX domains lower case */
	unsigned	 holders;	/* workers that may hold a session */
	int		 is_down;
	int		 is_proven;	/* a message to it was done, and it is
					 * not down: -J sessions, not 1 */
	char		*why;		/* when down */
	struct job	*wait, *wait_tail;	/* messages it holds back */
};

/* A due message not yet given to a worker. */
struct job {
	char		*name;
	size_t		*dests;		/* indexes into pdests */
	size_t		 ndests;
	struct job	*next;
};

long		 pdest_id(const char *name);
struct pdest	*pdest_at(size_t id);
void		 pdest_hold(size_t id, struct job *);
void		 pdest_wake(size_t id, size_t n);
void		 pdest_wake_all(void);
void		 pdest_free(void);
struct job	*job_make(int new_dir, const char *name, int is_regular);
void		 job_free(struct job *);
struct job	*job_peek(void);
struct job	*job_pop(void);
void		 job_push(struct job *);
size_t		 job_ready_count(void);
struct job	*job_take(int (*)(const struct job *, const void *),
		    const void *, size_t);
void		 job_clear(void);

/* trigger.c: the wait of -w, cut short by QUEUE/trigger ----------------- */

void	trigger_open(struct queue *, const char *queue_dir);
void	trigger_wait(unsigned seconds);
void	trigger_close(void);

#endif
