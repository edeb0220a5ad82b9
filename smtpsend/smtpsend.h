/*
 * smtpsend.h: what the parts of smtpsend share: the message being
 * delivered, and the three jobs that have their own file (body.c streams
 * the message, local.c delivers into a Maildir, dsn.c writes a bounce).
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
	char		 reply[RCPT_MAX][REPLY_LINE_MAX + 1]; /* "550 5.1.1 ..." */
};

/* body.c: the message, converted on its way out ------------------------ */

#define BODY_DOTS	0x1	/* SMTP DATA: dot-stuff, end with "." */
#define BODY_LF		0x2	/* LF line ends (Maildir), not CRLF */
#define BODY_HEADERS	0x4	/* the header section only, cut at: */
#define BODY_HEADERS_MAX	(8UL * 1024)

int	body_copy(int fd, off_t offset, struct out *, int flags);
int	body_has_8bit(int fd, off_t offset);

/* local.c: Maildir delivery -------------------------------------------- */

enum result	local_deliver(const struct msg *, size_t rcpt,
		    const char *root, const char *host, char *reply,
		    size_t size);

/* dsn.c: bounces ------------------------------------------------------- */

int	dsn_queue(struct queue *, const struct msg *, const char *host,
	    const char *relay, char *id, size_t idsize);

#endif
