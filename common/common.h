/*
 * common.h: what smtpd, sendmail, smtpsend and smtpqctl share.
 *
 * One header for all of common/, grouped by the file that implements each
 * part; the prefix of a function names its file (line_read() is in line.c).
 * The limits here are the RFCs' bounds (with their sections), what more
 * than one program enforces or reads (queue names, defaults they share,
 * exit codes) and those of common/'s own parts, each next to the reply
 * that enforcing it produces.  A policy only one program has (smtpd's
 * error, junk and AUTH limits, its -r, -L and -c defaults) is in that
 * program's header, next to its options.
 */
#ifndef COMMON_H
#define COMMON_H

#include <sys/types.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

/* Limits ----------------------------------------------------------------- */

/* RFC 5321 4.5.3.1.4: a command line is 512 octets including CRLF.
 * Longer: "500 5.5.2 Line too long", the rest of the line is discarded. */
#define SMTP_LINE_MAX		512

/* RFC 5321 4.5.3.1.5: a reply line is 512 octets including CRLF.  smtpsend
 * keeps at most this much of one reply line and discards the rest. */
#define REPLY_LINE_MAX		512

/* smtpsend keeps at most this much text of one multi-line reply. */
#define REPLY_TEXT_MAX		2048

/* RFC 5321 4.5.3.1.8: at least 100 recipients; the one after the last gets
 * "452 4.5.3 Too many recipients".  smtpsend refuses a queue file listing
 * more as damaged. */
#define RCPT_MAX		100

/* RFC 5321 4.5.3.1.3: a path is 256 octets including the angle brackets;
 * local part 64 (4.5.3.1.1), domain 255 (4.5.3.1.2).  Longer: 501. */
#define ADDR_MAX		256
#define ADDR_LOCAL_MAX		64
#define ADDR_DOMAIN_MAX		255

/* Default message size (smtpd -s, sendmail); over it "552 5.3.4 Message
 * size exceeds fixed limit", at MAIL (SIZE=) or after the final dot. */
#define SIZE_DEFAULT		(10UL * 1024 * 1024)

/* Default timeout (smtpd -t, smtpsend -t) in seconds: a command line must
 * be complete this long after smtpd starts to wait for it; then "421
 * 4.4.2 ... timeout".  smtpsend bounds each wait for the relay by it. */
#define TIMEOUT_DEFAULT		300

/* Free space the queue's file system must keep (smtpd -m, sendmail;
 * default: twice -s), plus the message's SIZE=, checked at MAIL; less:
 * "452 4.3.1 Insufficient system storage" (Postfix's queue_minfree). */
#define MINFREE_SIZES		2

/* Host names we print (-n, HELO argument kept for Received:). */
#define HOST_MAX		255

/* RFC 5322 2.1.1, RFC 5321 4.5.3.1.6: octets of a message line, without
 * its CRLF; a longer one is broken there (sendmail, smtpsend's body). */
#define TEXT_LINE_MAX		998

/* AUTH's password (smtpd's SASL, smtpsend -a's secrets). */
#define AUTH_PASS_MAX		255

/* -d given more often (smtpd, smtpsend): usage error. */
#define DOMAINS_MAX		64

/* The queue when no -q (sendmail -oQ) says otherwise. */
#define QUEUE_DIR_DEFAULT	"/var/spool/smtpq"

/* Queue file name: <epoch>.M<usec>P<pid>.<host>. */
#define QUEUE_NAME_MAX		(64 + HOST_MAX)

/* I/O buffers: one read or write system call moves at most this much. */
#define IO_BUFSIZE		65536

/* Exit codes (sysexits.h values, spelled out: sysexits.h is not POSIX). */
#define EXIT_USAGE		64	/* EX_USAGE */
#define EXIT_DATAERR		65	/* EX_DATAERR */
#define EXIT_SOFTWARE		70	/* EX_SOFTWARE */
#define EXIT_OSERR		71	/* EX_OSERR */
#define EXIT_IOERR		74	/* EX_IOERR */
#define EXIT_CANTCREAT		73	/* EX_CANTCREAT */
#define EXIT_TEMPFAIL		75	/* EX_TEMPFAIL */
#define EXIT_CONFIG		78	/* EX_CONFIG */

