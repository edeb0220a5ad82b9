/*
 * tlsrpt.c: SMTP TLS Reporting (RFC 8460), the part that needs no
 * sending: per UTC day, one line per session to an MX host under
 * queue_dir/tlsrpt/YYYY-MM-DD ("DOMAIN POLICY RESULT HOST"), appended in
 * one write() so that concurrent deliveries do not mix their lines; and
 * the day's report, the JSON of RFC 8460 4.4, counted from those lines.
 *
 * The day's file is read as input: a line that is not four known tokens
 * (host names, a policy type, a result type of RFC 8460 4.3) is skipped,
 * counts and tables are bounded, and every string printed is escaped.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlspolicy.h"

#define TLSRPT_DIR		"tlsrpt"
#define TLSRPT_LINE_MAX		(2 * DNS_NAME_MAX + 64)
#define TLSRPT_POLICIES_MAX	256	/* domain and policy pairs a day */
#define TLSRPT_FAILURES_MAX	16	/* result and host pairs of one */

static const char *const tlsrpt_policies[] = {
	"sts", "tlsa", "no-policy-found"
};

/* RFC 8460 4.3: the result types. */
static const char *const tlsrpt_results[] = {
	"starttls-not-supported", "certificate-host-mismatch",
	"certificate-expired", "certificate-not-trusted",
	"validation-failure", "tlsa-invalid", "dnssec-invalid",
	"dane-required", "sts-policy-fetch-error", "sts-policy-invalid",
	"sts-webpki-invalid"
};
#define TLSRPT_RESULTS	(sizeof(tlsrpt_results) / sizeof(tlsrpt_results[0]))

struct tlsrpt_failure {
	unsigned	result;			/* index in tlsrpt_results */
	char		host[DNS_NAME_MAX + 1];
	unsigned long	count;
};

struct tlsrpt_entry {
	char			domain[DNS_NAME_MAX + 1];
	unsigned		policy;
	unsigned long		ok, failed;
	size_t			nfail;
	struct tlsrpt_failure	fail[TLSRPT_FAILURES_MAX];
};

/* A host name, as dns.c keeps them (lower case letters, digits, '-',
 * '.', '_'), of at most DNS_NAME_MAX octets. */
static int
tlsrpt_is_name(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= DNS_NAME_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-._") == n &&
	    s[0] != '.' && s[0] != '-';
}

