/*
 * alias.c: aliases for local recipients (-A FILE, aliases(5) style):
 *
 *   # comment
 *   root: alice, ops@example.net
 *   postmaster: root
 *   alice: alice, alice@home.example	(a name may list itself)
 *
 * A line starting with white space continues the one before.  Names are
 * matched without regard to case.  A target is a local name (expanded
 * again when it is an alias), an address in the recipient's own domain
 * (the same), or a remote address.  "|command", "/file" and ":include:"
 * targets are never run, written or read: that target fails for good
 * (the recipient bounces, naming it, with a log line) while the alias's
 * other targets are delivered, as Postfix does.  Expansion stops at a
 * loop or ALIAS_DEPTH levels, and the recipient bounces.  An expanded
 * recipient is done once a new queue file holds its targets, from the
 * original sender, with an "Aliased:" envelope line (its recipients are not expanded again) and a
 * Delivered-To: header; smtpsend then delivers that file like any other.
 * Each final target gets a message once: a target already queued for an
 * earlier recipient of the same message, or that is itself one of its
 * recipients (not an alias), is dropped.
 * The file is read once, at start, into a fixed table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpsend.h"

#define ALIAS_MAX	512	/* names in the file; more: config error */
#define ALIAS_TEXT_MAX	1024	/* targets of one name, joined */
#define ALIAS_DEPTH	8	/* aliases of aliases */

static struct alias {
	char	name[ADDR_LOCAL_MAX + 1];
	char	targets[ALIAS_TEXT_MAX + 1];
} aliases[ALIAS_MAX];
static size_t naliases;

struct expansion {
	const struct msg *m;			/* the message being expanded */
	const char	*domain;		/* of the aliased recipient */
	const char	*chain[ALIAS_DEPTH + 1];	/* names being expanded */
	size_t		 depth;
	struct envelope	 env;			/* the new file's envelope */
	size_t		 ndup;			/* targets dropped as copies */
	size_t		 nrefused;		/* |cmd, /file, bad targets */
	char		 refused[256];		/* why, for the first one */
	char		 why[256];
};

/*
 * The targets already queued for the message named sent_for:
 * postmaster, Postmaster and POSTMASTER are three recipients
 * for the relay that sent them, but one alias, and without this each
 * would queue a copy for every target.  Kept across the tries of one
 * message in this process; a new process (or another message in
 * between) starts afresh, which costs a copy, never a loss.
 */
static char sent_for[QUEUE_NAME_MAX + 1];
static char sent[RCPT_MAX][ADDR_MAX + 1];
static size_t nsent;

static struct line in;
static struct expansion x;

static const struct alias *
alias_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < naliases; i++)
		if (strlen(aliases[i].name) == len &&
		    strncasecmp(aliases[i].name, name, len) == 0)
			return &aliases[i];
	return NULL;
}

int
alias_load(const char *path, char *err, size_t errsize)
{
	char buf[ALIAS_TEXT_MAX + 1], *colon, *p;
	struct alias *a = NULL;
	enum line_status st;
	size_t len, n, lineno = 0;
	int fd, bare_lf;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return -1;
	}
	line_init(&in, fd, 0);
	while ((st = line_read(&in, buf, sizeof(buf), &len, &bare_lf)) !=
	    LINE_EOF) {
		lineno++;
		if (st != LINE_OK || memchr(buf, '\0', len) != NULL)
			goto bad;
		if (buf[0] == '#' || strspn(buf, " \t") == len)
			continue;
		if (buf[0] == ' ' || buf[0] == '\t') {
			n = strlen(a != NULL ? a->targets : "");
			if (a == NULL || n + 2 + len > ALIAS_TEXT_MAX)
				goto bad;
			strcat(strcat(a->targets, ", "), buf);
			continue;
		}
		if ((colon = strchr(buf, ':')) == NULL ||
		    (size_t)(colon - buf) > ADDR_LOCAL_MAX || colon == buf ||
		    naliases == ALIAS_MAX)
			goto bad;
		for (p = buf; p < colon; p++)
			if (*p <= ' ' || *p > '~' || *p == '@')
				goto bad;
		a = &aliases[naliases++];
		memcpy(a->name, buf, (size_t)(colon - buf));
		a->name[colon - buf] = '\0';
		strcpy(a->targets, colon + 1);
	}
	close(fd);
	return 0;
bad:
	close(fd);
	snprintf(err, errsize, "%s:%zu: not \"name: target, ...\" within "
	    "bounds", path, lineno);
	return -1;
}

/* Whether addr gets the message anyway: queued for it by an earlier
 * alias of this message, or one of the message's own recipients that is
 * no alias (delivered or relayed as it is).  Addresses compare without
 * case, as the rest of this file does. */
