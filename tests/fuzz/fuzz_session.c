/*
 * fuzz_session.c: whole smtpd sessions in process: the command parser, the
 * state machine, the address and parameter parsing, DATA and the queue
 * commit, on any bytes from the client.
 *
 * Linked with smtpd's objects like smtpd itself, all but smtpd.c (its
 * main() and options), each input is one fresh session: a configuration
 * from session_defaults(), a struct session from session_init(), and
 * session_run() returns when the session ends, as smtpd would exit.
 * Input: 1 byte of flags (bit 0: an untrusted client,
 * REMOTE_ADDR=192.0.2.1; bit 1: -s 64; bit 2: -d example.org; bit 3: that
 * client is a load balancer, -P 192.0.2.0/24, and a PROXY header comes
 * first), then what the client sends.  Checked:
 *   - every reply line is "ddd" then ' ' or '-', text, CRLF;
 *   - every file in new/ is whole: envelope lines ending in LF with a
 *     From: first and at least one To:, an empty line, a Received: header,
 *     and a message that is empty or ends in CRLF; tmp/ is left empty.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../smtpd/smtpd.h"

static char qdir[64];

/* Reads all of fd from the start; malloc'd, NUL-terminated. */
static char *
slurp(int fd, size_t *len)
{
	off_t end = lseek(fd, 0, SEEK_END);
	char *buf;

	if (end == -1 || (buf = malloc((size_t)end + 1)) == NULL ||
	    pread(fd, buf, (size_t)end, 0) != (ssize_t)end)
		abort();
	buf[end] = '\0';
	*len = (size_t)end;
	return buf;
}

static void
check_replies(const char *p, size_t len)
{
	const char *end = p + len, *lf;

	while (p < end) {
		if ((lf = memchr(p, '\n', (size_t)(end - p))) == NULL)
			abort();	/* a reply without its line end */
		if (lf - p < 5 || lf[-1] != '\r' || p[0] < '2' || p[0] > '5' ||
		    p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9' ||
		    (p[3] != ' ' && p[3] != '-'))
			abort();
		p = lf + 1;
	}
}

static void
check_queue_file(int dir, const char *name)
{
	char *buf, *p, *blank;
	size_t len;
	int fd, tos = 0;

	if ((fd = openat(dir, name, O_RDONLY)) == -1)
		abort();
	buf = slurp(fd, &len);
	close(fd);
	if ((blank = strstr(buf, "\n\n")) == NULL ||
	    strncmp(buf, "From: <", 7) != 0)
		abort();
	for (p = buf; p <= blank; p = strchr(p, '\n') + 1)
		tos += strncmp(p, "To: <", 5) == 0;
	if (tos == 0 || strncmp(blank + 2, "Received: ", 10) != 0)
		abort();
	if (len >= 2 && (buf[len - 2] != '\r' || buf[len - 1] != '\n'))
		abort();
	free(buf);
}

/* Checks new/ and tmp/, and empties new/ for the next input. */
static void
check_queue(void)
{
	char path[96];
	struct dirent *e;
	DIR *d;
	int dir;

	snprintf(path, sizeof(path), "%s/tmp", qdir);
	if ((d = opendir(path)) == NULL)
		return;		/* the session never opened the queue */
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			abort();	/* a tmp file left behind */
	closedir(d);
	snprintf(path, sizeof(path), "%s/new", qdir);
	if ((d = opendir(path)) == NULL || (dir = dirfd(d)) == -1)
		abort();
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		check_queue_file(dir, e->d_name);
		unlinkat(dir, e->d_name, 0);
	}
	closedir(d);
}

/* At exit: the queue directory goes (its subdirectories are empty). */
static void
remove_queue(void)
{
	static const char *const parts[] = {
		"tmp", "new", "failed", "smtpd.lock"
	};
	char path[96];
	size_t i;

	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", qdir, parts[i]);
		if (rmdir(path) == -1)
			unlink(path);
	}
	rmdir(qdir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int out_fd = -1;
	char path[] = "/dev/shm/fuzz_session.XXXXXX";
	struct config cf;
	struct session *s;
	char *replies;
	size_t len;
	int in_fd, flags;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (out_fd == -1) {
		snprintf(qdir, sizeof(qdir), "/dev/shm/fuzz_session.q%ld",
		    (long)getpid());
		if ((out_fd = mkstemp(path)) == -1)
			abort();
		unlink(path);
		strcpy(path, "/dev/shm/fuzz_session.XXXXXX");
		atexit(remove_queue);
		log_prog = "smtpd";
		if (log_open("smtpd", "/dev/null") == -1)
			abort();
		sig_init();
	}
	if ((in_fd = mkstemp(path)) == -1)
		abort();
	unlink(path);
	if (write(in_fd, data, size) != (ssize_t)size ||
	    lseek(in_fd, 0, SEEK_SET) == -1 || dup2(in_fd, 0) == -1 ||
	    ftruncate(out_fd, 0) == -1 || lseek(out_fd, 0, SEEK_SET) == -1 ||
	    dup2(out_fd, 1) == -1)
		abort();
	close(in_fd);

	session_defaults(&cf);
	cf.queue_dir = qdir;
	strcpy(cf.hostname, "mx.test");
	if (flags & 2)
		cf.max_size = 64;
	cf.min_free = cf.max_size * MINFREE_SIZES;
	if (flags & 4)
		cf.domains[cf.ndomains++] = "example.org";
	if (flags & 8)
		balancer_option(&cf, "192.0.2.0/24");
	if (flags & 9)
		setenv("REMOTE_ADDR", "192.0.2.1", 1);
	else
		unsetenv("REMOTE_ADDR");

	/* calloc'd, not static: ASan sees a read past any of its buffers */
	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	session_init(s, &cf);
	session_run(s);
	free(s);
	/* The session is over; stdout was flushed by session_exit(). */
	replies = slurp(1, &len);
	check_replies(replies, len);
	free(replies);
	check_queue();
	return 0;
}
