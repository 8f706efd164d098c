/* Inside a worker's program table: what spawn.c and spawn_reap.c share. */
#ifndef TCPD_SPAWN_INT_H
#define TCPD_SPAWN_INT_H

#include <sys/types.h>

#include <stdint.h>

#include "errlog.h"
#include "loop.h"
#include "spawn_child.h"

/* From SIGTERM to SIGKILL, at a stop and at a program's timeout. */
#define TERM_GRACE_MS	2000

struct conn;
struct heartbeat;
struct pqueue;

/*
 * A program running for a connection, which it holds a reference to
 * until the last process of its process group ends: the program itself
 * and whatever it started that stayed in its group.
 */
struct program {
	pid_t		 pid;		/* and its process group's id */
	struct conn	*c;
	int		 timeout;	/* seconds, 0: none */
	int64_t		 deadline;	/* its queue's next step; 0: none */
	int		 exited;	/* pid itself is gone: its group lingers */
	int		 cell;		/* in the heartbeat's groups; -1: none */
	struct pqueue	*q;
	struct program	*prev, *next;
};

/*
 * Programs by what comes next for each.  Every program enters a queue
 * with the same delay (one service per worker, one timeout; one grace),
 * so appending keeps each in deadline order.
 */
struct pqueue {
	struct program	*head, *tail;
};

/* A worker's programs: made and freed by the worker. */
struct spawner {
	struct loop		*loop;
	const char		*name;		/* the service's, for the log */
	struct heartbeat	*beat;		/* groups go there; or NULL */
	pid_t			 self;		/* the worker */
	struct spawn_sigs	 sigs;		/* what its programs reset */
	struct spawn_env	 env;		/* what they are given */
	struct errlogs		 errlogs;	/* their stderr */
	int			 pass[2];	/* sockets go to them on this
						   pair: [0] to [1]; -1: not */
	struct pqueue		 running;	/* SIGTERM at its timeout, if any */
	struct pqueue		 ending;	/* SIGTERM sent: SIGKILL after grace */
	struct pqueue		 killed;	/* SIGKILL sent: to be reaped */
	int			 lingering;	/* programs that exited, groups not */
	int			 next_cell;	/* where to look for a free one */
	/* One timer for them all, armed at the earliest deadline. */
	struct io		 timer;		/* .fd -1: not made yet */
	int64_t			 timer_at;	/* 0: not armed */
};

void		 pq_add(struct pqueue *, struct program *, int64_t deadline);
void		 pq_del(struct program *);
struct program	*spawn_find(struct spawner *, pid_t, int group);
void		 spawn_timer_arm(struct spawner *);
void		 spawn_cell_free(struct spawner *, struct program *);

#endif
