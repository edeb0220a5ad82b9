/*
 * envelope.c: the envelope at the head of a queue file, read strictly and
 * written back.
 *
 * A queue file starts with LF-ended "Word: value" lines: one "From: <path>",
 * one "To: <path>" per recipient still pending, and extensions such as
 * "Body: 8BITMIME" that whoever rewrites the file keeps; a lone LF ends the
 * envelope and the message follows.  Lines are printable ASCII, but for
 * a message that came with SMTPUTF8 ("Smtputf8: yes", RFC 6531), whose
 * lines may hold UTF-8 too (valid UTF-8, paths as RFC 6531 3.3 has them).  Words are matched in any case.  The
 * reader trusts nothing: anything but that shape, a word it does not
 * know, a value it does not understand, is reported as damage (RES_PERM)
 * with a reason, never half-accepted: the file goes to failed/ whole
 * rather than lose a recipient.  The rewriter puts a new file in place under the old name
 * (tmp/, fsync, rename), so the arrival time in the name survives.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common.h"

/* Copies why into err and returns RES_PERM: the file is damaged. */
static enum result
envelope_damaged(char *err, size_t errsize, const char *why)
{
	if (errsize > 0) {
		strncpy(err, why, errsize - 1);
		err[errsize - 1] = '\0';
	}
	return RES_PERM;
}

/* "<path>" and nothing else; the mailbox goes to addr.  0 or -1.  UTF-8
 * is read here; envelope_read() refuses it without "Smtputf8: yes". */
static int
envelope_path(const char *value, char *addr, size_t size)
{
	const char *rest;

	if (value[0] != '<' || addr_parse_utf8(value, addr, size, &rest) == -1
	    || *rest != '\0')
		return -1;
	return 0;
}

/* Word is letters, digits and '-', then ": ".  Returns the value. */
static const char *
envelope_value(const char *line)
{
	size_t n = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-");

	if (n == 0 || line[n] != ':' || line[n + 1] != ' ')
		return NULL;
	return line + n + 2;
}

/* Whether the line's word is word, in any case (as header field names,
 * RFC 5322 1.2.2; so a hand-written "to:" is a recipient, not lost). */
static int
envelope_is(const char *line, const char *word)
{
	size_t n = strlen(word);

	return strncasecmp(line, word, n) == 0 && line[n] == ':';
}

/*
 * The extensions smtpsend acts on, each at most once, with the values it
 * understands (any non-empty one when none are listed); any other word
 * is damage: a
 * line it would carry without understanding it could be a recipient
 * spelt wrong ("Rcpt:"), mail that would silently not go where it was
 * meant to.
 */
static const struct {
	const char	*word;
	const char	*values[4];
} envelope_exts[] = {
	{ "Body",	{ "7BIT", "8BITMIME", NULL } },
	{ "Aliased",	{ NULL } },
	/* RFC 6531: the client said SMTPUTF8; smtpsend passes it on. */
	{ "Smtputf8",	{ "yes", NULL } },
	/* Where the message originated (submit.c). */
	{ "Origin",	{ "local", "trusted", "auth", NULL } },
	/* smtpsend put its DKIM-Signature in the message (signq.c): a
	 * retry sends the same bytes and does not sign again. */
	{ "Signed",	{ "yes", NULL } },
};

static const char *
envelope_check_ext(const struct envelope *env, const char *line,
    const char *value)
{
	static char why[64];
	const char *word;
	size_t i, k;

	for (i = 0; i < sizeof(envelope_exts) / sizeof(envelope_exts[0]);
	    i++) {
		word = envelope_exts[i].word;
		if (!envelope_is(line, word))
			continue;
		if (envelope_exts[i].values[0] == NULL) {
			if (value[0] == '\0') {
				snprintf(why, sizeof(why), "empty %s line",
				    word);
				return why;
			}
		} else {
			for (k = 0; envelope_exts[i].values[k] != NULL; k++)
				if (strcasecmp(value,
				    envelope_exts[i].values[k]) == 0)
					break;
			if (envelope_exts[i].values[k] == NULL) {
				snprintf(why, sizeof(why), "bad %s value",
				    word);
				return why;
			}
		}
		if (envelope_ext(env, word) == NULL)
			return NULL;
		snprintf(why, sizeof(why), "two %s lines", word);
		return why;
	}
	return "unknown envelope line";
}

/* 1: printable ASCII; 2: printable ASCII and valid UTF-8 (no C1
 * control either); 0: anything else. */
