/*
 * nullsmtp.c: the do-nothing per-connection responder.  Like smtpd it
 * speaks on stdin/stdout for one connection under a launcher, but it does
 * no work: "220" at once, "250" to every line, "221" and exit at QUIT or
 * end of input.  Its connection rate is what the launcher and the kernel
 * allow, the ceiling for any one-process-per-connection server.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static void
say(const char *s)
{
	size_t n = strlen(s);

	if (write(1, s, n) != (ssize_t)n)
		_exit(0);
}

int
main(void)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	char *lf;

	say("220 null ESMTP\r\n");
	for (;;) {
		while ((lf = memchr(buf, '\n', len)) != NULL) {
			if (len >= 4 && strncasecmp(buf, "QUIT", 4) == 0) {
				say("221 bye\r\n");
				return 0;
			}
			say("250 ok\r\n");
			len -= (size_t)(lf + 1 - buf);
			memmove(buf, lf + 1, len);
		}
		if (len == sizeof(buf))
			len = 0;	/* a long line: forget it */
		if ((n = read(0, buf + len, sizeof(buf) - len)) <= 0)
			return 0;
		len += (size_t)n;
	}
}
