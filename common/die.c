/*
 * die.c: the ways a program ends early, each with a sysexits code and one
 * line saying why: a usage error on stderr, anything else in the log
 * (syslog when no log file is open).  A usage error in a value that came
 * from smtpq.conf is the configuration's: conf.c reports it (exit 78).
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

void
die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	conf_die_va(fmt, ap);	/* returns unless the file is to blame */
	va_end(ap);
	fprintf(stderr, "%s: ", log_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (%s -h for help)\n", log_prog);
	exit(EXIT_USAGE);
}

void
die(int status, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_error("fatal: %s", buf);
	exit(status);
}
