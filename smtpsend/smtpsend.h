/*
 * smtpsend.h: what the parts of smtpsend share: the message being
 * delivered, and the jobs that have their own file (relay.c talks SMTP to
 * the relay, body.c streams the message, local.c delivers into a Maildir,
 * dsn.c writes a bounce).
 */
#ifndef SMTPSEND_H
#define SMTPSEND_H

#include "common.h"

/* The message being delivered, and each recipient's outcome so far. */
struct msg {
	char		 name[QUEUE_NAME_MAX + 1];	/* also the queue id */
	int		 fd;		/* open and locked */
	time_t		 arrival;	/* the epoch in the name */
	off_t		 size;		/* octets after the envelope */
	struct envelope	 env;
	enum result	 result[RCPT_MAX];
	int		 is_local[RCPT_MAX];	/* Maildir, not the relay */
	int		 is_expired[RCPT_MAX];	/* failed for lack of time */
	int		 is_remote[RCPT_MAX];	/* reply[] is the relay's own */
	char		 reply[RCPT_MAX][REPLY_LINE_MAX + 1]; /* "550 5.1.1 ..." */
	int		 scan;		/* body_scan()'s, once; -1: not yet */
};

/* smtpsend.c: outcomes ------------------------------------------------- */

/* Sets m's recipient i's outcome from a reply: 2xx sent, 5xx failed for
 * good, else pending; the reply is kept, made printable.  rcpt_set() is
 * for a decision of ours, rcpt_said() for the relay's reply (a bounce
 * then names the relay as Remote-MTA, RFC 3464 2.3.5). */
void	rcpt_set(struct msg *m, size_t rcpt, int code, const char *reply);
void	rcpt_said(struct msg *m, size_t rcpt, int code, const char *reply);
void	printable(char *dst, size_t size, const char *src);

/* owner.c: run by root, become the queue directory's owner or exit ----- */

void	owner_become(const char *queue_dir);

/* url.c: -r ------------------------------------------------------------ */

enum url_tls {
	URL_TLS_MAY,		/* smtp://: STARTTLS when offered */
	URL_TLS_STARTTLS,	/* smtp+tls://: STARTTLS, verified */
	URL_TLS_IMPLICIT,	/* smtps://: TLS at once, verified */
	URL_TLS_NONE		/* smtp+notls:// */
};

struct url {
	enum url_tls	tls;
	char		host[HOST_MAX + 1];
	char		port[8];
	char		user[ADDR_MAX + 1];	/* "": no AUTH */
	char		name[HOST_MAX + 10];	/* "host:port", for logs */
	int		is_ip;			/* host is an address */
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

/* auth.c: -a and AUTH PLAIN, LOGIN ------------------------------------- */

#define AUTH_PASS_MAX	255

int	auth_secret(const char *file, const char *host, const char *user,
	    char *pass, size_t size, char *err, size_t errsize);

/* relay.c: the SMTP client to the relay -------------------------------- */

/*
 * relay_config() takes -r (-1: malformed, err says why), relay_setup()
 * our EHLO name and -t.  relay_send() delivers m to its recipients that are not local, over
 * the session of the message before when it is still open, and sets their
 * outcomes; relay_close() ends the session (QUIT), relay_begin() starts a
 * run in which a relay that was down is tried again.
 */
/* -c: messages per connection.  Exim delivers at once only the first
 * 10 of a connection (smtp_accept_queue_per_connection) and queues the
 * rest for its queue runner, 30 minutes away on Debian. */
#define RELAY_MESSAGES_DEFAULT	10
#define RELAY_MESSAGES_MAX	100000

int		 relay_config(const char *arg, char *err, size_t errsize);
void		 relay_limit(unsigned long messages);
void		 relay_setup(const char *helo, unsigned timeout,
		    const char *cafile, const char *secrets);
void		 relay_begin(void);
void		 relay_send(struct msg *m);
void		 relay_close(void);
int		 relay_probe(const char *sender);
const char	*relay_via(void);	/* "host:port", for logs */
const char	*relay_tls(void);	/* the last session's, for metrics */
const char	*relay_hostname(void);	/* for a bounce's Remote-MTA */

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
	    const char *relay, char *id, size_t idsize);

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

/* reap.c: the close of a file unlinked from new/, off the sending path */
void	reap_close(int fd);
void	reap_wait(void);

/* trigger.c: the wait of -w, cut short by QUEUE/trigger ----------------- */

void	trigger_open(struct queue *, const char *queue_dir);
void	trigger_wait(unsigned seconds);
void	trigger_close(void);

#endif
