/*
 * smtpqctl.c: the operator's command (smtpqctl(8)).
 *
 *   smtpqctl [-F file] [-q dir] [-l file] command [argument]
 *
 * check                 the configuration as smtpd and smtpsend read it
 * queue [--json]        one line (or object) per recipient, a summary
 * queue --summary       the summary line alone (monitoring)
 * show ID               a message, escaped
 * flush [ID|@DOMAIN]    due now, and smtpsend woken
 * probe                 the relay: TLS, AUTH, MAIL FROM, RSET
 * hold ID, release ID   new/ to hold/ (never delivered from) and back
 * delete ID             gone, for good
 * requeue ID            failed/ back to new/, due now
 * dkim-keygen DOMAIN SELECTOR [rsa|ed25519]  a key (smtpqctl-dkim.c)
 * doctor [DOMAIN [ADDRESS]]  PTR, SPF, DKIM, DMARC, MX (smtpqctl-doctor.c)
 *
 * Run as root it becomes the owner of the queue directory before it
 * touches anything under it, so that it can do nothing there the queue's
 * owner could not.  It opens nothing under the queue through a symbolic
 * link (O_NOFOLLOW, regular files and directories only), takes the
 * delivery lock smtpsend takes before it moves or changes a message, and
 * prints every name and address escaped (\xHH).  A queue id is a file
 * name: printable, no '/', no leading dot.
 */
/* setgroups(2), not POSIX: dropping root needs it. */
#define _DEFAULT_SOURCE	/* NOLINT(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp) */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "smtpqctl.h"

#define EXIT_NOINPUT	66	/* EX_NOINPUT: no such message */

/* Where a message can be, and what that means. */
const char *const qdir_names[QDIRS] = { "new", "hold", "failed" };
const char *const qdir_states[QDIRS] = { "queued", "held", "failed" };

const char *queue_dir = QUEUE_DIR_DEFAULT;
const char *log_file;
int qdirs[QDIRS] = { -1, -1, -1 };
static int queue_fd = -1;
static const char *smtpd_path = SBINDIR "/smtpd";
static const char *smtpsend_path = SBINDIR "/smtpsend";
static const char *conf_arg;		/* -F, passed on by check */
static const char *cafile;		/* -C, for probe DOMAIN */
/* smtpd's recipient checks (maildir, aliases, recipients), for check */
static const char *maildir_root, *alias_path, *list_path;

static void
usage(void)
{
	printf("usage: smtpqctl [-F file] [-q dir] [-l file] command\n"
	    "  check                configuration as smtpd and smtpsend "
	    "read it\n"
	    "  queue [--json]       every pending recipient\n"
	    "  queue --summary      counts and the oldest age, one line\n"
	    "  show ID              one message\n"
	    "  flush [ID|@DOMAIN]   deliver now\n"
	    "  probe                would the relay take our mail?\n"
	    "  hold ID, release ID  keep from delivery, and give back\n"
	    "  delete ID            remove for good\n"
	    "  requeue ID           failed/ back to the queue\n"
	    "  route ADDRESS        where smtpsend sends mail for ADDRESS\n"
	    "  probe DOMAIN         its MX hosts, DANE, MTA-STS: the TLS "
	    "required\n"
	    "  tlsrpt DAY           the RFC 8460 report of a day "
	    "(YYYY-MM-DD)\n"
	    "  dkim-keygen DOMAIN SELECTOR [rsa|ed25519]\n"
	    "                       a DKIM key, and its DNS record\n"
	    "  doctor [DOMAIN [ADDRESS]]  what receivers check, from DNS\n");
	exit(0);
}

/* Prints s with every byte but printable ASCII (and, unless spaces,
 * space) as \xHH, and '\\' as \x5c: no name can end a line or a field. */
void
print_esc(FILE *f, const char *s, int is_spaces_ok)
{
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c > ' ' || (c == ' ' && is_spaces_ok)) && c < 127 &&
		    c != '\\')
			putc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
}

/* A queue id as smtpd and sendmail make them, or at least a file name
 * that cannot leave the directory or hide in it. */
