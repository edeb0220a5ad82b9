/*
 * dsn.c: bounces.  A delivery status notification (RFC 3464) for the
 * recipients of a message that failed for good, queued into new/ from the
 * null sender <> to the message's sender, like any other message.
 *
 * It is a multipart/report (RFC 6522) of three parts: a note for people,
 * the machine-readable message/delivery-status with one group per failed
 * recipient and the reply that failed it, and the original's header
 * section (text/rfc822-headers, cut at BODY_HEADERS_MAX) so the sender can
 * tell which message it was without getting it all back.  Quoted 8-bit
 * header octets make the bounce "Body: 8BITMIME" (RFC 6152), and
 * smtp.c sends it like any 8-bit message.  Only a reply a server gave
 * names it as Remote-MTA (RFC 3464 2.3.5); our own decisions do not.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "smtpsend.h"

/*
 * The RFC 3463 status code for a recipient: the enhanced code the reply
 * carries, if its class agrees with the reply code; else one made of the
 * class.  A recipient that ran out of time is 4.4.7, delivery time expired.
 */
void
dsn_status(const struct msg *m, size_t i, char *buf, size_t size)
{
	const char *r = m->rcpt[i].reply;
	size_t n;

	if (m->rcpt[i].is_expired) {
		snprintf(buf, size, "4.4.7");
		return;
	}
	/* "550 5.1.1 ...": class digit, then two numbers of 1-3 digits */
	if (strlen(r) > 4 && r[3] == ' ' && r[4] == r[0] && r[5] == '.') {
		n = 6 + strspn(r + 6, "0123456789");
		if (n > 6 && n <= 9 && r[n] == '.') {
			n = n + 1 + strspn(r + n + 1, "0123456789");
			if (r[n - 1] != '.' && (r[n] == ' ' || r[n] == '\0') &&
			    n < size) {
				memcpy(buf, r + 4, n - 4);
				buf[n - 4] = '\0';
				return;
			}
		}
	}
	snprintf(buf, size, "%c.0.0", r[0] == '2' || r[0] == '4' ? r[0] :
	    '5');
}

/* The human note on recipient i: the relay's words are said to be its
 * own; a decision of ours (a message over the relay's SIZE, a Maildir)
 * names no server. */
static void
dsn_note(struct out *o, const struct msg *m, size_t i)
{
	const char *relay = m->rcpt[i].remote;
	int is_remote = relay[0] != '\0';

	out_printf(o, "<%s>: %s%s%s%s%s\r\n", m->env.rcpt[i],
	    m->rcpt[i].is_expired ? "gave up after retrying; " : "",
	    is_remote ? "host " : "", is_remote ? relay : "",
	    is_remote ? (m->rcpt[i].is_expired ? " said last: " : " said: ") :
	    m->rcpt[i].is_expired ? "last error: " : "", m->rcpt[i].reply);
}

/* The three parts, up to the quoted headers.  The boundary is made of
 * the bounce's own queue id, which what we quote cannot hold. */
