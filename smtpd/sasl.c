/*
 * sasl.c: AUTH PLAIN (RFC 4616) and LOGIN, as RFC 4954 frames them, with
 * the password checked by the -A program through the checkpassword
 * interface: fd 3 carries "user\0password\0timestamp\0"; exit 0 is good,
 * 1 bad, anything else (or no exit within AUTH_CHECK_TIMEOUT) temporary.
 *
 * sasl_run() reads the exchange's continuation lines itself, bounded like
 * every command line, and returns the reply for smtpd.c to send: the code,
 * its text in *text.  The user name is copied out for the log; no reply
 * ever holds it, and the password is wiped once the checker has it.
 * Before each check authlimit.c says whether the user's and the client
 * network's failures across sessions still allow one (else 454 4.7.0).
 */
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtpd.h"

/* RFC 4954 4: a response line may be longer than a command line; ours
 * must hold base64 of "\0user\0password" at their maxima. */
#define AUTH_LINE_MAX	(((AUTH_USER_MAX * 2 + AUTH_PASS_MAX + 2) + 2) / 3 * 4 + 3)

/* Seconds the checker may take before we kill it: 454. */
#define AUTH_CHECK_TIMEOUT	30

static void
wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/*
 * One response line after a 334.  Returns 0 with the decoded bytes, or a
 * reply code: 501 (bad base64, or "*"), 500 (too long), -1 (connection
 * lost, *st says how).
 */
static int
sasl_response(struct line *in, struct out *out, const char *challenge,
    unsigned char *buf, size_t size, size_t *len, const char **text,
    enum line_status *st)
{
	char line[AUTH_LINE_MAX + 1];
	size_t n;
	int bare_lf, rc = 0;

	reply(out, 334, "%s", challenge);
	*st = line_read(in, line, sizeof(line), &n, &bare_lf);
	if (*st == LINE_LONG) {
		*text = "5.5.2 Error: line too long";
		return 500;
	}
	if (*st != LINE_OK)
		return -1;
	if (strcmp(line, "*") == 0) {
		*text = "5.0.0 Authentication cancelled";
		rc = 501;
	} else if (memchr(line, '\0', n) != NULL ||
	    base64_decode(line, buf, size, len) == -1) {
		*text = "5.5.2 Error: invalid base64 data";
		rc = 501;
	}
	wipe(line, sizeof(line));
	return rc;
}

/* Copies a user name for the log: printable, no blanks, cut. */
static void
sasl_user_copy(char *user, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < AUTH_USER_MAX; i++)
		user[i] = p[i] > 32 && p[i] < 127 && p[i] != '=' ?
		    (char)p[i] : '?';
	user[i] = '\0';
}

/* The credentials an exchange gave: the login name, and the password
 * (in the exchange's buffer). */
struct sasl_cred {
	unsigned char	 login[AUTH_USER_MAX + 1];
	size_t		 ulen;
	const unsigned char *pass;
	size_t		 plen;
};

/* Starts the checker with msg on its fd 3; its pid, or -1 (logged).
 * The checker talks to no client: its fds 0 and 1 are /dev/null. */
static pid_t
sasl_spawn(const struct session *s, const char *user,
    const unsigned char *msg, size_t n)
{
	struct prog p = { NULL, s->cf->auth_argv,
	    { PROG_NULL, PROG_NULL, PROG_KEEP, PROG_TO }, 111, 0 };
	int ours[PROG_FDS];
	pid_t pid;
	ssize_t w;

	if ((pid = prog_start(&p, ours)) == -1) {
		log_error("peer=%s user=%s result=auth temporary failure: "
		    "unable to start %s: %s", s->peer.addr, user,
		    s->cf->auth_argv[0], strerror(errno));
		return -1;
	}
	/* Far below PIPE_BUF: one write, never blocking. */
	while ((w = write(ours[3], msg, n)) == -1 && errno == EINTR)
		;
	close(ours[3]);
	(void)w;
	return pid;
}

/* Waits for the checker, AUTH_CHECK_TIMEOUT at most (then kills it):
 * 0 with its *status, or -1 (logged). */
