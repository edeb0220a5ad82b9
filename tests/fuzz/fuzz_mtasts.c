/*
 * fuzz_mtasts.c: smtpsend's MTA-STS readers (smtpsend/mtasts.c, included
 * here) on any bytes: mtasts_parse() as a policy web server could serve
 * (RFC 8461 3.2), mtasts_txt() as a TXT record could read (3.1).
 *
 * Checked: nothing is read outside the input (ASan); a policy taken has
 * a known mode, max_age within a year, at most MTASTS_MX_MAX mx
 * patterns, each a lower-case host name with at most a leading "*.",
 * and at least one unless the mode is none; parsing twice gives the same
 * policy; every mx pattern taken matches a host made from it; an id
 * taken is 1 to 32 letters and digits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpsend/mtasts.c"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_policy(const struct mtasts_policy *p)
{
	char host[DNS_NAME_MAX + 8];
	size_t i, k;

	if (p->mode > MTASTS_ENFORCE || p->max_age < 0 ||
	    p->max_age > MTASTS_MAX_AGE_MAX || p->nmx > MTASTS_MX_MAX ||
	    (p->mode != MTASTS_NONE && p->nmx == 0))
		abort();
	for (i = 0; i < p->nmx; i++) {
		if (!mtasts_is_host(p->mx[i], 1))
			abort();
		for (k = 0; p->mx[i][k] != '\0'; k++)
			if (p->mx[i][k] >= 'A' && p->mx[i][k] <= 'Z')
				abort();
		if (strncmp(p->mx[i], "*.", 2) == 0)
			snprintf(host, sizeof(host), "a%s", p->mx[i] + 1);
		else
			snprintf(host, sizeof(host), "%s", p->mx[i]);
		if (!mtasts_mx_match(p, host))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mtasts_policy p, q;
	static char txt[DNS_TXT_MAX + 1];
	char why[128], id[MTASTS_ID_MAX + 1];
	size_t i;
	int rc;

	rc = mtasts_parse((const char *)data, size, &p, why, sizeof(why));
	if (rc == 0)
		check_policy(&p);
	if (mtasts_parse((const char *)data, size, &q, why, sizeof(why)) != rc ||
	    (rc == 0 && memcmp(&p, &q, sizeof(p)) != 0))
		abort();
	if (size <= DNS_TXT_MAX) {
		memcpy(txt, data, size);
		txt[size] = '\0';
		rc = mtasts_txt(txt, id, sizeof(id));
		if (rc < -1 || rc > 1)
			abort();
		if (rc == 1) {
			if (id[0] == '\0' || strlen(id) > MTASTS_ID_MAX)
				abort();
			for (i = 0; id[i] != '\0'; i++)
				if (!((id[i] >= 'a' && id[i] <= 'z') ||
				    (id[i] >= 'A' && id[i] <= 'Z') ||
				    (id[i] >= '0' && id[i] <= '9')))
					abort();
		}
	}
	return 0;
}
