/*
 * sign.c: a DKIM-Signature (RFC 6376) for a message in the queue, with
 * no crypto linked: the canonical forms are ours (common/dkim.c), the
 * SHA-256 and the signature come from openssl run as a program, fed
 * through a pipe (smtpsend(8) DKIM).
 *
 * Reads the message from a queue file's descriptor, from the offset
 * where the message starts, in fixed-size pieces: the header fields
 * that are signed are kept canonicalised in a bounded buffer, the body
 * streams through dkim_body_feed() into "openssl dgst".  Writes the
 * header field to put in front of the message; the file is not changed
 * here.  rsa-sha256 signs the header hash input with "openssl dgst
 * -sign"; ed25519-sha256 (RFC 8463) signs its SHA-256 with "openssl
 * pkeyutl -rawin".
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common.h"
#include "sign.h"

/* RFC 6376 5.4.1's recommended fields, and the List-Unsubscribe pair
 * (RFC 8058 requires it signed); From is signed once more than it
 * appears, so that no From can be added above it (RFC 6376 8.15). */
static const char *const sign_names[] = {
	"From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To",
	"In-Reply-To", "References", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "List-Unsubscribe",
	"List-Unsubscribe-Post",
};
#define SIGN_NAMES	(sizeof(sign_names) / sizeof(sign_names[0]))

/* Bounds on what one message's signature is made from. */
#define SIGN_FIELD_MAX	8192	/* one signed header field, folded */
#define SIGN_FIELDS_MAX	64	/* signed fields kept */
#define SIGN_HEAD_MAX	32768	/* their canonical forms together */
#define SIGN_OUT_MAX	1024	/* what openssl prints: a signature */
#define SIGN_HEADER_MAX	1048576	/* a message's header, read: 1 MiB */

struct sign_fields {
	char	buf[SIGN_HEAD_MAX];	/* canonical fields, one after another */
	size_t	used;
	struct {
		size_t	name;		/* index in sign_names */
		size_t	off, len;	/* in buf */
	} f[SIGN_FIELDS_MAX];
	size_t	n;
};

/* A program's standard input, written by a feed function. */
typedef int sign_feed_fn(int fd, void *arg);

/*
 * A temporary file, unlinked at once, holding what feed writes, at its
 * start: the descriptor, or -1 with err.  The input is a hash, no secret.
 */
