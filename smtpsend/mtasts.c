/*
 * mtasts.c: SMTP MTA Strict Transport Security (RFC 8461): whether a
 * domain asks that mail to it go only to its listed MX hosts, over TLS
 * verified for their names.
 *
 * The domain says so twice: a TXT record at _mta-sts.DOMAIN ("v=STSv1;
 * id=..."), read through resolve.c's bounded child, and a policy file at
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt, fetched by curl (no
 * TLS library is linked), with the certificate verified, no redirect
 * followed, bounded in size and time (RFC 8461 3.3), and read here by
 * our own parser: nothing in it is trusted until it is checked.  The
 * policy is kept under the queue, QUEUE/mta-sts/DOMAIN, written through
 * a temporary file and rename(), and used for max_age seconds, or until
 * the TXT record's id changes; when the policy host cannot be reached,
 * a cached policy that has not expired still holds (RFC 8461 5.1): that
 * is what stops an attacker who blocks the fetch.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tlspolicy.h"

#define MTASTS_LINE_MAX		1024	/* a policy line, longer: invalid */
#define MTASTS_DIR		"mta-sts"
#define MTASTS_CACHE_MAGIC	"smtpq-mta-sts 1\n"
/* Room for the cache file's head ("fetched N\nid ID\n") and curl's
 * trailer ("\nCODE TYPE"). */
#define MTASTS_HEAD_MAX		256

const char *
mtasts_mode_name(enum mtasts_mode m)
{
	static const char *const names[] = { "none", "testing", "enforce" };

	return names[m];
}

const char *
mtasts_action_name(enum mtasts_action a)
{
	static const char *const names[] = {
		"none", "verify", "refuse", "testing", "testing-mismatch"
	};

	return names[a];
}

/* Whether s is a host name (RFC 1123 2.1) of at most DNS_NAME_MAX
 * octets, after an optional "*." when is_pattern. */
