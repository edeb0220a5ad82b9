/*
 * qsign.c: smtpsend's DKIM signing (smtpsend/sign.c) as a command the
 * tests run on a message file, so that verifiers we did not write can
 * check what it signs before smtpsend's delivery uses it.
 *
 *	qsign [-e] [-t time] -d DOMAIN -s SELECTOR -k KEYFILE FILE
 *
 * Prints the DKIM-Signature field and then FILE as it was.  -e: the key
 * is Ed25519 (RFC 8463), else RSA.  Exits 0, 1 with the reason on stderr
 * when signing failed, or 64 for bad arguments.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "sign.h"

int
main(int argc, char **argv)
{
	static char field[8192];
	struct sign_key key;
	char err[512], buf[4096];
	time_t now = time(NULL);
	ssize_t n;
	int c, fd, len;

	memset(&key, 0, sizeof(key));
	while ((c = getopt(argc, argv, "d:ek:s:t:")) != -1) {
		switch (c) {
		case 'd':
			snprintf(key.domain, sizeof(key.domain), "%s", optarg);
			break;
		case 'e':
			key.is_ed25519 = 1;
			break;
		case 'k':
			snprintf(key.keyfile, sizeof(key.keyfile), "%s",
			    optarg);
			break;
		case 's':
			snprintf(key.selector, sizeof(key.selector), "%s",
			    optarg);
			break;
		case 't':
			now = (time_t)strtoll(optarg, NULL, 10);
			break;
		default:
			return 64;
		}
	}
	if (optind != argc - 1 || key.domain[0] == '\0' ||
	    key.selector[0] == '\0' || key.keyfile[0] == '\0')
		return 64;
	sig_init();
	if ((fd = open(argv[optind], O_RDONLY)) == -1) {
		perror(argv[optind]);
		return 1;
	}
	len = sign_message(fd, &key, now, field, sizeof(field), err,
	    sizeof(err));
	if (len == -1) {
		fprintf(stderr, "qsign: %s\n", err);
		return 1;
	}
	fwrite(field, 1, (size_t)len, stdout);
	if (lseek(fd, 0, SEEK_SET) == -1)
		return 1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stdout);
	close(fd);
	return fflush(stdout) == 0 && n == 0 ? 0 : 1;
}
