/*
 * smtpd.c: receive mail by SMTP on stdin/stdout, one session, into the
 * queue.
 *
 * inetd, systemd (Accept=yes) or tcpserver hands us one connection as fd 0
 * and 1; a pipe from a local user works the same way.  We never listen and
 * never fork.  This file reads the options into the configuration, which
 * is read-only from then on, and runs one session under it (session.c;
 * the transaction is txn.c's).  What they share is declared in smtpd.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpd.h"

static const char usage[] =
"usage: smtpd [-q dir] [-n name] [-l file] [-t timeout] [-r rate] [-L life]\n"
"             [-s bytes] [-m bytes] [-c n] [-d domain]... [-R cidr]...\n"
"             [-T program] [-E] [-A program] [-S] [-P cidr]... [-F file] [-N]\n"
"             [-D dir] [-W file] [-U file]\n"
"  -q dir      queue directory (default " QUEUE_DIR_DEFAULT ")\n"
"  -n name     host name in replies and Received: (default: the system's)\n"
"  -l file     log file, - for stderr (default: syslog, facility mail)\n"
"  -t timeout  time for one command line, e.g. 300, 5m (default 300s)\n"
"  -r rate     minimum DATA rate in bytes a second (default 500)\n"
"  -L life     session lifetime, e.g. 3600, 1h (default 1h)\n"
"  -s bytes    maximum message size, e.g. 10485760, 10M (default 10M)\n"
"  -m bytes    free space the queue must keep (default: twice -s)\n"
"  -c n        sessions at once per queue (default 30)\n"
"  -d domain   accept mail for this domain from anyone (repeatable)\n"
"  -R cidr     trust (relay for) this client network (repeatable)\n"
"  -T program  offer STARTTLS, run by exec'ing this (e.g. stunnel config)\n"
"  -E          the connection is TLS already; client from $REMOTE_HOST\n"
"  -A program  offer AUTH over TLS, checkpassword(8) program to verify\n"
"  -S          submission: MAIL needs AUTH (but from a pipe)\n"
"  -P cidr     a load balancer: its connections start with a PROXY header\n"
"  -D dir      Maildir root: a local part with a Maildir there exists\n"
"  -W file     aliases file: a local part with an alias exists\n"
"  -U file     recipients file: the local parts (or addresses) that exist\n"
"  -F file     configuration file (default " CONF_PATH ")\n"
"  -N          check the configuration and flags, then exit\n";

#define OPTSTRING	":q:n:l:t:r:L:s:m:c:d:R:T:EA:SP:hF:ND:W:U:"

/* -t, -r, -L, -s, -m, -c: the numbers.  Returns 0 when c is none. */
static int
option_number(struct config *cf, int c, int *is_min_free_set)
{
	switch (c) {
	case 't':
		if (opt_duration(optarg, &cf->timeout) == -1 ||
		    cf->timeout == 0)
			die_usage("-t: not a duration: %s", optarg);
		return 1;
	case 'r':
		if (opt_number(optarg, 1000000000UL, &cf->data_rate) == -1 ||
		    cf->data_rate == 0)
			die_usage("-r: not a rate in bytes a second: %s",
			    optarg);
		return 1;
	case 'L':
		if (opt_duration(optarg, &cf->lifetime) == -1 ||
		    cf->lifetime == 0)
			die_usage("-L: not a duration: %s", optarg);
		return 1;
	case 's':
		if (opt_size(optarg, &cf->max_size) == -1 || cf->max_size == 0)
			die_usage("-s: not a size: %s", optarg);
		return 1;
	case 'm':
		if (opt_size(optarg, &cf->min_free) == -1)
			die_usage("-m: not a size: %s", optarg);
		*is_min_free_set = 1;
		return 1;
	case 'c':
		if (opt_number(optarg, 10000, &cf->max_sessions) == -1 ||
		    cf->max_sessions == 0)
			die_usage("-c: not a number from 1 to 10000: %s",
			    optarg);
		return 1;
	}
	return 0;
}

/* -d, -R, -P: the lists; -T, -A: the programs.  Returns 0 when c is
 * none. */