static void
dsn_parts(struct out *o, const struct msg *m, const char *host,
    const char *boundary, int is_8bit)
{
	char date[64], status[16];
	size_t i;

	if (date_rfc5322(m->arrival, date, sizeof(date)) == -1)
		strcpy(date, "Thu, 1 Jan 1970 00:00:00 +0000");
	out_printf(o, "This is a MIME-encapsulated message.\r\n\r\n");
	out_printf(o, "--%s\r\n", boundary);
	out_printf(o, "Content-Description: Notification\r\n");
	out_printf(o, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	out_printf(o, "This is the mail system at %s.\r\n\r\n", host);
	out_printf(o, "Your message of %s could not be delivered\r\n"
	    "to the recipients below, for the reason given for each.\r\n\r\n",
	    date);
	for (i = 0; i < m->env.nrcpt; i++)
		if (m->rcpt[i].result == RES_PERM)
			dsn_note(o, m, i);

	/* RFC 3464 2.2: per-message fields, then per-recipient ones. */
	out_printf(o, "\r\n--%s\r\n", boundary);
	out_printf(o, "Content-Description: Delivery report\r\n");
	out_printf(o, "Content-Type: message/delivery-status\r\n\r\n");
	out_printf(o, "Reporting-MTA: dns; %s\r\n", host);
	out_printf(o, "Arrival-Date: %s\r\n", date);
	for (i = 0; i < m->env.nrcpt; i++) {
		if (m->rcpt[i].result != RES_PERM)
			continue;
		dsn_status(m, i, status, sizeof(status));
		/* RFC 3464 2.3 */
		out_printf(o, "\r\nFinal-Recipient: rfc822; %s\r\n",
		    m->env.rcpt[i]);
		out_printf(o, "Action: failed\r\n");
		out_printf(o, "Status: %s\r\n", status);
		/* 2.3.5: no Remote-MTA where none was involved; 2.3.6: "smtp"
		 * is for a reply a server gave, our own decision has a type
		 * of our own (Postfix says "X-Postfix"). */
		if (m->rcpt[i].remote[0] != '\0')
			out_printf(o, "Remote-MTA: dns; %s\r\n"
			    "Diagnostic-Code: smtp; %s\r\n", m->rcpt[i].remote,
			    m->rcpt[i].reply);
		else
			out_printf(o, "Diagnostic-Code: X-smtpq; %s\r\n",
			    m->rcpt[i].reply);
	}

	out_printf(o, "\r\n--%s\r\n", boundary);
	out_printf(o, "Content-Description: Undelivered message headers\r\n");
	out_printf(o, "Content-Type: text/rfc822-headers\r\n");
	if (is_8bit)
		out_printf(o, "Content-Transfer-Encoding: 8bit\r\n");
	out_printf(o, "\r\n");
}

/*
 * Queues the bounce for m's recipients whose result is RES_PERM; each
 * names the host that refused it, if one did, as its Remote-MTA.  Returns 0 with the
 * bounce's queue id in id, or -1 with errno set and nothing queued.
 */
int
dsn_queue(struct queue *q, const struct msg *m, const char *host,
    char *id, size_t idsize)
{
	static struct envelope env;
	static struct out o;
	struct queue_file qf;
	char date[64], boundary[72];
	int is_8bit;

	/* RFC 6152: quoted 8-bit header octets make the bounce 8BITMIME. */
	if ((is_8bit = body_headers_8bit(m->fd, m->env.body)) == -1)
		return -1;
	if (submit_begin(q, &qf, &o) == -1)
		return -1;
	/* RFC 2046 5.1.1: at most 70 characters. */
	snprintf(boundary, sizeof(boundary), "=_%.68s", qf.name);
	if (date_rfc5322(time(NULL), date, sizeof(date)) == -1)
		strcpy(date, "Thu, 1 Jan 1970 00:00:00 +0000");

	/* The envelope: from <> (RFC 5321 4.5.5), so it never bounces. */
	memset(&env, 0, sizeof(env));
	strcpy(env.rcpt[0], m->env.from);
	env.nrcpt = 1;
	if (is_8bit) {
		strcpy(env.ext[0], "Body: 8BITMIME");
		env.next = 1;
	}
	envelope_write(&o, &env, NULL);

	out_printf(&o, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n",
	    host);
	out_printf(&o, "To: <%s>\r\n", m->env.from);
	out_printf(&o, "Subject: Undelivered Mail Returned to Sender\r\n");
	out_printf(&o, "Date: %s\r\n", date);
	out_printf(&o, "Message-ID: <%s@%s>\r\n", qf.name, host);
	/* RFC 3834 5: machines must not answer this one. */
	out_printf(&o, "Auto-Submitted: auto-replied\r\n");
	out_printf(&o, "MIME-Version: 1.0\r\n");
	out_printf(&o, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n",
	    boundary);
	dsn_parts(&o, m, host, boundary, is_8bit);
	if (body_copy(m->fd, m->env.body, &o, BODY_HEADERS) == -1 ||
	    out_printf(&o, "\r\n--%s--\r\n", boundary) == -1) {
		queue_abort(q, &qf);
		return -1;
	}
	if (submit_commit(q, &qf, &o) == -1)
		return -1;
	snprintf(id, idsize, "%s", qf.name);
	return 0;
}
