/*
 * smtpqctl-dkim.c: "smtpqctl dkim-keygen DOMAIN SELECTOR [rsa|ed25519]"
 * (smtpqctl(8)), and the public half of a key as DNS publishes it, for
 * the doctor (smtpqctl-doctor.c) too.
 *
 * Writes a new private key, made by "openssl genpkey" (2048-bit RSA by
 * default, or Ed25519, RFC 8463), into DKIM_DIR/DOMAIN.SELECTOR.key: a
 * file created here, never one that exists (O_EXCL, no link followed),
 * mode 0600 from its first byte, owned by the queue directory's owner,
 * the user smtpsend signs as; run by root, the directory is made the
 * same (0700).  Prints the smtpq.conf line that uses it and the TXT
 * record to publish (RFC 6376 3.6.1: p= is the DER public key for RSA;
 * RFC 8463 4.2: the raw 32 octets for Ed25519).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "smtpqctl.h"

#ifndef DKIM_DIR
#define DKIM_DIR	SYSCONFDIR "/smtpq/dkim"
#endif
#define DKIM_DER_MAX	4096	/* a public key's DER: 4096-bit RSA is 550 */

/*
 * Runs openssl with argv, its standard output into out (-1: into buf, at
 * most size octets, *len of them), its standard input /dev/null.  0 when
 * it exited 0, else -1.
 */
static int
dkim_openssl(const char *const *argv, int out, unsigned char *buf,
    size_t size, size_t *len)
{
	struct prog p = { NULL, (char *const *)argv,
	    { PROG_NULL, out != -1 ? out : PROG_FROM, PROG_KEEP, PROG_NULL },
	    127, 0 };
	int ours[PROG_FDS], status;
	ssize_t n;
	pid_t pid;

	if ((pid = prog_start(&p, ours)) == -1)
		return -1;
	if (out == -1) {
		*len = 0;
		while (*len < size) {
			n = read(ours[1], buf + *len, size - *len);
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			*len += (size_t)n;
		}
		close(ours[1]);
	}
	if (prog_wait(pid, &status) == -1)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int
dkim_public(const char *keyfile, int is_ed25519, char *b64, size_t size)
{
	const char *argv[] = {
		"openssl", "pkey", "-in", keyfile, "-pubout", "-outform", "DER",
		NULL
	};
	unsigned char der[DKIM_DER_MAX];
	size_t len;

	if (dkim_openssl(argv, -1, der, sizeof(der), &len) == -1 ||
	    len == 0 || len == sizeof(der) || (is_ed25519 && len < 32))
		return -1;
	/* RFC 8463 4.2: the key itself, the last 32 octets of its DER. */
	if (is_ed25519)
		return base64_encode(der + len - 32, 32, b64, size) < 0 ?
		    -1 : 0;
	return base64_encode(der, len, b64, size) < 0 ? -1 : 0;
}

/* Prints the TXT record for SELECTOR._domainkey.DOMAIN, in strings of
 * at most 255 octets (RFC 1035 3.3.14), on one line. */
void
dkim_print_record(const char *domain, const char *selector, int is_ed25519,
    const char *b64)
{
	char txt[DKIM_DER_MAX * 2];
	size_t i, n;

	snprintf(txt, sizeof(txt), "v=DKIM1; k=%s; p=%s", is_ed25519 ?
	    "ed25519" : "rsa", b64);
	printf("%s._domainkey.%s. IN TXT", selector, domain);
	for (i = 0, n = strlen(txt); i < n; i += 255)
		printf(" \"%.255s\"", txt + i);
	printf("\n");
}

/* The directory keys go in: made (0700, the queue owner's) when missing
 * and we are root; a directory, not a link.  Its descriptor, or -1. */
static int
dkim_dir_open(const char *dir, const struct stat *owner)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0700) == 0) {
		if (geteuid() == 0 && chown(dir, owner->st_uid,
		    owner->st_gid) == -1)
			return -1;
	} else if (errno != EEXIST)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || (st.st_mode & S_IWOTH)) {
		close(fd);
		errno = EPERM;		/* anyone could swap our key */
		return -1;
	}
	return fd;
}