static int
target_is_dup(const char *addr)
{
	const char *at;
	size_t i;

	for (i = 0; i < nsent; i++)
		if (strcasecmp(sent[i], addr) == 0)
			return 1;
	for (i = 0; i < x.m->env.nrcpt; i++) {
		if (strcasecmp(x.m->rcpt[i].addr, addr) != 0)
			continue;
		at = strrchr(addr, '@');
		if (x.m->rcpt[i].route != ROUTE_LOCAL || alias_find(addr,
		    at != NULL ? (size_t)(at - addr) : strlen(addr)) == NULL)
			return 1;
	}
	return 0;
}

static int
target_add(const char *addr)
{
	size_t i;

	for (i = 0; i < x.env.nrcpt; i++)
		if (strcasecmp(x.env.rcpt[i], addr) == 0)
			return 0;
	if (target_is_dup(addr)) {
		x.ndup++;
		return 0;
	}
	if (x.env.nrcpt == RCPT_MAX) {
		snprintf(x.why, sizeof(x.why), "more than %d targets",
		    RCPT_MAX);
		return -1;
	}
	strcpy(x.env.rcpt[x.env.nrcpt++], addr);
	return 0;
}

/* Adds the targets of a (at depth x.depth) to x.env.  0 or -1 (x.why). */
static int
expand(const struct alias *a)
{
	char buf[ALIAS_TEXT_MAX + 1], spec[ADDR_MAX + 3], addr[ADDR_MAX + 1];
	const char *rest, *at;
	const struct alias *b;
	char *t, *next;
	size_t i, len;
	int n;

	x.chain[x.depth++] = a->name;
	strcpy(buf, a->targets);
	for (t = buf; t != NULL; t = next) {
		if ((next = strchr(t, ',')) != NULL)
			*next++ = '\0';
		t += strspn(t, " \t");
		for (len = strlen(t); len > 0 && (t[len - 1] == ' ' ||
		    t[len - 1] == '\t'); len--)
			t[len - 1] = '\0';
		if (*t == '\0')
			continue;
		/* A target we refuse fails alone: the others are still
		 * delivered (as Postfix does), the refusal bounced. */
		if (*t == '|' || *t == '/' || strncasecmp(t, ":include:", 9) == 0) {
			if (x.nrefused++ == 0)
				snprintf(x.refused, sizeof(x.refused),
				    "alias %s: target %.64s refused (commands, "
				    "files and includes are never used)",
				    a->name, t);
			continue;
		}
		n = snprintf(spec, sizeof(spec), "<%s>", t);
		if (n < 0 || (size_t)n >= sizeof(spec) ||
		    addr_parse(spec, addr, sizeof(addr), &rest) == -1 ||
		    *rest != '\0' || addr[0] == '\0') {
			if (x.nrefused++ == 0)
				snprintf(x.refused, sizeof(x.refused),
				    "alias %s: bad target %.64s", a->name, t);
			continue;
		}
		at = strrchr(addr, '@');
		if (at != NULL && strcasecmp(at + 1, x.domain) != 0) {
			if (target_add(addr) == -1)
				return -1;
			continue;
		}
		len = at != NULL ? (size_t)(at - addr) : strlen(addr);
		b = alias_find(addr, len);
		for (i = 0; b != NULL && i < x.depth; i++)
			if (x.chain[i] == b->name)
				break;
		if (b != NULL && b == a)
			b = NULL;	/* "alice: alice, ...": her mailbox */
		else if (b != NULL && i < x.depth) {
			snprintf(x.why, sizeof(x.why), "alias loop at %s",
			    b->name);
			return -1;
		}
		if (b != NULL) {
			if (x.depth == ALIAS_DEPTH) {
				snprintf(x.why, sizeof(x.why), "aliases nested "
				    "deeper than %d", ALIAS_DEPTH);
				return -1;
			}
			if (expand(b) == -1)
				return -1;
			continue;
		}
		n = snprintf(spec, sizeof(spec), "%.*s@%s", (int)len, addr,
		    x.domain);
		if (n < 0 || (size_t)n >= sizeof(spec) || target_add(spec) == -1)
			return -1;
	}
	x.depth--;
	return 0;
}

/* The expansion in x for rcpt of m queued as a new message (qf), whose
 * envelope says where it came from and for which alias.  0, or -1 with
 * errno set and nothing queued. */
static int
alias_queue(const struct msg *m, const char *rcpt, struct queue *q,
    struct queue_file *qf)
{
	static struct out o;

