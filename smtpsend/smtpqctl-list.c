/*
 * smtpqctl-list.c: smtpqctl queue [--json]: one line (or JSON object) per
 * recipient of every message in new/, hold/ and failed/: its id, state,
 * age, next try, and, when the log is a file smtpsend writes, how many
 * attempts it logged for that recipient and the last reply; then (text)
 * a summary line, alone with --summary.
 *
 * Reads the queue files as smtpsend does (envelope_read(), regular files
 * only, no link followed) and the log's last LOG_SCAN_MAX bytes, line by
 * line, bounded.  Prints every value escaped: \xHH in text, \u00HH in
 * JSON, so that no queue file or log line can forge output.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtpqctl.h"

/* The log's tail read for attempts and replies. */
#define LOG_SCAN_MAX	((off_t)64 * 1024 * 1024)

struct item {
	char		 id[QUEUE_NAME_MAX + 1];
	int		 dir;
	time_t		 arrival, next;
	char		*from, *to;
	unsigned	 attempts;
	char		*last;		/* NULL: none logged */
};

static struct item *items;
static size_t nitems, capitems;
static struct line file_in;
static struct envelope env;

static int
item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c != 0 ? c : strcmp(x->to, y->to);
}

static void
nomem(void)
{
	fprintf(stderr, "smtpqctl: out of memory\n");
	exit(EXIT_OSERR);
}

static void
item_add(const char *id, int dir, time_t next, const char *from,
    const char *to)
{
	struct item *v, *it;

	if (nitems == capitems) {
		capitems = capitems == 0 ? 64 : capitems * 2;
		if ((v = realloc(items, capitems * sizeof(*v))) == NULL)
			nomem();
		items = v;
	}
	it = &items[nitems++];
	memset(it, 0, sizeof(*it));
	strcpy(it->id, id);
	it->dir = dir;
	it->arrival = (time_t)strtoll(id, NULL, 10);
	it->next = next;
	if ((it->from = strdup(from)) == NULL || (it->to = strdup(to)) ==
	    NULL)
		nomem();
}

/* The recipients of every message in one directory. */
static void
list_dir(int i)
{
	struct dirent *d;
	struct stat st;
	char why[128];
	DIR *dir;
	size_t j;
	int fd, dfd;

	if (qdir_open(i) == -1 || (dfd = dup(qdirs[i])) == -1 ||
	    (dir = fdopendir(dfd)) == NULL) {
		if (i == QDIR_NEW) {
			fprintf(stderr, "smtpqctl: unable to list %s/%s: "
			    "%s\n", queue_dir, qdir_names[i],
			    strerror(errno));
			exit(EXIT_TEMPFAIL);
		}
		return;
	}
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || strlen(d->d_name) > QUEUE_NAME_MAX)
			continue;
		/* No lock: a listing must not wait for a delivery. */
		if ((fd = openat(qdirs[i], d->d_name, O_RDONLY | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
			continue;
		if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(fd);
			continue;
		}
		line_init(&file_in, fd, 0);
		if (envelope_read(&file_in, &env, why, sizeof(why)) !=
		    RES_OK)
			item_add(d->d_name, i, st.st_mtime, "", "");
		else
			for (j = 0; j < env.nrcpt; j++)
				item_add(d->d_name, i, st.st_mtime, env.from,
				    env.rcpt[j]);
		close(fd);
	}
	closedir(dir);
}

/* The value of "KEY" in a log line ("id=", "to=<"), up to stop. */
static int
log_field(const char *line, const char *key, int stop, char *buf,
    size_t size)
{
	const char *p = line, *end;

	while ((p = strstr(p, key)) != NULL && p != line && p[-1] != ' ')
		p++;
	if (p == NULL)
		return -1;
	p += strlen(key);
	if ((end = strchr(p, stop)) == NULL)
		end = p + strlen(p);
	if ((size_t)(end - p) >= size)
		return -1;
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return 0;
}

