/*
 * die.c: the ways a program ends early, each with a sysexits code and one
 * line saying why: a usage error on stderr, anything else in the log
 * (syslog when no log file is open).
 */
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

void
die_usage(const char *fmt, ...)
{
	va_list ap;

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
