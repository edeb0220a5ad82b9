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

#endif
