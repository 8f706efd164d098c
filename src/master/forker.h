/* The master's forking thread: workers forked from a small fd table. */
#ifndef TCPD_FORKER_H
#define TCPD_FORKER_H

#include <sys/types.h>

struct forker;

/* At most what one SCM_RIGHTS message carries; more: a plain fork. */
#define FORKER_MAX_FDS	250

/*
 * In the new process: become it, never return.  Clean: it holds stdio
 * and the fds it was given only; else all the master had.  fds: the
 * numbers those have in it, in the order given.
 */
typedef void (*forker_child_fn)(void *, int clean, const int *fds);

struct forker	*forker_new(int nfds);
int		 forker_start(struct forker *);
pid_t		 forker_fork(struct forker *, const int *fds, int nfds,
		    forker_child_fn, void *, int *placed);

#endif