	strcpy(x.env.from, m->env.from);
	if (envelope_ext(&m->env, "Body") != NULL)
		snprintf(x.env.ext[x.env.next++], sizeof(x.env.ext[0]),
		    "Body: %s", envelope_ext(&m->env, "Body"));
	/* Where it came from goes along: -M masquerades only what
	 * originated here (masq.c). */
	if (envelope_ext(&m->env, "Origin") != NULL)
		snprintf(x.env.ext[x.env.next++], sizeof(x.env.ext[0]),
		    "Origin: %s", envelope_ext(&m->env, "Origin"));
	snprintf(x.env.ext[x.env.next++], sizeof(x.env.ext[0]),
	    "Aliased: %s", rcpt);
	if (submit_begin(q, qf, &o) == -1)
		return -1;
	envelope_write(&o, &x.env, NULL);
	out_printf(&o, "Delivered-To: %s\r\n", rcpt);
	if (body_copy(m->fd, m->env.body, &o, 0) == -1) {
		queue_abort(q, qf);
		return -1;
	}
	return submit_commit(q, qf, &o);
}

/* An expansion in x that leaves no target to queue for rcpt of m: its
 * outcome with reply set, or -1 when there are targets. */
static int
alias_none(const struct msg *m, const char *rcpt, char *reply, size_t size)
{
	if (x.env.nrcpt == 0 && x.nrefused > 0) {
		snprintf(reply, size, "550 5.1.1 <%s>: %s", rcpt, x.refused);
		return RES_PERM;
	}
	if (x.env.nrcpt == 0 && x.ndup > 0) {
		log_info("id=%s to=<%s> aliased=0 dropped=%zu result=aliased: "
		    "every target gets this message already", m->name, rcpt,
		    x.ndup);
		snprintf(reply, size, "250 2.0.0 <%s>: aliased to %zu targets "
		    "that get this message already", rcpt, x.ndup);
		return RES_OK;
	}
	if (x.env.nrcpt == 0) {
		snprintf(reply, size, "550 5.1.1 <%s>: alias without "
		    "targets", rcpt);
		return RES_PERM;
	}
	return -1;
}

/*
 * m's recipient i, local: an alias?  Returns -1 if not (deliver it), else
 * its outcome with reply set: RES_OK once the targets are queued.
 */
int
alias_deliver(struct msg *m, size_t i, struct queue *q, char *reply,
    size_t size)
{
	const char *rcpt = m->env.rcpt[i], *at = strrchr(rcpt, '@');
	const struct alias *a;
	struct queue_file qf;
	size_t j;
	int rc;

	if (naliases == 0 || envelope_ext(&m->env, "Aliased") != NULL)
		return -1;
	a = alias_find(rcpt, at != NULL ? (size_t)(at - rcpt) : strlen(rcpt));
	if (a == NULL)
		return -1;
	if (strcmp(sent_for, m->name) != 0) {
		strcpy(sent_for, m->name);
		nsent = 0;
	}
	memset(&x, 0, sizeof(x));
	x.m = m;
	x.domain = at != NULL ? at + 1 : "";
	if (expand(a) == -1) {
		log_info("id=%s to=<%s> result=alias refused: %s", m->name,
		    rcpt, x.why);
		snprintf(reply, size, "550 5.1.1 <%s>: %s", rcpt, x.why);
		return RES_PERM;
	}
	if (x.nrefused > 0)
		log_info("id=%s to=<%s> refused=%zu result=alias refused: %s",
		    m->name, rcpt, x.nrefused, x.refused);
	if ((rc = alias_none(m, rcpt, reply, size)) != -1)
		return rc;
	if (alias_queue(m, rcpt, q, &qf) == -1)
		goto fail;
	for (j = 0; j < x.env.nrcpt && nsent < RCPT_MAX; j++)
		strcpy(sent[nsent++], x.env.rcpt[j]);	/* XXX full: copies */
	log_info("id=%s to=<%s> aliased=%zu dropped=%zu queued=%s "
	    "result=aliased", m->name, rcpt, x.env.nrcpt, x.ndup, qf.name);
	if (x.nrefused > 0) {
		/* The good targets are queued; the sender learns of the
		 * refused ones only, through this recipient's bounce. */
		snprintf(reply, size, "550 5.1.1 <%s>: %s%s; %zu other "
		    "target%s queued as %s", rcpt, x.refused, x.nrefused > 1 ?
		    " (and more)" : "", x.env.nrcpt, x.env.nrcpt == 1 ? "" :
		    "s", qf.name);
		return RES_PERM;
	}
	snprintf(reply, size, "250 2.0.0 <%s>: aliased to %zu, queued as %s",
	    rcpt, x.env.nrcpt, qf.name);
	return RES_OK;
fail:
	snprintf(reply, size, "451 4.3.0 <%s>: unable to queue alias "
	    "targets: %s", rcpt, strerror(errno));
	return RES_TEMP;
}