/* Results of anything that can fail in three ways. */
enum result { RES_OK, RES_TEMP, RES_PERM };	/* R_OK is unistd.h's */

/* line.c: bounded, buffered reading from a descriptor -------------------- */

struct out;

struct line {
	int		 fd;
	int		 timeout;	/* seconds a read may wait; 0: forever */
	int		 stop_on_signal; /* a caught SIGTERM ends the wait */
	struct out	*flush;		/* flushed before every blocking read */
	long long	 due;		/* line_now() deadline for reads; 0: none */
	size_t		 start;		/* first unread byte in buf */
	size_t		 end;		/* one past the last byte in buf */
	char		 buf[IO_BUFSIZE];
};

enum line_status {
	LINE_OK,	/* a whole line */
	LINE_LONG,	/* longer than the caller's buffer: discarded to LF */
	LINE_EOF,	/* end of input (a partial last line is discarded) */
	LINE_TIMEOUT,	/* nothing arrived for timeout seconds */
	LINE_SIGNAL,	/* SIGTERM arrived while waiting */
	LINE_ERROR	/* read failed; errno says why */
};

void		 line_init(struct line *, int fd, int timeout);
long long	 line_now(void);
int		 line_fill(struct line *);
int		 line_fill_upto(struct line *, size_t most);
enum line_status line_read(struct line *, char *out, size_t size,
		    size_t *len, int *bare_lf);
enum line_status line_status_of(int);
size_t		 line_pending(const struct line *);

/* out.c: buffered writing to a descriptor -------------------------------- */

struct out {
	int	fd;
	int	error;		/* first errno seen; later writes do nothing */
	int	timeout;	/* a non-blocking fd: seconds a write may wait */
	int	stop_on_signal;	/* a caught SIGTERM ends that wait */
	size_t	len;
	char	buf[IO_BUFSIZE];
};

