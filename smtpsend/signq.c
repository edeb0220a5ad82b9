/*
 * signq.c: DKIM signing of a queued message, once, before its first
 * remote attempt (smtpsend(8) DKIM).
 *
 * Reads smtpq.conf's "dkim DOMAIN SELECTOR KEYFILE" lines (-D), each key
 * a PEM file no one but its owner may read (else exit 78, naming it).  A
 * message that originated here (an Origin: envelope line: sendmail, a
 * trusted or authenticated smtpd client) and was not forwarded by an
 * alias (no Aliased: line), whose first From: mailbox has a domain with
 * keys, gets one DKIM-Signature per key (sign.c: RSA, and Ed25519 as a
 * second one).  The signatures are kept: the queue file is rewritten
 * through tmp/ (written, fsync'd, locked, renamed over the old name, the
 * directory fsync'd) with "Signed: yes" in its envelope, so that every
 * retry sends the same bytes and none signs again.  The header is read
 * line by line and the body streams through openssl (sign.c): memory
 * does not grow with the message.  Signing that fails defers the remote
 * recipients with the reason, in the log and in their reply.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtpsend.h"
#include "sign.h"

#define SIGN_KEYS_MAX		64	/* dkim lines */
#define SIGN_KEY_FILE_MAX	16384	/* a PEM key file, octets */
#define SIGN_FROM_MAX		8192	/* the From: field, unfolded */
#define SIGN_SIGNATURE_MAX	4096	/* one DKIM-Signature field */
#define SIGN_PER_DOMAIN		2	/* an RSA and an Ed25519 key */

static struct sign_key sign_keys[SIGN_KEYS_MAX];
static size_t sign_nkeys;

static int	sign_config_line(const char *, char *, size_t);

/* The key file: a regular file only its owner can read or write, in PEM,
 * of a kind we sign with.  0, or -1 with err naming it. */
static int
sign_key_check(struct sign_key *key, char *err, size_t errsize)
{
	static char pem[SIGN_KEY_FILE_MAX + 1];
	enum dkim_key kind;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(key->keyfile, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errsize, "%s: %s", key->keyfile,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errsize, "%s: %s", key->keyfile,
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    "group or others may read or write it (chmod 600)");
		close(fd);
		return -1;
	}
	while (len <= SIGN_KEY_FILE_MAX) {
		n = read(fd, pem + len, SIGN_KEY_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n == -1) {
		snprintf(err, errsize, "%s: %s", key->keyfile,
		    strerror(errno));
		return -1;
	}
	kind = len > SIGN_KEY_FILE_MAX ? DKIM_KEY_UNKNOWN :
	    dkim_key_kind(pem, len);
	memset(pem, 0, sizeof(pem));	/* no copy of a secret lingers */
	if (kind == DKIM_KEY_UNKNOWN) {
		snprintf(err, errsize, "%s: not an unencrypted RSA or Ed25519 "
		    "private key in PEM", key->keyfile);
		return -1;
	}
	key->is_ed25519 = kind == DKIM_KEY_ED25519;
	return 0;
}

/* A dkim line in smtpq.conf or -D that cannot be: exit 78 (a key that
 * others can read is the configuration's fault, from the command line
 * too), with FILE:LINE when the file said it. */
static void __attribute__((noreturn))
sign_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_die_va(fmt, ap);	/* returns unless the file is to blame */
	va_end(ap);
	fprintf(stderr, "%s: dkim: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_CONFIG);
}

void
sign_config(const char *arg)
{
	char err[PATH_MAX + 128];

	if (sign_config_line(arg, err, sizeof(err)) == -1)
		sign_die("%s", err);
}