static int
mtasts_is_host(const char *s, int is_pattern)
{
	size_t i, label = 0, n = strlen(s);

	if (is_pattern && strncmp(s, "*.", 2) == 0) {
		s += 2;
		n -= 2;
	}
	if (n == 0 || n > DNS_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label > 0 && s[n - 1] != '-';
}

int
mtasts_is_host_name(const char *s)
{
	return mtasts_is_host(s, 0);
}

static void
mtasts_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* One "key: value" line of a policy into p; seen marks the fields met. */
static int
mtasts_field(char *line, struct mtasts_policy *p, unsigned *seen, char *why,
    size_t size)
{
	char *colon, *value, *end, *stop;
	unsigned long n;

	/* RFC 8461 3.2: field-name ":" *WSP field-value *WSP */
	if ((colon = strchr(line, ':')) == NULL) {
		snprintf(why, size, "a line without a colon");
		return -1;
	}
	*colon = '\0';
	value = colon + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	end = value + strlen(value);
	while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	/* A field other than mx given twice: the first one counts. */
	if (strcmp(line, "version") == 0 && !(*seen & 1)) {
		*seen |= 1;
		if (strcmp(value, "STSv1") != 0) {
			snprintf(why, size, "version is not STSv1");
			return -1;
		}
	} else if (strcmp(line, "mode") == 0 && !(*seen & 2)) {
		*seen |= 2;
		if (strcmp(value, "enforce") == 0)
			p->mode = MTASTS_ENFORCE;
		else if (strcmp(value, "testing") == 0)
			p->mode = MTASTS_TESTING;
		else if (strcmp(value, "none") == 0)
			p->mode = MTASTS_NONE;
		else {
			snprintf(why, size, "mode is not enforce, testing or "
			    "none");
			return -1;
		}
	} else if (strcmp(line, "max_age") == 0 && !(*seen & 4)) {
		*seen |= 4;
		/* 1*10DIGIT, at most 31557600 */
		errno = 0;
		n = strtoul(value, &stop, 10);
		if (*value < '0' || *value > '9' || *stop != '\0' ||
		    errno != 0 || strlen(value) > 10 || n > MTASTS_MAX_AGE_MAX) {
			snprintf(why, size, "max_age is not a number of "
			    "seconds up to a year");
			return -1;
		}
		p->max_age = (long)n;
	} else if (strcmp(line, "mx") == 0) {
		if (!mtasts_is_host(value, 1)) {
			snprintf(why, size, "an mx pattern that is no host name");
			return -1;
		}
		if (p->nmx < MTASTS_MX_MAX) {
			strcpy(p->mx[p->nmx], value);
			mtasts_lower(p->mx[p->nmx++]);
		}
	}
	/* RFC 8461 3.2: other fields are extensions, ignored. */
	return 0;
}

int
mtasts_parse(const char *text, size_t len, struct mtasts_policy *p,
    char *why, size_t size)
{
	char line[MTASTS_LINE_MAX + 1];
	size_t pos = 0, n;
	unsigned seen = 0;
	const char *nl;

	memset(p, 0, sizeof(*p));
	if (len > MTASTS_POLICY_MAX || memchr(text, '\0', len) != NULL) {
		snprintf(why, size, "policy too long, or not text");
		return -1;
	}
	while (pos < len) {
		nl = memchr(text + pos, '\n', len - pos);
		n = (nl != NULL ? (size_t)(nl - text) : len) - pos;
		if (n > MTASTS_LINE_MAX) {
			snprintf(why, size, "a policy line too long");
			return -1;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')	/* CRLF or LF */
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (mtasts_field(line, p, &seen, why, size) == -1)
			return -1;
	}
	if ((seen & 7) != 7) {
		snprintf(why, size, "version, mode or max_age missing");
		return -1;
	}
	if (p->mode != MTASTS_NONE && p->nmx == 0) {
		snprintf(why, size, "no mx in a policy that is not mode none");
		return -1;
	}
	return 0;
}

int
mtasts_txt(const char *txt, char *id, size_t size)
{
	const char *p = txt, *end;
	size_t n;
	int has_id = 0;

	/* RFC 8461 3.1: "v=STSv1" first, then "; id=1*32(ALPHA/DIGIT)",
	 * fields separated by ";" and optional spaces. */
	if (strncmp(p, "v=STSv1", 7) != 0 || (p[7] != ';' && p[7] != ' ' &&
	    p[7] != '\t' && p[7] != '\0'))
		return 0;
	p += 7;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != ';')
			return -1;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		end = p + strcspn(p, "; \t");
		if (strncmp(p, "id=", 3) == 0 && !has_id) {
			n = (size_t)(end - p) - 3;
			if (n == 0 || n > MTASTS_ID_MAX || n >= size)
				return -1;
			memcpy(id, p + 3, n);
			id[n] = '\0';
			for (n = 0; id[n] != '\0'; n++)
				if (!((id[n] >= 'a' && id[n] <= 'z') ||
				    (id[n] >= 'A' && id[n] <= 'Z') ||
				    (id[n] >= '0' && id[n] <= '9')))
					return -1;
			has_id = 1;
		}
		p = end;
	}
	return has_id ? 1 : -1;
}

int
mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	const char *dot;
	size_t i;

	for (i = 0; i < p->nmx; i++) {
		/* RFC 8461 4.1: "*." stands for exactly one label. */
		if (strncmp(p->mx[i], "*.", 2) == 0) {
			dot = strchr(host, '.');
			if (dot != NULL && dot != host &&
			    strcasecmp(dot + 1, p->mx[i] + 2) == 0)
				return 1;
		} else if (strcasecmp(host, p->mx[i]) == 0)
			return 1;
	}
	return 0;
}

enum mtasts_action
mtasts_check(const struct mtasts_policy *p, const char *host)
{
	int is_match;

	if (p == NULL || p->mode == MTASTS_NONE)
		return MTASTS_ACT_NONE;
	is_match = mtasts_mx_match(p, host);
	if (p->mode == MTASTS_TESTING)
		return is_match ? MTASTS_ACT_TESTING :
		    MTASTS_ACT_TESTING_MISMATCH;
	return is_match ? MTASTS_ACT_VERIFY : MTASTS_ACT_REFUSE;
}