static void
id_check(const char *id)
{
	const char *p;

	if (*id == '\0' || *id == '.' || strlen(id) > QUEUE_NAME_MAX)
		goto bad;
	for (p = id; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 127 || *p == '/')
			goto bad;
	return;
bad:
	fprintf(stderr, "smtpqctl: not a queue id: ");
	print_esc(stderr, id, 0);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

/* Opens the queue, and as root becomes its owner first. */
static void
queue_enter(void)
{
	struct stat st;
	gid_t gid;

	if ((queue_fd = open(queue_dir, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1 || fstat(queue_fd, &st) == -1) {
		fprintf(stderr, "smtpqctl: unable to open queue %s: %s\n",
		    queue_dir, strerror(errno));
		exit(EXIT_TEMPFAIL);
	}
	if (geteuid() == 0 && st.st_uid != 0) {
		gid = st.st_gid;
		if (setgroups(1, &gid) == -1 || setgid(st.st_gid) == -1 ||
		    setuid(st.st_uid) == -1 || setuid(0) != -1) {
			fprintf(stderr, "smtpqctl: unable to become the "
			    "queue's owner (uid %ld): %s\n",
			    (long)st.st_uid, strerror(errno));
			exit(EXIT_OSERR);
		}
	}
	/* The log is opened as the owner: as root, a link planted where
	 * the log goes would make us write anywhere. */
	if (log_open("smtpqctl", log_file) == -1)
		log_open("smtpqctl", NULL);
}

/* QUEUE/NAME, a directory of the queue's owner and no link; hold/ is
 * made when missing.  -1 when it is not there. */
int
qdir_open(int i)
{
	struct stat st, top;
	int fd;

	if (qdirs[i] != -1)
		return qdirs[i];
	if (i == QDIR_HOLD && mkdirat(queue_fd, "hold", 0750) == -1 &&
	    errno != EEXIST)
		return -1;
	if ((fd = openat(queue_fd, qdir_names[i], O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || fstat(queue_fd, &top) == -1) {
		close(fd);
		return -1;
	}
	if (st.st_uid != top.st_uid) {
		close(fd);
		fprintf(stderr, "smtpqctl: %s/%s: not owned by the queue's "
		    "owner; left alone\n", queue_dir, qdir_names[i]);
		exit(EXIT_CONFIG);
	}
	qdirs[i] = fd;
	return qdirs[i];
}

/* Opens DIR/ID, a regular file, and takes the lock smtpsend takes to
 * deliver it: -1 when it is not there, exits 75 when it is busy. */
int
msg_open(int dir, const char *id, struct stat *st)
{
	struct flock fl;
	struct stat again;
	int fd;

	if (dir == -1 || (fd = openat(dir, id, O_RDONLY | O_NOFOLLOW |
	    O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, st) == -1 || !S_ISREG(st->st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_SETLK, &fl) == -1 || fstatat(dir, id, &again,
	    AT_SYMLINK_NOFOLLOW) == -1 || again.st_ino != st->st_ino ||
	    again.st_dev != st->st_dev) {
		close(fd);
		fprintf(stderr, "smtpqctl: ");
		print_esc(stderr, id, 0);
		fprintf(stderr, ": being delivered; try again\n");
		exit(EXIT_TEMPFAIL);
	}
	return fd;
}

/* Finds ID under new/, hold/ or failed/: its directory index, the open
 * file in *fd; exits 66 when it is nowhere. */
static int
msg_find(const char *id, int *fd, struct stat *st)
{
	int i;

	id_check(id);
	for (i = 0; i < QDIRS; i++) {
		if (qdir_open(i) == -1)
			continue;
		if ((*fd = msg_open(qdirs[i], id, st)) != -1)
			return i;
		if (errno != ENOENT) {
			fprintf(stderr, "smtpqctl: %s/%s/", queue_dir,
			    qdir_names[i]);
			print_esc(stderr, id, 0);
			fprintf(stderr, ": %s\n", errno == EINVAL ?
			    "not a regular file" : strerror(errno));
			exit(EXIT_DATAERR);
		}
	}
	fprintf(stderr, "smtpqctl: ");
	print_esc(stderr, id, 0);
	fprintf(stderr, ": no such message\n");
	exit(EXIT_NOINPUT);
}

/* Wakes smtpsend -w: a byte into QUEUE/trigger, if a reader waits. */
static void
trigger_poke(void)
{
	struct stat st;
	int fd;

	fd = openat(queue_fd, QUEUE_TRIGGER, O_WRONLY | O_NONBLOCK |
	    O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd == -1)
		return;
	if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    write(fd, "f", 1) == -1)
		errno = 0;	/* EAGAIN: a wake-up is pending already */
	close(fd);
}

/* Moves ID from directory from to to, durably, under its lock. */
static int
msg_move(const char *id, int from, int to, const char *verb)
{
	struct stat st;
	char esc[LOG_ADDR_MAX];
	int fd, where, dirfd;

	where = msg_find(id, &fd, &st);
	if (where != from) {
		fprintf(stderr, "smtpqctl: ");
		print_esc(stderr, id, 0);
		fprintf(stderr, ": %s (in %s/), not %s\n", qdir_states[where],
		    qdir_names[where], qdir_states[from]);
		close(fd);
		return EXIT_DATAERR;
	}
	if ((dirfd = qdir_open(to)) == -1 || renameat(qdirs[from], id, dirfd,
	    id) == -1 || fsync(dirfd) == -1) {
		fprintf(stderr, "smtpqctl: unable to move ");
		print_esc(stderr, id, 0);
		fprintf(stderr, " to %s/: %s\n", qdir_names[to],
		    strerror(errno));
		close(fd);
		return EXIT_TEMPFAIL;
	}
	/* Back in new/ for a requeue: due now, not at its old next try. */
	if (to == QDIR_NEW && from == QDIR_FAILED && futimens(fd, NULL) == -1)
		fprintf(stderr, "smtpqctl: unable to make it due now: %s\n",
		    strerror(errno));
	close(fd);
	log_info("id=%s result=%s by operator", log_esc(id, esc,
	    sizeof(esc)), verb);
	printf("%s: ", verb);
	print_esc(stdout, id, 0);
	putchar('\n');
	if (to == QDIR_NEW)
		trigger_poke();
	return 0;
}

static int
cmd_delete(const char *id)
{
	struct stat st;
	char esc[LOG_ADDR_MAX];
	int fd, where;

	where = msg_find(id, &fd, &st);
	if (unlinkat(qdirs[where], id, 0) == -1 || fsync(qdirs[where]) ==
	    -1) {
		fprintf(stderr, "smtpqctl: unable to delete: %s\n",
		    strerror(errno));
		close(fd);
		return EXIT_TEMPFAIL;
	}
	close(fd);
	log_info("id=%s dir=%s result=deleted by operator",
	    log_esc(id, esc, sizeof(esc)), qdir_names[where]);
	printf("deleted: ");
	print_esc(stdout, id, 0);
	putchar('\n');
	return 0;
}

/* Whether the open queue file has a recipient in domain. */
static int
msg_has_domain(int fd, const char *domain)
{
	static struct line in;
	static struct envelope env;
	char why[128];
	const char *d;
	size_t i;

	line_init(&in, fd, 0);
	if (envelope_read(&in, &env, why, sizeof(why)) != RES_OK)
		return 0;
	for (i = 0; i < env.nrcpt; i++)
		if ((d = addr_domain(env.rcpt[i])) != NULL &&
		    strcasecmp(d, domain) == 0)
			return 1;
	return 0;
}

/*
 * Runs "systemctl start --no-block smtpsend.service" when systemd runs
 * the host (sd_booted(3)'s test), so that a flush does not wait for the
 * timer when no smtpsend -w listens on the trigger.  Root only: that is
 * who may start units.  A host without the unit: a note, no failure.
 */
static void
systemd_start(void)
{
	const char *argv[] = { "systemctl", "start", "--no-block",
	    "smtpsend.service", NULL };
	struct prog p = { NULL, (char *const *)argv,
	    { PROG_KEEP, PROG_KEEP, PROG_KEEP, PROG_NULL }, 127, 0 };
	int ours[PROG_FDS], status;
	struct stat st;
	pid_t pid;

	if (stat("/run/systemd/system", &st) == -1 || !S_ISDIR(st.st_mode))
		return;
	if ((pid = prog_start(&p, ours)) == -1 ||
	    prog_wait(pid, &status) == -1)
		return;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "smtpqctl: systemctl start smtpsend.service "
		    "failed; the trigger was poked\n");
}

/* Makes the chosen messages in new/ due now, then wakes the sender. */
static int
cmd_flush(const char *what)
{
	struct dirent *d;
	struct stat st;
	char esc[LOG_ADDR_MAX];
	DIR *dir;
	int fd, dfd, rc = 0;
	size_t n = 0;

	if (what != NULL && what[0] != '@') {
		if (msg_find(what, &fd, &st) != QDIR_NEW) {
			fprintf(stderr, "smtpqctl: ");
			print_esc(stderr, what, 0);
			fprintf(stderr, ": not queued (held or failed)\n");
			return EXIT_DATAERR;
		}
		if (futimens(fd, NULL) == -1) {
			fprintf(stderr, "smtpqctl: unable to make it due "
			    "now: %s\n", strerror(errno));
			rc = EXIT_TEMPFAIL;
		} else
			n++;
		close(fd);
	} else {
		if (what != NULL && !addr_domain_valid(what + 1)) {
			fprintf(stderr, "smtpqctl: not a domain: ");
			print_esc(stderr, what + 1, 0);
			fputc('\n', stderr);
			return EXIT_USAGE;
		}
		if (qdir_open(QDIR_NEW) == -1 || (dfd = dup(qdirs[QDIR_NEW]))
		    == -1 || (dir = fdopendir(dfd)) == NULL) {
			fprintf(stderr, "smtpqctl: unable to list %s/new: "
			    "%s\n", queue_dir, strerror(errno));
			return EXIT_TEMPFAIL;
		}
		while ((d = readdir(dir)) != NULL) {
			if (d->d_name[0] == '.' || (fd = msg_open(
			    qdirs[QDIR_NEW], d->d_name, &st)) == -1)
				continue;
			if (what == NULL || msg_has_domain(fd, what + 1)) {
				if (futimens(fd, NULL) == -1)
					rc = EXIT_TEMPFAIL;
				else
					n++;
			}
			close(fd);
		}
		closedir(dir);
	}
	log_info("flush=%s messages=%zu result=flushed by operator",
	    what != NULL ? log_esc(what, esc, sizeof(esc)) : "all", n);
	printf("flushed: %zu message%s\n", n, n == 1 ? "" : "s");
	trigger_poke();
	return rc;
}

static int
cmd_show(const char *id)
{
	struct stat st;
	char buf[IO_BUFSIZE];
	ssize_t r, i;
	int fd, where, c;

	where = msg_find(id, &fd, &st);
	printf("id: ");
	print_esc(stdout, id, 0);
	printf("\nstate: %s\n", qdir_states[where]);
	/* The file as it is, but that nothing can reach the terminal raw:
	 * CR of CRLF dropped, other controls and 8-bit bytes as \xHH. */
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			fprintf(stderr, "smtpqctl: read: %s\n",
			    strerror(errno));
			close(fd);
			return EXIT_IOERR;
		}
		for (i = 0; i < r; i++) {
			c = (unsigned char)buf[i];
			if (c == '\n' || c == '\t' || (c >= ' ' && c < 127 &&
			    c != '\\'))
				putchar(c);
			else if (c == '\r' && i + 1 < r && buf[i + 1] == '\n')
				continue;
			else
				printf("\\x%02x", c);
		}
	}
	close(fd);
	return 0;
}

/* flush as root: the queue's part as its owner, in a child; then, as
 * root, systemd is asked for a run. */
static int
flush(const char *what)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		queue_enter();
		return cmd_flush(what);
	}
	fflush(stdout);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "smtpqctl: fork: %s\n", strerror(errno));
		return EXIT_OSERR;
	}
	if (pid == 0) {
		queue_enter();
		status = cmd_flush(what);
		fflush(stdout);
		_exit(status);
	}
	if (prog_wait(pid, &status) == -1)
		return EXIT_OSERR;
	if (!WIFEXITED(status))
		return EXIT_SOFTWARE;
	if (WEXITSTATUS(status) == 0)
		systemd_start();
	return WEXITSTATUS(status);
}

