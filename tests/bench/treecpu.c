/*
 * treecpu.c: CPU time used so far by whole process trees, from /proc.
 *
 *   treecpu PID...        prints the seconds (user + system) of the trees
 *   treecpu -l PID...     lists "pid comm" of every live descendant
 *
 * A tree's time is, over its root and every live descendant (zombies
 * too), the process's own utime + stime plus cutime + cstime, the time of
 * its children that it has reaped.  A child that exits between two
 * readings moves from the first term of its process to the second term
 * of its parent, so the difference of two readings is exact: the CPU of
 * a launcher and all the sessions it ran, or of Postfix's master and all
 * its daemons, short-lived or not.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROCS_MAX	65536

struct proc {
	long		pid, ppid;
	unsigned long long ticks;	/* self + reaped children */
	char		comm[32];
	int		in_tree;
};

static struct proc procs[PROCS_MAX];
static size_t nprocs;

static void
proc_read(const char *name)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st, cut, cst;
	struct proc *pr;
	FILE *f;
	char state;
	size_t n;

	if (nprocs == PROCS_MAX)
		return;
	snprintf(path, sizeof(path), "/proc/%s/stat", name);
	if ((f = fopen(path, "r")) == NULL)
		return;		/* gone meanwhile */
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	pr = &procs[nprocs];
	/* "pid (comm) state ppid ..."; comm may hold spaces and ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return;
	*p = '\0';
	pr->pid = atol(buf);
	snprintf(pr->comm, sizeof(pr->comm), "%s",
	    strchr(buf, '(') != NULL ? strchr(buf, '(') + 1 : "?");
	/* fields 3..17: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime */
	if (sscanf(p + 2, "%c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu %llu %llu", &state, &pr->ppid, &ut, &st, &cut,
	    &cst) != 6)
		return;
	pr->ticks = ut + st + cut + cst;
	pr->in_tree = 0;
	nprocs++;
}

int
main(int argc, char **argv)
{
	unsigned long long ticks = 0;
	struct dirent *d;
	size_t i, j;
	int list = 0, changed, a = 1;
	DIR *dir;
	long pid;

	if (argc > 1 && strcmp(argv[1], "-l") == 0) {
		list = 1;
		a = 2;
	}
	if (a >= argc) {
		fprintf(stderr, "usage: treecpu [-l] pid...\n");
		return 64;
	}
	if ((dir = opendir("/proc")) == NULL) {
		perror("treecpu: /proc");
		return 1;
	}
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] >= '0' && d->d_name[0] <= '9')
			proc_read(d->d_name);
	closedir(dir);
	for (; a < argc; a++) {
		pid = atol(argv[a]);
		for (i = 0; i < nprocs; i++)
			if (procs[i].pid == pid)
				procs[i].in_tree = 2;	/* a root */
	}
	do {
		changed = 0;
		for (i = 0; i < nprocs; i++) {
			if (procs[i].in_tree)
				continue;
			for (j = 0; j < nprocs; j++)
				if (procs[j].in_tree &&
				    procs[j].pid == procs[i].ppid)
					break;
			if (j < nprocs) {
				procs[i].in_tree = 1;
				changed = 1;
			}
		}
	} while (changed);
	for (i = 0; i < nprocs; i++) {
		if (!procs[i].in_tree)
			continue;
		ticks += procs[i].ticks;
		if (list && procs[i].in_tree == 1)
			printf("%ld %s\n", procs[i].pid, procs[i].comm);
	}
	if (!list)
		printf("%.3f\n", (double)ticks / (double)sysconf(_SC_CLK_TCK));
	return 0;
}