static int
sign_config_line(const char *arg, char *err, size_t errsize)
{
	char words[3][PATH_MAX];
	struct sign_key *key;
	const char *p = arg;
	size_t i, n;

	for (i = 0; i < 3; i++) {
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == 0 || n >= sizeof(words[i])) {
			snprintf(err, errsize, "needs DOMAIN SELECTOR KEYFILE");
			return -1;
		}
		memcpy(words[i], p, n);
		words[i][n] = '\0';
		p += n;
	}
	if (p[strspn(p, " \t")] != '\0') {
		snprintf(err, errsize, "needs DOMAIN SELECTOR KEYFILE");
		return -1;
	}
	if (!addr_domain_valid(words[0]) ||
	    strlen(words[0]) >= sizeof(key->domain)) {
		snprintf(err, errsize, "bad domain %s", words[0]);
		return -1;
	}
	if (strlen(words[1]) >= sizeof(key->selector) ||
	    !dkim_selector_valid(words[1])) {
		snprintf(err, errsize, "bad selector %s", words[1]);
		return -1;
	}
	if (sign_nkeys == SIGN_KEYS_MAX) {
		snprintf(err, errsize, "more than %d dkim lines",
		    SIGN_KEYS_MAX);
		return -1;
	}
	key = &sign_keys[sign_nkeys];
	memset(key, 0, sizeof(*key));
	memcpy(key->domain, words[0], strlen(words[0]) + 1);
	memcpy(key->selector, words[1], strlen(words[1]) + 1);
	memcpy(key->keyfile, words[2], strlen(words[2]) + 1);
	if (sign_key_check(key, err, errsize) == -1)
		return -1;
	/* RFC 8463 asks for an RSA signature beside an Ed25519 one, for
	 * the receivers that know no Ed25519: one key of each kind. */
	for (i = 0; i < sign_nkeys; i++)
		if (strcasecmp(sign_keys[i].domain, key->domain) == 0 &&
		    sign_keys[i].is_ed25519 == key->is_ed25519) {
			snprintf(err, errsize, "a second %s key for %s (one "
			    "RSA and one Ed25519 key per domain)",
			    key->is_ed25519 ? "Ed25519" : "RSA", key->domain);
			return -1;
		}
	sign_nkeys++;
	return 0;
}

/*
 * The domain of the first mailbox of the message's first From: field
 * into domain: 1; 0 when there is none to be read (no From:, or one that
 * is malformed or too long: the message goes unsigned, as it would from
 * a host without DKIM); -1 with why when the file cannot be read.
 */
static int
sign_from_domain(struct msg *m, char *domain, size_t size, char *why,
    size_t whysize)
{
	static struct line in;
	static char line[SIGN_FROM_MAX + 1], field[SIGN_FROM_MAX + 1];
	char addr[ADDR_MAX + 1];
	const char *p = field, *d;
	enum line_status st;
	size_t len, used = 0;
	int bare_lf, in_from = 0;

	if (lseek(m->fd, m->env.body, SEEK_SET) == -1) {
		snprintf(why, whysize, "lseek: %s", strerror(errno));
		return -1;
	}
	line_init(&in, m->fd, 0);
	for (;;) {
		st = line_read(&in, line, sizeof(line), &len, &bare_lf);
		if (st == LINE_EOF)
			break;
		if (st == LINE_LONG) {
			if (in_from)
				return 0;
			continue;
		}
		if (st != LINE_OK) {
			snprintf(why, whysize, "read: %s", strerror(errno));
			return -1;
		}
		if (len == 0)
			break;		/* the end of the header */
		if (memchr(line, '\0', len) != NULL) {
			if (in_from)
				return 0;
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			/* RFC 5322 2.2.3: unfolding drops the CRLF only. */
			if (!in_from)
				continue;
			if (used + len >= sizeof(field))
				return 0;
			memcpy(field + used, line, len + 1);
			used += len;
			continue;
		}
		if (in_from)
			break;
		if (strncasecmp(line, "From", 4) == 0 &&
		    line[4 + strspn(line + 4, " \t")] == ':') {
			in_from = 1;
			d = strchr(line, ':') + 1;
			used = strlen(d);
			memcpy(field, d, used + 1);
		}
	}
	if (!in_from || addrlist_next(&p, addr, sizeof(addr)) != 1 ||
	    (d = addr_domain(addr)) == NULL || strlen(d) >= size)
		return 0;
	memcpy(domain, d, strlen(d) + 1);
	return 1;
}

/*
 * Replaces new/NAME with a copy whose envelope says "Signed: yes" and
 * whose message has the n fields in front; m then stands for the copy,
 * open and locked.  0, or -1 with errno and nothing changed.
 */
