/*
 * opt.c: values given on the command line: durations ("90", "30s", "5m",
 * "2h", "5d"), counts, sizes ("10485760", "10M") and the host name.
 * Each returns 0, or -1 for a value that is not exactly one of those.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static int
opt_scaled(const char *s, const char *units, const unsigned long *scale,
    unsigned long max, unsigned long *value)
{
	const char *u;
	unsigned long n;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;	/* no sign, no space, no empty string */
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0' || (u = strchr(units, *end)) == NULL)
			return -1;
		if (n > max / scale[u - units])
			return -1;
		n *= scale[u - units];
	}
	if (n > max)
		return -1;
	*value = n;
	return 0;
}

int
opt_duration(const char *s, unsigned *seconds)
{
	static const unsigned long scale[] = { 1, 60, 3600, 86400 };
	unsigned long n;

	if (opt_scaled(s, "smhd", scale, INT_MAX, &n) == -1)
		return -1;
	*seconds = (unsigned)n;
	return 0;
}

int
opt_number(const char *s, unsigned long max, unsigned long *value)
{
	return opt_scaled(s, "", NULL, max, value);
}

int
opt_size(const char *s, unsigned long *value)
{
	static const unsigned long scale[] = {
		1024, 1024, 1024UL * 1024, 1024UL * 1024 * 1024
	};

	/* Fits in a long on every platform we build for. */
	return opt_scaled(s, "kKMG", scale, LONG_MAX, value);
}

/* given (-n) or the system's name, checked as a domain. */
int
opt_hostname(const char *given, char *buf, size_t size)
{
	char sys[HOST_MAX + 1];

	if (given == NULL) {
		if (gethostname(sys, sizeof(sys)) == -1)
			return -1;
		sys[sizeof(sys) - 1] = '\0';
		given = sys;
	}
	if (!addr_domain_valid(given) || strlen(given) >= size)
		return -1;
	strcpy(buf, given);
	return 0;
}
