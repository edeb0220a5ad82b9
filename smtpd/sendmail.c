/*
 * sendmail.c: the sendmail(8) command (and mailq): the host's own programs
 * hand a message to the queue through a pipe.  This file reads the flags
 * and smtpq.conf into a struct sendmail, says who the caller is, and
 * hands the struct to the mode asked for; its failures end here too
 * (sendmail_fail()).
 *
 * The message comes on stdin, LF or CRLF line ends; it is queued the way
 * smtpd queues (submit.c: the same envelope writer and commit), with a
 * Received: naming the local user and uid first, and Date:, From: and
 * Message-ID: added when missing (RFC 5322 3.6).  With -t the recipients
 * are read from To:, Cc: and Bcc: (addrlist.c); Bcc: never reaches the
 * queue.  Addresses may be UTF-8 (RFC 6531 3.3, valid UTF-8 only); a
 * message that needs SMTPUTF8 says so in its envelope.  Exit 0 only once
 * the file is in new/; 75 when it cannot be queued, 64 for usage, 65 for
 * bad data.  Installed setgid to the queue group: the only file an
 * ordinary user can make in the queue is the one written here; -bp, -q
 * and -oQ give that privilege up first (sendmail_priv.c).  It runs no
 * other program (-bs is refused).  The other jobs have files of their
 * own: reading stdin (sendmail_in.c), the header section held in a fixed
 * buffer (sendmail_head.c), the envelope and the message written to the
 * queue, the body streamed line by line (sendmail_message.c), -q
 * (sendmail_runq.c), -bp (sendmail_mailq.c), -bv (sendmail_verify.c);
 * the limits (sendmail_limit.c) and the qualifying of header addresses
 * (sendmail_qualify.c) likewise.
 */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sendmail.h"

static const char usage[] =
"usage: sendmail [-t] [-i] [-f sender] [-F name] [-oQdir] [recipient ...]\n"
"       sendmail -bp | -q           (mailq: the same as sendmail -bp)\n"
"  -t          recipients also from To:, Cc:, Bcc: (Bcc: is removed)\n"
"  -i, -oi     a line with a lone dot does not end the message\n"
"  -f sender   envelope sender (default: your login @ this host)\n"
"  -F name     display name for a From: header added here\n"
"  -bm         deliver a message from stdin (the default)\n"

"  -bp         list the queue;  -q  wake the waiting smtpsend -w\n"
"  -bv         say what would become of each address (0, or 67)\n"
"  -oQdir      queue directory (default " QUEUE_DIR_DEFAULT ")\n"
"  other -o, -B, -v, -N, -R, -V, -L, -e, -h, -O options are ignored\n";

/*
 * A value of the caller's (an argument, a header) for a message that is
 * logged: log_esc()'d as smtpd does, so that it can neither end the log
 * line nor pass for another key=value.  Two at a time.
 */
const char *
sendmail_esc(const char *s)
{
	static char buf[2][LOG_ADDR_MAX];
	static int i;

	i = !i;
	return log_esc(s, buf[i], sizeof(buf[i]));
}

void
sendmail_fail(struct sendmail *sm, int status, const char *fmt, ...)
{
	static const char hex[] = "0123456789abcdef";
	char buf[512], line[4 * sizeof(buf)];
	size_t i, n = 0;
	unsigned char c;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "sendmail: %s\n", buf);
	/* The values in it went through sendmail_esc(); this is the second line of
	 * defence: no control octet reaches the log, whatever a caller
	 * forgot. */
	for (i = 0; buf[i] != '\0'; i++) {
		c = (unsigned char)buf[i];
		if (c < ' ' || c > '~') {
			line[n++] = '\\';
			line[n++] = 'x';
			line[n++] = hex[c >> 4];
			line[n++] = hex[c & 15];
		} else
			line[n++] = (char)c;
	}
	line[n] = '\0';
	log_error("uid=%ld result=%s: %s", (long)sm->uid,
	    status == EXIT_TEMPFAIL ? "deferred" : "rejected", line);
	if (sm->qf.fd != -1)
		queue_abort(&sm->queue, &sm->qf);
	exit(status);
}