static int
envelope_printable(const char *s, size_t len)
{
	size_t i, n;
	int kind = 1;

	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] > 126) {
			if ((n = addr_utf8_len(s + i)) == 0 || i + n > len ||
			    ((unsigned char)s[i] == 0xc2 &&
			    (unsigned char)s[i + 1] < 0xa0))
				return 0;
			i += n - 1;
			kind = 2;
		} else if ((unsigned char)s[i] < 32)
			return 0;
	}
	return kind;
}

/* Takes one envelope line (buf, len octets, not empty) into env: NULL, or
 * why the file is damaged. */
static const char *
envelope_take(struct envelope *env, const char *buf, size_t len,
    int *has_from)
{
	const char *value, *why;

	if ((value = envelope_value(buf)) == NULL)
		return "envelope line not \"Word: value\"";
	if (envelope_is(buf, "From")) {
		if (*has_from)
			return "two From lines";
		/* RFC 5321 4.1.2: <> or a mailbox with a domain; a bounce
		 * to anything else could not go. */
		if (envelope_path(value, env->from, sizeof(env->from)) == -1 ||
		    (env->from[0] != '\0' && addr_domain(env->from) == NULL))
			return "bad sender";
		*has_from = 1;
	} else if (envelope_is(buf, "To")) {
		if (env->nrcpt == RCPT_MAX)
			return "too many recipients";
		if (envelope_path(value, env->rcpt[env->nrcpt],
		    sizeof(env->rcpt[0])) == -1 ||
		    env->rcpt[env->nrcpt][0] == '\0' ||
		    (addr_domain(env->rcpt[env->nrcpt]) == NULL &&
		    strcasecmp(env->rcpt[env->nrcpt], "postmaster") != 0))
			return "bad recipient";
		env->nrcpt++;
	} else {
		if (env->next == ENVELOPE_EXT_MAX)
			return "too many envelope lines";
		if ((why = envelope_check_ext(env, buf, value)) != NULL)
			return why;
		memcpy(env->ext[env->next++], buf, len + 1);
	}
	return NULL;
}

/*
 * Reads the envelope through in, which must be fresh on the file's start.
 * RES_OK: env is filled and env->body is the message's offset.  RES_PERM:
 * the file is damaged, err says how.  RES_TEMP: it could not be read.
 */
enum result
envelope_read(struct line *in, struct envelope *env, char *err,
    size_t errsize)
{
	char buf[SMTP_LINE_MAX + 1];
	const char *why;
	enum line_status st;
	int bare_lf, has_from = 0, has_utf8 = 0, kind;
	size_t len;
	off_t pos;

	env->nrcpt = env->next = 0;
	env->from[0] = '\0';
	for (;;) {
		st = line_read(in, buf, sizeof(buf), &len, &bare_lf);
		if (st == LINE_LONG)
			return envelope_damaged(err, errsize,
			    "envelope line too long");
		if (st == LINE_EOF)
			return envelope_damaged(err, errsize,
			    "no end of envelope");
		if (st != LINE_OK) {
			envelope_damaged(err, errsize, strerror(errno));
			return RES_TEMP;
		}
		if (!bare_lf || (kind = envelope_printable(buf, len)) == 0)
			return envelope_damaged(err, errsize,
			    "envelope line not plain text ending in LF");
		if (kind == 2)
			has_utf8 = 1;
		if (len == 0)
			break;
		if ((why = envelope_take(env, buf, len, &has_from)) != NULL)
			return envelope_damaged(err, errsize, why);
	}
	if (!has_from)
		return envelope_damaged(err, errsize, "no From line");
	if (env->nrcpt == 0)
		return envelope_damaged(err, errsize, "no To line");
	if (has_utf8 && envelope_ext(env, "Smtputf8") == NULL)
		return envelope_damaged(err, errsize,
		    "UTF-8 in the envelope without Smtputf8");
	if ((pos = lseek(in->fd, 0, SEEK_CUR)) == -1) {
		envelope_damaged(err, errsize, strerror(errno));
		return RES_TEMP;
	}
	env->body = pos - (off_t)line_pending(in);
	return RES_OK;
}

/* The value of extension line "word: value", or NULL. */
const char *
envelope_ext(const struct envelope *env, const char *word)
{
	size_t i, n = strlen(word);

	for (i = 0; i < env->next; i++)
		if (strncasecmp(env->ext[i], word, n) == 0 &&
		    env->ext[i][n] == ':')
			return env->ext[i] + n + 2;
	return NULL;
}

