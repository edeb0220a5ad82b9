/*
 * smtpqctl-doctor.c: "smtpqctl doctor [DOMAIN [ADDRESS]]" (smtpqctl(8)):
 * what receivers check of mail from DOMAIN sent from ADDRESS, looked up
 * in DNS as the world sees it (the resolver of /etc/resolv.conf):
 *
 *   ptr    ADDRESS has a PTR whose name resolves back to it (FCrDNS)
 *   spf    DOMAIN's SPF record (RFC 7208) lets ADDRESS send
 *   dkim   each dkim key's record (RFC 6376 3.6) holds its public key
 *   dmarc  _dmarc.DOMAIN has a DMARC record (RFC 7489 6.1) with a policy
 *   mx     DOMAIN has MX hosts (replies and bounces can come back)
 *
 * One line each: ok, missing, wrong or unknown (DNS did not answer), and
 * for missing or wrong the record to publish.  DOMAIN defaults to the
 * first dkim line's; ADDRESS to the source address the kernel picks to
 * reach the Internet.  Text from DNS is printed escaped.  SPF is
 * evaluated for ip4, ip6, a, mx, include, redirect and all, within RFC
 * 7208 4.6.4's ten lookups; a record that needs more (ptr, exists,
 * macros) is reported unknown.  Exit 0 when all is ok, 1 when something
 * is missing or wrong, 75 when DNS did not answer.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "smtpqctl.h"

#define DOCTOR_KEYS_MAX		16	/* dkim lines kept */
#define DOCTOR_TIMEOUT		10	/* seconds, each lookup */
#define DOCTOR_TXT_MAX		4096	/* one TXT record's text */
#define DOCTOR_LOOKUPS_MAX	10	/* RFC 7208 4.6.4 */

enum verdict { V_OK, V_MISSING, V_WRONG, V_UNKNOWN };
static const char *const verdicts[] = { "ok", "missing", "wrong", "unknown" };

static struct {
	char	domain[DNS_NAME_MAX + 1];
	char	selector[64];
	char	keyfile[PATH_MAX];
} keys[DOCTOR_KEYS_MAX];
static size_t nkeys;
static int worst;		/* the exit status so far */
static char hostname[HOST_MAX + 1];

/* A dkim line of smtpq.conf (-D): kept as it is, checked when used. */
void
doctor_dkim(const char *line)
{
	char d[DNS_NAME_MAX + 1], s[64], k[PATH_MAX];
	const char *p = line;
	size_t n, i;
	char *words[3] = { d, s, k };
	const size_t sizes[3] = { sizeof(d), sizeof(s), sizeof(k) };

	if (nkeys == DOCTOR_KEYS_MAX)
		return;
	for (i = 0; i < 3; i++) {
		p += strspn(p, " \t");
		n = strcspn(p, " \t");
		if (n == 0 || n >= sizes[i])
			return;		/* smtpsend's check says what */
		memcpy(words[i], p, n);
		words[i][n] = '\0';
		p += n;
	}
	memcpy(keys[nkeys].domain, d, sizeof(d));
	memcpy(keys[nkeys].selector, s, sizeof(s));
	memcpy(keys[nkeys].keyfile, k, sizeof(k));
	nkeys++;
}

