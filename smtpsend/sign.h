/*
 * sign.h: DKIM signing (sign.c) for smtpsend.
 */
#ifndef SIGN_H
#define SIGN_H

#include <limits.h>
#include <time.h>

#include "common.h"

struct sign_key {
	char	domain[ADDR_DOMAIN_MAX + 1];	/* d= */
	char	selector[64];			/* s= */
	char	keyfile[PATH_MAX];		/* PEM private key */
	int	is_ed25519;			/* else RSA */
};

/*
 * The DKIM-Signature header field (relaxed/relaxed, folded, CRLF-ended,
 * NUL-terminated) for the message read from fd, which stands at the
 * message's first octet, into out.  Returns its length, or -1 with the
 * reason in err (no From:, a field to sign malformed or over its bound,
 * openssl failing: the caller defers).  fd is read to its end.
 */
int	sign_message(int fd, const struct sign_key *, time_t now, char *out,
	    size_t size, char *err, size_t errsize);

/*
 * signq.c: smtpsend's signing step.  sign_config() takes one "dkim DOMAIN
 * SELECTOR KEYFILE" line (-D), or exits 78 saying what is wrong with it
 * (a key file others can read among it).  sign_queued() signs m, the open and
 * locked new/NAME, when it is ours to sign and not signed yet (see
 * signq.c), rewriting the file (m->fd then is the new one): RES_OK,
 * signed or not to be signed; RES_TEMP when signing failed, logged, with
 * every remote recipient deferred.
 */
struct msg;
void		sign_config(const char *arg);
enum result	sign_queued(struct queue *, struct msg *);

#endif