static int
option_list(struct config *cf, int c)
{
	switch (c) {
	case 'd':
		if (!addr_domain_valid(optarg))
			die_usage("-d: not a domain: %s", optarg);
		if (cf->ndomains == DOMAINS_MAX)
			die_usage("-d: more than %d domains", DOMAINS_MAX);
		cf->domains[cf->ndomains++] = optarg;
		return 1;
	case 'R':
		if (cf->nnetworks == NETWORKS_MAX)
			die_usage("-R: more than %d networks", NETWORKS_MAX);
		if (net_cidr_parse(optarg, &cf->networks[cf->nnetworks++]) ==
		    -1)
			die_usage("-R: not an address/prefix: %s", optarg);
		return 1;
	case 'P':
		balancer_option(cf, optarg);
		return 1;
	case 'T':
		if (prog_split(optarg, cf->tls_argv, PROG_ARGS_MAX) == -1)
			die_usage("-T: not a program and at most %d words: %s",
			    PROG_ARGS_MAX, optarg);
		return 1;
	case 'A':
		if (prog_split(optarg, cf->auth_argv, PROG_ARGS_MAX) == -1)
			die_usage("-A: not a program and at most %d words: %s",
			    PROG_ARGS_MAX, optarg);
		return 1;
	}
	return 0;
}

/* After every option: what they say together, and our host name. */
static void
options_check(struct config *cf, const char *name, int is_min_free_set)
{
	if (!is_min_free_set)
		cf->min_free = cf->max_size > (unsigned long)-1 /
		    MINFREE_SIZES ? (unsigned long)-1 :
		    MINFREE_SIZES * cf->max_size;
	if (cf->is_submission && cf->auth_argv[0] == NULL)
		die_usage("-S needs -A: submission without AUTH takes no mail");
	if (cf->is_tls && cf->logfile != NULL && strcmp(cf->logfile, "-") == 0)
		die_usage("-E with -l -: stderr may be the client's connection");
	conf_blame('n');
	if (opt_hostname(name, cf->hostname, sizeof(cf->hostname)) == -1)
		die_usage("%s: not a usable host name; give one with -n",
		    name != NULL ? name : "the system's name");
	conf_blame(0);
}

static void
options(struct config *cf, int argc, char **argv)
{
	const char *name = NULL;
	char why[512];
	int c, is_check = 0, is_min_free_set = 0;

	/* smtpq.conf's values first, through the same cases (conf.c). */
	while ((c = conf_getopt(argc, argv, OPTSTRING, CONF_SMTPD)) != -1) {
		if (option_number(cf, c, &is_min_free_set) ||
		    option_list(cf, c))
			continue;
		switch (c) {
		case 'q':
			cf->queue_dir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'l':
			cf->logfile = optarg;
			break;
		case 'E':
			cf->is_tls = 1;
			break;
		case 'S':
			cf->is_submission = 1;
			break;
		case 'N':
			is_check = 1;
			break;
		case 'D':
			cf->maildir_root = optarg;
			break;
		case 'W':
			cf->alias_path = optarg;
			break;
		case 'U':
			cf->list_path = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		case ':':
			die_usage("-%c needs a value", optopt);
		default:
			die_usage("unknown option -%c", optopt);
		}
	}
	if (optind != argc)
		die_usage("unexpected argument: %s", argv[optind]);
	options_check(cf, name, is_min_free_set);
	if (is_check) {
		struct rcptcheck rc = { 0 };

		if ((c = rcptcheck_load(cf, &rc, why, sizeof(why))) != 0) {
			rcptcheck_free(&rc);
			conf_blame(c);
			die_usage("%s", why);
		}
		rcptcheck_free(&rc);
		exit(0);
	}
}

int
main(int argc, char **argv)
{
	struct config cf;
	struct session s;

	log_prog = "smtpd";
	starttls_guard_stderr(argc, argv, OPTSTRING);
	session_defaults(&cf);
	options(&cf, argc, argv);
	sig_init();
	session_init(&s, &cf);
	/* Like a queue that cannot be opened: the client is told to come
	 * back later, and syslog gets the reason (not stderr, which under
	 * inetd is the connection). */
	if (log_open("smtpd", cf.logfile) == -1) {
		int saved = errno;

		reply(&s.out, 421, "4.3.0 %s Service not available: local "
		    "error", cf.hostname);
		out_flush(&s.out);
		die(EXIT_TEMPFAIL, "unable to open log %s: %s", cf.logfile,
		    strerror(saved));
	}
	return session_run(&s);
}
