/*
 * conf.c: smtpq.conf, the one configuration file (smtpq.conf(5)).
 *
 * Lines "key value", '#' comment lines and blank lines.  Each key is the
 * long name of a flag: conf_getopt() hands a program the file's values as
 * if they were flags given before the command line's, through the same
 * switch, so one handler checks a value whichever way it came.  A flag on
 * the command line replaces every value of its key from the file.
 *
 * Reads: SYSCONFDIR/smtpq/smtpq.conf, or the -F file.  Keeps the file's
 * text for the life of the process (handlers keep pointers into it).
 * Promises: a bounded parse (CONF_FILE_MAX, CONF_LINE_MAX,
 * CONF_VALUES_MAX); trouble in the file, or a value its handler refuses,
 * ends the program with "FILE:LINE: what" on stderr and in the log, exit
 * 78 (EX_CONFIG), before anything else happens.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

/* The keys, with each program's flag; 0: not that program's key, which it
 * reads past (the same file serves every program). */
static const struct conf_key {
	const char	*name;
	int		 is_list;	/* may be given on many lines */
	char		 letter[CONF_PROGS];
} conf_keys[] = {
	/*  key			smtpd  smtpsend smtpqctl sendmail */
	{ "hostname",	0,	{ 'n',	'n',	0,	'n' } },
	{ "queue",	0,	{ 'q',	'q',	'q',	'q' } },
	{ "log",	0,	{ 'l',	'l',	'l' } },
	{ "timeout",	0,	{ 't',	't',	0 } },
	{ "domain",	1,	{ 'd',	'd',	0 } },
	{ "trusted",	1,	{ 'R',	0,	0 } },
	{ "max-size",	0,	{ 's',	0,	0 } },
	{ "min-free",	0,	{ 'm',	0,	0 } },
	{ "sessions",	0,	{ 'c',	0,	0 } },
	{ "data-rate",	0,	{ 'r',	0,	0 } },
	{ "lifetime",	0,	{ 'L',	0,	0 } },
	{ "relay",	1,	{ 0,	'r',	0 } },
	{ "secrets",	0,	{ 0,	'a',	0 } },
	{ "cafile",	0,	{ 0,	'C',	'C' } },
	{ "maildir",	0,	{ 'D',	'm',	'm' } },
	{ "aliases",	0,	{ 'W',	'A',	'A' } },
	{ "recipients",	0,	{ 'U',	0,	'U' } },
	{ "masquerade",	0,	{ 0,	'M',	0 } },
	{ "expire",	0,	{ 0,	'e',	0 } },
	{ "connection-messages", 0, { 0, 'c', 0 } },
	{ "route",	1,	{ 0,	'R',	0 } },
	{ "route-sender", 1,	{ 0,	'S',	0 } },
	{ "dkim",	1,	{ 0,	'D',	'D' } },
	{ "metrics",	0,	{ 0,	'O',	0 } },
	{ "jobs",	0,	{ 0,	'j',	0 } },
	{ "destination-jobs", 0, { 0,	'J',	0 } },
};
#define CONF_KEYS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

static char		 conf_text[CONF_FILE_MAX + 1];
static struct conf_value conf_values[CONF_VALUES_MAX];
static size_t		 conf_nvalues, conf_next;
static const char	*conf_path;
static const char	*conf_explicit;		/* -F */
static const struct conf_value *conf_blamed;	/* the value in hand */
static const char	*conf_given[256];	/* the command line's flags */
static int		 conf_phase;		/* 0 start, 1 file, 2 argv */
static enum conf_prog	 conf_prog_in;

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Parses one line (NUL-terminated, no LF) into v.  Returns 1 for a value
 * of prog's, 0 for a blank, comment or another program's line, -1 with
 * err for a bad line.  Cuts the line in place: key and value end in NUL.
 */
