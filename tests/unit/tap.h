/*
 * tap.h: a tiny Test Anything Protocol producer for the unit tests.
 *
 * Each check prints "ok N - what" or "not ok N - what" on stdout, with
 * "# " diagnostics after a failure.  tap_done() prints the trailing plan
 * "1..N" (unless tap_plan() printed it first) and returns the exit status:
 * 0 when every check passed and the count matches the plan, else 1.
 *
 *	int main(void) { ok(1 + 1 == 2, "sum"); return tap_done(); }
 *
 * Header-only: every function is static inline, so a test that uses only
 * some of them compiles without unused-function warnings.  Children of a
 * fork() must leave with _exit() and must not call these.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;		/* checks so far */
static int tap_failed;		/* of which failed */
static int tap_planned = -1;	/* -1: the plan comes at the end */

static inline void
tap_plan(int n)
{
	tap_planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* Prints "# ..." on its own line. */
static inline void
tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline void
tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static inline int
tap_vok(int passed, const char *fmt, va_list ap)
{
	tap_count++;
	if (!passed)
		tap_failed++;
	printf("%sok %d - ", passed ? "" : "not ", tap_count);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	/* Flushed at once: tests fork, and a failure should show up even
	 * if a later check crashes. */
	fflush(stdout);
	return passed;
}

/* One check; returns whether it passed. */
static inline int
ok(int passed, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline int
ok(int passed, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = tap_vok(passed, fmt, ap);
	va_end(ap);
	return rc;
}

/* Integers compared; both values shown on failure. */
static inline int
is_int(long got, long want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int
is_int(long got, long want, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = tap_vok(got == want, fmt, ap);
	va_end(ap);
	if (!rc)
		tap_diag("got %ld, expected %ld", got, want);
	return rc;
}

/* "# label "text"", with bytes that would break the line escaped. */
static inline void
tap_quote(const char *label, const char *s)
{
	if (s == NULL) {
		printf("# %s (null)\n", label);
		return;
	}
	printf("# %s \"", label);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\r')
			fputs("\\r", stdout);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 32 || c > 126)
			printf("\\x%02x", c);
		else
			fputc(c, stdout);
	}
	fputs("\"\n", stdout);
	fflush(stdout);
}

/* Strings compared; NULL equals only NULL. */
static inline int
is_str(const char *got, const char *want, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = tap_vok(got == NULL || want == NULL ? got == want :
	    strcmp(got, want) == 0, fmt, ap);
	va_end(ap);
	if (!rc) {
		tap_quote("got     ", got);
		tap_quote("expected", want);
	}
	return rc;
}

/* Ends the run: the trailing plan if none was given, and the status. */
static inline int
tap_done(void)
{
	if (tap_planned < 0)
		printf("1..%d\n", tap_count);
	else if (tap_planned != tap_count) {
		tap_diag("planned %d tests but ran %d", tap_planned,
		    tap_count);
		tap_failed++;
	}
	if (tap_failed > 0)
		tap_diag("failed %d of %d", tap_failed, tap_count);
	fflush(stdout);
	return tap_failed > 0 ? 1 : 0;
}

#endif
