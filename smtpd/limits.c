/*
 * limits.c: how long a session may hold its slot.
 *
 * A per-read timeout lets a client that sends one byte now and then keep a
 * session for ever.  Instead every wait for input runs against a deadline
 * (struct line's due): a command line must be complete within -t of the
 * moment we start reading it (Postfix's smtpd_per_record_deadline); in
 * DATA the deadline starts at -t and each read earns bytes / -r seconds
 * more, never more than -t ahead (Postfix's smtpd_min_data_rate); and no
 * deadline lies past the session's end, -L after it began.
 */

#include <sys/statvfs.h>

#include "smtpd.h"

#define NS	1000000000LL

void
limits_start(struct limits *l, unsigned timeout, unsigned lifetime,
    unsigned long rate)
{
	l->timeout = timeout;
	l->rate = rate;
	l->end = line_now() + (long long)lifetime * NS;
}

/* The latest a deadline may be from now: -t, and not past the end. */
static long long
limits_cap(const struct limits *l)
{
	long long cap = line_now() + (long long)l->timeout * NS;

	return cap < l->end ? cap : l->end;
}

void
limits_command(const struct limits *l, struct line *in)
{
	in->due = limits_cap(l);
}

void
limits_data_credit(const struct limits *l, struct line *in, size_t bytes)
{
	long long cap = limits_cap(l);

	/* bytes <= IO_BUFSIZE: no overflow */
	in->due += (long long)bytes * NS / (long long)l->rate;
	if (in->due > cap)
		in->due = cap;
}

int
limits_life_over(const struct limits *l)
{
	return line_now() >= l->end;
}

/*
 * Whether the queue's file system (dir, open) has need bytes free for an
 * unprivileged user (Postfix's queue_minfree, checked at MAIL).  When it
 * cannot be told, yes: the write itself will still fail safely.
 */
int
limits_disk_ok(int dir, unsigned long long need)
{
	struct statvfs sv;

	if (fstatvfs(dir, &sv) == -1)
		return 1;
	return (unsigned long long)sv.f_bavail * sv.f_frsize >= need;
}

/*
 * The lock file of this listener's pool of -c session slots.
 * One pool for all listeners let a single address, within port 587's
 * per-source cap, hold the slots port 25 needs: the sockets' per-source
 * caps added up past the one pool.  Each listener now counts on its own,
 * told apart by the mode flags its launcher already passes:
 *   port 25 (and its sessions after STARTTLS)          smtpd.lock
 *   submission with STARTTLS, -S (port 587), before
 *   and after STARTTLS (-E -S with STARTTLS_ENV)        smtpd-submission.lock
 *   submission with implicit TLS, -E -S (port 465)      smtpd-submissions.lock
 * A session after STARTTLS takes its slot in the pool of the listener it
 * came in on: the plaintext smtpd's lock went with its exec of stunnel.
 */
const char *
limits_pool(int is_submission, int is_tls, int is_starttls)
{
	if (!is_submission)
		return "smtpd.lock";
	if (is_tls && !is_starttls)
		return "smtpd-submissions.lock";
	return "smtpd-submission.lock";
}