/* Index of s in names (n of them), or -1. */
static int
tlsrpt_index(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* queue_dir/tlsrpt, opened (made when is_made), never through a link. */
static int
tlsrpt_dir(const char *queue_dir, int is_made)
{
	char path[4096];

	if (snprintf(path, sizeof(path), "%s/%s", queue_dir, TLSRPT_DIR) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (is_made && mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

int
tlsrpt_record(const char *queue_dir, const char *domain,
    enum tlsrpt_policy policy, const char *result, const char *host)
{
	char day[16], line[TLSRPT_LINE_MAX + 1];
	struct tm tm;
	time_t now = time(NULL);
	ssize_t n;
	int dir, fd, len, rc = 0;

	if (!tlsrpt_is_name(domain) || (host != NULL && !tlsrpt_is_name(host)) ||
	    (result != NULL && tlsrpt_index(tlsrpt_results, TLSRPT_RESULTS,
	    result) == -1)) {
		errno = EINVAL;
		return -1;
	}
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%d", &tm) == 0) {
		errno = EINVAL;
		return -1;
	}
	len = snprintf(line, sizeof(line), "%s %s %s %s\n", domain,
	    tlsrpt_policies[policy], result != NULL ? result : "success",
	    host != NULL ? host : "-");
	if (len < 0 || len >= (int)sizeof(line)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((dir = tlsrpt_dir(queue_dir, 1)) == -1)
		return -1;
	fd = openat(dir, day, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	close(dir);
	if (fd == -1)
		return -1;
	/* One write of a line: O_APPEND puts it whole at the end. */
	do
		n = write(fd, line, (size_t)len);
	while (n == -1 && errno == EINTR);
	if (n != len)
		rc = -1;
	if (close(fd) == -1)
		rc = -1;
	return rc;
}

/* Adds one line of the day's file to the table; malformed: skipped. */
static void
tlsrpt_count(char *line, struct tlsrpt_entry *e, size_t *n)
{
	char *word[4], *last;
	int policy, result = -1, i;
	size_t k;

	for (i = 0; i < 4; i++)
		if ((word[i] = strtok_r(i == 0 ? line : NULL, " \n", &last)) ==
		    NULL)
			return;
	if (strtok_r(NULL, " \n", &last) != NULL || !tlsrpt_is_name(word[0]) ||
	    (policy = tlsrpt_index(tlsrpt_policies, 3, word[1])) == -1 ||
	    (strcmp(word[2], "success") != 0 && (result = tlsrpt_index(
	    tlsrpt_results, TLSRPT_RESULTS, word[2])) == -1) ||
	    (strcmp(word[3], "-") != 0 && !tlsrpt_is_name(word[3])))
		return;
	for (k = 0; k < *n; k++)
		if (e[k].policy == (unsigned)policy &&
		    strcmp(e[k].domain, word[0]) == 0)
			break;
	if (k == *n) {
		if (*n == TLSRPT_POLICIES_MAX)
			return;		/* XXX: the rest of a busy day */
		memset(&e[k], 0, sizeof(e[k]));
		strcpy(e[k].domain, word[0]);
		e[k].policy = (unsigned)policy;
		(*n)++;
	}
	if (result == -1) {
		e[k].ok++;
		return;
	}
	e[k].failed++;
	for (i = 0; (size_t)i < e[k].nfail; i++)
		if (e[k].fail[i].result == (unsigned)result &&
		    strcmp(e[k].fail[i].host, word[3]) == 0)
			break;
	if ((size_t)i == e[k].nfail) {
		if (e[k].nfail == TLSRPT_FAILURES_MAX)
			return;	/* counted in the total, not detailed */
		e[k].fail[i].result = (unsigned)result;
		strcpy(e[k].fail[i].host, word[3]);
		e[k].fail[i].count = 0;
		e[k].nfail++;
	}
	e[k].fail[i].count++;
}

/* s as a JSON string (RFC 8259 7). */
static void
tlsrpt_json(FILE *out, const char *s)
{
	putc('"', out);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			putc(c, out);
	}
	putc('"', out);
}

int
tlsrpt_report(const char *queue_dir, const char *day, const char *org,
    FILE *out)
{
	static struct tlsrpt_entry e[TLSRPT_POLICIES_MAX];
	char line[TLSRPT_LINE_MAX + 2], id[128];
	size_t n = 0, k, i;
	int dir, fd, is_long = 0, was_long;
	FILE *f;

	/* YYYY-MM-DD, nothing else: it names a file. */
	for (i = 0; i < 10; i++)
		if (day[i] == '\0' || ((i == 4 || i == 7) ? day[i] != '-' :
		    (day[i] < '0' || day[i] > '9'))) {
			errno = EINVAL;
			return -1;
		}
	if (day[10] != '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((dir = tlsrpt_dir(queue_dir, 0)) == -1)
		return errno == ENOENT ? 1 : -1;
	fd = openat(dir, day, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dir);
	if (fd == -1)
		return errno == ENOENT ? 1 : -1;
	if ((f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		was_long = is_long;
		is_long = strchr(line, '\n') == NULL && !feof(f);
		if (!was_long && !is_long)
			tlsrpt_count(line, e, &n);
	}
	fclose(f);
	snprintf(id, sizeof(id), "%s_%s", day, org);
	/* RFC 8460 4.4 */
	fprintf(out, "{\n  \"organization-name\": ");
	tlsrpt_json(out, org);
	fprintf(out, ",\n  \"date-range\": {\n    \"start-datetime\": "
	    "\"%sT00:00:00Z\",\n    \"end-datetime\": \"%sT23:59:59Z\"\n"
	    "  },\n  \"contact-info\": ", day, day);
	snprintf(line, sizeof(line), "postmaster@%s", org);
	tlsrpt_json(out, line);
	fprintf(out, ",\n  \"report-id\": ");
	tlsrpt_json(out, id);
	fprintf(out, ",\n  \"policies\": [");
	for (k = 0; k < n; k++) {
		fprintf(out, "%s\n    {\n      \"policy\": {\n        "
		    "\"policy-type\": \"%s\",\n        \"policy-domain\": ",
		    k > 0 ? "," : "", tlsrpt_policies[e[k].policy]);
		tlsrpt_json(out, e[k].domain);
		fprintf(out, "\n      },\n      \"summary\": {\n        "
		    "\"total-successful-session-count\": %lu,\n        "
		    "\"total-failure-session-count\": %lu\n      },\n      "
		    "\"failure-details\": [", e[k].ok, e[k].failed);
		for (i = 0; i < e[k].nfail; i++) {
			fprintf(out, "%s\n        {\n          \"result-type\": "
			    "\"%s\",\n", i > 0 ? "," : "",
			    tlsrpt_results[e[k].fail[i].result]);
			if (strcmp(e[k].fail[i].host, "-") != 0) {
				fprintf(out, "          "
				    "\"receiving-mx-hostname\": ");
				tlsrpt_json(out, e[k].fail[i].host);
				fprintf(out, ",\n");
			}
			fprintf(out, "          \"failed-session-count\": "
			    "%lu\n        }", e[k].fail[i].count);
		}
		fprintf(out, "%s]\n    }", e[k].nfail > 0 ? "\n      " : "");
	}
	fprintf(out, "%s]\n}\n", n > 0 ? "\n  " : "");
	return ferror(out) ? -1 : 0;
}
