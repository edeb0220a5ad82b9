/*
 * tls.c: TLS to the relay through openssl s_client (no TLS library is
 * linked).  smtpsend talks SMTP on one end of a socketpair; s_client,
 * started once per relay connection, has the other end as its stdin and
 * stdout, connects to the relay itself and does the TLS.  Its stderr
 * comes back on a pipe: when the connection fails, what it said there
 * (bounded) becomes the reason we log.
 *
 * Why s_client (smtpsend.8, TLS): of the packaged TLS programs it alone
 * both does STARTTLS for SMTP and fails (exit 1, before any SMTP goes
 * through) when the chain or the host name does not verify.
 * With -starttls smtp it reads the greeting, says EHLO and STARTTLS
 * itself and passes nothing of that on, so the caller's first read is
 * the reply to its own EHLO after the handshake (RFC 3207 4.2).
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "smtpsend.h"
#include "tlspolicy.h"

#define TLS_ERR_MAX	4096	/* of s_client's stderr, read at most */
#define TLS_ARGS_MAX	(24 + 2 * DNS_TLSA_MAX)

static int	tls_spawn(struct tls *, const char *const *argv, int timeout,
		    char *why, size_t size);

/*
 * Starts s_client to u: STARTTLS when is_starttls (our EHLO name helo),
 * else TLS at once; verifying the chain against cafile (NULL: the
 * system's bundle) and the host name when is_verified.  Returns our end
 * of the socketpair, or -1 with why set.
 */
int
tls_start(struct tls *t, const struct url *u, int is_starttls,
    int is_verified, const char *cafile, const char *helo, int timeout,
    char *why, size_t size)
{
	const char *argv[24];
	char connect[HOST_MAX + 16];
	int n = 0;

	t->pid = -1;
	t->err = -1;
	/* An MX host is reached at the address looked up for it, its name
	 * still the one verified and sent as SNI. */
	snprintf(connect, sizeof(connect), strchr(u->addr[0] != '\0' ?
	    u->addr : u->host, ':') != NULL ? "[%s]:%s" : "%s:%s",
	    u->addr[0] != '\0' ? u->addr : u->host, u->port);
	argv[n++] = "openssl";
	argv[n++] = "s_client";
	argv[n++] = "-quiet";
	argv[n++] = "-verify_quiet";
	if (is_verified) {
		argv[n++] = "-verify_return_error";
		argv[n++] = u->is_ip ? "-verify_ip" : "-verify_hostname";
		argv[n++] = u->host;
		if (cafile != NULL) {
			argv[n++] = "-CAfile";
			argv[n++] = cafile;
		}
	}
	if (!u->is_ip) {
		argv[n++] = "-servername";	/* SNI, RFC 6066 3 */
		argv[n++] = u->host;
	} else
		argv[n++] = "-noservername";
	if (is_starttls) {
		argv[n++] = "-starttls";
		argv[n++] = "smtp";
		argv[n++] = "-name";
		argv[n++] = helo;
	}
	argv[n++] = "-connect";
	argv[n++] = connect;
	argv[n] = NULL;
	return tls_spawn(t, argv, timeout, why, size);
}

/*
 * STARTTLS to the MX host name (at addr, an address or the name itself,
 * and port) verified by d's TLSA records (RFC 7672 3): DANE-EE(3) with
 * no name check (3.1.1), DANE-TA(2) with the MX host's name checked
 * (3.2.2); no CA of the system's is trusted.  s_client ends before any
 * SMTP goes through unless a record matches.  As tls_start().
 */
int
tls_start_dane(struct tls *t, const char *addr, const char *port,
    const char *name, const struct dane *d, const char *helo, int timeout,
    char *why, size_t size)
{
	static char rrdata[DNS_TLSA_MAX][2 * DNS_TLSA_DATA_MAX + 16];
	const char *argv[TLS_ARGS_MAX];
	char connect[HOST_MAX + 16];
	size_t i;
	int n = 0;

	t->pid = -1;
	t->err = -1;
	if (d->state != DANE_REQUIRED || d->n == 0 || d->n > DNS_TLSA_MAX) {
		snprintf(why, size, "DANE: no usable TLSA records");
		return -1;
	}
	snprintf(connect, sizeof(connect), strchr(addr, ':') != NULL ?
	    "[%s]:%s" : "%s:%s", addr, port);
	argv[n++] = "openssl";
	argv[n++] = "s_client";
	argv[n++] = "-quiet";
	argv[n++] = "-verify_quiet";
	argv[n++] = "-verify_return_error";
	/* Only the TLSA records are trust anchors (RFC 7672 3.1). */
	argv[n++] = "-no-CAfile";
	argv[n++] = "-no-CApath";
	argv[n++] = "-no-CAstore";
	/* The TLSA base domain (a CNAME'd MX host's target when the
	 * records were found there, RFC 7672 2.2.2): also the SNI (8.1)
	 * and the name a DANE-TA certificate must carry. */
	argv[n++] = "-dane_tlsa_domain";
	argv[n++] = d->base[0] != '\0' ? d->base : name;
	/* Names are checked for DANE-TA matches only. */
	argv[n++] = "-dane_ee_no_namechecks";
	for (i = 0; i < d->n; i++) {
		if (dane_rrdata(&d->tlsa[i], rrdata[i], sizeof(rrdata[i])) == -1) {
			snprintf(why, size, "DANE: a TLSA record too long");
			return -1;
		}
		argv[n++] = "-dane_tlsa_rrdata";
		argv[n++] = rrdata[i];
	}
	argv[n++] = "-starttls";
	argv[n++] = "smtp";
	argv[n++] = "-name";
	argv[n++] = helo;
	argv[n++] = "-connect";
	argv[n++] = connect;
	argv[n] = NULL;
	return tls_spawn(t, argv, timeout, why, size);
}