/*
 * probe: the configured relay, as smtpsend -k tries it (TLS, AUTH, MAIL
 * FROM with the sender a local user's mail would carry, then RSET): "ok"
 * means mail would go.  smtpsend reads the secrets, so run it as root or
 * the sender (smtpq).
 */
static int
cmd_probe(void)
{
	char *argv[5];
	int n = 0;

	argv[n++] = (char *)smtpsend_path;
	if (conf_arg != NULL) {
		argv[n++] = "-F";
		argv[n++] = (char *)conf_arg;
	}
	argv[n++] = "-k";
	argv[n] = NULL;
	fflush(stdout);
	execv(smtpsend_path, argv);
	fprintf(stderr, "smtpqctl: unable to run %s: %s\n", smtpsend_path,
	    strerror(errno));
	return EXIT_OSERR;
}

/* check: each program reads the configuration (-N); then the queue.
 * With an address: smtpsend prints its route (-V) instead. */
static int
run_check(const char *prog, const char *addr)
{
	char *argv[6];
	struct prog p = { prog, argv,
	    { PROG_KEEP, PROG_KEEP, PROG_KEEP, PROG_NULL }, EXIT_CONFIG, 1 };
	int ours[PROG_FDS], status, n = 0;
	pid_t pid;

	argv[n++] = (char *)prog;
	if (conf_arg != NULL) {
		argv[n++] = "-F";
		argv[n++] = (char *)conf_arg;
	}
	if (addr != NULL) {
		argv[n++] = "-V";
		argv[n++] = (char *)addr;
	} else
		argv[n++] = "-N";
	argv[n] = NULL;
	if ((pid = prog_start(&p, ours)) == -1 ||
	    prog_wait(pid, &status) == -1)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * What smtpd, as a receiver in the queue's group gid, must reach to know
 * who exists (smtpd.8 VALID RECIPIENTS): a Maildir root it may search,
 * files it may read.  Run as root, smtpd -N reads them all, so a mode
 * that locks the receivers out would pass it and then make smtpd answer
 * 451 to every local recipient.
 */
static int
check_receiver(gid_t gid)
{
	const char *files[2] = { alias_path, list_path };
	struct stat st;
	int i, bad = 0;

	if (maildir_root != NULL && stat(maildir_root, &st) == 0 &&
	    S_ISDIR(st.st_mode) && !(st.st_mode & S_IXOTH) &&
	    !((st.st_mode & S_IXGRP) && st.st_gid == gid)) {
		fprintf(stderr, "smtpqctl: check: Maildir root %s: mode "
		    "%04o, group %ld: the receivers (group %ld) cannot look "
		    "a name up, and smtpd would answer 451 to every local "
		    "recipient (chmod 0710 and chgrp it to the queue's "
		    "group)\n", maildir_root, (unsigned)(st.st_mode & 07777),
		    (long)st.st_gid, (long)gid);
		bad = 1;
	}
	for (i = 0; i < 2; i++)
		if (files[i] != NULL && stat(files[i], &st) == 0 &&
		    !(st.st_mode & S_IROTH) && !((st.st_mode & S_IRGRP) &&
		    st.st_gid == gid)) {
			fprintf(stderr, "smtpqctl: check: %s: mode %04o, "
			    "group %ld: the receivers (group %ld) cannot read "
			    "it, and smtpd would answer 451 to every local "
			    "recipient\n", files[i],
			    (unsigned)(st.st_mode & 07777), (long)st.st_gid,
			    (long)gid);
			bad = 1;
		}
	return bad ? -1 : 0;
}

static int
cmd_check(void)
{
	struct stat st;
	const char *progs[2];
	int i, rc, bad = 0;

	progs[0] = smtpd_path;
	progs[1] = smtpsend_path;
	for (i = 0; i < 2; i++) {
		rc = run_check(progs[i], NULL);
		if (rc != 0) {
			fprintf(stderr, "smtpqctl: check: %s refuses the "
			    "configuration (exit %d)\n", progs[i], rc);
			bad = 1;
		}
	}
	/* The queue: a directory nobody else may write. */
	if (lstat(queue_dir, &st) == -1) {
		if (errno != ENOENT) {
			fprintf(stderr, "smtpqctl: check: queue %s: %s\n",
			    queue_dir, strerror(errno));
			bad = 1;
		}
	} else if (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) {
		fprintf(stderr, "smtpqctl: check: queue %s: not a "
		    "directory\n", queue_dir);
		bad = 1;
	} else if (S_ISDIR(st.st_mode) && (st.st_mode & S_IWOTH)) {
		fprintf(stderr, "smtpqctl: check: queue %s: writable by "
		    "others\n", queue_dir);
		bad = 1;
	}
	if (stat(queue_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    check_receiver(st.st_gid) == -1)
		bad = 1;
	if (bad)
		return EXIT_CONFIG;
	printf("configuration %s: ok\n", conf_file() != NULL ? conf_file() :
	    CONF_PATH);
	return 0;
}

/* The options before the command, into the file's settings; a -D runs
 * doctor's DKIM check at once. */
static void
options(int argc, char *argv[])
{
	int c;

	opterr = 0;
	while ((c = conf_getopt(argc, argv, "+:A:C:D:F:hl:m:q:U:",
	    CONF_SMTPQCTL)) != -1) {
		switch (c) {
		case 'C':
			cafile = optarg;
			break;
		case 'D':
			doctor_dkim(optarg);
			break;
		case 'm':
			maildir_root = optarg;
			break;
		case 'A':
			alias_path = optarg;
			break;
		case 'U':
			list_path = optarg;
			break;
		case 'h':
			usage();
			break;
		case 'l':
			log_file = optarg;
			break;
		case 'q':
			queue_dir = optarg;
			break;
		case ':':
			die_usage("option -%c needs a value", optopt);
		default:
			die_usage("unknown option -%c", optopt);
		}
	}
}

/* A command with one argument or none: those that need no queue first,
 * then those on a message (an ID) or a domain, in the queue. */
static int
command(const char *cmd, const char *arg)
{
	int rc;

	if (strcmp(cmd, "check") == 0 && arg == NULL)
		return cmd_check();
	if (strcmp(cmd, "queue") == 0 && (arg == NULL ||
	    strcmp(arg, "--json") == 0 || strcmp(arg, "--summary") == 0)) {
		queue_enter();
		return cmd_queue(arg == NULL ? QUEUE_TEXT : arg[2] == 'j' ?
		    QUEUE_JSON : QUEUE_SUMMARY);
	}
	if (strcmp(cmd, "flush") == 0)
		return flush(arg);
	if (strcmp(cmd, "route") == 0 && arg != NULL) {
		rc = run_check(smtpsend_path, arg);
		return rc < 0 ? EXIT_OSERR : rc;
	}
	if (strcmp(cmd, "probe") == 0 && arg == NULL)
		return cmd_probe();
	if (arg == NULL)
		die_usage("%s: unknown command, or it needs an ID", cmd);
	queue_enter();
	if (strcmp(cmd, "show") == 0)
		return cmd_show(arg);
	if (strcmp(cmd, "hold") == 0)
		return msg_move(arg, QDIR_NEW, QDIR_HOLD, "held");
	if (strcmp(cmd, "release") == 0)
		return msg_move(arg, QDIR_HOLD, QDIR_NEW, "released");
	if (strcmp(cmd, "requeue") == 0)
		return msg_move(arg, QDIR_FAILED, QDIR_NEW, "requeued");
	if (strcmp(cmd, "delete") == 0)
		return cmd_delete(arg);
	if (strcmp(cmd, "probe") == 0)
		return cmd_probe_domain(arg, cafile);
	if (strcmp(cmd, "tlsrpt") == 0)
		return cmd_tlsrpt(arg);
	die_usage("%s: unknown command", cmd);
}

int
main(int argc, char *argv[])
{
	const char *cmd, *env;

	log_prog = "smtpqctl";
	options(argc, argv);
	conf_arg = conf_file();		/* check hands -F on */
	if ((env = getenv("SMTPQCTL_SMTPD")) != NULL)
		smtpd_path = env;
	if ((env = getenv("SMTPQCTL_SMTPSEND")) != NULL)
		smtpsend_path = env;
	if (optind >= argc)
		die_usage("a command, please");
	cmd = argv[optind];
	/* dkim-keygen and doctor take options of their own. */
	if (strcmp(cmd, "dkim-keygen") == 0)
		return cmd_dkim_keygen(argc - optind - 1, argv + optind + 1);
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor(argc - optind - 1, argv + optind + 1);
	if (optind + 2 < argc)
		die_usage("too many arguments");
	return command(cmd, optind + 1 < argc ? argv[optind + 1] : NULL);
}
