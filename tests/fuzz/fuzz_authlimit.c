/*
 * fuzz_authlimit.c: the record reader of QUEUE/auth/failures
 * (smtpd/authlimit.c), which any process running as the queue's owner
 * can write, and the network key made from a client address.
 *
 * Input: the first AUTHLIMIT_RECORD bytes are a record slot, in a malloc'd
 * buffer of exactly that size so ASan catches a read past it; the rest,
 * cut at a NUL, a peer address.  Checked:
 *   - a slot that parses has a kind 'u' or 'n', a key of 1 to
 *     AUTHLIMIT_KEY_MAX printable non-blank bytes, and formats back to
 *     exactly its bytes (one spelling per record);
 *   - the key of any address is 1 to AUTHLIMIT_KEY_MAX printable bytes
 *     without blanks, fit for a record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/authlimit.c"

struct queue queue;	/* authlimit.c's file lives under it: unused here */

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_key(const char *key)
{
	size_t i, n = strlen(key);

	if (n == 0 || n > AUTHLIMIT_KEY_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (key[i] <= ' ' || key[i] >= 127)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct authlimit_record r;
	char *slot, back[AUTHLIMIT_RECORD], addr[256], key[AUTHLIMIT_KEY_MAX + 1];
	size_t n;

	if (size < AUTHLIMIT_RECORD)
		return 0;
	if ((slot = malloc(AUTHLIMIT_RECORD)) == NULL)
		abort();
	memcpy(slot, data, AUTHLIMIT_RECORD);
	if (authlimit_parse(slot, &r) == 0) {
		if (r.kind != 'u' && r.kind != 'n')
			abort();
		check_key(r.key);
		authlimit_format(&r, back);
		if (memcmp(back, slot, AUTHLIMIT_RECORD) != 0)
			abort();
	}
	free(slot);
	n = size - AUTHLIMIT_RECORD;
	if (n > sizeof(addr) - 1)
		n = sizeof(addr) - 1;
	memcpy(addr, data + AUTHLIMIT_RECORD, n);
	addr[n] = '\0';
	authlimit_net(addr, key);
	check_key(key);
	return 0;
}