int
cmd_dkim_keygen(int argc, char *const argv[])
{
	const char *rsa[] = {
		"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt",
		"rsa_keygen_bits:2048", NULL
	};
	const char *ed[] = {
		"openssl", "genpkey", "-quiet", "-algorithm", "ed25519", NULL
	};
	const char *domain, *selector, *dir = DKIM_DIR, *env;
	char name[DNS_NAME_MAX + 80], path[PATH_MAX], b64[DKIM_DER_MAX * 2];
	struct stat queue_st;
	int is_ed25519 = 0, dirfd, fd;

	if (argc < 2 || argc > 3)
		die_usage("dkim-keygen DOMAIN SELECTOR [rsa|ed25519]");
	domain = argv[0];
	selector = argv[1];
	if (argc == 3 && strcmp(argv[2], "ed25519") == 0)
		is_ed25519 = 1;
	else if (argc == 3 && strcmp(argv[2], "rsa") != 0)
		die_usage("dkim-keygen: %s: rsa or ed25519, please", argv[2]);
	if (!addr_domain_valid(domain) || strlen(domain) > DNS_NAME_MAX)
		die_usage("dkim-keygen: bad domain");
	if (strlen(selector) > 63 || !dkim_selector_valid(selector))
		die_usage("dkim-keygen: bad selector");
	if ((env = getenv("SMTPQCTL_DKIM_DIR")) != NULL)
		dir = env;
	/* The key is the sender's: smtpsend runs as the queue's owner. */
	if (stat(queue_dir, &queue_st) == -1) {
		fprintf(stderr, "smtpqctl: dkim-keygen: queue %s: %s\n",
		    queue_dir, strerror(errno));
		return EXIT_CONFIG;
	}
	snprintf(name, sizeof(name), "%s.%s.key", domain, selector);
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		die_usage("dkim-keygen: %s: path too long", dir);
	if ((dirfd = dkim_dir_open(dir, &queue_st)) == -1) {
		fprintf(stderr, "smtpqctl: dkim-keygen: %s: %s\n", dir,
		    strerror(errno));
		return EXIT_CANTCREAT;
	}
	/* 0600 from the start: the key is never readable by others, not
	 * even while openssl writes it. */
	fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		fprintf(stderr, "smtpqctl: dkim-keygen: %s: %s%s\n", path,
		    strerror(errno), errno == EEXIST ? " (a key is never "
		    "replaced: remove it, or choose another selector)" : "");
		close(dirfd);
		return EXIT_CANTCREAT;
	}
	errno = 0;
	if (fchmod(fd, 0600) == -1 || (geteuid() == 0 &&
	    fchown(fd, queue_st.st_uid, queue_st.st_gid) == -1) ||
	    dkim_openssl(is_ed25519 ? ed : rsa, fd, NULL, 0, NULL) == -1 ||
	    fsync(fd) == -1 || close(fd) == -1) {
		fprintf(stderr, "smtpqctl: dkim-keygen: unable to make %s: "
		    "%s\n", path, errno != 0 ? strerror(errno) :
		    "openssl genpkey failed");
		unlinkat(dirfd, name, 0);
		close(dirfd);
		return EXIT_CANTCREAT;
	}
	close(dirfd);
	if (dkim_public(path, is_ed25519, b64, sizeof(b64)) == -1) {
		fprintf(stderr, "smtpqctl: dkim-keygen: openssl pkey cannot "
		    "read %s\n", path);
		return EXIT_SOFTWARE;
	}
	printf("# %s key in %s (mode 0600, uid %ld)\n", is_ed25519 ?
	    "Ed25519" : "RSA 2048-bit", path, (long)queue_st.st_uid);
	printf("# smtpq.conf:\ndkim %s %s %s\n", domain, selector, path);
	printf("# DNS, in the zone of %s:\n", domain);
	dkim_print_record(domain, selector, is_ed25519, b64);
	return 0;
}
