/*
 * fuzz_addr.c: addr_parse(), addr_domain() and addr_domain_valid()
 * (common/addr.c) over arbitrary bytes.
 *
 * Input: one byte choosing the size of the address buffer, then the text
 * that follows "MAIL FROM:" or "RCPT TO:", cut at its first NUL as smtpd
 * would see it (it refuses command lines holding NUL), in a malloc'd
 * buffer of exactly that length + 1 so ASan catches a read past the NUL.
 * Checked: a parsed address fits its buffer and the RFC lengths, *rest
 * points into the input past any spaces, and parsing "<addr>" again gives
 * the same address (what smtpd accepted, smtpsend will accept from the
 * queue file); a valid domain is at most 255 octets.  The same for
 * addr_parse_utf8() (RFC 6531), which must agree with addr_parse() on
 * what that accepts and give only valid UTF-8; and addr_mailbox() on
 * what it accepts gives a name without '/', C0 or C1 controls.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const size_t sizes[] = {
	1, 2, 8, 64, ADDR_MAX, ADDR_MAX + 1, 1024
};

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Every non-ASCII octet of s is part of a valid UTF-8 sequence. */
static int
valid_utf8(const char *s)
{
	size_t n;

	while (*s != '\0') {
		if ((unsigned char)*s < 128)
			s++;
		else if ((n = addr_utf8_len(s)) == 0)
			return 0;
		else
			s += n;
	}
	return 1;
}

/* What addr_parse_utf8() gives: fits, valid UTF-8, round trip; and the
 * mailbox name of it, if any, is safe.  ascii: what addr_parse() gave
 * for s, NULL if it refused; the UTF-8 parser must give the same. */
static void
check_utf8(const char *s, size_t len, size_t asize, const char *ascii)
{
	char *addr, *again, *bracketed, box[ADDR_LOCAL_MAX + 1];
	const char *rest, *rest2;
	size_t alen, i;

	if ((addr = malloc(asize)) == NULL)
		abort();
	if (addr_parse_utf8(s, addr, asize, &rest) != 0) {
		if (ascii != NULL)
			abort();
		free(addr);
		return;
	}
	alen = strnlen(addr, asize);
	if (alen >= asize || alen + 2 > ADDR_MAX || !valid_utf8(addr))
		abort();
	if (rest < s || rest > s + len || *rest == ' ')
		abort();
	if (ascii != NULL && strcmp(ascii, addr) != 0)
		abort();
	if ((bracketed = malloc(alen + 3)) == NULL ||
	    (again = malloc(ADDR_MAX + 1)) == NULL)
		abort();
	bracketed[0] = '<';
	memcpy(bracketed + 1, addr, alen);
	memcpy(bracketed + 1 + alen, ">", 2);
	if (addr_parse_utf8(bracketed, again, ADDR_MAX + 1, &rest2) != 0 ||
	    strcmp(again, addr) != 0 || *rest2 != '\0')
		abort();
	if (addr_mailbox(addr, box, sizeof(box)) == 0) {
		if (box[0] == '.' || !valid_utf8(box))
			abort();
		for (i = 0; box[i] != '\0'; i++)
			if (box[i] == '/' || (unsigned char)box[i] < 33 ||
			    box[i] == 127 || ((unsigned char)box[i] == 0xc2 &&
			    (unsigned char)box[i + 1] < 0xa0))
				abort();
	}
	free(bracketed);
	free(again);
	free(addr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *addr, *again, *bracketed;
	const char *rest, *rest2, *domain;
	size_t asize, len, alen;

	if (size < 1)
		return 0;
	asize = sizes[data[0] % (sizeof(sizes) / sizeof(sizes[0]))];
	data++;
	size--;
	if ((s = malloc(size + 1)) == NULL || (addr = malloc(asize)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	len = strlen(s);

	if (addr_domain_valid(s) && len > ADDR_DOMAIN_MAX)
		abort();

	if (addr_parse(s, addr, asize, &rest) == 0) {
		alen = strnlen(addr, asize);
		if (alen >= asize || alen + 2 > ADDR_MAX)
			abort();
		if (rest < s || rest > s + len || *rest == ' ')
			abort();
		if ((domain = addr_domain(addr)) != NULL &&
		    (domain <= addr || domain > addr + alen))
			abort();
		/* Round trip: "<addr>" parses to addr, nothing left. */
		if ((bracketed = malloc(alen + 3)) == NULL ||
		    (again = malloc(ADDR_MAX + 1)) == NULL)
			abort();
		bracketed[0] = '<';
		memcpy(bracketed + 1, addr, alen);
		memcpy(bracketed + 1 + alen, ">", 2);
		if (addr_parse(bracketed, again, ADDR_MAX + 1, &rest2) != 0 ||
		    strcmp(again, addr) != 0 || *rest2 != '\0')
			abort();
		free(bracketed);
		free(again);
		check_utf8(s, len, asize, addr);
	} else
		check_utf8(s, len, asize, NULL);
	free(s);
	free(addr);
	return 0;
}
