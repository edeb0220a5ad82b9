/*
 * sendmail.h: what sendmail's files share: one struct sendmail, made in
 * main() and passed to each job (no state at file scope), and each file's
 * functions.
 */
#ifndef SENDMAIL_H
#define SENDMAIL_H

#include <sys/types.h>

#include "common.h"

#define EXIT_NOUSER	67	/* EX_NOUSER: -bv, an address that fails */

/* sendmail's own policy (RFC bounds and shared limits are common.h's):
 * the header section kept in memory to look at before writing; more:
 * exit 65.  Fields in it, likewise. */
#define HEAD_MAX	(128 * 1024)
#define FIELDS_MAX	1000

/* stdin, one byte at a time through a buffer (sendmail_in.c). */
struct in {
	char		 buf[IO_BUFSIZE];
	size_t		 pos, end;
	int		 pushed;	/* one byte of push-back, or -1 */
	int		 is_eof;
	unsigned long	 nuls;		/* NUL bytes dropped */
};

/* The header section as read, CRLF line ends, and where each field is
 * (sendmail_head.c). */
struct head {
	char		 text[HEAD_MAX];
	size_t		 len;
	struct { size_t off, len; } fields[FIELDS_MAX];
	size_t		 nfields;
	char		 unfolded[HEAD_MAX];	/* head_value()'s */
};

struct sendmail {
	/* the caller, and what its flags and smtpq.conf say (sendmail.c) */
	const char	*queue_dir;
	int		 is_queue_given;	/* -oQ */
	char		 hostname[HOST_MAX + 1];
	char		 login[ADDR_LOCAL_MAX + 1];
	char		 gecos[128];
	uid_t		 uid;
	const char	*from_arg;		/* -f */
	const char	*name_arg;		/* -F */
	int		 is_extract;		/* -t */
	int		 is_dot_ok;		/* -i: a lone dot is text */
	unsigned long	 max_size;

	/* the envelope (sendmail_message.c) */
	char		 sender[ADDR_MAX + 1];
	char		 rcpts[RCPT_MAX][ADDR_MAX + 1];
	size_t		 nrcpts;

	struct in	 in;
	struct head	 head;

	/* the queue file being written, and its size so far */
	struct queue	 queue;
	struct queue_file qf;
	struct out	 qout;
	unsigned long long size;
};

/* sendmail.c: a caller's value, log_esc()'d for a log line or stderr
 * (two at a time) */
const char	*sendmail_esc(const char *);
/* the message to stderr and the log, the queue file removed, exit */
void	sendmail_fail(struct sendmail *, int status, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 3, 4)));

/* sendmail_in.c: one line of stdin without its line end (1, 0 at the end
 * of input); a read error fails */
void	in_init(struct in *);
int	in_line(struct sendmail *, char *buf, size_t max, size_t *len,
	    int *is_broken);

/* sendmail_head.c: the header section */
int	head_read(struct sendmail *, char *line, size_t *len, int *is_broken,
	    int *is_pending);
size_t	head_name_len(const char *line, size_t len);
int	head_is(const struct head *, size_t f, const char *name);
int	head_find(const struct head *, const char *name);
const char *head_value(struct head *, size_t f);
int	head_is_8bit(struct head *);

/* sendmail_message.c: the envelope and the message, into the queue */
void	message_sender(struct sendmail *);
void	message_rcpt_arg(struct sendmail *, const char *arg);
void	message_extract(struct sendmail *);
void	message_write(struct sendmail *, const char *line, size_t len,
	    int is_broken, int has_body, int is_pending);
int	message_queue(struct sendmail *, char **rcpts_given);

/* sendmail_priv.c: whose rights sendmail works with */
void	priv_become_owner(struct sendmail *);
void	priv_drop(struct sendmail *);

/* sendmail_runq.c: -q */
int	runq_flush(const struct sendmail *);
int	runq_wake(const struct sendmail *);

/* sendmail_verify.c: -bv; 0, or EXIT_NOUSER when one would be refused */
int	verify_args(char **args, const char *hostname);

/* sendmail_mailq.c: -bp, mailq */
int	mailq_list(const char *queue_dir);

/* sendmail_limit.c: the free-space reserve and each user's budget */
#define LIMIT_WINDOW	3600			/* seconds */
#define LIMIT_MESSAGES	100			/* a uid's, each window */
#define LIMIT_BYTES	(50ULL * 1024 * 1024)	/* likewise */
int	limit_space_ok(int dir, unsigned long max_size);
int	limit_user(int dir, uid_t uid, unsigned long long size, char *why,
	    size_t whysize);

/* sendmail_qualify.c: "@host" after bare local parts of address fields */
size_t	qualify_field(const char *field, size_t len, const char *host,
	    char *out, size_t size);

#endif