static int
sasl_wait(const struct session *s, const char *user, pid_t pid,
    int *status)
{
	if (prog_wait_until(pid, status, line_now() + AUTH_CHECK_TIMEOUT *
	    1000000000LL) == 0)
		return 0;
	if (errno == ETIMEDOUT)
		log_error("peer=%s user=%s result=auth temporary failure: "
		    "%s took over %d s", s->peer.addr, user,
		    s->cf->auth_argv[0], AUTH_CHECK_TIMEOUT);
	else
		log_error("peer=%s user=%s result=auth temporary failure: "
		    "waitpid: %s", s->peer.addr, user, strerror(errno));
	return -1;
}

/* Runs the checker; 235, 535 or 454. */
static int
sasl_check(struct session *s, const char *user, const struct sasl_cred *c,
    const char **text)
{
	unsigned char msg[AUTH_USER_MAX + AUTH_PASS_MAX + 64];
	size_t n;
	pid_t pid;
	int m, status;

	if ((m = authlimit_admit(&s->authlimit, s->peer.addr, user, text)) !=
	    0)
		return m;
	*text = "4.7.0 Temporary authentication failure";
	memcpy(msg, c->login, c->ulen);
	msg[c->ulen] = '\0';
	memcpy(msg + c->ulen + 1, c->pass, c->plen);
	msg[c->ulen + 1 + c->plen] = '\0';
	n = c->ulen + c->plen + 2;
	m = snprintf((char *)msg + n, sizeof(msg) - n, "<%ld.%lld@smtpd>",
	    (long)getpid(), s->authlimit.admitted);
	if (m < 0 || (size_t)m >= sizeof(msg) - n) {
		wipe(msg, sizeof(msg));
		return 454;
	}
	n += (size_t)m + 1;
	pid = sasl_spawn(s, user, msg, n);
	wipe(msg, sizeof(msg));
	if (pid == -1 || sasl_wait(s, user, pid, &status) == -1)
		return 454;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		*text = "2.7.0 Authentication successful";
		return 235;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		*text = "5.7.8 Error: authentication failed";
		return 535;
	}
	log_error("peer=%s user=%s result=auth temporary failure: %s %s %d",
	    s->peer.addr, user, s->cf->auth_argv[0],
	    WIFEXITED(status) ? "exited" : "killed by",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return 454;
}

/* Refuses credentials without running the checker, counted as a failed
 * check would be (authlimit.c): 535, or 454 past the bound. */
static int
sasl_refuse(struct session *s, const char *user, const char **text)
{
	int rc;

	if ((rc = authlimit_admit(&s->authlimit, s->peer.addr, user, text)) !=
	    0)
		return rc;
	*text = "5.7.8 Error: authentication failed";
	return 535;
}

/* AUTH's argument is "MECHANISM [initial-response]": 0 with *is_plain
 * and *initial (NULL: none), else the reply code with *text. */
static int
sasl_mechanism(char *arg, int *is_plain, char **initial, const char **text)
{
	if ((*initial = strchr(arg, ' ')) != NULL) {
		*(*initial)++ = '\0';
		*initial += strspn(*initial, " ");
	}
	if (strcasecmp(arg, "PLAIN") == 0)
		*is_plain = 1;
	else if (strcasecmp(arg, "LOGIN") == 0)
		*is_plain = 0;
	else if (*arg == '\0') {
		*text = "5.5.4 Syntax: AUTH mechanism";
		return 501;
	} else {
		*text = "5.5.4 Error: unsupported authentication mechanism";
		return 504;
	}
	return 0;
}

static int
sasl_malformed(const char **text)
{
	*text = "5.5.2 Error: malformed authentication data";
	return 501;
}

/* RFC 4616 2: [authzid] NUL authcid NUL passwd, all of buf.  0 with *c,
 * 501 when malformed, 535 for an authzid that is not the user: we act
 * for no one else. */
static int
sasl_plain(const unsigned char *buf, size_t len, char *user,
    struct sasl_cred *c, const char **text)
{
	const unsigned char *authz = buf, *authc, *end = buf + len;
	size_t alen;

	if ((authc = memchr(authz, '\0', len)) == NULL)
		return sasl_malformed(text);
	authc++;
	if ((c->pass = memchr(authc, '\0', (size_t)(end - authc))) == NULL)
		return sasl_malformed(text);
	alen = (size_t)(authc - 1 - authz);
	c->ulen = (size_t)(c->pass - authc);
	c->pass++;
	c->plen = (size_t)(end - c->pass);
	if (memchr(c->pass, '\0', c->plen) != NULL)
		return sasl_malformed(text);
	sasl_user_copy(user, authc, c->ulen);
	if (alen != 0 && (alen != c->ulen || memcmp(authz, authc, c->ulen) !=
	    0))
		return 535;
	memcpy(c->login, authc, c->ulen < sizeof(c->login) ? c->ulen :
	    sizeof(c->login));
	return 0;
}

