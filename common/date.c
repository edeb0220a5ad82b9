/*
 * date.c: RFC 5322 3.3 dates for Received: and Date: headers, in local
 * time with a numeric zone, e.g. "Tue, 24 Nov 2026 01:15:04 +0000".
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