/* QUEUE/mta-sts, opened (made when missing), never through a link. */
static int
mtasts_dir(const char *queue_dir, int is_made)
{
	char path[4096];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", queue_dir, MTASTS_DIR) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (is_made && mkdir(path, 0700) == -1 && errno != EEXIST)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd;
}

/* Reads at most size octets of fd into buf: the length, or -1 (more). */
static ssize_t
mtasts_read_all(int fd, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? (ssize_t)len : -1;
		len += (size_t)n;
		if (len == size)
			return -1;	/* too long for what we keep */
	}
}

/* The cached policy of domain into p: 1, 0 for none or a bad one. */
static int
mtasts_cache_read(const char *queue_dir, const char *domain,
    struct mtasts_policy *p)
{
	static char buf[MTASTS_POLICY_MAX + MTASTS_HEAD_MAX];
	char why[128], *text, *end;
	long long fetched;
	size_t n;
	ssize_t len;
	int dir, fd;

	if ((dir = mtasts_dir(queue_dir, 0)) == -1)
		return 0;
	fd = openat(dir, domain, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	close(dir);
	if (fd == -1)
		return 0;
	len = mtasts_read_all(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0)
		return 0;
	buf[len] = '\0';
	/* Our own file, read as strictly as any input. */
	if (strncmp(buf, MTASTS_CACHE_MAGIC, strlen(MTASTS_CACHE_MAGIC)) != 0)
		return 0;
	text = buf + strlen(MTASTS_CACHE_MAGIC);
	if (strncmp(text, "fetched ", 8) != 0 || text[8] < '0' ||
	    text[8] > '9')
		return 0;
	errno = 0;
	fetched = strtoll(text + 8, &end, 10);
	if (errno != 0 || strncmp(end, "\nid ", 4) != 0)
		return 0;
	text = end + 4;
	n = strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789");
	if (n == 0 || n > MTASTS_ID_MAX || text[n] != '\n')
		return 0;
	if (mtasts_parse(text + n + 1, (size_t)(buf + len - text) - n - 1, p,
	    why, sizeof(why)) == -1)
		return 0;
	memcpy(p->id, text, n);
	p->id[n] = '\0';
	p->fetched = (time_t)fetched;
	p->is_cached = 1;
	return 1;
}

/* Keeps text, domain's policy fetched now with id, as its cache file. */
static int
mtasts_cache_write(const char *queue_dir, const char *domain,
    const char *id, time_t now, const char *text, size_t len)
{
	char tmp[DNS_NAME_MAX + 32];
	int dir, fd, rc = 0;

	if ((dir = mtasts_dir(queue_dir, 1)) == -1)
		return -1;
	snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", domain, (long)getpid());
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		close(dir);
		return -1;
	}
	if (dprintf(fd, "%sfetched %lld\nid %s\n", MTASTS_CACHE_MAGIC,
	    (long long)now, id) < 0 || out_all(fd, text, len) == -1 ||
	    fsync(fd) == -1)
		rc = -1;
	if (close(fd) == -1)
		rc = -1;
	if (rc == 0 && renameat(dir, tmp, dir, domain) == -1)
		rc = -1;
	if (rc == -1)
		(void)unlinkat(dir, tmp, 0);
	close(dir);
	return rc;
}

/* curl(1)'s EXIT CODES: the common ones in words, for the log. */
static const char *
mtasts_curl_why(int code)
{
	switch (code) {
	case 6:
		return ": the policy host has no address";
	case 7:
		return ": the policy host refused the connection";
	case 28:
		return ": timeout";
	case 35:
	case 51:
	case 60:
		return ": TLS failed or the certificate is not trusted";
	case 63:
		return ": policy too long";
	case 127:
		return ": curl not found";
	default:
		return "";
	}
}

