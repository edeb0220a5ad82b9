/*
 * authlimit.c: AUTH failures counted across sessions.
 * smtpd is one process per connection, so what the sessions share lives
 * in QUEUE/auth/failures: a file of fixed size, AUTHLIMIT_SLOTS records
 * of AUTHLIMIT_RECORD bytes after a header record, locked with fcntl only
 * while one is read and rewritten (never across a wait for the client or
 * the checker), and validated when read: a record that does not parse is
 * a free slot, a header that does not is written anew.  It never grows.
 *
 * Each record is a leaky bucket of failures for one key: "u" a user name
 * (as logged, cut at AUTHLIMIT_KEY_MAX), "n" a client network (/24 for
 * IPv4, /64 for IPv6).  A bucket forgets one failure every AUTH_USER_LEAK
 * or AUTH_NET_LEAK seconds; a full one refuses the next AUTH with 454
 * 4.7.0 without running the checker.  A check is counted as a failure
 * when it is admitted and taken back when it did not fail, so that
 * parallel sessions cannot all slip under the bound at once.  The header
 * counts checker runs in the current second (AUTH_CHECKS_PER_SECOND).
 *
 *	record: K SP COUNT(5) SP LAST(11) SP KEY, blanks to 95, LF
 *	header: "smtpq-auth 1" SP SECOND(11) SP RUNS(5), blanks, LF
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpd.h"

#define HEADER_TAG	"smtpq-auth 1 "
#define LOCK_TRIES	200	/* of 10 ms: the lock is held for microseconds */


/*
 * One record from buf (AUTHLIMIT_RECORD bytes, any content): 0 with *r
 * filled, -1 when it is no record (a free slot).
 */
int
authlimit_parse(const char *buf, struct authlimit_record *r)
{
	size_t i, k;

	if ((buf[0] != 'u' && buf[0] != 'n') || buf[1] != ' ' ||
	    buf[7] != ' ' || buf[19] != ' ' ||
	    buf[AUTHLIMIT_RECORD - 1] != '\n')
		return -1;
	r->kind = buf[0];
	r->count = 0;
	for (i = 2; i < 7; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		r->count = r->count * 10 + (unsigned)(buf[i] - '0');
	}
	r->last = 0;
	for (i = 8; i < 19; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return -1;
		r->last = r->last * 10 + (buf[i] - '0');
	}
	for (k = 0, i = 20; i < AUTHLIMIT_RECORD - 1 && buf[i] != ' '; i++) {
		if (buf[i] <= ' ' || buf[i] >= 127 || k == AUTHLIMIT_KEY_MAX)
			return -1;
		r->key[k++] = buf[i];
	}
	r->key[k] = '\0';
	for (; i < AUTHLIMIT_RECORD - 1; i++)
		if (buf[i] != ' ')
			return -1;
	return k == 0 ? -1 : 0;
}

/* r into buf, AUTHLIMIT_RECORD bytes; r as authlimit_parse() makes it. */
void
authlimit_format(const struct authlimit_record *r, char *buf)
{
	char line[AUTHLIMIT_RECORD + 32];
	int n;

	n = snprintf(line, sizeof(line), "%c %05u %011lld %s", r->kind,
	    r->count > 99999 ? 99999 : r->count,
	    r->last < 0 ? 0LL : r->last > 99999999999LL ? 99999999999LL :
	    r->last, r->key);
	if (n < 0 || n > AUTHLIMIT_RECORD - 1)
		n = 0;		/* cannot happen with a key in bounds: free */
	memset(buf, ' ', AUTHLIMIT_RECORD - 1);
	memcpy(buf, line, (size_t)n);
	buf[AUTHLIMIT_RECORD - 1] = '\n';
}

/* A client's network as a key: a.b.c.0/24, x:x:x:x::/64, else the
 * address itself made fit for a key. */