/* One line of the report; the status follows the worst verdict. */
static void
report(const char *check, enum verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
report(const char *check, enum verdict v, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* A reason may quote a record: escaped, as all text from DNS. */
	printf("%-6s %-8s ", check, verdicts[v]);
	print_esc(stdout, line, 1);
	printf("\n");
	if (v == V_UNKNOWN)
		worst = EXIT_TEMPFAIL;
	else if (v != V_OK && worst == 0)
		worst = 1;
}

static void
publish(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
publish(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	printf("       publish: ");
	print_esc(stdout, line, 1);
	printf("\n");
}

/*
 * The TXT records of name whose text starts with prefix (case ignored
 * when is_nocase), into txt[max], *n of them: 0; 1 when the name has
 * none (NXDOMAIN, NODATA); -1 with err when DNS did not answer.
 */
static int
txt_lookup(const char *name, const char *prefix, int is_nocase,
    char (*txt)[DOCTOR_TXT_MAX], size_t max, size_t *n, char *err,
    size_t errsize)
{
	static unsigned char msg[DNS_MSG_MAX];
	struct dns_answer a;
	struct dns_rr rr;
	enum dns_status st;
	size_t plen = strlen(prefix);
	int len, rc;

	*n = 0;
	if ((len = resolve_query(name, DNS_TYPE_TXT, DOCTOR_TIMEOUT, msg,
	    sizeof(msg), err, errsize)) == -1)
		return -1;
	st = dns_open(&a, msg, (size_t)len);
	if (st == DNS_NXDOMAIN || st == DNS_NODATA)
		return 1;
	if (st != DNS_OK) {
		snprintf(err, errsize, "%s: a server failure or a malformed "
		    "answer", name);
		return -1;
	}
	while ((rc = dns_next(&a, &rr)) == 1) {
		if (rr.type != DNS_TYPE_TXT || *n == max ||
		    dns_rr_txt(&a, &rr, txt[*n], sizeof(txt[0])) == -1)
			continue;
		if ((is_nocase ? strncasecmp(txt[*n], prefix, plen) :
		    strncmp(txt[*n], prefix, plen)) == 0 && (plen == 0 ||
		    txt[*n][plen] == '\0' || txt[*n][plen] == ' ' ||
		    txt[*n][plen] == ';' || txt[*n][plen] == '\t'))
			++*n;
	}
	if (rc == -1) {
		snprintf(err, errsize, "%s: a malformed answer", name);
		return -1;
	}
	return *n == 0 ? 1 : 0;
}

/* name's addresses as /32 or /128 networks.  Their number, or -1. */
static int
addr_lookup(const char *name, struct cidr *out, size_t max)
{
	struct net_addrs addrs;
	char err[256];
	size_t i, n = 0;

	if (net_resolve(name, "25", DOCTOR_TIMEOUT, &addrs, err,
	    sizeof(err)) == -1)
		return -1;
	for (i = 0; i < addrs.n && n < max; i++) {
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = addrs.a[i].family;
		if (addrs.a[i].family == AF_INET) {
			memcpy(out[n].addr, &((const struct sockaddr_in *)
			    (const void *)&addrs.a[i].ss)->sin_addr, 4);
			out[n].bits = 32;
		} else {
			memcpy(out[n].addr, &((const struct sockaddr_in6 *)
			    (const void *)&addrs.a[i].ss)->sin6_addr, 16);
			out[n].bits = 128;
		}
		n++;
	}
	return (int)n;
}

/* Whether one of name's addresses, widened to bits4 or bits6, holds
 * host. */
static int
addr_covers(const char *name, unsigned bits4, unsigned bits6,
    const struct cidr *host)
{
	struct cidr a[NET_ADDRS_MAX];
	int i, n = addr_lookup(name, a, NET_ADDRS_MAX);

	for (i = 0; i < n; i++) {
		a[i].bits = a[i].family == AF_INET ? bits4 : bits6;
		if (net_cidr_match(&a[i], host))
			return 1;
	}
	return 0;
}

/* --- SPF (RFC 7208) --------------------------------------------------- */

struct spf {
	const struct cidr	*host;
	int			 lookups;
	char			 why[256];
};

/*
 * "a", "mx" with their optional ":domain" and "/cidr" or "//cidr6"
 * (RFC 7208 5.3, 5.4): whether host is among the addresses.  -1 past
 * the lookup bound or on a malformed term.
 */
static int
spf_names(struct spf *s, const char *domain, const char *arg, int is_mx)
{
	char spec[DNS_NAME_MAX + 16], err[256], *cidr, *cidr6 = NULL;
	const char *target = domain;
	struct dns_mx mx[DNS_MX_MAX];
	unsigned long b4 = 32, b6 = 128;
	size_t i, n;
	int is_authentic;

	if ((*arg != ':' && *arg != '/' && *arg != '\0') ||
	    strlen(arg) >= sizeof(spec))
		return -1;
	memcpy(spec, arg, strlen(arg) + 1);
	/* RFC 7208 5.6 dual-cidr-length: "/n", "//m", "/n//m". */
	if ((cidr = strchr(spec, '/')) != NULL) {
		*cidr++ = '\0';
		if (*cidr == '/') {
			cidr6 = cidr + 1;
			cidr = NULL;
		} else if ((cidr6 = strstr(cidr, "//")) != NULL) {
			*cidr6 = '\0';
			cidr6 += 2;
		}
		if ((cidr != NULL && opt_number(cidr, 32, &b4) == -1) ||
		    (cidr6 != NULL && opt_number(cidr6, 128, &b6) == -1))
			return -1;
	}
	if (spec[0] == ':')
		target = spec + 1;
	if (++s->lookups > DOCTOR_LOOKUPS_MAX)
		return -1;
	if (!is_mx)
		return addr_covers(target, (unsigned)b4, (unsigned)b6, s->host);
	if (resolve_mx(target, DOCTOR_TIMEOUT, mx, DNS_MX_MAX, &n,
	    &is_authentic, err, sizeof(err)) != DNS_OK)
		return 0;
	/* 4.6.4: at most ten MX names looked up. */
	for (i = 0; i < n && i < DOCTOR_LOOKUPS_MAX; i++)
		if (addr_covers(mx[i].host, (unsigned)b4, (unsigned)b6,
		    s->host))
			return 1;
	return 0;
}

static int spf_check(struct spf *, const char *, int);

/* One term of domain's record, its qualifier gone: 1 it matches s->host,
 * 0 it does not (a modifier; redirect= is kept in redirect), -1 with
 * s->why when it cannot be told. */
static int
spf_term(struct spf *s, const char *domain, const char *term, int depth,
    char *redirect, size_t redirect_size)
{
	struct cidr net;
	int match;

	if (strchr(term, '%') != NULL) {
		snprintf(s->why, sizeof(s->why), "a macro in %s's record: not "
		    "evaluated here", domain);
		return -1;
	}
	if (strcasecmp(term, "all") == 0)
		return 1;
	if (strncasecmp(term, "ip4:", 4) == 0 ||
	    strncasecmp(term, "ip6:", 4) == 0) {
		if (net_cidr_parse(term + 4, &net) == -1 || net.family !=
		    (term[2] == '4' ? AF_INET : AF_INET6)) {
			snprintf(s->why, sizeof(s->why), "a bad term in %s's "
			    "record", domain);
			return -1;
		}
		return net_cidr_match(&net, s->host);
	}
	/* "a", "a:NAME", "a/24" (strchr finds the string's end too). */
	if (strncasecmp(term, "a", 1) == 0 && strchr(":/", term[1]) != NULL)
		match = spf_names(s, domain, term + 1, 0);
	else if (strncasecmp(term, "mx", 2) == 0 &&
	    strchr(":/", term[2]) != NULL)
		match = spf_names(s, domain, term + 2, 1);
	else if (strncasecmp(term, "include:", 8) == 0) {
		if (++s->lookups <= DOCTOR_LOOKUPS_MAX)
			return spf_check(s, term + 8, depth + 1);
		match = -1;
	} else if (strncasecmp(term, "redirect=", 9) == 0) {
		snprintf(redirect, redirect_size, "%s", term + 9);
		return 0;
	} else if (strchr(term, '=') != NULL &&
	    strcspn(term, "=") < strcspn(term, ":/"))
		return 0;	/* exp= and unknown modifiers */
	else {
		snprintf(s->why, sizeof(s->why), "\"%.40s\" in %s's record: "
		    "not evaluated here", term, domain);
		return -1;
	}
	if (match == -1)
		snprintf(s->why, sizeof(s->why), "over %d DNS lookups (RFC "
		    "7208 4.6.4) or a bad term", DOCTOR_LOOKUPS_MAX);
	return match;
}

/*
 * Evaluates domain's SPF record for s->host: 1 pass, 0 anything else
 * that is an answer (fail, softfail, neutral, none), -1 with s->why when
 * it cannot be told (DNS, a permerror, a term we do not evaluate).
 */
static int
spf_check(struct spf *s, const char *domain, int depth)
{
	static char txt[2][DOCTOR_TXT_MAX];
	char rec[DOCTOR_TXT_MAX], redirect[DNS_NAME_MAX + 1] = "", *term,
	    *next;
	int rc, match;
	size_t n;
	char q;

	if (depth > DOCTOR_LOOKUPS_MAX) {
		snprintf(s->why, sizeof(s->why), "includes too deep");
		return -1;
	}
	rc = txt_lookup(domain, "v=spf1", 1, txt, 2, &n, s->why,
	    sizeof(s->why));
	if (rc == -1)
		return -1;
	if (rc == 1) {
		snprintf(s->why, sizeof(s->why), "%s has no SPF record",
		    domain);
		return depth == 0 ? 0 : -1;	/* an include of none */
	}
	if (n > 1) {
		snprintf(s->why, sizeof(s->why), "%s has %zu SPF records "
		    "(RFC 7208 4.5: one)", domain, n);
		return -1;
	}
	memcpy(rec, txt[0], sizeof(rec));
	for (term = rec + 6; term != NULL; term = next) {
		term += strspn(term, " ");
		if ((next = strchr(term, ' ')) != NULL)
			*next++ = '\0';
		if (*term == '\0')
			continue;
		q = '+';
		if (strchr("+-~?", *term) != NULL)
			q = *term++;
		match = spf_term(s, domain, term, depth, redirect,
		    sizeof(redirect));
		if (match != 0)
			return match == -1 ? -1 : q == '+';
	}
	if (redirect[0] != '\0') {
		if (++s->lookups > DOCTOR_LOOKUPS_MAX)
			return -1;
		return spf_check(s, redirect, depth + 1);
	}
	return 0;
}

/* --- the checks -------------------------------------------------------- */

/* The reverse name of an address (RFC 1035 3.5, RFC 3596 2.5). */
static void
reverse_name(const struct cidr *a, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, n = 0;

	if (a->family == AF_INET) {
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", a->addr[3],
		    a->addr[2], a->addr[1], a->addr[0]);
		return;
	}
	for (i = 16; i > 0 && n + 4 < size; i--) {
		out[n++] = hex[a->addr[i - 1] & 0xf];
		out[n++] = '.';
		out[n++] = hex[a->addr[i - 1] >> 4];
		out[n++] = '.';
	}
	snprintf(out + n, size - n, "ip6.arpa");
}

static void
check_ptr(const struct cidr *host, const char *addr)
{
	static unsigned char msg[DNS_MSG_MAX];
	char rev[80], name[DNS_NAME_MAX + 1], err[256];
	struct dns_answer a;
	struct dns_rr rr;
	enum dns_status st;
	int len, seen = 0;

	reverse_name(host, rev, sizeof(rev));
	if ((len = resolve_query(rev, DNS_TYPE_PTR, DOCTOR_TIMEOUT, msg,
	    sizeof(msg), err, sizeof(err))) == -1) {
		report("ptr", V_UNKNOWN, "%s", err);
		return;
	}
	st = dns_open(&a, msg, (size_t)len);
	if (st == DNS_OK)
		while (dns_next(&a, &rr) == 1) {
			if (rr.type != DNS_TYPE_PTR ||
			    dns_rdata_name(&a, &rr, name, sizeof(name)) == -1)
				continue;
			seen++;
			if (addr_covers(name, 32, 128, host)) {
				report("ptr", V_OK, "%s -> %s -> %s", addr,
				    name, addr);
				return;
			}
			report("ptr", V_WRONG, "%s -> %s, which does not "
			    "resolve to %s", addr, name, addr);
			publish("%s. IN %s %s", name, host->family ==
			    AF_INET ? "A" : "AAAA", addr);
		}
	else if (st != DNS_NXDOMAIN && st != DNS_NODATA) {
		report("ptr", V_UNKNOWN, "%s: a server failure or a "
		    "malformed answer", rev);
		return;
	}
	if (seen == 0) {
		report("ptr", V_MISSING, "%s has no PTR record", addr);
		publish("%s. IN PTR %s.", rev, hostname);
	}
}

static void
check_spf(const char *domain, const struct cidr *host, const char *addr)
{
	struct spf s;

	memset(&s, 0, sizeof(s));
	s.host = host;
	switch (spf_check(&s, domain, 0)) {
	case 1:
		report("spf", V_OK, "%s may send for %s", addr, domain);
		return;
	case -1:
		report("spf", V_UNKNOWN, "%s", s.why);
		return;
	default:
		break;
	}
	if (s.why[0] != '\0') {
		report("spf", V_MISSING, "%s", s.why);
		publish("%s. IN TXT \"v=spf1 %s:%s ~all\"", domain,
		    host->family == AF_INET ? "ip4" : "ip6", addr);
	} else {
		report("spf", V_WRONG, "%s's SPF record does not let %s send",
		    domain, addr);
		printf("       add %s:%s to it, before its \"all\"\n",
		    host->family == AF_INET ? "ip4" : "ip6", addr);
		worst = worst == 0 ? 1 : worst;
	}
}

/* Whether a DKIM record's tags (RFC 6376 3.6.1) hold key b64 of kind. */
static int
dkim_record_is(const char *rec, const char *b64, int is_ed25519)
{
	char p[DOCTOR_TXT_MAX];
	const char *tag = rec, *end;
	size_t n = 0, i;
	int kind_ok = !is_ed25519;

	p[0] = '\0';
	for (; *tag != '\0'; tag = *end == ';' ? end + 1 : end) {
		tag += strspn(tag, " \t");
		end = tag + strcspn(tag, ";");
		if (strncmp(tag, "k=", 2) == 0) {
			i = strspn(tag + 2, " \t");
			kind_ok = strncmp(tag + 2 + i, is_ed25519 ? "ed25519" :
			    "rsa", is_ed25519 ? 7 : 3) == 0;
		} else if (strncmp(tag, "p=", 2) == 0) {
			/* The value's white space is folding (3.6.1). */
			for (i = 2; tag + i < end && n + 1 < sizeof(p); i++)
				if (tag[i] != ' ' && tag[i] != '\t')
					p[n++] = tag[i];
			p[n] = '\0';
		}
	}
	return kind_ok && strcmp(p, b64) == 0;
}

static void
check_dkim(const char *domain)
{
	static char txt[4][DOCTOR_TXT_MAX];
	static char pem[16384];
	char name[DNS_NAME_MAX + 80], b64[2048], err[256];
	size_t i, k, n, len;
	ssize_t r;
	int fd, rc, is_ed25519, found = 0, matched;

	for (k = 0; k < nkeys; k++) {
		if (strcasecmp(keys[k].domain, domain) != 0)
			continue;
		found = 1;
		len = 0;
		if ((fd = open(keys[k].keyfile, O_RDONLY | O_NOCTTY |
		    O_NONBLOCK | O_CLOEXEC)) != -1) {
			while ((r = read(fd, pem + len, sizeof(pem) - len)) > 0)
				len += (size_t)r;
			close(fd);
		}
		is_ed25519 = dkim_key_kind(pem, len) == DKIM_KEY_ED25519;
		memset(pem, 0, sizeof(pem));
		if (fd == -1 || dkim_public(keys[k].keyfile, is_ed25519, b64,
		    sizeof(b64)) == -1) {
			report("dkim", V_UNKNOWN, "%s: cannot read the key "
			    "(run as root or the queue's owner)",
			    keys[k].keyfile);
			continue;
		}
		snprintf(name, sizeof(name), "%s._domainkey.%s",
		    keys[k].selector, domain);
		rc = txt_lookup(name, "", 0, txt, 4, &n, err, sizeof(err));
		if (rc == -1) {
			report("dkim", V_UNKNOWN, "%s", err);
			continue;
		}
		for (i = 0, matched = 0; i < n && !matched; i++)
			matched = dkim_record_is(txt[i], b64, is_ed25519);
		if (matched)
			report("dkim", V_OK, "%s holds the key of %s", name,
			    keys[k].keyfile);
		else {
			report("dkim", n == 0 ? V_MISSING : V_WRONG, "%s %s",
			    name, n == 0 ? "has no record" :
			    "holds another key");
			printf("       publish: ");
			dkim_print_record(domain, keys[k].selector, is_ed25519,
			    b64);
		}
	}
	if (!found) {
		report("dkim", V_MISSING, "no dkim line for %s in smtpq.conf",
		    domain);
		printf("       make a key: smtpqctl dkim-keygen %s SELECTOR\n",
		    domain);
	}
}

static void
check_dmarc(const char *domain)
{
	static char txt[2][DOCTOR_TXT_MAX];
	char name[DNS_NAME_MAX + 8], err[256];
	const char *p;
	size_t n;
	int rc;

	snprintf(name, sizeof(name), "_dmarc.%s", domain);
	rc = txt_lookup(name, "v=DMARC1", 0, txt, 2, &n, err, sizeof(err));
	if (rc == -1) {
		report("dmarc", V_UNKNOWN, "%s", err);
		return;
	}
	if (rc == 1 || n > 1) {
		report("dmarc", rc == 1 ? V_MISSING : V_WRONG, "%s %s", name,
		    rc == 1 ? "has no DMARC record" :
		    "has two DMARC records (RFC 7489 6.6.3: none applies)");
		publish("%s. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@"
		    "%s\"", name, domain);
		return;
	}
	/* RFC 7489 6.3: p= is required, right after v=. */
	p = txt[0] + 8 + strspn(txt[0] + 8, " \t");
	if (*p == ';')
		p++;
	p += strspn(p, " \t");
	if (strncmp(p, "p=", 2) != 0) {
		report("dmarc", V_WRONG, "%s has no policy (p=) after v=",
		    name);
		publish("%s. IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@"
		    "%s\"", name, domain);
		return;
	}
	printf("%-6s %-8s %s: ", "dmarc", "ok", name);
	print_esc(stdout, txt[0], 1);
	printf("\n");
}

static void
check_mx(const char *domain)
{
	struct dns_mx mx[DNS_MX_MAX];
	char err[256];
	size_t n, i;
	int is_authentic;

	switch (resolve_mx(domain, DOCTOR_TIMEOUT, mx, DNS_MX_MAX, &n,
	    &is_authentic, err, sizeof(err))) {
	case DNS_OK:
		printf("%-6s %-8s %s:", "mx", "ok", domain);
		for (i = 0; i < n; i++)
			printf(" %u %s", mx[i].pref, mx[i].host);
		printf("\n");
		return;
	case DNS_NULLMX:
		report("mx", V_WRONG, "%s has a null MX (RFC 7505): replies "
		    "and bounces cannot come back, receivers may refuse its "
		    "mail", domain);
		break;
	case DNS_TEMP:
		report("mx", V_UNKNOWN, "%s", err);
		return;
	default:
		report("mx", V_MISSING, "%s has no MX record", domain);
		break;
	}
	publish("%s. IN MX 10 %s.", domain, hostname);
}

/* Whether a UDP socket of family "connected" to peer (a connect sends
 * nothing) gets a source address: into out. */
static int
source_try(int family, const struct sockaddr *peer, socklen_t peerlen,
    char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *a;
	int fd, rc;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rc = connect(fd, peer, peerlen);
	if (rc == 0)
		rc = getsockname(fd, (struct sockaddr *)&ss, &len);
	close(fd);
	if (rc == -1)
		return -1;
	a = family == AF_INET ?
	    (const void *)&((struct sockaddr_in *)(void *)&ss)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)(void *)&ss)->sin6_addr;
	return inet_ntop(family, a, out, (socklen_t)size) != NULL ? 0 : -1;
}

