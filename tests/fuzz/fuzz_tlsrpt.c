/*
 * fuzz_tlsrpt.c: the day's file of TLS report counts (smtpsend/tlsrpt.c,
 * included here) read by tlsrpt_report() whatever it holds, as smtpqctl
 * tlsrpt reads it: the input is written as QUEUE/tlsrpt/2026-01-01 of a
 * private queue and the report is printed into a memory stream.
 *
 * Checked: nothing is read outside a buffer (ASan); the report is made
 * (0); the report is ASCII without control characters but newlines, and its
 * braces and brackets balance outside strings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../smtpsend/tlsrpt.c"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char queue[64];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[1 << 20];
	char path[128];
	size_t i, len;
	long depth = 0;
	int fd, in_string = 0;
	FILE *f;

	if (queue[0] == '\0') {
		strcpy(queue, "/tmp/fuzz_tlsrpt.XXXXXX");
		if (mkdtemp(queue) == NULL)
			abort();
		snprintf(path, sizeof(path), "%s/tlsrpt", queue);
		if (mkdir(path, 0700) == -1)
			abort();
	}
	snprintf(path, sizeof(path), "%s/tlsrpt/2026-01-01", queue);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (size > 0 && write(fd, data, size) != (ssize_t)size) || close(fd))
		abort();
	if ((f = fmemopen(out, sizeof(out), "w")) == NULL)
		abort();
	if (tlsrpt_report(queue, "2026-01-01", "fuzz.example", f) != 0)
		abort();
	fclose(f);
	len = strlen(out);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		if ((c < 0x20 && c != '\n') || c >= 0x7f)
			abort();
		if (in_string && c == '\\')
			i++;
		else if (c == '"')
			in_string = !in_string;
		else if (!in_string && (c == '{' || c == '['))
			depth++;
		else if (!in_string && (c == '}' || c == ']') && --depth < 0)
			abort();
	}
	if (depth != 0 || in_string)
		abort();
	return 0;
}
