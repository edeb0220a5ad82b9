/*
 * fuzz_conf.c: conf_parse() (common/conf.c) over arbitrary bytes, as the
 * text of an smtpq.conf.
 *
 * Input: one byte choosing the program (its column of keys) and the
 * number of value slots, then the file.  The text is copied into a
 * malloc'd buffer of its length + 1, the spare byte not a NUL (ASan
 * catches a read or write past it; conf_parse() may only put a NUL
 * there).  Checked: 0 or -1; on -1 a
 * NUL-terminated, printable reason and a line number within the text; on
 * 0 at most max values, each inside the buffer, non-empty, without a
 * control byte and without blanks at either end, on increasing lines no
 * further than the text's; a key is one of the known names; the same
 * text parsed again gives the same result (it is cut in place: a second
 * parse of a fresh copy must agree).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const size_t maxes[] = { 0, 1, 2, 8, CONF_VALUES_MAX };

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
lines_in(const uint8_t *d, size_t len)
{
	size_t i, n = len > 0;

	for (i = 0; i < len; i++)
		if (d[i] == '\n' && i + 1 < len)
			n++;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_value *v, *w;
	enum conf_prog prog;
	size_t len, max, n, n2, i, lines;
	unsigned lineno, lineno2, last = 0;
	char *text, *again, err[256], err2[256];
	const char *p;
	int rc, rc2;

	if (size < 1)
		return 0;
	prog = (enum conf_prog)(data[0] % CONF_PROGS);
	max = maxes[(data[0] / CONF_PROGS) % (sizeof(maxes) /
	    sizeof(maxes[0]))];
	len = size - 1;
	lines = lines_in(data + 1, len);
	if ((text = malloc(len + 1)) == NULL ||
	    (again = malloc(len + 1)) == NULL ||
	    (v = calloc(max > 0 ? max : 1, sizeof(*v))) == NULL ||
	    (w = calloc(max > 0 ? max : 1, sizeof(*w))) == NULL)
		abort();
	memcpy(text, data + 1, len);
	memcpy(again, data + 1, len);
	text[len] = again[len] = 'x';
	memset(err, 'x', sizeof(err));
	rc = conf_parse(text, len, prog, v, max, &n, &lineno, err,
	    sizeof(err));
	if (rc != 0 && rc != -1)
		abort();
	if (rc == -1) {
		if (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0')
			abort();
		for (p = err; *p != '\0'; p++)
			if ((unsigned char)*p < ' ' || *p == 127)
				abort();
		if (lineno > lines)
			abort();
	} else {
		if (n > max)
			abort();
		for (i = 0; i < n; i++) {
			p = v[i].value;
			if (p < text || p >= text + len || *p == '\0' ||
			    v[i].letter == 0 || v[i].key == NULL)
				abort();
			if (p[0] == ' ' || p[0] == '\t')
				abort();
			if (strlen(p) > CONF_LINE_MAX ||
			    (size_t)(p - text) + strlen(p) > len)
				abort();
			if (p[strlen(p) - 1] == ' ' || p[strlen(p) - 1] ==
			    '\t' || p[strlen(p) - 1] == '\r')
				abort();
			for (; *p != '\0'; p++)
				if (((unsigned char)*p < ' ' && *p != '\t') ||
				    *p == 127)
					abort();
			if (v[i].line <= last || v[i].line > lines)
				abort();
			last = v[i].line;
		}
	}
	rc2 = conf_parse(again, len, prog, w, max, &n2, &lineno2, err2,
	    sizeof(err2));
	if (rc2 != rc || (rc == 0 && n2 != n) || (rc == -1 &&
	    (lineno2 != lineno || strcmp(err, err2) != 0)))
		abort();
	for (i = 0; rc == 0 && i < n; i++)
		if (w[i].line != v[i].line || w[i].letter != v[i].letter ||
		    strcmp(w[i].value, v[i].value) != 0)
			abort();
	free(text);
	free(again);
	free(v);
	free(w);
	return 0;
}
