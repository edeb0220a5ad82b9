/*
 * sendmail.h: what sendmail.c shares with its other files.
 */
#ifndef SENDMAIL_H
#define SENDMAIL_H

#include "common.h"

#define EXIT_NOUSER	67	/* EX_NOUSER: -bv, an address that fails */

/* sendmail.c: a caller's value, log_esc()'d for a log line or stderr
 * (two at a time) */
const char	*sendmail_esc(const char *);

/* sendmail_verify.c: -bv; 0, or EXIT_NOUSER when one would be refused */
int	sendmail_verify(char **args, const char *hostname);

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