/* One line of smtpsend's: "id=ID to=<R> ... result=WORD[ (..)]: reply". */
static void
log_line(const char *line)
{
	char id[QUEUE_NAME_MAX + 1], to[ADDR_MAX + 1], *copy;
	const char *result, *text;
	struct item key, *it;
	size_t lo, hi, mid;

	if (log_field(line, "id=", ' ', id, sizeof(id)) == -1 ||
	    log_field(line, "to=<", '>', to, sizeof(to)) == -1 ||
	    (result = strstr(line, " result=")) == NULL)
		return;
	result += 8;
	if (strncmp(result, "sent", 4) != 0 &&
	    strncmp(result, "deferred", 8) != 0 &&
	    strncmp(result, "bounced", 7) != 0)
		return;
	strcpy(key.id, id);
	key.to = to;
	lo = 0;
	hi = nitems;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (item_cmp(&items[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Each recipient is listed once per message. */
	if (lo == nitems || item_cmp(&items[lo], &key) != 0)
		return;
	it = &items[lo];
	it->attempts++;
	text = strstr(result, ": ");
	if ((copy = strdup(text != NULL ? text + 2 : result)) == NULL)
		nomem();
	free(it->last);
	it->last = copy;
}

/* Reads the log's tail, when it is a file. */
static int
log_scan(void)
{
	static struct line in;
	char buf[4096];
	struct stat st;
	enum line_status ls;
	size_t len;
	int fd, bare, is_first = 1;

	if (log_file == NULL || strcmp(log_file, "-") == 0)
		return 0;
	if ((fd = open(log_file, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1 ||
	    !S_ISREG(st.st_mode)) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (st.st_size > LOG_SCAN_MAX && lseek(fd, st.st_size -
	    LOG_SCAN_MAX, SEEK_SET) == -1) {
		close(fd);
		return 0;
	}
	is_first = st.st_size > LOG_SCAN_MAX;	/* a cut first line */
	line_init(&in, fd, 0);
	while ((ls = line_read(&in, buf, sizeof(buf) - 1, &len, &bare)) ==
	    LINE_OK || ls == LINE_LONG) {
		if (ls == LINE_LONG || is_first || memchr(buf, '\0', len) !=
		    NULL) {
			is_first = 0;
			continue;
		}
		buf[len] = '\0';
		log_line(buf);
	}
	close(fd);
	return 1;
}

static void
print_json_string(const char *s)
{
	unsigned char c;

	putchar('"');
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < ' ' || c >= 127)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/*
 * The summary line, for monitoring (a check_mailq-style probe, a cron
 * job): messages and recipients in each state, and the age of the oldest
 * message still to be delivered (new/), in words and in seconds.
 */
static void
summary(time_t now)
{
	size_t i, msgs[QDIRS] = { 0, 0, 0 }, rcpts = 0;
	time_t oldest = 0;
	char age[32];

	for (i = 0; i < nitems; i++) {
		if (i == 0 || strcmp(items[i].id, items[i - 1].id) != 0)
			msgs[items[i].dir]++;
		if (items[i].dir != QDIR_NEW)
			continue;
		rcpts++;
		if (items[i].arrival > 0 && items[i].arrival <= now &&
		    (oldest == 0 || items[i].arrival < oldest))
			oldest = items[i].arrival;
	}
	printf("summary: queued=%zu held=%zu failed=%zu recipients=%zu "
	    "oldest=%s oldest_seconds=%lld\n", msgs[QDIR_NEW],
	    msgs[QDIR_HOLD], msgs[QDIR_FAILED], rcpts, oldest == 0 ? "-" :
	    date_age((long)(now - oldest), age, sizeof(age)),
	    oldest == 0 ? 0LL : (long long)(now - oldest));
}

int
cmd_queue(int mode)
{
	char age[32], next[32];
	time_t now = time(NULL);
	struct item *it;
	size_t i;
	int has_log, is_json = mode == QUEUE_JSON;

	for (i = 0; i < QDIRS; i++)
		list_dir((int)i);
	if (nitems > 1)
		qsort(items, nitems, sizeof(*items), item_cmp);
	if (mode == QUEUE_SUMMARY) {
		summary(now);
		return 0;
	}
	has_log = log_scan();
	if (is_json)
		printf("[");
	for (i = 0; i < nitems; i++) {
		it = &items[i];
		if (is_json) {
			printf("%s\n{\"id\":", i > 0 ? "," : "");
			print_json_string(it->id);
			printf(",\"state\":\"%s\",\"age\":%lld,\"next_try\":",
			    qdir_states[it->dir], (long long)(now -
			    it->arrival));
			if (it->dir == QDIR_NEW)
				printf("%lld", (long long)(it->next > now ?
				    it->next - now : 0));
			else
				printf("null");
			printf(",\"from\":");
			print_json_string(it->from);
			printf(",\"to\":");
			print_json_string(it->to);
			printf(",\"attempts\":");
			if (has_log)
				printf("%u", it->attempts);
			else
				printf("null");
			printf(",\"last_reply\":");
			if (it->last != NULL)
				print_json_string(it->last);
			else
				printf("null");
			printf("}");
			continue;
		}
		print_esc(stdout, it->id, 0);
		printf(" %s age=%s next=%s", qdir_states[it->dir],
		    date_age((long)(now - it->arrival), age, sizeof(age)),
		    it->dir != QDIR_NEW ? "-" : it->next > now ?
		    date_age((long)(it->next - now), next, sizeof(next)) :
		    "now");
		if (has_log)
			printf(" attempts=%u", it->attempts);
		else
			printf(" attempts=-");
		printf(" to=<");
		print_esc(stdout, it->to, 0);
		printf("> last=");
		if (it->last != NULL)
			print_esc(stdout, it->last, 1);
		else
			putchar('-');
		putchar('\n');
	}
	if (is_json)
		printf("%s]\n", nitems > 0 ? "\n" : "");
	else
		summary(now);
	return 0;
}