void	out_init(struct out *, int fd);
int	out_write(struct out *, const void *, size_t);
int	out_puts(struct out *, const char *);
int	out_printf(struct out *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	out_flush(struct out *);
/* Writes all of buf to fd (a pipe may take a large write in pieces),
 * unbuffered.  0, or -1 with errno. */
int	out_all(int fd, const void *buf, size_t len);

/* reply.c: SMTP replies, written and read -------------------------------- */

/* reply() writes one reply line; a multi-line reply is several calls with
 * '-' in all but the last (reply_more()).  The text must not hold CR or LF. */
int	reply(struct out *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	reply_more(struct out *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	reply_va(struct out *, int code, int is_last, const char *fmt,
	    va_list);

/*
 * reply_read() reads one reply, single or multi-line (RFC 5321 4.2.1: the
 * same code on every line, '-' after it on all but the last).  Returns the
 * code (200-599), or -1 with *status saying why (LINE_EOF, LINE_TIMEOUT,
 * LINE_ERROR; LINE_OK for a malformed reply).  text gets the lines' texts,
 * without codes, joined by '\n', cut to size.
 */
int	reply_read(struct line *, char *text, size_t size,
	    enum line_status *status);

/* reply_read() takes at most this many lines and octets of one reply (an
 * over-long line it drops counts too), and when the reader has a timeout,
 * the whole reply must arrive within it; else the reply is malformed
 * (LINE_OK) or timed out (LINE_TIMEOUT). */
#define REPLY_LINES_MAX		100
#define REPLY_BYTES_MAX		((size_t)REPLY_LINES_MAX * (REPLY_LINE_MAX + 2))

/* addr.c: RFC 5321 paths ------------------------------------------------- */

/*
 * addr_parse() reads the path that follows "FROM:" or "TO:": "<a@b>",
 * "<>", " <a@b>" and a bare "a@b" (tolerated), a source route "<@x,@y:a@b>"
 * (accepted, dropped: RFC 5321 4.1.1.3, C.).  addr gets the mailbox without
 * brackets ("" for "<>"); *rest points past it and following spaces, at the
 * ESMTP parameters.  Returns 0, or -1 for bad syntax or over-long parts.
 * A mailbox without "@" parses: callers decide whether they allow it.
 */
int		 addr_parse(const char *, char *addr, size_t size,
		    const char **rest);
/* The same, with UTF-8 in local parts and domains (RFC 6531 3.3: SMTPUTF8
 * paths); valid UTF-8 only, lengths in octets. */
int		 addr_parse_utf8(const char *, char *addr, size_t size,
		    const char **rest);
size_t		 addr_utf8_len(const char *);
int		 addr_is_ascii(const char *);
int		 addr_domain_valid(const char *);
const char	*addr_domain(const char *);
int		 addr_mailbox(const char *rcpt, char *box, size_t size);

/* opt.c: command-line values -------------------------------------------- */

int	opt_duration(const char *, unsigned *seconds);
int	opt_number(const char *, unsigned long max, unsigned long *);
int	opt_size(const char *, unsigned long *);
int	opt_hostname(const char *given, char *buf, size_t size);

/* die.c: the ways out --------------------------------------------------- */

/* die_usage(): "prog: why" on stderr, exit 64.  die(): log, exit status. */
void	die_usage(const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	die(int status, const char *fmt, ...)
	    __attribute__((noreturn, format(printf, 2, 3)));

/* log.c: one line per event, one write() per line ------------------------ */

/* file: NULL for syslog (LOG_MAIL), "-" for stderr, else a path opened
 * O_APPEND so that several writers never interleave within a line. */
extern const char *log_prog;

int	log_open(const char *prog, const char *file);
const char *log_esc(const char *, char *buf, size_t size);

/* log_esc() output for a path: every byte may become four. */
#define LOG_ADDR_MAX		(4 * ADDR_MAX + 1)
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* sig.c: SIGTERM as a flag --------------------------------------------- */

extern volatile sig_atomic_t sig_term;

/* Catches SIGTERM (and SIGINT, SIGHUP) into sig_term and blocks them; they
 * are let through only inside sig_wait_any() (sig_wait(): a struct line
 * or out with stop_on_signal waiting, sig_sleep(); smtpsend's pool parent
 * and its -w wait on the FIFO), so a signal never cuts a write or a
 * commit. */
void	sig_init(void);
void	sig_sleep(unsigned seconds);
void	sig_reset(void);
/* Waits until fd (-1: none, a pause) is ready to read (or, is_write, to
 * write), until due (line_now()'s clock; 0: no bound) or, when
 * is_stoppable, until a SIGTERM: the one place blocked signals get
 * through.  0, or -1 with errno ETIMEDOUT, EINTR (a SIGTERM) or select's;
 * a due already past times out without looking at fd. */
int	sig_wait(int fd, int is_write, long long due, int is_stoppable);
/* What a sig_wait_any() does with the signals sig_init() blocks. */
enum sig_how {
	WAIT_BLOCKED,	/* kept out: only the descriptors or due end it */
	WAIT_STOP,	/* let in: a SIGTERM, caught now or before, ends it */
	WAIT_NEXT	/* let in: the next caught signal ends it, not one
			 * caught before (a pool parent still waiting for its
			 * workers after SIGTERM) */
};
#define WAIT_NOW	(-1LL)	/* a due (any below 0): look once, no wait */
/* sig_wait() for the nfds (at most FD_SETSIZE) descriptors in fds (-1:
 * an empty place): waits until one is ready to read (or, is_write, to
 * write), until due (WAIT_NOW, 0: no bound) or a signal as how says; with
 * ready, sets ready[i] to whether fds[i] is.  The count ready, or -1 with
 * errno ETIMEDOUT, EINTR (a signal), EMFILE (a descriptor at or over
 * FD_SETSIZE), EINVAL or select's. */
int	sig_wait_any(const int *fds, size_t nfds, int is_write, long long due,
	    enum sig_how how, unsigned char *ready);

/* prog.c: helper programs ------------------------------------------------ */

#define PROG_ARGS_MAX	32	/* words in a program's spec (smtpd -T, -A) */
#define PROG_PATH_MAX	4096
#define PROG_FDS	4	/* the child's fds 0-3 that struct prog sets */
#define PROG_KEEP	(-1)	/* the fd as it is in the caller */
#define PROG_NULL	(-2)	/* /dev/null */
#define PROG_TO		(-3)	/* a pipe the caller writes to */
#define PROG_FROM	(-4)	/* a pipe the caller reads from */

struct prog {
	const char	*path;		/* NULL: argv[0] found on PATH */
	char *const	*argv;
	int		 fd[PROG_FDS];	/* an fd of ours, or PROG_* above */
	int		 fail;		/* its exit status if it cannot run */
	int		 is_told;	/* then says why on its fd 2 */
};

/* spec split on blanks or commas into argv (NULL-terminated, at most max
 * words); the count, or -1 (none, or too many). */
int	prog_split(char *spec, char *argv[], size_t max);
/* name on PATH (never the working directory) into path; 0 or -1. */
int	prog_find(const char *name, char *path, size_t size);
/* Resets the signals (sig_reset()) and execs; returns only on failure. */
int	prog_exec(const char *path, char *const argv[]);
int	prog_devnull(int fd);
/* Forks and runs p; ours[i] is our end of a PROG_TO or PROG_FROM pipe for
 * its fd i (close-on-exec), else -1.  Its pid, or -1 with errno. */
pid_t	prog_start(const struct prog *p, int ours[PROG_FDS]);
/* waitpid() past EINTR: 0, or -1 with errno. */
int	prog_wait(pid_t pid, int *status);
/* The same until due (line_now()'s clock): then the child is killed and
 * reaped, -1 with errno ETIMEDOUT. */
int	prog_wait_until(pid_t pid, int *status, long long due);
/* Sends signo and reaps the child (status may be NULL). */
void	prog_end(pid_t pid, int signo, int *status);

/* net.c, connect.c: addresses and connections ---------------------------- */

struct cidr {
	int		family;		/* AF_INET or AF_INET6 */
	unsigned char	addr[16];
	unsigned	bits;
};

struct peer {
	char	addr[64];	/* numeric address, or "stdin" */
	int	is_trusted;	/* a pipe, a local socket or loopback */
	int	is_known;	/* addr is a network address */
	struct cidr host;	/* the address as a /32 or /128, if is_known */
};

void	net_peer(int fd, struct peer *);
int	net_peer_parse(const char *, struct peer *);
void	net_peer_unknown(struct peer *);
int	net_cidr_parse(const char *, struct cidr *);
int	net_cidr_match(const struct cidr *net, const struct cidr *host);
int	net_set_timeout(int fd, int seconds);
int	connect_split_hostport(const char *, char *host, size_t hostsize,
	    char *port, size_t portsize, const char *default_port);
int	connect_tcp(const char *host, const char *port, int timeout,
	    char *err, size_t errsize);

/* resolve.c: a name's addresses, looked up in a child, bounded in time */

#define NET_ADDRS_MAX		16	/* addresses of one name tried */

struct net_addr {
	int			family;		/* AF_INET or AF_INET6 */
	socklen_t		len;
	struct sockaddr_storage	ss;
};

struct net_addrs {
	size_t		n;
	struct net_addr	a[NET_ADDRS_MAX];
};

int	net_resolve(const char *host, const char *port, int timeout,
	    struct net_addrs *, char *err, size_t errsize);
/* The answer to a query for name and type (DNS_TYPE_*) from the resolver
 * of /etc/resolv.conf, raw, for dns.c to read: its length, or -1 with the
 * reason in err when none came within timeout seconds (0: no bound) or
 * before a SIGTERM, or it is longer than size. */
int	resolve_query(const char *name, int type, int timeout,
	    unsigned char *buf, size_t size, char *err, size_t errsize);

/* queue.c: the Maildir-style queue ------------------------------------- */

struct queue {
	int	dir;		/* the queue directory, open */
	int	new_dir;	/* new/, open, for fsync after rename */
	int	slot_fd;	/* the pool's lock file while we hold a slot */
	char	host[HOST_MAX + 1];	/* for unique names, sanitised */
	int	tmp_dir;	/* tmp/, open: no path through the queue */
	int	failed_dir;	/* failed/, open */
};

struct queue_file {
	int	fd;
	char	name[QUEUE_NAME_MAX + 1];
	char	tmp[QUEUE_NAME_MAX + 8];	/* "tmp/" name */
};

int	queue_open(struct queue *, const char *dir, const char *host);
int	queue_dirfd(struct queue *, const char *subdir);
void	queue_close(struct queue *);
int	queue_slot(struct queue *, const char *lock, unsigned max);
int	queue_create(struct queue *, struct queue_file *);
int	queue_commit(struct queue *, struct queue_file *, const char *subdir);
void	queue_abort(struct queue *, struct queue_file *);
/* The FIFO in the queue directory that smtpsend -w waits on; a commit
 * into new/ pokes it. */
#define QUEUE_TRIGGER	"trigger"
void	queue_poke(struct queue *);
int	queue_unique(const char *host, char *buf, size_t size);
/* The durable writer of the queue and of a Maildir: a file of a unique
 * name created in dir (prefix, e.g. "tmp/", before the name; never
 * through a link; mode whatever the umask), its fd or -1; then committed:
 * fsync'd, closed, renamed from tmpdir/tmpname to newdir/name, newdir
 * fsync'd.  A failed commit leaves nothing behind (a rename not made
 * durable is undone) and closes fd; errno says why. */
int	queue_file_create(int dir, const char *prefix, const char *host,
	    char *name, size_t size, mode_t mode);
int	queue_file_commit(int fd, int tmpdir, const char *tmpname,
	    int newdir, const char *name);

/* submit.c: a new message into the queue (smtpd, sendmail, smtpsend) ---- */

/* submit_envelope() flags; 1 is what callers passed as is_8bitmime */
#define SUBMIT_8BITMIME		1	/* "Body: 8BITMIME" */
#define SUBMIT_SMTPUTF8		4	/* "Smtputf8: yes" (RFC 6531) */

int	submit_begin(struct queue *, struct queue_file *, struct out *);
int	submit_envelope(struct out *, const char *sender,
	    const char (*rcpts)[ADDR_MAX + 1], size_t nrcpts, int flags,
	    const char *origin);
int	submit_mark_8bit(struct queue *, struct queue_file *,
	    const char *sender);
int	submit_commit(struct queue *, struct queue_file *, struct out *);

/* addrlist.c: RFC 5322 3.4 address lists (To:, Cc:, Bcc:) --------------- */

/* Reads the next mailbox of an address list at *sp (display names,
 * comments, groups and quoted strings understood) into addr, checked with
 * addr_parse_utf8() (UTF-8 allowed: addr_is_ascii() tells).  Returns 1
 * with an address, 0 at the end, -1 for bad syntax; *sp moves past what
 * was read. */
int	addrlist_next(const char **sp, char *addr, size_t size);
/* base64.c: RFC 4648 base64, for SASL --------------------------------- */

/* base64_encode() writes a NUL-terminated string and returns its length,
 * -1 when size is too small.  base64_decode() takes a NUL-terminated
 * string, refuses anything but canonical base64 (-1), and writes at most
 * size bytes, their number in *len. */
int	base64_encode(const void *, size_t len, char *out, size_t size);
int	base64_decode(const char *, void *out, size_t size, size_t *len);

/* date.c: dates for headers and logs ------------------------------------ */

int	date_rfc5322(time_t, char *buf, size_t size);
const char	*date_age(long seconds, char *buf, size_t size);

/* dkim.c: DKIM relaxed canonicalisation (RFC 6376 3.4.2, 3.4.4) --------- */

typedef void	dkim_emit_fn(void *arg, const char *, size_t);

struct dkim_body {
	dkim_emit_fn	*emit;		/* where canonical octets go */
	void		*arg;
	unsigned long long length;	/* octets emitted so far */
	size_t		 blank_lines;	/* empty lines not emitted yet */
	int		 is_cr;		/* the last octet was a CR */
	int		 is_wsp;	/* WSP seen since the last text */
	int		 has_text;	/* the line so far is not empty */
};

/* The body in pieces of any size, then dkim_body_end(); each emits what
 * is canonical so far.  dkim_header_relaxed() writes one field
 * canonicalised ("name:value
", NUL-terminated) and returns its
 * length, or -1 for a field with no name or an out too small. */
void	dkim_body_init(struct dkim_body *, dkim_emit_fn *, void *arg);
void	dkim_body_feed(struct dkim_body *, const char *, size_t);
void	dkim_body_end(struct dkim_body *);
int	dkim_header_relaxed(const char *field, size_t len, char *out,
	    size_t size);
/* dkim_key_kind(): what a PEM private key file's text holds (RSA, in
 * PKCS#1 or PKCS#8, or Ed25519 in PKCS#8); anything else, an encrypted
 * key too, is DKIM_KEY_UNKNOWN.  Base64 over DKIM_KEY_PEM_MAX: unknown. */
#define DKIM_KEY_PEM_MAX	8192	/* a 4096-bit RSA key is some 3,200 */
#define DKIM_KEY_HEAD		32	/* the DER octets the OID is sought in */
enum dkim_key { DKIM_KEY_UNKNOWN, DKIM_KEY_RSA, DKIM_KEY_ED25519 };
enum dkim_key	dkim_key_kind(const char *pem, size_t len);
/* RFC 6376 3.1: a selector is dot-separated labels of letters, digits
 * and inner hyphens, each at most 63. */
int	dkim_selector_valid(const char *);

/* dns.c: DNS answers read strictly (RFC 1035 4.1) ----------------------- */

#define DNS_NAME_MAX	253	/* RFC 1035 2.3.4, without the root's dot */
#define DNS_MSG_MAX	65535	/* RFC 1035 4.2.2: TCP's length field */
#define DNS_MX_MAX	16	/* MX hosts kept per domain */
#define DNS_QUERY_MAX	512	/* RFC 1035 2.3.4: a query fits UDP's */

/* RFC 1035 3.2.2, RFC 3596, RFC 6698: the types we ask for. */
#define DNS_TYPE_A	1
#define DNS_TYPE_CNAME	5
#define DNS_TYPE_PTR	12
#define DNS_TYPE_MX	15
#define DNS_TYPE_TXT	16
#define DNS_TYPE_AAAA	28
#define DNS_TYPE_TLSA	52

enum dns_status {
	DNS_OK,			/* records found */
	DNS_NODATA,		/* the name exists, no record of the type */
	DNS_NXDOMAIN,		/* RFC 1035 4.1.1 rcode 3: no such name */
	DNS_NULLMX,		/* RFC 7505: the domain takes no mail */
	DNS_TEMP		/* SERVFAIL, truncated, malformed: retry */
};

struct dns_answer {
	const unsigned char	*msg;
	size_t			 len;
	size_t			 pos;		/* next answer record */
	unsigned		 left;		/* answer records not read */
	int			 is_authentic;	/* AD bit (RFC 4035 3.2.3) */
};

struct dns_rr {
	char		owner[DNS_NAME_MAX + 1];	/* lower case */
	unsigned	type;
	unsigned	class;
	size_t		rdata;		/* offset of RDATA in the message */
	size_t		rdlen;
};

struct dns_mx {
	unsigned	pref;
	char		host[DNS_NAME_MAX + 1];	/* lower case, no final dot */
};

/* dns_open() reads the header and the question: DNS_OK with answer
 * records to read by dns_next() (1 a record, 0 the end, -1 malformed).
 * dns_mx() keeps at most max MX hosts answering domain (CNAMEs followed,
 * duplicates dropped) in mx, their number in *n, in the answer's order;
 * for DNS_NODATA after a CNAME whose target's records the answer lacks,
 * that target in cname (else ""), to be asked for in turn;
 * dns_mx_order() sorts them by preference, equal ones shuffled by seed. */
enum dns_status	dns_open(struct dns_answer *, const unsigned char *msg,
		    size_t len);
int		dns_next(struct dns_answer *, struct dns_rr *);
enum dns_status	dns_mx(const unsigned char *msg, size_t len,
		    const char *domain, struct dns_mx *mx, size_t max,
		    size_t *n, char *cname, size_t cnamesize);
void		dns_mx_order(struct dns_mx *, size_t n, unsigned long seed);
/* dns_addr(): the addresses of name in an answer to type DNS_TYPE_A or
 * DNS_TYPE_AAAA (CNAMEs followed, duplicates dropped), at most max, each
 * in 16 octets (an IPv4 address in the first 4), their number in *n;
 * cname as dns_mx()'s. */
enum dns_status	dns_addr(const unsigned char *msg, size_t len,
		    const char *name, unsigned type, unsigned char (*addr)[16],
		    size_t max, size_t *n, char *cname, size_t cnamesize);
/* dns_rr_txt() joins one TXT record's strings into out (NUL-terminated):
 * their length, or -1 (malformed, a NUL, over size - 1).
 * dns_rdata_name(): the host name of a PTR or CNAME record: 0 or -1. */
int		dns_rr_txt(const struct dns_answer *, const struct dns_rr *,
		    char *out, size_t size);
int		dns_rdata_name(const struct dns_answer *, const struct dns_rr *,
		    char *out, size_t size);
/* resolve.c, with dns.c: domain's MX hosts (dns_mx()), a CNAME's target
 * asked for in turn when the resolver did not follow it, each query
 * bounded by timeout; *is_authentic when every answer had the AD bit.
 * DNS_TEMP with the reason in err when no usable answer came. */
enum dns_status	resolve_mx(const char *domain, int timeout,
		    struct dns_mx *mx, size_t max, size_t *n,
		    int *is_authentic, char *err, size_t errsize);
/* resolve.c, with dns.c: name's addresses of type DNS_TYPE_A or
 * DNS_TYPE_AAAA (dns_addr()), as resolve_mx() asks. */
enum dns_status	resolve_addr(const char *name, unsigned type, int timeout,
		    unsigned char (*addr)[16], size_t max, size_t *n,
		    char *err, size_t errsize);

/* TLSA (RFC 6698 2.1) and TXT (RFC 1035 3.3.14) records, for DANE (RFC
 * 7672) and MTA-STS (RFC 8461 3.1).  dns_tlsa() keeps at most max TLSA
 * records answering name (CNAMEs followed), those whose data is longer
 * than DNS_TLSA_DATA_MAX counted in *n but not kept (their len is 0);
 * dns_txt() keeps each TXT record's strings joined, a record longer than
 * DNS_TXT_MAX or with a control character as "".  Both: DNS_OK with *n
 * records, or a status as dns_mx() gives. */
#define DNS_TLSA_DATA_MAX	1024	/* a full certificate or key fits */
#define DNS_TLSA_MAX		8
#define DNS_TXT_MAX		1024
#define DNS_TXT_RECORDS_MAX	8

struct dns_tlsa {
	unsigned	usage;		/* RFC 6698 2.1.1: 0-3 */
	unsigned	selector;	/* 2.1.2: 0 certificate, 1 key */
	unsigned	mtype;		/* 2.1.3: 0 full, 1 SHA-256, 2 SHA-512 */
	size_t		len;		/* 0: data too long, not kept */
	unsigned char	data[DNS_TLSA_DATA_MAX];
};

enum dns_status	dns_tlsa(const unsigned char *msg, size_t len,
		    const char *name, struct dns_tlsa *, size_t max,
		    size_t *n);
enum dns_status	dns_txt(const unsigned char *msg, size_t len,
		    const char *name, char (*txt)[DNS_TXT_MAX + 1], size_t max,
		    size_t *n);
/* resolve.c, with dns.c: the TLSA records of name, the TXT records of
 * name, the resolver's answer only (*is_authentic: its AD bit, from a
 * resolver resolve_is_trusted()); DNS_TEMP with err for no usable answer
 * (a SERVFAIL: from a validating resolver, a bogus one too). */
enum dns_status	resolve_tlsa(const char *name, int timeout,
		    struct dns_tlsa *, size_t max, size_t *n,
		    int *is_authentic, char *err, size_t errsize);
enum dns_status	resolve_txt(const char *name, int timeout,
		    char (*txt)[DNS_TXT_MAX + 1], size_t max, size_t *n,
		    int *is_authentic, char *err, size_t errsize);
/* Whether the AD bit of /etc/resolv.conf's resolver may be believed:
 * every nameserver on loopback, or "options trust-ad" (smtpsend(8)). */
int		resolve_is_trusted(void);

/* envelope.c: the head of a queue file ---------------------------------- */

/* Extension lines ("Body: 8BITMIME") kept per queue file; more: damaged. */
#define ENVELOPE_EXT_MAX	16

struct envelope {
	char	from[ADDR_MAX + 1];		/* "" for the null sender */
	char	rcpt[RCPT_MAX][ADDR_MAX + 1];	/* pending recipients */
	size_t	nrcpt;
	char	ext[ENVELOPE_EXT_MAX][SMTP_LINE_MAX + 1]; /* "Word: value" */
	size_t	next;
	off_t	body;		/* offset of the message in the file */
};

enum result	 envelope_read(struct line *, struct envelope *, char *err,
		    size_t errsize);
const char	*envelope_ext(const struct envelope *, const char *word);
int		 envelope_put(struct out *, const char *from,
		    const char (*ext)[SMTP_LINE_MAX + 1], size_t next,
		    const char (*rcpt)[ADDR_MAX + 1], size_t nrcpt,
		    const int *keep);
int		 envelope_write(struct out *, const struct envelope *,
		    const int *keep);
int		 envelope_rewrite(struct queue *, int fd, const char *name,
		    const struct envelope *, const int *keep, time_t next);
int		 envelope_fail(struct queue *, int fd, const char *name,
		    const struct envelope *, const int *keep);

/* proxy.c: the PROXY protocol header of a load balancer ---------------- */

/* The spec's bounds: a v1 line is at most 107 octets with its CRLF; our
 * bound for a v2 header with its TLVs.  Longer: not a header. */
#define PROXY_V1_MAX		107
#define PROXY_V2_MAX		1024

struct proxy {
	enum {
		PROXY_CLIENT,	/* the client's address follows */
		PROXY_LOCAL,	/* v2 LOCAL: the balancer's own connection */
		PROXY_UNKNOWN	/* v1 UNKNOWN, v2 AF_UNSPEC: client unknown */
	}		 kind;
	int		 family;	/* AF_INET or AF_INET6 for a client */
	unsigned char	 addr[16];	/* the client's source address */
};

/* Returns the header's length once bytes b[0..len) hold a whole one, 0
 * while they may still become one, -1 when they never will. */
int	proxy_parse(const unsigned char *, size_t, struct proxy *);

/* conf.c: smtpq.conf, the configuration file (smtpq.conf(5)) ----------- */

#ifndef SYSCONFDIR
#define SYSCONFDIR		"/etc"
#endif
#define CONF_PATH		SYSCONFDIR "/smtpq/smtpq.conf"

/* Bounds of the file: over any of them it is refused (exit 78). */
#define CONF_FILE_MAX		65536	/* bytes */
#define CONF_LINE_MAX		1024	/* bytes of one line, without LF */
#define CONF_VALUES_MAX		512	/* key lines for one program */

/* The programs that read it: each has its column of flags. */
enum conf_prog { CONF_SMTPD, CONF_SMTPSEND, CONF_SMTPQCTL, CONF_SENDMAIL,
	CONF_PROGS };

struct conf_value {
	unsigned	 line;
	int		 letter;	/* the flag it stands for */
	const char	*key;
	char		*value;
};

/* conf_parse() parses len bytes of text into at most max values of
 * prog's, cutting it in place (text needs len + 1 bytes: a last line
 * without LF gets a NUL after it); 0, or -1 with err and *lineno (0: the
 * whole text). */
int	conf_parse(char *text, size_t len, enum conf_prog,
	    struct conf_value *, size_t max, size_t *n, unsigned *lineno,
	    char *err, size_t errsize);
/* getopt() with the file first: returns the file's values (optarg set)
 * whose flag the command line does not give, then the command line's;
 * takes -F FILE itself (optstring must hold "F:").  While a file's value
 * is in hand, die_usage() says FILE:LINE and exits 78. */
int	conf_getopt(int argc, char *const argv[], const char *optstring,
	    enum conf_prog);
/* sendmail: reads the installed file (set-id: nothing else), then
 * conf_get() gives a key's value by its letter in the table (NULL: not
 * set).  Trouble in the file: exit 78, as for the others. */
void	conf_read(enum conf_prog);
const char *conf_get(int letter);
/* Blames the file's value of a flag for the next die_usage() (a check
 * made after the options); 0, or a flag from the command line: none. */
void	conf_blame(int letter);
/* The -F file, NULL for the default. */
const char *conf_file(void);
void	conf_die_va(const char *fmt, va_list);

#endif
