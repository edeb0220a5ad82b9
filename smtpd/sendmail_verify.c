/*
 * sendmail_verify.c: -bv, what would become of each address, without
 * queueing anything: local (this host), or the route smtpsend would give
 * it, which it asks smtpsend itself ("smtpsend -V").
 */
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sendmail.h"

#ifndef SBINDIR
#define SBINDIR		"/usr/local/sbin"	/* where smtpsend is installed */
#endif

/*
 * The route smtpsend would give addr ("mx example.org", "relay
 * host:port"), from "smtpsend -V addr" (SBINDIR's, or SENDMAIL_SMTPSEND:
 * -bv has given up the queue group, so the caller may name any program
 * it could run anyway), into buf; 0, or -1 when there is no answer.
 */
static int
verify_route(const char *addr, char *buf, size_t size)
{
	char *argv[] = { "smtpsend", "-V", NULL, NULL };
	struct prog p = { getenv("SENDMAIL_SMTPSEND"), argv,
	    { PROG_KEEP, PROG_FROM, PROG_KEEP, PROG_KEEP }, EXIT_OSERR, 0 };
	char out[512], *q;
	size_t len = 0, n = strlen(addr);
	ssize_t r;
	pid_t pid;
	int fd[PROG_FDS], status;

	if (p.path == NULL || p.path[0] == '\0')
		p.path = SBINDIR "/smtpsend";
	argv[2] = (char *)addr;
	if (getegid() != getgid() || (pid = prog_start(&p, fd)) == -1)
		return -1;
	while (len < sizeof(out) - 1 && (r = read(fd[1], out + len,
	    sizeof(out) - 1 - len)) != 0)
		if (r > 0)
			len += (size_t)r;
		else if (errno != EINTR)
			break;
	close(fd[1]);
	if (prog_wait(pid, &status) == -1)
		return -1;
	out[len] = '\0';
	/* "ADDR: ROUTE\n", one line, printable */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || len < n + 3 ||
	    strncasecmp(out, addr, n) != 0 || out[n] != ':' ||
	    out[n + 1] != ' ' || out[len - 1] != '\n' ||
	    memchr(out, '\n', len - 1) != NULL)
		return -1;
	out[len - 1] = '\0';
	for (q = out + n + 2; *q != '\0'; q++)
		if (*q < ' ' || *q > '~')
			*q = '?';	/* nothing for a terminal to obey */
	snprintf(buf, size, "%s", out + n + 2);
	return 0;
}

/*
 * -bv: what would become of each address, without queueing anything.
 * sendmail knows only what it does itself: the address as
 * it would queue it, and whether its domain is this host's; the relay,
 * the aliases and the Maildirs are smtpsend's settings, named here for
 * where to look.  0 when all would be queued, 67 (EX_NOUSER) when one
 * would be refused.
 */
int
verify_args(char **args, const char *hostname)
{
	char addr[ADDR_MAX + 1], full[ADDR_MAX + 1], route[256];
	const char *p, *domain;
	int rc, status = 0;

	if (*args == NULL)
		die_usage("-bv needs an address");
	for (; *args != NULL; args++) {
		p = *args;
		while ((rc = addrlist_next(&p, addr, sizeof(addr))) == 1) {
			if (strchr(addr, '@') == NULL && (snprintf(full,
			    sizeof(full), "%s@%s", addr, hostname) >=
			    (int)sizeof(full))) {
				printf("%s: undeliverable: too long with "
				    "@%s\n", sendmail_esc(addr), hostname);
				status = EXIT_NOUSER;
				continue;
			}
			if (strchr(addr, '@') == NULL)
				strcpy(addr, full);
			domain = addr_domain(addr);
			if (domain != NULL && (strcasecmp(domain, hostname) ==
			    0 || strcasecmp(domain, "localhost") == 0))
				printf("%s: deliverable: local (this host): "
				    "smtpsend delivers it into the Maildir "
				    "of its local part under -m, after its "
				    "aliases (-A)\n", sendmail_esc(addr));
			else if (verify_route(addr, route,
			    sizeof(route)) == 0)
				printf("%s: deliverable: remote: route %s\n",
				    sendmail_esc(addr), route);
			else
				printf("%s: deliverable: remote: smtpsend "
				    "sends it to its relay (-r), else to "
				    "%s's MX\n", sendmail_esc(addr), domain != NULL ?
				    sendmail_esc(domain) : "the domain");
		}
		if (rc == -1) {
			printf("%s: undeliverable: bad address\n",
			    sendmail_esc(*args));
			status = EXIT_NOUSER;
		}
	}
	return fflush(stdout) == 0 ? status : EXIT_IOERR;
}
