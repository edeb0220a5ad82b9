/*
 * masq.c: sender masquerading (-M), for provider smarthosts that take only
 * their own sender addresses: the envelope sender of relayed mail becomes
 * -M ADDRESS, or keeps its local part under -M @DOMAIN.  The null sender
 * is never rewritten (RFC 5321 4.5.5: a bounce must stay a bounce).  Only
 * the MAIL FROM changes; the queue file and the message are left alone.
 *
 * Keeping the local part is for mail that originated here: its queue file
 * has an Origin: line (sendmail, a trusted or authenticated client).
 * Mail from outside has none, and reaches the relay only when an alias
 * forwards it; under -M @DOMAIN it goes from postmaster@DOMAIN, one fixed
 * address: kept, the outside would choose the local
 * part of an address in the provider's domain and send as anyone there.
 * Not the null sender: forwarded mail is no bounce, and its own bounces
 * must reach someone.  Not SRS: it needs a secret and a way back in for
 * the bounces, for little gain on a host that forwards to a few people.
 */
#include <stdio.h>
#include <string.h>

#include "smtpsend.h"

static char masq[ADDR_MAX + 1];		/* "" : no masquerading */

int
masq_config(const char *arg)
{
	const char *rest;
	char spec[ADDR_MAX + 3];
	int n;

	/* "postmaster" + @DOMAIN must fit: forwarded mail's sender */
	if (arg[0] == '@')
		n = snprintf(spec, sizeof(spec), "<postmaster%s>", arg);
	else
		n = snprintf(spec, sizeof(spec), "<%s>", arg);
	if (n < 0 || (size_t)n >= sizeof(spec) ||
	    addr_parse(spec, masq, sizeof(masq), &rest) == -1 ||
	    *rest != '\0' || addr_domain(masq) == NULL)
		return -1;
	strcpy(masq, arg);
	return 0;
}

/* The sender to give the relay for env (a queue file's envelope). */
const char *
masq_sender(const struct envelope *env, char *buf, size_t size)
{
	const char *at, *from = env->from;
	int n;

	if (masq[0] == '\0' || from[0] == '\0')
		return from;
	if (masq[0] != '@')
		return masq;
	if (envelope_ext(env, "Origin") == NULL) {
		/* fits: masq_config() parsed this very address */
		n = snprintf(buf, size, "postmaster%s", masq);
		return n < 0 || (size_t)n >= size ? "" : buf;
	}
	at = strrchr(from, '@');
	n = snprintf(buf, size, "%.*s%s", (int)(at != NULL ? at - from :
	    (long)strlen(from)), from, masq);
	/* A local part too long for the domain: the address unchanged. */
	return n < 0 || (size_t)n >= size ? from : buf;
}
