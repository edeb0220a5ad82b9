/*
 * date.c: RFC 5322 3.3 dates for Received: and Date: headers, in local
 * time with a numeric zone, e.g. "Tue, 24 Nov 2026 01:15:04 +0000"; and
 * ages for people, in the queue listings.
 */
#include <stdio.h>
#include <time.h>

#include "common.h"

int
date_rfc5322(time_t t, char *buf, size_t size)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;
	char zone[8];
	int n;

	/* Names spelled out: strftime's %a and %b follow the locale. */
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(zone, sizeof(zone), "%z", &tm) == 0)
		return -1;
	n = snprintf(buf, size, "%s, %d %s %04d %02d:%02d:%02d %s",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone);
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* "45s", "12m", "3h05m", "2d04h": an age or a wait, for people. */
const char *
date_age(long s, char *buf, size_t size)
{
	if (s < 60)
		snprintf(buf, size, "%lds", s < 0 ? 0 : s);
	else if (s < 3600)
		snprintf(buf, size, "%ldm", s / 60);
	else if (s < 86400)
		snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	return buf;
}
