/* The master's forking thread: workers forked from a small fd table. */
#ifndef TCPD_FORKER_H
#define TCPD_FORKER_H

#include <sys/types.h>

struct forker;

/*
 * In the new process: become it, never return.  Clean: it holds stdio
 * and the fds it was given only; else all the master had.
 */
typedef void (*forker_child_fn)(void *, int clean);

struct forker	*forker_new(void);
pid_t		 forker_fork(struct forker *, const int *fds, int nfds,
		    forker_child_fn, void *);

#endif