/* The source address the kernel picks toward the Internet (an address
 * of RFC 5737 and RFC 3849: nothing is sent).  0, or -1: no route. */
static int
source_address(char *out, size_t size)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(53);
	if (inet_pton(AF_INET, "192.0.2.1", &in.sin_addr) == 1 &&
	    source_try(AF_INET, (struct sockaddr *)(void *)&in, sizeof(in),
	    out, size) == 0)
		return 0;
	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(53);
	if (inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr) == 1 &&
	    source_try(AF_INET6, (struct sockaddr *)(void *)&in6,
	    sizeof(in6), out, size) == 0)
		return 0;
	return -1;
}

int
cmd_doctor(int argc, char *const argv[])
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *domain;
	struct cidr host;

	if (argc > 2)
		die_usage("doctor [DOMAIN [ADDRESS]]");
	if (argc >= 1)
		domain = argv[0];
	else if (nkeys > 0)
		domain = keys[0].domain;
	else
		die_usage("doctor: which domain? (no dkim line in smtpq.conf)");
	if (!addr_domain_valid(domain) || strlen(domain) > DNS_NAME_MAX)
		die_usage("doctor: bad domain");
	if (opt_hostname(NULL, hostname, sizeof(hostname)) == -1)
		snprintf(hostname, sizeof(hostname), "HOSTNAME");
	if (argc == 2) {
		if (strchr(argv[1], '/') != NULL ||
		    net_cidr_parse(argv[1], &host) == -1)
			die_usage("doctor: bad address %s", argv[1]);
		snprintf(addr, sizeof(addr), "%s", argv[1]);
	} else if (source_address(addr, sizeof(addr)) == -1 ||
	    net_cidr_parse(addr, &host) == -1) {
		report("ptr", V_UNKNOWN, "no route out: name the sending "
		    "address (smtpqctl doctor %s ADDRESS)", domain);
		report("spf", V_UNKNOWN, "the same");
		check_dkim(domain);
		check_dmarc(domain);
		check_mx(domain);
		return worst;
	}
	check_ptr(&host, addr);
	check_spf(domain, &host, addr);
	check_dkim(domain);
	check_dmarc(domain);
	check_mx(domain);
	return worst;
}