static int
conf_line(char *s, enum conf_prog prog, struct conf_value *v,
    unsigned *seen, unsigned lineno, char *err, size_t errsize)
{
	char *key, *end;
	size_t i, n;

	for (end = s + strlen(s); end > s && (is_blank(end[-1]) ||
	    end[-1] == '\r'); end--)
		;
	*end = '\0';
	while (is_blank(*s))
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (((unsigned char)s[i] < ' ' && s[i] != '\t') ||
		    s[i] == 127) {
			snprintf(err, errsize, "control character in line");
			return -1;
		}
	key = s;
	n = strcspn(s, " \t");
	for (i = 0; i < CONF_KEYS; i++)
		if (strlen(conf_keys[i].name) == n &&
		    strncmp(conf_keys[i].name, key, n) == 0)
			break;
	if (i == CONF_KEYS) {
		/* The key as typed, printable and short: it may be junk. */
		snprintf(err, errsize, "unknown key \"%.*s\"", n > 40 ? 40 :
		    (int)n, key);
		for (end = err; *end != '\0'; end++)
			if ((unsigned char)*end < ' ' || *end == 127 ||
			    (unsigned char)*end > 127)
				*end = '?';
		return -1;
	}
	/* A second line for a one-value key is a mistake (an appended line
	 * that would silently win), whichever program it is for. */
	if (seen[i] != 0 && !conf_keys[i].is_list) {
		snprintf(err, errsize, "%s given twice (first on line %u)",
		    conf_keys[i].name, seen[i]);
		return -1;
	}
	seen[i] = lineno;
	s += n;
	if (*s != '\0')
		*s++ = '\0';
	while (is_blank(*s))
		s++;
	if (*s == '\0') {
		snprintf(err, errsize, "%s needs a value", conf_keys[i].name);
		return -1;
	}
	if (conf_keys[i].letter[prog] == 0)
		return 0;
	v->key = conf_keys[i].name;
	v->letter = (unsigned char)conf_keys[i].letter[prog];
	v->value = s;
	return 1;
}

int
conf_parse(char *text, size_t len, enum conf_prog prog,
    struct conf_value *v, size_t max, size_t *n, unsigned *lineno,
    char *err, size_t errsize)
{
	char *line = text, *lf, *end = text + len;
	unsigned seen[CONF_KEYS];
	int rc;

	*n = 0;
	*lineno = 0;
	memset(seen, 0, sizeof(seen));
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errsize, "NUL byte in file");
		return -1;
	}
	while (line < end) {
		++*lineno;
		if ((lf = memchr(line, '\n', (size_t)(end - line))) == NULL)
			lf = end;	/* a last line without LF counts */
		if (lf - line > CONF_LINE_MAX) {
			snprintf(err, errsize, "line longer than %d bytes",
			    CONF_LINE_MAX);
			return -1;
		}
		*lf = '\0';
		if (*n == max) {
			/* a line that is not blank needs a slot */
			struct conf_value spare;

			if ((rc = conf_line(line, prog, &spare, seen,
			    *lineno, err, errsize)) == -1)
				return -1;
			if (rc == 1) {
				snprintf(err, errsize, "more than %zu values",
				    max);
				return -1;
			}
		} else if ((rc = conf_line(line, prog, &v[*n], seen,
		    *lineno, err, errsize)) == -1)
			return -1;
		else if (rc == 1)
			v[(*n)++].line = *lineno;
		line = lf + 1;
	}
	return 0;
}

/* Whether stderr (st) is systemd's journal stream, which $JOURNAL_STREAM
 * names as DEVICE:INODE (systemd.exec(5)): a socket, but not a client's
 * connection, as under inetd.  An ExecStartPre=smtpd -N says there why
 * the unit fails, under its own name (journalctl -t smtpd). */
