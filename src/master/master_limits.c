/*
 * What a configuration asks of the system: the master's file
 * descriptors and the processes and threads of its workers, checked
 * before a start (and by tcpd -t) rather than found short half way.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "forker.h"
#include "master.h"
#include "master_int.h"

/* fds the master uses whatever the configuration: stdio, epoll, ... */
#define FDS_FIXED	16

/* The file's worker count of each service. */
int *
master_counts(const struct conf *c)
{
	int	*counts = calloc(c->nservices ? c->nservices : 1,
	    sizeof(*counts));

	for (int i = 0; counts != NULL && i < c->nservices; i++)
		counts[i] = c->services[i].workers;
	return counts;
}

/*
 * The most fds one worker of c is given (its slot's sockets and its
 * control socket) among those the forking thread forks: it reserves as
 * many numbers.  A worker given more is forked by the master.
 */
int
master_worker_fds(const struct conf *c)
{
	int	 n = 0;

	for (int i = 0; i < c->nservices; i++) {
		int	 k = c->services[i].nlisten + 1;

		if (k > n && k <= FORKER_MAX_FDS)
			n = k;
	}
	return n;
}

/*
 * File descriptors the master needs for c: one per listen address per
 * slot, one per slot for its worker's control socket, the numbers the
 * forking thread reserves, and FDS_FIXED.  A reload needs a second
 * control socket per slot for the successors.
 */
int
master_fds_needed(const struct conf *c, int reloading)
{
	int	 n = FDS_FIXED + master_worker_fds(c);

	for (int i = 0; i < c->nservices; i++)
		n += c->services[i].workers *
		    (c->services[i].nlisten + 1 + (reloading ? 1 : 0));
	return n;
}

/*
 * Processes and threads c runs: the master and its forking thread, and
 * per worker its main thread and an acceptor thread per listen address.
 */
static long
master_tasks_needed(const struct conf *c)
{
	long	 n = 2;

	for (int i = 0; i < c->nservices; i++)
		n += (long)c->services[i].workers *
		    (1 + c->services[i].nlisten);
	return n;
}

/* A number from a file in /proc/sys, or -1. */
static long
sysctl_long(const char *path)
{
	FILE	*fp = fopen(path, "re");
	long	 v = -1;

	if (fp == NULL)
		return -1;
	if (fscanf(fp, "%ld", &v) != 1)
		v = -1;
	fclose(fp);
	return v;
}

/*
 * Would start refuse c for want of file descriptors or processes?  -1
 * with the reason in err if so.  At start the soft limits count (tcpd
 * has raised its fd limit to the hard one already); for -t, the hard
 * fd limit, which start raises the soft one to.
 */
int
master_check_limits(const struct conf *c, int at_start, char *err,
    size_t errlen)
{
	struct rlimit	 rl;
	rlim_t		 lim;
	long		 tasks = master_tasks_needed(c), kmax, v;
	int		 fds = master_fds_needed(c, 0);

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		lim = at_start ? rl.rlim_cur : rl.rlim_max;
		if (lim != RLIM_INFINITY && lim < (rlim_t)fds) {
			snprintf(err, errlen, "the configuration needs %d file "
			    "descriptors in the master (one per listen address "
			    "and one per worker, %d more of its own), and the "
			    "limit is %llu (ulimit -%sn)", fds,
			    FDS_FIXED + master_worker_fds(c),
			    (unsigned long long)lim, at_start ? "" : "H");
			return -1;
		}
	}
	/* The kernel's own bounds hold for root too. */
	kmax = sysctl_long("/proc/sys/kernel/threads-max");
	if ((v = sysctl_long("/proc/sys/kernel/pid_max")) != -1 &&
	    (kmax == -1 || v < kmax))
		kmax = v;
	if (kmax != -1 && tasks > kmax) {
		snprintf(err, errlen, "the configuration runs %ld processes "
		    "and threads (per worker one, and one per listen address), "
		    "and the kernel allows %ld in all (kernel.threads-max, "
		    "kernel.pid_max)", tasks, kmax);
		return -1;
	}
	/* Root is not held to RLIMIT_NPROC. */
	if (geteuid() != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)tasks) {
		snprintf(err, errlen, "the configuration runs %ld processes "
		    "and threads (per worker one, and one per listen address), "
		    "and this user may run %llu (ulimit -u)", tasks,
		    (unsigned long long)rl.rlim_cur);
		return -1;
	}
	return 0;
}