static int
sign_tmpfile(sign_feed_fn *feed, void *arg, char *err, size_t errsize)
{
	char path[64];
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/smtpq-sign.XXXXXX",
	    dir != NULL && dir[0] == '/' && strlen(dir) < 40 ? dir : "/tmp");
	if ((fd = mkstemp(path)) == -1 || unlink(path) == -1 ||
	    feed(fd, arg) == -1 || lseek(fd, 0, SEEK_SET) == -1) {
		snprintf(err, errsize, "a temporary file in %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Runs argv (openssl) with feed writing its input and reads at most size
 * octets of its output into out, *len their number.  0 when it exited 0,
 * else -1 with the reason in err.
 */
static int
sign_run(const char *const *argv, sign_feed_fn *feed, void *arg,
    unsigned char *out, size_t size, size_t *len, char *err, size_t errsize)
{
	struct prog p = { NULL, (char *const *)argv,
	    { PROG_TO, PROG_FROM, PROG_KEEP, PROG_NULL }, 127, 0 };
	int ours[PROG_FDS], file = -1, status, rc = 0;
	ssize_t n;
	pid_t pid;

	*len = 0;
	/* "openssl pkeyutl -rawin" (OpenSSL 3.0) must know the input's size
	 * first: a regular file is its standard input. */
	if (strcmp(argv[1], "pkeyutl") == 0) {
		if ((file = sign_tmpfile(feed, arg, err, errsize)) == -1)
			return -1;
		p.fd[0] = file;
	}
	pid = prog_start(&p, ours);
	if (file != -1)
		close(file);
	if (pid == -1) {
		snprintf(err, errsize, "unable to start %s: %s", argv[0],
		    strerror(errno));
		return -1;
	}
	/* openssl reads all of its input before it writes: no deadlock. */
	if (ours[0] != -1) {
		if (feed(ours[0], arg) == -1) {
			snprintf(err, errsize, "writing to %s %s: %s", argv[0],
			    argv[1], strerror(errno));
			rc = -1;
		}
		close(ours[0]);
	}
	while (rc == 0 && *len < size) {
		n = read(ours[1], out + *len, size - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	close(ours[1]);
	if (prog_wait(pid, &status) == -1)
		status = -1;
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		snprintf(err, errsize, "%s %s failed (status %d)", argv[0],
		    argv[1], status);
		rc = -1;
	}
	return rc;
}

/* The body, from a queue file, canonicalised into a pipe through a
 * buffer: the canonicaliser emits an octet at a time. */
struct sign_body {
	int		src;		/* the queue file, at the body */
	int		dst;		/* the pipe to openssl */
	int		failed;		/* a write to dst failed */
	int		read_failed;	/* a read from src failed */
	size_t		len;		/* octets in buf */
	char		buf[IO_BUFSIZE];
};

static void
sign_body_flush(struct sign_body *b)
{
	if (!b->failed && b->len > 0 && out_all(b->dst, b->buf, b->len) == -1)
		b->failed = 1;
	b->len = 0;
}

static void
sign_body_emit(void *arg, const char *s, size_t len)
{
	struct sign_body *b = arg;

	if (b->len + len > sizeof(b->buf))
		sign_body_flush(b);
	if (len > sizeof(b->buf)) {
		if (!b->failed && out_all(b->dst, s, len) == -1)
			b->failed = 1;
		return;
	}
	memcpy(b->buf + b->len, s, len);
	b->len += len;
}

static int
sign_body_feed(int fd, void *arg)
{
	struct sign_body *b = arg;
	struct dkim_body canon;
	char buf[IO_BUFSIZE];
	ssize_t n;

	b->dst = fd;
	dkim_body_init(&canon, sign_body_emit, b);
	for (;;) {
		n = read(b->src, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			b->read_failed = 1;
			return -1;
		}
		if (n == 0)
			break;
		dkim_body_feed(&canon, buf, (size_t)n);
	}
	dkim_body_end(&canon);
	sign_body_flush(b);
	return b->failed ? -1 : 0;
}

/* A string as a program's whole input. */
struct sign_text {
	const char	*s;
	size_t		 len;
};

static int
sign_text_feed(int fd, void *arg)
{
	const struct sign_text *t = arg;

	return out_all(fd, t->s, t->len);
}

/* Which of sign_names a field is, or SIGN_NAMES for none. */
static size_t
sign_which(const char *field, size_t len)
{
	size_t i, n;

	for (i = 0; i < SIGN_NAMES; i++) {
		n = strlen(sign_names[i]);
		if (len > n && strncasecmp(field, sign_names[i], n) == 0 &&
		    (field[n] == ':' || field[n] == ' ' || field[n] == '\t'))
			return i;
	}
	return SIGN_NAMES;
}

/* Keeps a whole field (folded, with its CRLF) when it is one we sign. */
static int
sign_keep(struct sign_fields *h, const char *field, size_t len, char *err,
    size_t errsize)
{
	size_t which = sign_which(field, len);
	int n;

	if (which == SIGN_NAMES)
		return 0;
	if (h->n == SIGN_FIELDS_MAX) {
		snprintf(err, errsize, "more than %d header fields to sign",
		    SIGN_FIELDS_MAX);
		return -1;
	}
	n = dkim_header_relaxed(field, len, h->buf + h->used,
	    sizeof(h->buf) - h->used);
	if (n == -1) {
		snprintf(err, errsize, "a %s field that cannot be signed "
		    "(malformed, or the header too large)", sign_names[which]);
		return -1;
	}
	h->f[h->n].name = which;
	h->f[h->n].off = h->used;
	h->f[h->n].len = (size_t)n;
	h->n++;
	h->used += (size_t)n;
	return 0;
}

/* A whole field read: kept when we sign it; one too long to keep is an
 * error only when it is one we sign. */
static int
sign_field_end(struct sign_fields *h, const char *field, size_t len,
    int is_long, char *err, size_t errsize)
{
	if (len == 0)
		return 0;
	if (!is_long)
		return sign_keep(h, field, len, err, errsize);
	if (sign_which(field, len) == SIGN_NAMES)
		return 0;
	snprintf(err, errsize, "a header field to sign over %d octets",
	    SIGN_FIELD_MAX);
	return -1;
}

/*
 * Reads the header from src (at the message's start) up to and past the
 * empty line, keeping the fields we sign; src is left at the body.
 */
static int
sign_header(int src, struct sign_fields *h, char *err, size_t errsize)
{
	static char field[SIGN_FIELD_MAX];
	char buf[IO_BUFSIZE];
	size_t len = 0, total = 0, i;
	int is_long = 0, at_start = 1, is_blank = 0, is_done = 0;
	ssize_t n;

	h->n = h->used = 0;
	for (;;) {
		n = read(src, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errsize, "read: %s", strerror(errno));
			return -1;
		}
		if (n == 0)	/* no body: the header ends here */
			return sign_field_end(h, field, len, is_long, err,
			    errsize);
		for (i = 0; i < (size_t)n; i++) {
			char c = buf[i];

			if (is_blank) {
				/* The empty line's CR: the body starts past
				 * its LF. */
				if (c == '\n')
					i++;
				is_done = 1;
				break;
			}
			/* A line that starts with WSP continues the field;
			 * any other ends it. */
			if (at_start && c != ' ' && c != '\t') {
				if (sign_field_end(h, field, len, is_long, err,
				    errsize) == -1)
					return -1;
				len = 0;
				is_long = 0;
				if (c == '\n') {
					i++;
					is_done = 1;
					break;
				}
				if (c == '\r') {
					is_blank = 1;
					continue;
				}
			}
			if (len < sizeof(field))
				field[len++] = c;
			else
				is_long = 1;
			at_start = c == '\n';
		}
		if (is_done) {
			/* Leave src at the body's first octet. */
			if (lseek(src, (off_t)i - (off_t)n, SEEK_CUR) == -1) {
				snprintf(err, errsize, "lseek: %s",
				    strerror(errno));
				return -1;
			}
			return 0;
		}
		total += (size_t)n;
		if (total > SIGN_HEADER_MAX) {
			snprintf(err, errsize, "a header over %d octets",
			    SIGN_HEADER_MAX);
			return -1;
		}
	}
}

/* Appends s to buf (size, *len used), NUL kept; -1 when it does not fit. */
static int
sign_cat(char *buf, size_t size, size_t *len, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > size)
		return -1;
	memcpy(buf + *len, s, n + 1);
	*len += n;
	return 0;
}

static const char *const sign_dgst[] = {
	"openssl", "dgst", "-sha256", "-binary", NULL
};

/* Runs openssl dgst on what feed writes: a SHA-256, into hash (32). */
static int
sign_sha256(sign_feed_fn *feed, void *arg, unsigned char *hash, char *err,
    size_t errsize)
{
	unsigned char out[SIGN_OUT_MAX];
	size_t len;

	if (sign_run(sign_dgst, feed, arg, out, sizeof(out), &len, err,
	    errsize) == -1)
		return -1;
	if (len != 32) {
		snprintf(err, errsize, "openssl dgst gave %zu octets, not 32",
		    len);
		return -1;
	}
	memcpy(hash, out, 32);
	return 0;
}

/*
 * h= into hlist and the canonical fields it names into input (*inlen):
 * each field we keep, bottom up (RFC 6376 5.4.2), so every instance of
 * a name is listed once for each, and From once more (oversigned).
 * -1 with err when the message has no From: or the bounds are passed.
 */
static int
sign_hlist(const struct sign_fields *h, char *hlist, size_t hsize,
    char *input, size_t insize, size_t *inlen, char *err, size_t errsize)
{
	size_t i, k, len = 0, count;
	int has_from = 0;

	hlist[0] = '\0';
	for (k = 0; k < SIGN_NAMES; k++) {
		count = 0;
		for (i = h->n; i > 0; i--) {
			if (h->f[i - 1].name != k)
				continue;
			if (sign_cat(hlist, hsize, &len,
			    hlist[0] != '\0' ? ":" : "") == -1 ||
			    sign_cat(hlist, hsize, &len, sign_names[k]) == -1 ||
			    *inlen + h->f[i - 1].len > insize)
				goto too_long;
			memcpy(input + *inlen, h->buf + h->f[i - 1].off,
			    h->f[i - 1].len);
			*inlen += h->f[i - 1].len;
			count++;
		}
		if (k == 0) {
			has_from = count > 0;
			if (sign_cat(hlist, hsize, &len,
			    hlist[0] != '\0' ? ":From" : "From") == -1)
				goto too_long;
		}
	}
	if (!has_from) {
		snprintf(err, errsize, "no From: header field");
		return -1;
	}
	return 0;

too_long:
	snprintf(err, errsize, "the signature does not fit its bounds");
	return -1;
}

/* The field up to "b=", folded as it will be sent, into out (*len). */
static int
sign_field(const struct sign_key *key, time_t now, const char *hlist,
    const char *bh, char *out, size_t size, size_t *len)
{
	char t[32];

	snprintf(t, sizeof(t), "%lld", (long long)now);
	*len = 0;
	if (sign_cat(out, size, len, "DKIM-Signature: v=1; a=") == -1 ||
	    sign_cat(out, size, len, key->is_ed25519 ? "ed25519-sha256" :
	    "rsa-sha256") == -1 ||
	    sign_cat(out, size, len, "; c=relaxed/relaxed;\r\n\td=") == -1 ||
	    sign_cat(out, size, len, key->domain) == -1 ||
	    sign_cat(out, size, len, "; s=") == -1 ||
	    sign_cat(out, size, len, key->selector) == -1 ||
	    sign_cat(out, size, len, "; t=") == -1 ||
	    sign_cat(out, size, len, t) == -1 ||
	    sign_cat(out, size, len, ";\r\n\th=") == -1 ||
	    sign_cat(out, size, len, hlist) == -1 ||
	    sign_cat(out, size, len, ";\r\n\tbh=") == -1 ||
	    sign_cat(out, size, len, bh) == -1 ||
	    sign_cat(out, size, len, ";\r\n\tb=") == -1)
		return -1;
	return 0;
}

/* The signature of text with the key, in base64 into b64. */
static int
sign_sign(const struct sign_key *key, const struct sign_text *text,
    char *b64, size_t b64size, char *err, size_t errsize)
{
	const char *rsa[] = {
		"openssl", "dgst", "-sha256", "-binary", "-sign", key->keyfile,
		NULL
	};
	const char *ed[] = {
		"openssl", "pkeyutl", "-sign", "-rawin", "-inkey", key->keyfile,
		"-in", "/dev/stdin", NULL
	};
	unsigned char raw[SIGN_OUT_MAX], hash[32];
	struct sign_text in = *text;
	size_t len;

	if (key->is_ed25519) {
		/* RFC 8463 3: Ed25519 signs the SHA-256 of the input. */
		if (sign_sha256(sign_text_feed, &in, hash, err,
		    errsize) == -1)
			return -1;
		in.s = (const char *)hash;
		in.len = sizeof(hash);
	}
	if (sign_run(key->is_ed25519 ? ed : rsa, sign_text_feed, &in, raw,
	    sizeof(raw), &len, err, errsize) == -1)
		return -1;
	if (len == 0 || len == sizeof(raw) ||
	    base64_encode(raw, len, b64, b64size) < 0) {
		snprintf(err, errsize, "openssl gave a signature of %zu "
		    "octets", len);
		return -1;
	}
	return 0;
}

int
sign_message(int fd, const struct sign_key *key, time_t now, char *out,
    size_t size, char *err, size_t errsize)
{
	static struct sign_fields h;
	static char input[SIGN_HEAD_MAX + 2048];
	static struct sign_body body;
	unsigned char bh[32];
	char b64[2 * SIGN_OUT_MAX], hlist[SIGN_FIELDS_MAX * 32], piece[68];
	struct sign_text text;
	size_t len, inlen = 0, i, n;
	int canon;

	if (sign_header(fd, &h, err, errsize) == -1)
		return -1;
	/* The body hash: bh= (RFC 6376 3.7). */
	memset(&body, 0, sizeof(body));
	body.src = fd;
	if (sign_sha256(sign_body_feed, &body, bh, err, errsize) == -1) {
		if (body.read_failed)
			snprintf(err, errsize, "reading the message: %s",
			    strerror(errno));
		return -1;
	}
	if (base64_encode(bh, sizeof(bh), b64, sizeof(b64)) < 0 ||
	    sign_hlist(&h, hlist, sizeof(hlist), input, sizeof(input), &inlen,
	    err, errsize) == -1)
		return -1;
	/* The field itself, b= empty: its canonical form ends the hash
	 * input, without CRLF (3.7). */
	if (sign_field(key, now, hlist, b64, out, size, &len) == -1)
		goto too_long;
	canon = dkim_header_relaxed(out, len, input + inlen,
	    sizeof(input) - inlen);
	if (canon < 2)
		goto too_long;
	text.s = input;
	text.len = inlen + (size_t)canon - 2;
	if (sign_sign(key, &text, b64, sizeof(b64), err, errsize) == -1)
		return -1;
	/* b= folded every 64 characters; its white space is not signed. */
	for (i = 0, n = strlen(b64); i < n; i += 64) {
		snprintf(piece, sizeof(piece), "%s%.64s", i > 0 ? "\r\n\t" :
		    "", b64 + i);
		if (sign_cat(out, size, &len, piece) == -1)
			goto too_long;
	}
	if (sign_cat(out, size, &len, "\r\n") == -1)
		goto too_long;
	return (int)len;

too_long:
	snprintf(err, errsize, "the signature does not fit its bounds");
	return -1;
}
