/*
 * daneq.c: the DANE decision smtpsend makes for a domain's MX hosts, and
 * its handshake, as a command the tests run inside a network namespace
 * whose resolver (a validating unbound) they control: resolve_mx(),
 * dane_lookup() (smtpsend/dane.c) and tls_start_dane() (smtpsend/tls.c).
 *
 *	daneq [-t seconds] [-p port] DOMAIN
 *
 * Prints "status=ok|nodata|nxdomain|nullmx|temp ad=0|1" for the MX
 * lookup, then per MX host "host=HOST dane=none|required|encrypt|defer
 * (WHY)" and a line "tlsa U S M HEX" per usable record; with -p, for a
 * host whose DANE is required, STARTTLS to HOST:PORT and EHLO through it:
 * "tls=verified" or "tls=failed: REASON".  Exits 0, or 64 for bad
 * arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpsend.h"
#include "tlspolicy.h"

/* STARTTLS with d's records to host:port, EHLO through it. */
static void
try_tls(const char *host, const char *port, const struct dane *d,
    int timeout)
{
	static const char ehlo[] = "EHLO client.test\r\n";
	struct tls t;
	char why[512] = "", buf[513];
	ssize_t n;
	int fd;

	fd = tls_start_dane(&t, host, port, host, d, "client.test", timeout,
	    why, sizeof(why));
	if (fd == -1) {
		printf("tls=failed: %s\n", why);
		return;
	}
	n = -1;
	if (out_all(fd, ehlo, sizeof(ehlo) - 1) == 0)
		n = read(fd, buf, sizeof(buf) - 1);
	if (n >= 3 && strncmp(buf, "250", 3) == 0) {
		(void)out_all(fd, "QUIT\r\n", 6);
		printf("tls=verified\n");
		close(fd);
		tls_stop(&t, NULL, 0);
		return;
	}
	close(fd);
	tls_stop(&t, why, sizeof(why));
	printf("tls=failed: %s\n", why);
}

int
main(int argc, char **argv)
{
	static const char *const names[] = {
		"ok", "nodata", "nxdomain", "nullmx", "temp"
	};
	static struct dane d;
	struct dns_mx mx[DNS_MX_MAX];
	enum dns_status st;
	char err[512] = "", rr[2 * DNS_TLSA_DATA_MAX + 16];
	const char *port = NULL;
	size_t n = 0, i, k;
	int c, timeout = 10, is_authentic;

	while ((c = getopt(argc, argv, "p:t:")) != -1) {
		switch (c) {
		case 'p':
			port = optarg;
			break;
		case 't':
			timeout = (int)strtol(optarg, NULL, 10);
			break;
		default:
			return 64;
		}
	}
	if (optind != argc - 1)
		return 64;
	sig_init();
	st = resolve_mx(argv[optind], timeout, mx, DNS_MX_MAX, &n,
	    &is_authentic, err, sizeof(err));
	dns_mx_order(mx, n, 1);
	printf("status=%s ad=%d\n", names[st], st == DNS_TEMP ? 0 :
	    is_authentic);
	if (st == DNS_TEMP)
		printf("why: %s\n", err);
	for (i = 0; i < n; i++) {
		dane_lookup(mx[i].host, is_authentic, timeout, &d);
		printf("host=%s dane=%s (%s)\n", mx[i].host,
		    dane_state_name(d.state), d.why);
		for (k = 0; k < d.n; k++)
			if (dane_rrdata(&d.tlsa[k], rr, sizeof(rr)) == 0)
				printf("tlsa %s\n", rr);
		fflush(stdout);
		if (port != NULL && d.state == DANE_REQUIRED)
			try_tls(mx[i].host, port, &d, timeout);
	}
	return 0;
}
