/*
 * masq.c: sender masquerading (-M), for provider smarthosts that take only
 * their own sender addresses: the envelope sender of relayed mail becomes
 * -M ADDRESS, or keeps its local part under -M @DOMAIN.  The null sender
 * is never rewritten (RFC 5321 4.5.5: a bounce must stay a bounce).  Only
 * the MAIL FROM changes; the queue file and the message are left alone.
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

	if (arg[0] == '@')
		n = snprintf(spec, sizeof(spec), "<x%s>", arg);
	else
		n = snprintf(spec, sizeof(spec), "<%s>", arg);
	if (n < 0 || (size_t)n >= sizeof(spec) ||
	    addr_parse(spec, masq, sizeof(masq), &rest) == -1 ||
	    *rest != '\0' || addr_domain(masq) == NULL)
		return -1;
	strcpy(masq, arg);
	return 0;
}

/* The sender to give the relay for from (a queue file's sender). */
const char *
masq_sender(const char *from, char *buf, size_t size)
{
	const char *at;
	int n;

	if (masq[0] == '\0' || from[0] == '\0')
		return from;
	if (masq[0] != '@')
		return masq;
	at = strrchr(from, '@');
	n = snprintf(buf, size, "%.*s%s", (int)(at != NULL ? at - from :
	    (long)strlen(from)), from, masq);
	/* A local part too long for the domain: the address unchanged. */
	return n < 0 || (size_t)n >= size ? from : buf;
}
