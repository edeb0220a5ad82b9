/*
 * log.c: one line per event, to syslog (LOG_MAIL), stderr or a file.
 *
 * A file is opened O_APPEND and each line goes out in a single write(), so
 * smtpd and smtpsend processes can share one log without interleaving.
 * Lines look like "2026-11-24T01:15:04Z smtpd[123]: id=... result=queued".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

const char *log_prog = "smtp";
static int log_fd = -1;		/* -1: syslog */

int
log_open(const char *prog, const char *file)
{
	log_prog = prog;
	if (log_fd > STDERR_FILENO)
		close(log_fd);		/* opened again: no descriptor leaks */
	log_fd = -1;
	if (file == NULL) {
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_MAIL);
		log_fd = -1;
		return 0;
	}
	if (strcmp(file, "-") == 0) {
		log_fd = STDERR_FILENO;
		return 0;
	}
	log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	return log_fd == -1 ? -1 : 0;
}

static void
log_line(int priority, const char *fmt, va_list ap)
{
	char buf[2048];
	struct tm tm;
	time_t now;
	size_t n = 0;
	int m, saved = errno;	/* logging never changes errno */

	if (log_fd == -1) {
		vsnprintf(buf, sizeof(buf), fmt, ap);
		syslog(priority, "%s", buf);
		errno = saved;
		return;
	}
	now = time(NULL);
	if (gmtime_r(&now, &tm) != NULL)
		n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	m = snprintf(buf + n, sizeof(buf) - n, "%s[%ld]: ", log_prog,
	    (long)getpid());
	if (m > 0)
		n += (size_t)m;
	m = vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	if (m < 0) {
		errno = saved;
		return;
	}
	n += (size_t)m;
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;	/* cut an over-long line */
	buf[n++] = '\n';
	/* One write per line: O_APPEND keeps writers apart.  A failed log
	 * write must not stop mail; there is nowhere else to report it. */
	while (write(log_fd, buf, n) == -1 && errno == EINTR)
		;
	errno = saved;
}

/*
 * A value a client sent, fit for one field: space, '"', '\\', '<', '>',
 * control and non-ASCII bytes become \xHH, so the value can neither end
 * its field nor its line, nor pass for another key=value.  Cut to fit
 * size (at least 1); returns buf.
 */
const char *
log_esc(const char *s, char *buf, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c > ' ' && c < 127 && c != '"' && c != '\\' && c != '<' &&
		    c != '>') {
			if (n + 1 >= size)
				break;
			buf[n++] = (char)c;
		} else {
			if (n + 4 >= size)
				break;
			buf[n++] = '\\';
			buf[n++] = 'x';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 15];
		}
	}
	buf[n] = '\0';
	return buf;
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_line(LOG_ERR, fmt, ap);
	va_end(ap);
}
