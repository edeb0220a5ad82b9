/*
 * fuzz_rcptcheck.c: the readers of the aliases file's names and of the
 * recipients file (smtpd/rcptcheck.c rcptcheck_match()), which smtpd runs
 * on files an operator writes, against a local part a client sends.
 *
 * Input: 1 byte (bit 0: the aliases reading), then the local part and the
 * domain, each cut at a NUL, then the file's text, in a malloc'd buffer of
 * exactly its size so ASan catches a read past it.  Checked:
 *   - the answer is 0 or 1, and the same again (no state kept);
 *   - a comment line or a blank line put before the text changes nothing;
 *   - the text with "BOX\n" (recipients) or "BOX: x\n" (aliases) put
 *     before it always knows a BOX without blanks, '#', '@', ':' or LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/rcptcheck.c"

void
refuse(struct session *s, int code, int counts, const char *from,
    const char *to, const char *words, const char *value)
{
	(void)s; (void)code; (void)counts; (void)from; (void)to;
	(void)words; (void)value;
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
known(const char *pre, const char *text, size_t len, int is_aliases,
    const char *box, const char *domain)
{
	size_t n = strlen(pre);
	char *buf;
	int rc;

	if ((buf = malloc(n + len + 1)) == NULL)
		abort();
	memcpy(buf, pre, n);
	memcpy(buf + n, text, len);
	rc = rcptcheck_match(buf, n + len, is_aliases, box, domain);
	free(buf);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char box[ADDR_LOCAL_MAX + 1], domain[HOST_MAX + 1], pre[80];
	const char *p = (const char *)data + 1, *end = (const char *)data +
	    size, *z;
	int is_aliases, rc, plain = 1;
	size_t n;

	if (size < 1)
		return 0;
	is_aliases = data[0] & 1;
	if ((z = memchr(p, '\0', (size_t)(end - p))) == NULL ||
	    (n = (size_t)(z - p)) > ADDR_LOCAL_MAX)
		return 0;
	memcpy(box, p, n);
	box[n] = '\0';
	p = z + 1;
	if (p > end || (z = memchr(p, '\0', (size_t)(end - p))) == NULL ||
	    (n = (size_t)(z - p)) > HOST_MAX)
		return 0;
	memcpy(domain, p, n);
	domain[n] = '\0';
	p = z + 1;
	n = (size_t)(end - p);
	rc = known("", p, n, is_aliases, box, domain);
	if (rc != 0 && rc != 1)
		abort();
	if (known("", p, n, is_aliases, box, domain) != rc ||
	    known("# x: y\n", p, n, is_aliases, box, domain) != rc ||
	    known("\n", p, n, is_aliases, box, domain) != rc)
		abort();
	if (box[0] == '\0' || strpbrk(box, " \t#@:\r\n") != NULL)
		plain = 0;
	snprintf(pre, sizeof(pre), is_aliases ? "%s: x\n" : "%s\n", box);
	if (plain && strlen(box) < 70 && known(pre, p, n, is_aliases, box,
	    domain) != 1)
		abort();
	return 0;
}
