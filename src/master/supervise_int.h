/*
 * Inside supervision: what supervise.c, supervise_reap.c, slots.c and
 * slot_life.c share.
 */
#ifndef TCPD_SUPERVISE_INT_H
#define TCPD_SUPERVISE_INT_H

#include <stdint.h>

#include "proto.h"

struct proc;
struct slot;
struct sup;

/* A slot's retries after deaths or failed spawns: 1 s, doubling, to this. */
#define RESPAWN_FIRST_MS	1000
#define RESPAWN_MAX_MS		60000
/* Beyond its deadline, before a stopping worker gets SIGKILL. */
#define KILL_GRACE_MS		5000

/* What happens to a slot: the events of its lifecycle (slot_life.c). */
enum slot_event_type {
	SE_FORKED,		/* a worker was forked for it (p) */
	SE_FORK_FAILED,		/* none could be (why) */
	SE_READY,		/* its starting worker (p) accepts */
	SE_CUR_DIED,		/* its serving worker (p) died unasked */
	SE_NEXT_DIED,		/* its starting worker (p) died unasked */
	SE_NEW_GEN,		/* a reload applied a new generation */
	SE_START_FAILED,	/* at start, its worker (p, if any) failed */
	SE_STOP,		/* tcpd stops, or the slot leaves (how) */
	SE_NEVENTS
};

struct slot_event {
	enum slot_event_type	 type;
	struct proc		*p;
	enum stop_how		 how;
	const char		*why;
};

int64_t	sup_backoff(int n);
void	slot_step(struct sup *, struct slot *, const struct slot_event *);
int	sup_bypid_add(struct sup *, struct proc *);

#endif
