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

/* Runs the checker; 235, 535 or 454. */
static int
sasl_check(struct session *s, const char *user, const unsigned char *login,
    size_t ulen, const unsigned char *pass, size_t plen, const char **text)
{
	unsigned char msg[AUTH_USER_MAX + AUTH_PASS_MAX + 64];
	char path[PROG_PATH_MAX];
	struct timespec ts = { 0, 10000000L };	/* 10 ms */
	int fds[2], status, waited = 0;
	size_t n;
	pid_t pid, got;
	ssize_t w;
	int m;

	if ((m = authlimit_admit(&s->authlimit, s->peer.addr, user, text)) != 0)
		return m;
	*text = "4.7.0 Temporary authentication failure";
	memcpy(msg, login, ulen);
	msg[ulen] = '\0';
	memcpy(msg + ulen + 1, pass, plen);
	msg[ulen + 1 + plen] = '\0';
	n = ulen + plen + 2;
	m = snprintf((char *)msg + n, sizeof(msg) - n, "<%ld.%lld@smtpd>",
	    (long)getpid(), (long long)time(NULL));
	if (m < 0 || (size_t)m >= sizeof(msg) - n)
		return 454;
	n += (size_t)m + 1;

	if (pipe(fds) == -1) {
		log_error("peer=%s user=%s result=auth temporary failure: "
		    "pipe: %s", s->peer.addr, user, strerror(errno));
		wipe(msg, sizeof(msg));
		return 454;
	}
	if ((pid = fork()) == -1) {
		log_error("peer=%s user=%s result=auth temporary failure: "
		    "fork: %s", s->peer.addr, user, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		wipe(msg, sizeof(msg));
		return 454;
	}
	if (pid == 0) {
		/* The checker talks to no client: fd 0 and 1 are
		 * /dev/null, fd 3 the credentials. */
		close(fds[1]);
		if (fds[0] != 3 && (dup2(fds[0], 3) == -1 || close(fds[0])))
			_exit(111);
		if (prog_devnull(STDIN_FILENO) == -1 ||
		    prog_devnull(STDOUT_FILENO) == -1)
			_exit(111);
		if (prog_find(s->cf->auth_argv[0], path, sizeof(path)) == 0)
			prog_exec(path, s->cf->auth_argv);
		_exit(111);
	}
	close(fds[0]);
	/* Far below PIPE_BUF: one write, never blocking. */
	while ((w = write(fds[1], msg, n)) == -1 && errno == EINTR)
		;
	wipe(msg, sizeof(msg));
	close(fds[1]);

	while ((got = waitpid(pid, &status, WNOHANG)) == 0) {
		if (++waited > AUTH_CHECK_TIMEOUT * 100) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
				;
			log_error("peer=%s user=%s result=auth temporary "
			    "failure: %s took over %d s", s->peer.addr, user, s->cf->auth_argv[0],
			    AUTH_CHECK_TIMEOUT);
			return 454;
		}
		nanosleep(&ts, NULL);
	}
	if (got == -1) {
		log_error("peer=%s user=%s result=auth temporary failure: "
		    "waitpid: %s", s->peer.addr, user, strerror(errno));
		return 454;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		*text = "2.7.0 Authentication successful";
		return 235;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
		*text = "5.7.8 Error: authentication failed";
		return 535;
	}
	log_error("peer=%s user=%s result=auth temporary failure: %s %s %d",
	    s->peer.addr, user, s->cf->auth_argv[0], WIFEXITED(status) ? "exited" : "killed by",
	    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	(void)w;
	return 454;
}

/*
 * AUTH's argument is "MECHANISM [initial-response]".  Returns the reply
 * code with its text in *text, or -1 when the connection was lost while
 * we waited for a response (*st says how).  user gets the name tried
 * (AUTH_USER_MAX + 1 bytes), "" when none was.
 */
static int
sasl_exchange(struct session *s, char *arg, char *user, const char **text,
    enum line_status *st)
{
	unsigned char buf[AUTH_LINE_MAX], login[AUTH_USER_MAX + 1];
	const unsigned char *authz, *authc, *pass, *end;
	char *initial;
	size_t len = 0, ulen, plen, alen;
	int is_plain, rc;

	user[0] = '\0';
	if ((initial = strchr(arg, ' ')) != NULL) {
		*initial++ = '\0';
		initial += strspn(initial, " ");
	}
	if (strcasecmp(arg, "PLAIN") == 0)
		is_plain = 1;
	else if (strcasecmp(arg, "LOGIN") == 0)
		is_plain = 0;
	else if (*arg == '\0') {
		*text = "5.5.4 Syntax: AUTH mechanism";
		return 501;
	} else {
		*text = "5.5.4 Error: unsupported authentication mechanism";
		return 504;
	}
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

	if (is_plain) {
		/* RFC 4616 2: [authzid] NUL authcid NUL passwd */
		end = buf + len;
		authz = buf;
		if ((authc = memchr(authz, '\0', len)) == NULL)
			goto bad;
		authc++;
		if ((pass = memchr(authc, '\0', (size_t)(end - authc))) == NULL)
			goto bad;
		alen = (size_t)(authc - 1 - authz);
		ulen = (size_t)(pass - authc);
		pass++;
		plen = (size_t)(end - pass);
		if (memchr(pass, '\0', plen) != NULL)
			goto bad;
		sasl_user_copy(user, authc, ulen);
		/* We act for no one else: an authzid must be the user. */
		if (alen != 0 && (alen != ulen ||
		    memcmp(authz, authc, ulen) != 0)) {
			wipe(buf, sizeof(buf));
			if ((rc = authlimit_admit(&s->authlimit, s->peer.addr, user, text)) != 0)
				return rc;
			*text = "5.7.8 Error: authentication failed";
			return 535;
		}
		memcpy(login, authc, ulen < sizeof(login) ? ulen :
		    sizeof(login));
	} else {
		if (memchr(buf, '\0', len) != NULL || len > AUTH_USER_MAX)
			goto bad;
		ulen = len;
		memcpy(login, buf, ulen);
		sasl_user_copy(user, login, ulen);
		if ((rc = sasl_response(&s->in, &s->out, "UGFzc3dvcmQ6", buf,
		    sizeof(buf), &len, text, st)) != 0)
			return rc;
		pass = buf;
		plen = len;
		if (memchr(pass, '\0', plen) != NULL)
			goto bad;
	}
	if (ulen == 0 || ulen > AUTH_USER_MAX || plen > AUTH_PASS_MAX) {
		wipe(buf, sizeof(buf));
		if ((rc = authlimit_admit(&s->authlimit, s->peer.addr, user, text)) != 0)
			return rc;
		*text = "5.7.8 Error: authentication failed";
		return 535;
	}
	rc = sasl_check(s, user, login, ulen, pass, plen, text);
	wipe(buf, sizeof(buf));
	return rc;
bad:
	wipe(buf, sizeof(buf));
	*text = "5.5.2 Error: malformed authentication data";
	return 501;
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
		log_info("peer=%s user=%s result=authenticated", s->peer.addr, user);
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