static int
sign_rewrite(struct queue *q, struct msg *m, char (*fields)[SIGN_SIGNATURE_MAX],
    const int *lens, size_t n)
{
	static struct out o;
	static char buf[IO_BUFSIZE];
	struct queue_file qf;
	struct flock fl;
	off_t pos = m->env.body, body;
	size_t i, added = 0;
	ssize_t r = 0;
	int fd = -1;

	if (m->env.next == ENVELOPE_EXT_MAX) {
		errno = EOVERFLOW;	/* no room for Signed: */
		return -1;
	}
	snprintf(m->env.ext[m->env.next++], sizeof(m->env.ext[0]),
	    "Signed: yes");
	if (queue_create(q, &qf) == -1) {
		m->env.next--;
		return -1;
	}
	out_init(&o, qf.fd);
	envelope_write(&o, &m->env, NULL);
	if (out_flush(&o) == -1 || (body = lseek(qf.fd, 0, SEEK_CUR)) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		out_write(&o, fields[i], (size_t)lens[i]);
		added += (size_t)lens[i];
	}
	for (;;) {
		r = pread(m->fd, buf, sizeof(buf), pos);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		out_write(&o, buf, (size_t)r);
		pos += r;
	}
	if (r == -1 || out_flush(&o) == -1 || fsync(qf.fd) == -1)
		goto fail;
	/* Locked before it is in new/, so no other sender takes it; the
	 * write descriptor closed first, as closing any descriptor of a
	 * file drops the process's locks on it (POSIX fcntl). */
	if (close(qf.fd) == -1) {
		qf.fd = -1;
		goto fail;
	}
	qf.fd = -1;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if ((fd = openat(q->tmp_dir, qf.name, O_RDWR | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 || fcntl(fd, F_SETLK, &fl) == -1)
		goto fail;
	/* The rename replaces the old file in one step: a crash leaves
	 * one or the other, whole (envelope.c's rewrite). */
	if (renameat(q->tmp_dir, qf.name, q->new_dir, m->name) == -1)
		goto fail;
	if (fsync(q->new_dir) == -1)
		log_error("id=%s result=error: unable to fsync new/: %s",
		    m->name, strerror(errno));
	close(m->fd);
	m->fd = fd;
	m->env.body = body;
	m->size += (off_t)added;
	return 0;
fail:
	if (fd != -1)
		close(fd);
	queue_abort(q, &qf);
	m->env.next--;
	return -1;
}

enum result
sign_queued(struct queue *q, struct msg *m)
{
	static char fields[SIGN_PER_DOMAIN][SIGN_SIGNATURE_MAX];
	char domain[ADDR_DOMAIN_MAX + 1], why[256], names[160];
	int lens[SIGN_PER_DOMAIN];
	const struct sign_key *key;
	size_t i, n = 0;
	time_t now = time(NULL);

	/* Ours only: mail from outside, forwarded by an alias or not, is
	 * never signed with our name. */
	if (sign_nkeys == 0 || envelope_ext(&m->env, "Origin") == NULL ||
	    envelope_ext(&m->env, "Aliased") != NULL ||
	    envelope_ext(&m->env, "Signed") != NULL)
		return RES_OK;
	snprintf(domain, sizeof(domain), "-");
	names[0] = '\0';
	switch (sign_from_domain(m, domain, sizeof(domain), why,
	    sizeof(why))) {
	case -1:
		goto defer;
	case 0:
		return RES_OK;
	default:
		break;
	}
	for (i = 0; i < sign_nkeys && n < SIGN_PER_DOMAIN; i++) {
		key = &sign_keys[i];
		if (strcasecmp(key->domain, domain) != 0)
			continue;
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
		    "%s%s", n > 0 ? "," : "", key->selector);
		/* openssl would say no more than "failed". */
		if (access(key->keyfile, R_OK) == -1) {
			snprintf(why, sizeof(why), "key %s: %s", key->keyfile,
			    strerror(errno));
			goto defer;
		}
		if (lseek(m->fd, m->env.body, SEEK_SET) == -1) {
			snprintf(why, sizeof(why), "lseek: %s",
			    strerror(errno));
			goto defer;
		}
		if ((lens[n] = sign_message(m->fd, key, now, fields[n],
		    sizeof(fields[n]), why, sizeof(why))) == -1)
			goto defer;
		n++;
	}
	if (n == 0)
		return RES_OK;
	if (sign_rewrite(q, m, fields, lens, n) == -1) {
		snprintf(why, sizeof(why), "unable to rewrite: %s",
		    strerror(errno));
		goto defer;
	}
	log_info("id=%s dkim=%s selector=%s result=signed", m->name, domain,
	    names);
	return RES_OK;
defer:
	log_error("id=%s dkim=%s selector=%s result=deferred: unable to "
	    "sign: %s", m->name, domain, names[0] != '\0' ? names : "-", why);
	for (i = 0; i < m->env.nrcpt; i++)
		if (m->rcpt[i].dest != NULL)
			rcpt_set(m, i, 451, "451 4.3.0 DKIM signing failed");
	return RES_TEMP;
}