/* LOGIN: buf holds the user name (len bytes); asks for the password
 * into buf.  0 with *c, else what sasl_response() returns, or 501. */
static int
sasl_login(struct session *s, unsigned char *buf, size_t size, size_t len,
    char *user, struct sasl_cred *c, const char **text,
    enum line_status *st)
{
	int rc;

	if (memchr(buf, '\0', len) != NULL || len > AUTH_USER_MAX)
		return sasl_malformed(text);
	c->ulen = len;
	memcpy(c->login, buf, len);
	sasl_user_copy(user, c->login, len);
	if ((rc = sasl_response(&s->in, &s->out, "UGFzc3dvcmQ6", buf, size,
	    &len, text, st)) != 0)
		return rc;
	c->pass = buf;
	c->plen = len;
	if (memchr(c->pass, '\0', c->plen) != NULL)
		return sasl_malformed(text);
	return 0;
}

/*
 * AUTH with its argument.  Returns the reply code with its text in
 * *text, or -1 when the connection was lost while we waited for a
 * response (*st says how).  user gets the name tried (AUTH_USER_MAX + 1
 * bytes), "" when none was.
 */
static int
sasl_exchange(struct session *s, char *arg, char *user, const char **text,
    enum line_status *st)
{
	unsigned char buf[AUTH_LINE_MAX];
	struct sasl_cred c;
	char *initial;
	size_t len = 0;
	int is_plain, rc;

	user[0] = '\0';
	if ((rc = sasl_mechanism(arg, &is_plain, &initial, text)) != 0)
		return rc;
	if (initial != NULL && *initial != '\0') {
		/* RFC 4954 4: "=" is an empty initial response. */
		if (strcmp(initial, "=") != 0 && base64_decode(initial, buf,
		    sizeof(buf), &len) == -1) {
			*text = "5.5.2 Error: invalid base64 data";
			return 501;
		}
	} else if ((rc = sasl_response(&s->in, &s->out, is_plain ? "" :
	    "VXNlcm5hbWU6", buf, sizeof(buf), &len, text, st)) != 0)
		return rc;
	memset(&c, 0, sizeof(c));
	rc = is_plain ? sasl_plain(buf, len, user, &c, text) :
	    sasl_login(s, buf, sizeof(buf), len, user, &c, text, st);
	if (rc == 0 && c.ulen > 0 && c.ulen <= AUTH_USER_MAX &&
	    c.plen <= AUTH_PASS_MAX) {
		rc = sasl_check(s, user, &c, text);
		wipe(buf, sizeof(buf));
		return rc;
	}
	wipe(buf, sizeof(buf));
	return rc == 0 || rc == 535 ? sasl_refuse(s, user, text) : rc;
}

/*
 * The whole AUTH command: the exchange, then the log line, and for a
 * failure the delay; returns 421 (after AUTH_FAILURES_MAX failures: the
 * caller sends the 535 in *text, then 421) or what sasl_exchange() does.
 */
int
sasl_run(struct session *s, char *arg, char *user, const char **text,
    enum line_status *st)
{
	unsigned delay;
	int code;

	code = sasl_exchange(s, arg, user, text, st);
	/* Every check admitted was counted as a failure: keep it or take
	 * it back (authlimit.c). */
	delay = authlimit_settle(&s->authlimit, code);
	if (code == 235)
		log_info("peer=%s user=%s result=authenticated",
		    s->peer.addr, user);
	if (code != 535)
		return code;
	log_info("peer=%s user=%s result=auth failed", s->peer.addr, user);
	/* Guessing costs time: the reply waits (RFC 4954 4), longer as the
	 * user's or the network's failures add up. */
	out_flush(&s->out);
	sig_sleep(delay);
	if (++s->auth_failures < AUTH_FAILURES_MAX)
		return 535;
	log_info("peer=%s result=disconnect: too many authentication "
	    "failures", s->peer.addr);
	return 421;
}