/* Reads fd into buf until its end, due, a SIGTERM or buf full: the
 * length; -1 with why "no answer in time" or "policy too long". */
static ssize_t
mtasts_read(int fd, long long due, char *buf, size_t size, char *why,
    size_t whysize)
{
	size_t len = 0;
	ssize_t n;

	for (;;) {
		if (sig_wait(fd, 0, due, 1) == -1) {
			snprintf(why, whysize, "no answer in time");
			return -1;
		}
		n = read(fd, buf + len, size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (ssize_t)len;
		len += (size_t)n;
		if (len == size) {
			/* longer than any policy we take */
			snprintf(why, whysize, "policy too long");
			return -1;
		}
	}
}

/* Runs curl for domain's policy: its output (body, "\n", "CODE TYPE")
 * into buf, its length; -1 with why. */
static ssize_t
mtasts_curl(const char *domain, int timeout, char *buf, size_t size,
    char *why, size_t whysize)
{
	char url[DNS_NAME_MAX + 64], seconds[16], filesize[16];
	/* No --cacert: curl's own bundle, the system's CAs (RFC 8461 3.3);
	 * a relay's private CA (-C) vouches for no policy host.  https
	 * only, and RFC 8461 3.3: no redirect. */
	const char *argv[] = { "curl", "--silent", "--proto", "=https",
	    "--max-redirs", "0", "--max-filesize", filesize, "--max-time",
	    seconds, "--output", "-", "--write-out",
	    "\n%{http_code} %{content_type}", "--", url, NULL };
	struct prog p = { NULL, (char *const *)argv,
	    { PROG_NULL, PROG_FROM, PROG_NULL, PROG_NULL }, 127, 0 };
	int ours[PROG_FDS], status, code;
	ssize_t len;
	pid_t pid;

	snprintf(url, sizeof(url), "https://mta-sts.%s/.well-known/"
	    "mta-sts.txt", domain);
	snprintf(seconds, sizeof(seconds), "%d", timeout > 0 ? timeout : 60);
	snprintf(filesize, sizeof(filesize), "%d", MTASTS_POLICY_MAX);
	if ((pid = prog_start(&p, ours)) == -1) {
		snprintf(why, whysize, "unable to start curl: %s",
		    strerror(errno));
		return -1;
	}
	/* curl's --max-time, and a little more of ours. */
	len = mtasts_read(ours[1], line_now() + (long long)(timeout > 0 ?
	    timeout + 2 : 62) * 1000000000LL, buf, size, why, whysize);
	close(ours[1]);
	if (len == -1) {
		prog_end(pid, SIGKILL, NULL);
		return -1;
	}
	if (prog_wait(pid, &status) == -1) {
		snprintf(why, whysize, "waitpid: %s", strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		snprintf(why, whysize, "curl failed (exit %d%s)", code,
		    mtasts_curl_why(code));
		return -1;
	}
	return len;
}

/* Fetches domain's policy into p (id the TXT record's): 0, or -1. */
static int
mtasts_fetch(const char *queue_dir, const char *domain, int timeout,
    const char *id, struct mtasts_policy *p, char *why, size_t size)
{
	static char buf[MTASTS_POLICY_MAX + MTASTS_HEAD_MAX];
	char reason[200];
	const char *trailer;
	ssize_t len;
	size_t body;
	time_t now = time(NULL);

	len = mtasts_curl(domain, timeout, buf, sizeof(buf) - 1,
	    reason, sizeof(reason));
	if (len == -1) {
		snprintf(why, size, "fetch failed: %s", reason);
		return -1;
	}
	buf[len] = '\0';
	if ((trailer = strrchr(buf, '\n')) == NULL) {
		snprintf(why, size, "fetch failed: curl said nothing");
		return -1;
	}
	body = (size_t)(trailer - buf);
	trailer++;
	/* RFC 8461 3.3: 200, and text/plain (parameters allowed). */
	if (strncmp(trailer, "200 ", 4) != 0) {
		snprintf(why, size, "fetch failed: HTTP status %.3s, not 200",
		    trailer);
		return -1;
	}
	if (strncasecmp(trailer + 4, "text/plain", 10) != 0 ||
	    (trailer[14] != '\0' && trailer[14] != ';' && trailer[14] != ' ')) {
		snprintf(why, size, "fetch failed: the policy is not "
		    "text/plain");
		return -1;
	}
	if (mtasts_parse(buf, body, p, reason, sizeof(reason)) == -1) {
		snprintf(why, size, "policy invalid: %s", reason);
		return -1;
	}
	strcpy(p->id, id);
	p->fetched = now;
	if (mtasts_cache_write(queue_dir, domain, id, now, buf, body) == -1)
		snprintf(why, size, "fetched id %s, not cached: %s", id,
		    strerror(errno));
	else
		snprintf(why, size, "fetched id %s", id);
	return 0;
}

int
mtasts_lookup(const char *queue_dir, const char *domain, int timeout,
    struct mtasts_policy *p, char *why, size_t size)
{
	static char txt[DNS_TXT_RECORDS_MAX][DNS_TXT_MAX + 1];
	static struct mtasts_policy cached;
	char name[DNS_NAME_MAX + 1], qname[DNS_NAME_MAX + 1], err[256];
	char id[MTASTS_ID_MAX + 1] = "", other[MTASTS_ID_MAX + 1] = "";
	enum dns_status st;
	size_t n, i;
	int is_authentic, has_cache, is_fresh, found = 0, rc;
	time_t now = time(NULL);

	memset(p, 0, sizeof(*p));
	if (!mtasts_is_host(domain, 0) || strlen(domain) + 10 > DNS_NAME_MAX) {
		snprintf(why, size, "%.64s: not a domain name", domain);
		return 0;
	}
	strcpy(name, domain);
	mtasts_lower(name);
	has_cache = mtasts_cache_read(queue_dir, name, &cached);
	is_fresh = has_cache && cached.fetched <= now &&
	    now - cached.fetched < cached.max_age;
	snprintf(qname, sizeof(qname), "_mta-sts.%s", name);
	st = resolve_txt(qname, timeout, txt, DNS_TXT_RECORDS_MAX, &n,
	    &is_authentic, err, sizeof(err));
	/* RFC 8461 3.1: exactly one STSv1 record, or none is there. */
	for (i = 0; st == DNS_OK && i < n; i++) {
		rc = mtasts_txt(txt[i], found ? other : id, sizeof(id));
		if (rc != 0)
			found = rc == 1 && !found ? 1 : -1;
	}
	if (found != 1) {
		/* RFC 8461 5.1: no record (or a failed lookup): a policy
		 * still cached holds; an attacker may have removed it. */
		if (is_fresh) {
			*p = cached;
			snprintf(why, size, "no usable TXT record (%s), the "
			    "cached policy id %s holds", st == DNS_TEMP ? err :
			    found == -1 ? "malformed or more than one" :
			    "none", p->id);
			return 1;
		}
		snprintf(why, size, "no MTA-STS policy (%s)", st == DNS_TEMP ?
		    err : found == -1 ? "TXT record malformed or more than "
		    "one" : "no TXT record");
		return 0;
	}
	if (is_fresh && strcmp(cached.id, id) == 0) {
		*p = cached;
		snprintf(why, size, "cached policy id %s", id);
		return 1;
	}
	if (mtasts_fetch(queue_dir, name, timeout, id, p, why,
	    size) == 0)
		return 1;
	/* RFC 8461 5.1: the host unreachable, or the new policy invalid:
	 * the cached one, if any, holds until it expires. */
	if (is_fresh) {
		*p = cached;
		snprintf(err, sizeof(err), "%s", why);
		snprintf(why, size, "%s; the cached policy id %s holds", err,
		    p->id);
		return 1;
	}
	memset(p, 0, sizeof(*p));
	return 0;
}