/* The one writer of the envelope (README, "The queue"): From:, the
 * extension lines, a To: per recipient i if keep is NULL or keep[i], the
 * empty line. */
int
envelope_put(struct out *o, const char *from,
    const char (*ext)[SMTP_LINE_MAX + 1], size_t next,
    const char (*rcpt)[ADDR_MAX + 1], size_t nrcpt, const int *keep)
{
	size_t i;

	out_printf(o, "From: <%s>\n", from);
	for (i = 0; i < next; i++)
		out_printf(o, "%s\n", ext[i]);
	for (i = 0; i < nrcpt; i++)
		if (keep == NULL || keep[i])
			out_printf(o, "To: <%s>\n", rcpt[i]);
	return out_puts(o, "\n");
}

/* Writes env, with recipient i only if keep is NULL or keep[i]. */
int
envelope_write(struct out *o, const struct envelope *env, const int *keep)
{
	return envelope_put(o, env->from, env->ext, env->next, env->rcpt,
	    env->nrcpt, keep);
}

/*
 * Writes a copy of the queue file fd into tmp/ (qf) whose envelope lists
 * only the recipients in keep and whose message is fd's from env->body
 * on, with mtime next (0: now), fsync'd and closed, ready for a rename.
 * 0, or -1 with errno set and nothing left in tmp/.
 */
static int
envelope_copy(struct queue *q, int fd, const struct envelope *env,
    const int *keep, time_t next, struct queue_file *qf)
{
	static struct out o;
	static char buf[IO_BUFSIZE];
	struct timespec times[2];
	off_t pos = env->body;
	ssize_t n;

	if (queue_create(q, qf) == -1)
		return -1;
	out_init(&o, qf->fd);
	envelope_write(&o, env, keep);
	for (;;) {
		n = pread(fd, buf, sizeof(buf), pos);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		out_write(&o, buf, (size_t)n);
		pos += n;
	}
	if (n == -1 || out_flush(&o) == -1)
		goto fail;
	/* The next try is set before the rename, so no other sender ever
	 * sees the new file due early. */
	times[0].tv_sec = times[1].tv_sec = next;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	if (next != 0 && futimens(qf->fd, times) == -1)
		goto fail;
	if (fsync(qf->fd) == -1)
		goto fail;
	if (close(qf->fd) == -1) {
		qf->fd = -1;
		goto fail;
	}
	qf->fd = -1;
	return 0;
fail:
	queue_abort(q, qf);
	return -1;
}

/*
 * Replaces new/NAME with a copy whose envelope lists only the recipients
 * in keep, whose message is fd's from env->body on, and whose mtime (next
 * try) is next.  The old file stays whole until the rename.  0, or -1 with
 * errno set and nothing changed.
 */
int
envelope_rewrite(struct queue *q, int fd, const char *name,
    const struct envelope *env, const int *keep, time_t next)
{
	struct queue_file qf;

	if (envelope_copy(q, fd, env, keep, next, &qf) == -1)
		return -1;
	/*
	 * Not queue_commit(): on a failed fsync of new/ it removes what it
	 * renamed, which here would be the only copy of the message.  The
	 * rename replaces the old file in one step, so whichever of the two
	 * a crash leaves in new/ is whole.
	 */
	if (renameat(q->tmp_dir, qf.name, q->new_dir, name) == -1) {
		queue_abort(q, &qf);
		return -1;
	}
	return fsync(q->new_dir);
}

/*
 * Moves new/NAME to failed/NAME as a copy that lists only the recipients
 * in keep (the failed ones: put back into new/, it mails only them).  The
 * copy is in failed/, durably, before new/NAME goes; if new/NAME cannot
 * go, the copy goes again.  0, or -1 with errno set and new/ unchanged.
 */
int
envelope_fail(struct queue *q, int fd, const char *name,
    const struct envelope *env, const int *keep)
{
	struct queue_file qf;
	int saved;

	if (envelope_copy(q, fd, env, keep, 0, &qf) == -1)
		return -1;
	if (queue_dirfd(q, "failed") == -1 ||
	    renameat(q->tmp_dir, qf.name, q->failed_dir, name) == -1) {
		queue_abort(q, &qf);
		return -1;
	}
	if (fsync(q->failed_dir) == -1 || unlinkat(q->new_dir, name, 0) == -1) {
		saved = errno;
		unlinkat(q->failed_dir, name, 0);
		errno = saved;
		return -1;
	}
	return 0;
}