void
authlimit_net(const char *peer, char *key)
{
	unsigned char a[16];
	char text[INET6_ADDRSTRLEN];
	size_t i;

	if (inet_pton(AF_INET6, peer, a) == 1 && !(memcmp(a,
	    "\0\0\0\0\0\0\0\0\0\0\377\377", 12) == 0)) {
		memset(a + 8, 0, 8);
		if (inet_ntop(AF_INET6, a, text, sizeof(text)) != NULL) {
			snprintf(key, AUTHLIMIT_KEY_MAX + 1, "%s/64", text);
			return;
		}
	}
	if (inet_pton(AF_INET6, peer, a) == 1)	/* ::ffff:a.b.c.d */
		memmove(a, a + 12, 4);
	else if (inet_pton(AF_INET, peer, a) != 1)
		goto other;
	snprintf(key, AUTHLIMIT_KEY_MAX + 1, "%u.%u.%u.0/24", a[0], a[1],
	    a[2]);
	return;
other:
	for (i = 0; i < AUTHLIMIT_KEY_MAX && peer[i] != '\0'; i++)
		key[i] = peer[i] > ' ' && peer[i] < 127 ? peer[i] : '?';
	key[i] = '\0';
	if (i == 0)
		strcpy(key, "-");
}

/* The file is opened at the first AUTH, under the queue directory dir. */
void
authlimit_init(struct authlimit *al, int dir)
{
	al->dir = dir;
	al->fd = -1;
	al->is_pending = 0;
	al->admitted = 0;
}