static int
conf_is_journal(const struct stat *st)
{
	const char *v = getenv("JOURNAL_STREAM");
	char want[64];

	if (v == NULL)
		return 0;
	snprintf(want, sizeof(want), "%llu:%llu",
	    (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
	return strcmp(v, want) == 0;
}

/* The end for trouble in the file (conf_blamed NULL: the file as a whole,
 * at line lineno if not 0): stderr, unless it is a socket (under inetd it
 * is the client's connection); then the log the command line or the file
 * names, or syslog; exit 78. */
static void __attribute__((noreturn))
conf_fail(unsigned lineno, const char *what)
{
	char msg[1024];
	const char *log = conf_given['l'];
	struct stat st;
	size_t i;

	if (conf_blamed != NULL)
		snprintf(msg, sizeof(msg), "%s:%u: %s: %s", conf_path,
		    conf_blamed->line, conf_blamed->key, what);
	else if (lineno > 0)
		snprintf(msg, sizeof(msg), "%s:%u: %s", conf_path, lineno,
		    what);
	else
		snprintf(msg, sizeof(msg), "%s: %s", conf_path, what);
	if (fstat(STDERR_FILENO, &st) == 0 && (!S_ISSOCK(st.st_mode) ||
	    conf_is_journal(&st)))
		fprintf(stderr, "%s: %s\n", log_prog, msg);
	for (i = 0; log == NULL && i < conf_nvalues; i++)
		if (conf_values[i].letter == 'l')
			log = conf_values[i].value;
	/* -N, a check (smtpqctl check, often as root), and smtpqctl, run by
	 * a person: stderr only; a log made here would be root's, and the
	 * programs could not write it. */
	if ((log != NULL && strcmp(log, "-") == 0) ||
	    conf_given['N'] != NULL || conf_prog_in == CONF_SMTPQCTL)
		exit(EXIT_CONFIG);	/* said on stderr already */
	if (log == NULL || log_open(log_prog, log) == -1)
		log_open(log_prog, NULL);
	log_error("fatal: %s", msg);
	exit(EXIT_CONFIG);
}

/* Reads path into conf_text and parses it.  A missing default file is
 * an empty one. */
static void
conf_load(const char *path, int is_required, enum conf_prog prog)
{
	char err[256];
	struct stat st;
	size_t len = 0;
	unsigned lineno;
	ssize_t r;
	int fd;

	conf_path = path;
	/* O_NONBLOCK: a FIFO put there must not hang us at open. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT && !is_required)
			return;
		conf_fail(0, strerror(errno));
	}
	if (fstat(fd, &st) == -1)
		conf_fail(0, strerror(errno));
	/* A device for -F /dev/null: no values. */
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
		conf_fail(0, "not a regular file");
	/* Anyone who can write it can make us relay for them. */
	if (S_ISREG(st.st_mode) && (st.st_mode & S_IWOTH))
		conf_fail(0, "writable by others (chmod o-w)");
	while (len <= CONF_FILE_MAX) {
		r = read(fd, conf_text + len, CONF_FILE_MAX + 1 - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			conf_fail(0, strerror(errno));
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	if (len > CONF_FILE_MAX) {
		snprintf(err, sizeof(err), "larger than %d bytes",
		    CONF_FILE_MAX);
		conf_fail(0, err);
	}
	if (conf_parse(conf_text, len, prog, conf_values, CONF_VALUES_MAX,
	    &conf_nvalues, &lineno, err, sizeof(err)) == -1)
		conf_fail(lineno, err);
}

/*
 * For sendmail, whose flags are sendmail's, not getopt's: reads the
 * installed file once.  Set-id (the setgid sendmail) it reads CONF_PATH
 * and nothing a user names; without privilege, $SMTPQ_CONF may name
 * another file (it grants nothing a user could not do anyway: a test's).
 */
void
conf_read(enum conf_prog prog)
{
	const char *env = getenv("SMTPQ_CONF");
	int is_env = getuid() == geteuid() && getgid() == getegid() &&
	    env != NULL && env[0] != '\0';

	conf_prog_in = prog;
	conf_phase = 2;
	conf_load(is_env ? env : CONF_PATH, is_env, prog);
}

/* A one-value key's value from the file, by its letter; NULL: not set. */
const char *
conf_get(int letter)
{
	size_t i;

	for (i = 0; i < conf_nvalues; i++)
		if (conf_values[i].letter == letter)
			return conf_values[i].value;
	return NULL;
}

int
conf_getopt(int argc, char *const argv[], const char *optstring,
    enum conf_prog prog)
{
	const char *file = NULL;
	const struct conf_value *v;
	int c, saved;

	if (conf_phase == 0) {
		/* First the command line's flags, to know which keys it
		 * replaces and which file to read; its errors are the
		 * second pass's to report. */
		saved = opterr;
		opterr = 0;
		while ((c = getopt(argc, argv, optstring)) != -1)
			if (c == 'F')
				file = optarg;
			else if (c != ':' && c != '?')
				conf_given[(unsigned char)c] = optarg != NULL ?
				    optarg : "";
		optind = 1;
		opterr = saved;
		conf_phase = 1;
		conf_explicit = file;
		conf_prog_in = prog;
		/* -h must work whatever the file says. */
		if (conf_given['h'] == NULL)
			conf_load(file != NULL ? file : CONF_PATH,
			    file != NULL, prog);
	}
	while (conf_phase == 1 && conf_next < conf_nvalues) {
		v = &conf_values[conf_next++];
		if (conf_given[(unsigned char)v->letter] != NULL)
			continue;
		conf_blamed = v;
		optarg = v->value;
		return v->letter;
	}
	conf_phase = 2;
	conf_blamed = NULL;
	while ((c = getopt(argc, argv, optstring)) == 'F')
		;
	return c;
}

void
conf_blame(int letter)
{
	size_t i;

	conf_blamed = NULL;
	if (letter == 0 || conf_given[(unsigned char)letter] != NULL)
		return;
	for (i = 0; i < conf_nvalues; i++)
		if (conf_values[i].letter == letter)
			conf_blamed = &conf_values[i];
}

const char *
conf_file(void)
{
	return conf_explicit;
}

void
conf_die_va(const char *fmt, va_list ap)
{
	char what[768];

	if (conf_blamed == NULL)
		return;
	vsnprintf(what, sizeof(what), fmt, ap);
	conf_fail(0, what);
}
