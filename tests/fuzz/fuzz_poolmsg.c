/*
 * fuzz_poolmsg.c: the lines between smtpsend and its workers
 * (smtpsend/poolmsg.c, included here), pool_parse() on any bytes as a
 * worker, or whatever took its place, could write them.
 *
 * Checked: nothing is read outside the input (ASan); a line taken has a
 * known verb, an argument of 1 to POOL_ARG_MAX octets without NUL (but
 * for count), a printable reason (down), an RC within enum try (done);
 * and pool_format() writes it back as exactly the input and a newline:
 * each line has one way to be written, so nothing a worker says can
 * mean two things.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpsend/poolmsg.c"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[POOL_LINE_MAX + 1];
	struct pool_line l;
	size_t n, k;

	if (pool_parse((const char *)data, size, &l) == -1)
		return 0;
	if (l.verb > POOL_COUNT)
		abort();
	if (l.verb != POOL_COUNT && (l.arg[0] == '\0' ||
	    strlen(l.arg) > POOL_ARG_MAX))
		abort();
	if (l.verb == POOL_DONE && l.n[0] > TRY_KEPT)
		abort();
	for (k = 0; l.why[k] != '\0'; k++)
		if (l.why[k] < ' ' || l.why[k] > '~')
			abort();
	if (l.verb == POOL_DOWN && k == 0)
		abort();
	n = pool_format(out, sizeof(out), &l);
	if (n != size + 1 || memcmp(out, data, size) != 0 || out[size] != '\n')
		abort();
	return 0;
}