static int
state_open(struct authlimit *al)
{
	struct stat st;
	int dir;

	if (al->fd != -1)
		return 0;
	if (mkdirat(al->dir, "auth", 0700) == -1 && errno != EEXIST)
		return -1;
	dir = openat(al->dir, "auth", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dir == -1)
		return -1;
	al->fd = openat(dir, "failures", O_RDWR | O_CREAT | O_NOFOLLOW |
	    O_NONBLOCK | O_CLOEXEC, 0600);
	close(dir);
	if (al->fd == -1)
		return -1;
	if (fstat(al->fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_nlink != 1) {
		close(al->fd);
		al->fd = -1;
		errno = EINVAL;
		return -1;
	}
	return 0;
}

static int
state_lock(struct authlimit *al, short type)
{
	struct timespec ts = { 0, 10000000L };
	struct flock fl;
	int i;

	for (i = 0; i < LOCK_TRIES; i++) {
		memset(&fl, 0, sizeof(fl));
		fl.l_type = type;
		fl.l_whence = SEEK_SET;
		if (fcntl(al->fd, F_SETLK, &fl) == 0)
			return 0;
		if (errno != EACCES && errno != EAGAIN && errno != EINTR)
			return -1;
		if (type == F_UNLCK)
			return -1;
		nanosleep(&ts, NULL);
	}
	errno = ETIMEDOUT;
	return -1;
}

/* Opens, locks and reads the table; a short file is read as free slots
 * and the size made right. */
static int
state_load(struct authlimit *al)
{
	size_t got = 0;
	ssize_t n;

	if (state_open(al) == -1 || state_lock(al, F_WRLCK) == -1)
		return -1;
	while (got < sizeof(al->table)) {
		n = pread(al->fd, al->table + got, sizeof(al->table) - got,
		    (off_t)got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			state_lock(al, F_UNLCK);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	memset(al->table + got, 0, sizeof(al->table) - got);
	if (ftruncate(al->fd, (off_t)AUTHLIMIT_FILE_SIZE) == -1) {
		state_lock(al, F_UNLCK);
		return -1;
	}
	return 0;
}

/* Writes slot i (0: the header) and, with is_done, unlocks. */
static int
state_store(struct authlimit *al, size_t i, int is_done)
{
	size_t off = i * AUTHLIMIT_RECORD, put = 0;
	ssize_t n;

	while (put < AUTHLIMIT_RECORD) {
		n = pwrite(al->fd, al->table + off + put,
		    AUTHLIMIT_RECORD - put, (off_t)(off + put));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			state_lock(al, F_UNLCK);
			return -1;
		}
		put += (size_t)n;
	}
	if (is_done && state_lock(al, F_UNLCK) == -1)
		return -1;
	return 0;
}

/* The failures still in r's bucket at now. */
static void
leak(struct authlimit_record *r, long long now)
{
	long long period = r->kind == 'u' ? AUTH_USER_LEAK : AUTH_NET_LEAK;
	long long gone;

	if (r->last > now) {	/* the clock went back: keep the count */
		r->last = now;
		return;
	}
	gone = (now - r->last) / period;
	if (gone >= (long long)r->count) {
		r->count = 0;
		r->last = now;
	} else {
		r->count -= (unsigned)gone;
		r->last += gone * period;
	}
}

/*
 * The slot of kind/key in the loaded table, with its record in *r
 * (leaked to now); a new key gets a free slot, or the one with the
 * fewest failures (the oldest among equals): a flood of new keys evicts
 * its own kind before a bucket that is filling.  Slot other (the other
 * key's, 0 for none) is never taken.
 */
static size_t
slot_find(struct authlimit *al, char kind, const char *key, long long now,
    size_t other, struct authlimit_record *r)
{
	struct authlimit_record x, best;
	size_t i, pick = 0;
	int has_pick = 0;

	memset(&best, 0, sizeof(best));
	for (i = 1; i <= AUTHLIMIT_SLOTS; i++) {
		if (i == other)
			continue;
		if (authlimit_parse(al->table + i * AUTHLIMIT_RECORD, &x) ==
		    -1) {
			x.count = 0;
			x.last = 0;
		} else {
			leak(&x, now);
			if (x.kind == kind && strcmp(x.key, key) == 0 &&
			    x.count > 0) {
				*r = x;
				return i;
			}
		}
		if (!has_pick || x.count < best.count ||
		    (x.count == best.count && x.last < best.last)) {
			best = x;
			pick = i;
			has_pick = 1;
		}
	}
	r->kind = kind;
	r->count = 0;
	r->last = now;
	snprintf(r->key, sizeof(r->key), "%s", key);
	return pick;
}

static void
slot_put(struct authlimit *al, size_t i, const struct authlimit_record *r)
{
	authlimit_format(r, al->table + i * AUTHLIMIT_RECORD);
}

/* Header: checker runs this second; -1 when the bound is reached (the
 * header is left as it was), else 0 with the run counted. */
static int
runs_take(struct authlimit *al, long long now)
{
	char *h = al->table;
	long long second = 0;
	unsigned runs = 0;
	size_t i;
	int is_valid;

	is_valid = memcmp(h, HEADER_TAG, strlen(HEADER_TAG)) == 0 &&
	    h[AUTHLIMIT_RECORD - 1] == '\n';
	for (i = strlen(HEADER_TAG); is_valid && i < 24; i++)
		if (h[i] < '0' || h[i] > '9')
			is_valid = 0;
		else
			second = second * 10 + (h[i] - '0');
	if (is_valid && h[24] != ' ')
		is_valid = 0;
	for (i = 25; is_valid && i < 30; i++)
		if (h[i] < '0' || h[i] > '9')
			is_valid = 0;
		else
			runs = runs * 10 + (unsigned)(h[i] - '0');
	if (!is_valid || second != now)
		runs = 0;
	if (runs >= AUTH_CHECKS_PER_SECOND)
		return -1;
	memset(h, ' ', AUTHLIMIT_RECORD - 1);
	snprintf(h, AUTHLIMIT_RECORD, HEADER_TAG "%011lld %05u", now,
	    runs + 1);
	h[strlen(h)] = ' ';
	h[AUTHLIMIT_RECORD - 1] = '\n';
	return 0;
}

/*
 * Before a check: 0 when it may go on (counted as a failure of user and
 * net until authlimit_settle()), else 454 with *text.  Waits up to
 * AUTH_CHECK_WAIT seconds for a checker run; our own trouble with the
 * file is 454 too (fail closed: the bound must hold).
 */
int
authlimit_admit(struct authlimit *al, const char *peer, const char *user,
    const char **text)
{
	struct timespec ts = { 0, 100000000L };	/* 100 ms */
	struct authlimit_record ur, nr;
	size_t ui, ni;
	long long now;
	int tries = AUTH_CHECK_WAIT * 10;

	al->is_pending = 0;
	*text = "4.7.0 Temporary authentication failure";
	snprintf(al->pending_user, sizeof(al->pending_user), "%s",
	    user[0] != '\0' ? user : "-");
	authlimit_net(peer, al->pending_net);
	for (;;) {
		if (state_load(al) == -1) {
			log_error("peer=%s user=%s result=auth temporary "
			    "failure: auth/failures: %s", peer, user,
			    strerror(errno));
			return 454;
		}
		now = (long long)time(NULL);
		ni = slot_find(al, 'n', al->pending_net, now, 0, &nr);
		if (nr.count >= AUTH_NET_FAILURES) {
			state_lock(al, F_UNLCK);
			log_info("peer=%s user=%s result=auth refused: too "
			    "many failures from %s", peer, user,
			    al->pending_net);
			*text = "4.7.0 Too many authentication failures, "
			    "try again later";
			return 454;
		}
		ui = slot_find(al, 'u', al->pending_user, now, ni, &ur);
		if (ur.count >= AUTH_USER_FAILURES) {
			state_lock(al, F_UNLCK);
			log_info("peer=%s user=%s result=auth refused: too "
			    "many failures for the user", peer, user);
			*text = "4.7.0 Too many authentication failures, "
			    "try again later";
			return 454;
		}
		if (runs_take(al, now) == 0)
			break;
		state_lock(al, F_UNLCK);
		if (--tries <= 0) {
			log_error("peer=%s user=%s result=auth temporary "
			    "failure: over %d checks a second", peer, user,
			    AUTH_CHECKS_PER_SECOND);
			return 454;
		}
		nanosleep(&ts, NULL);
	}
	nr.count++;
	ur.count++;
	slot_put(al, ni, &nr);
	slot_put(al, ui, &ur);
	if (state_store(al, 0, 0) == -1 || state_store(al, ni, 0) == -1 ||
	    state_store(al, ui, 1) == -1) {
		log_error("peer=%s user=%s result=auth temporary failure: "
		    "auth/failures: %s", peer, user, strerror(errno));
		return 454;
	}
	al->is_pending = 1;
	al->admitted = now;
	return 0;
}

/*
 * After an admitted check ended with code: a 535 keeps its failures and
 * returns the seconds to wait before answering (one per failure in the
 * fuller bucket, up to AUTH_DELAY_MAX); anything else takes them back and
 * returns 0.
 */
unsigned
authlimit_settle(struct authlimit *al, int code)
{
	struct authlimit_record ur, nr;
	size_t ui, ni;
	long long now;
	unsigned most;

	if (!al->is_pending)
		return code == 535 ? AUTH_FAIL_DELAY : 0;
	al->is_pending = 0;
	if (state_load(al) == -1)
		return code == 535 ? AUTH_DELAY_MAX : 0;
	now = (long long)time(NULL);
	ni = slot_find(al, 'n', al->pending_net, now, 0, &nr);
	ui = slot_find(al, 'u', al->pending_user, now, ni, &ur);
	if (code == 535) {
		state_lock(al, F_UNLCK);
		most = nr.count > ur.count ? nr.count : ur.count;
		return most < AUTH_FAIL_DELAY ? AUTH_FAIL_DELAY :
		    most > AUTH_DELAY_MAX ? AUTH_DELAY_MAX : most;
	}
	if (nr.count > 0)
		nr.count--;
	if (ur.count > 0)
		ur.count--;
	slot_put(al, ni, &nr);
	slot_put(al, ui, &ur);
	if (state_store(al, ni, 0) == 0)
		state_store(al, ui, 1);
	return 0;
}