/* Who runs us, by the real uid (never $USER or getlogin()). */
static void
sendmail_whoami(struct sendmail *sm)
{
	const struct passwd *pw;
	size_t n;

	sm->uid = getuid();
	/* cppcheck-suppress getpwuidCalled ; single-threaded */
	if ((pw = getpwuid(sm->uid)) != NULL && pw->pw_name[0] != '\0' &&
	    strlen(pw->pw_name) < sizeof(sm->login) &&
	    strspn(pw->pw_name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	    strlen(pw->pw_name)) {
		strcpy(sm->login, pw->pw_name);
		if (pw->pw_gecos != NULL) {
			n = strcspn(pw->pw_gecos, ",");
			if (n >= sizeof(sm->gecos))
				n = sizeof(sm->gecos) - 1;
			memcpy(sm->gecos, pw->pw_gecos, n);
			sm->gecos[n] = '\0';
		}
	} else
		snprintf(sm->login, sizeof(sm->login), "uid%ld",
		    (long)sm->uid);
}

/* The value of an option: the rest of this word or the next word. */
static const char *
sendmail_optarg(char **argv, int *i, const char *rest, char flag)
{
	if (*rest != '\0')
		return rest;
	if (argv[*i + 1] == NULL)
		die_usage("-%c needs a value", flag);
	return argv[++*i];
}

/* -b: the mode ("m", "p", "v", "i"); -bs is refused. */
static const char *
sendmail_mode(const char *arg)
{
	if (strcmp(arg, "s") == 0)
		die_usage("-bs is not supported: smtpd cannot "
		    "yet queue a local user's SMTP session "
		    "safely; pipe the message to sendmail, or "
		    "submit on port 587");
	if (strcmp(arg, "m") != 0 && strcmp(arg, "v") != 0 &&
	    strcmp(arg, "p") != 0 && strcmp(arg, "i") != 0)
		die_usage("-b%s: not supported", arg);
	return arg;
}

/* Reads the flags into *sm and *mode ("m", "p", "q", "v", "i"); the
 * index of the first recipient.  -h alone prints the usage and exits. */
static int
sendmail_options(struct sendmail *sm, char **argv, const char **mode)
{
	const char *arg;
	int i;

	for (i = 1; argv[i] != NULL && argv[i][0] == '-'; i++) {
		arg = argv[i] + 1;
		if (strcmp(arg, "-") == 0)
			return i + 1;
		switch (*arg++) {
		case 't': sm->is_extract = 1; break;
		case 'i': sm->is_dot_ok = 1; break;
		case 'f':
		case 'r': sm->from_arg = sendmail_optarg(argv, &i, arg, 'f');
			break;
		case 'F': sm->name_arg = sendmail_optarg(argv, &i, arg, 'F');
			break;
		case 'b': *mode = sendmail_mode(arg); break;
		case 'q':
			*mode = "q";	/* -q, -q30m: one run now */
			break;
		case 'A':
			/* sendmail 8's submit.cf choice (-Am, -Ac):
			 * ignored, as Postfix does */
			arg = sendmail_optarg(argv, &i, arg, 'A');
			if (strcmp(arg, "m") != 0 && strcmp(arg, "c") != 0)
				die_usage("-A%s: only -Am and -Ac", arg);
			break;
		case 'o':
			arg = sendmail_optarg(argv, &i, arg, 'o');
			if (strcmp(arg, "i") == 0)
				sm->is_dot_ok = 1;
			else if (arg[0] == 'Q' && arg[1] != '\0') {
				sm->queue_dir = arg + 1;
				sm->is_queue_given = 1;
			}
			break;		/* other -o: ignored */
		case 'h':
			if (*arg == '\0' && argv[i + 1] == NULL) {
				fputs(usage, stdout);
				exit(0);
			}
			/* FALLTHROUGH */
		case 'B': case 'N': case 'R': case 'V': case 'L': case 'O':
		case 'X': case 'C':
			(void)sendmail_optarg(argv, &i, arg, arg[-1]);
			break;
		case 'v': case 'e': case 'm': case 'n': case 'U': case 'G':
		case 'd': case 'x':
			break;		/* accepted, ignored */
		default:
			die_usage("unknown option -%c", arg[-1]);
		}
	}
	return i;
}

/*
 * smtpq.conf's name and queue, as smtpd and smtpsend read them: mail
 * qualified with another name than smtpsend's own would go to the world
 * instead of a local Maildir.  -oQ still wins.
 */
static void
sendmail_conf(struct sendmail *sm)
{
	conf_read(CONF_SENDMAIL);
	if (!sm->is_queue_given && conf_get('q') != NULL)
		sm->queue_dir = conf_get('q');
	if (opt_hostname(conf_get('n'), sm->hostname,
	    sizeof(sm->hostname)) == -1) {
		conf_blame('n');
		if (conf_get('n') != NULL)
			die_usage("not a host name: %s", conf_get('n'));
		sendmail_fail(sm, EXIT_TEMPFAIL, "this host has no usable name");
	}
}

int
main(int argc, char **argv)
{
	/* large (the header section, twice): not on the stack */
	static struct sendmail sm;
	const char *base, *mode = "m";
	int i;

	(void)argc;
	log_prog = "sendmail";
	sm.queue_dir = QUEUE_DIR_DEFAULT;
	sm.max_size = SIZE_DEFAULT;
	sm.qf.fd = -1;
	in_init(&sm.in);
	/* Files must be readable by the queue group whatever the caller's
	 * umask; nobody else reads them. */
	umask(027);
	sendmail_whoami(&sm);
	base = strrchr(argv[0], '/') != NULL ? strrchr(argv[0], '/') + 1 :
	    argv[0];
	if (strcmp(base, "mailq") == 0)
		mode = "p";
	i = sendmail_options(&sm, argv, &mode);
	sendmail_conf(&sm);
	log_open("sendmail", NULL);
	if (strcmp(mode, "q") == 0 && getuid() == 0 && runq_flush(&sm) == -1)
		errno = 0;	/* said; the poke below is the fallback */
	priv_become_owner(&sm);
	/* A queue of the caller's choosing gets the caller's rights only. */
	if (sm.is_queue_given || strcmp(mode, "p") == 0 ||
	    strcmp(mode, "q") == 0 || strcmp(mode, "v") == 0)
		priv_drop(&sm);
	if (strcmp(mode, "i") == 0)
		return 0;		/* newaliases: smtpsend reads -A itself */
	if (strcmp(mode, "q") == 0)
		return runq_wake(&sm);
	if (strcmp(mode, "v") == 0)
		return verify_args(argv + i, sm.hostname);
	if (strcmp(mode, "p") == 0)
		return mailq_list(sm.queue_dir);
	return message_queue(&sm, argv + i);
}