/* Runs argv (s_client) on a socketpair, its stdin and stdout; its
 * stderr comes back on a pipe.  Our end, or -1 with why. */
static int
tls_spawn(struct tls *t, const char *const *argv, int timeout, char *why,
    size_t size)
{
	struct prog p = { NULL, (char *const *)argv,
	    { -1, -1, PROG_FROM, PROG_KEEP }, 127, 1 };
	int sv[2], ours[PROG_FDS];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(why, size, "socketpair: %s", strerror(errno));
		return -1;
	}
	p.fd[0] = p.fd[1] = sv[1];
	t->pid = prog_start(&p, ours);
	close(sv[1]);
	if (t->pid == -1) {
		snprintf(why, size, "unable to start %s: %s", argv[0],
		    strerror(errno));
		close(sv[0]);
		return -1;
	}
	t->err = ours[2];
	if (net_set_timeout(sv[0], timeout) == -1) {
		snprintf(why, size, "fcntl: %s", strerror(errno));
		tls_stop(t, NULL, 0);
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

/*
 * The reason in what s_client said: the verification error if there is
 * one ("verify error:num=18:self-signed certificate"), else the reason
 * field of its last OpenSSL error line (pid:error:code:lib:func:REASON:
 * file:line:), else its last line.
 */
static void
tls_reason(char *text, char *why, size_t size)
{
	char *line, *next, *p, *verify = NULL, *error = NULL, *last = NULL;
	int i;

	for (line = text; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (*line == '\0')
			continue;
		last = line;
		if ((p = strstr(line, "verify error:num=")) != NULL &&
		    verify == NULL && (p = strchr(p + 17, ':')) != NULL)
			verify = p + 1;
		else if (strstr(line, ":error:") != NULL) {
			for (p = line, i = 0; i < 5 && p != NULL; i++)
				if ((p = strchr(p, ':')) != NULL)
					p++;
			if (p != NULL) {
				error = p;
				if ((p = strchr(p, ':')) != NULL)
					*p = '\0';
			}
		} else if (strstr(line, "Didn't find STARTTLS") != NULL)
			verify = "STARTTLS not offered (an attacker may have "
			    "removed it), and the relay refused it";
	}
	if (verify != NULL && strncmp(verify, "STARTTLS", 8) == 0)
		snprintf(why, size, "%s", verify);
	else if (verify != NULL)
		snprintf(why, size, "certificate not trusted: %s", verify);
	else if (error != NULL)
		snprintf(why, size, "TLS failed: %s", error);
	else if (last != NULL)
		snprintf(why, size, "TLS program: %s", last);
	else
		snprintf(why, size, "TLS program ended");
}

/* Waits up to a second for the child's stderr to end, then reads it. */
static size_t
tls_read_err(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len + 1 < size && sig_wait(fd, 0, line_now() + 1000000000LL,
	    0) == 0) {
		if ((n = read(fd, buf + len, size - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return len;
}

/*
 * Ends s_client.  With why, first lets it finish and says in words what
 * went wrong (the connection to it has failed); without, terminates it.
 */
void
tls_stop(struct tls *t, char *why, size_t size)
{
	char err[TLS_ERR_MAX + 1];
	int status;
	size_t i;

	if (t->pid == -1)
		return;
	if (why != NULL) {
		(void)tls_read_err(t->err, err, sizeof(err));
		for (i = 0; err[i] != '\0'; i++)
			if (err[i] != '\n' && (err[i] < ' ' || err[i] > '~'))
				err[i] = ' ';
		tls_reason(err, why, size);
	}
	prog_end(t->pid, SIGTERM, &status);
	if (why != NULL && WIFEXITED(status) && WEXITSTATUS(status) == 127 &&
	    strncmp(why, "TLS program: ", 13) == 0)
		memmove(why, why + 13, strlen(why + 13) + 1);
	if (t->err != -1)
		close(t->err);
	t->pid = t->err = -1;
}
