/* Supervision: the slot table, and the policy that keeps every slot served. */
#ifndef TCPD_SUPERVISE_H
#define TCPD_SUPERVISE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "beat.h"
#include "proto.h"
#include "svc.h"

struct conf;
struct conf_service;
struct listeners;
struct loop;
struct proc;

/*
 * Where a slot is in its life: which workers it has, and what it waits
 * for.  Its transitions are one table, in slot_life.c.
 */
enum slot_state {
	SLOT_EMPTY,	/* no worker: one is started at retry_at (at once
			   after a single death; with back-off when it
			   cannot start, or keeps dying) */
	SLOT_STARTING,	/* a worker starting (next), none serving */
	SLOT_SERVING,	/* cur serves the current generation */
	SLOT_OUTDATED,	/* cur serves an older generation: a successor
			   is started at retry_at */
	SLOT_REPLACING,	/* the successor (next) starts while cur serves */
	SLOT_STOPPED,	/* no worker will be: tcpd stops, or its start
			   failed */
	SLOT_NSTATES
};

/*
 * One slot: a service's index-th worker and its sockets.  Its state says
 * which workers it has; deaths, spawn_fails and down_why are the record
 * of how it has been failing, which sets the back-off and what is said.
 */
struct slot {
	struct svc		*svc;		/* its service */
	int			 index;
	enum slot_state		 state;
	struct proc		*cur;		/* serving */
	struct proc		*next;		/* starting */
	int			 deaths;	/* quick deaths in a row */
	unsigned		 restarts;	/* deaths not asked for */
	int			 spawn_fails;	/* failed spawns in a row */
	int64_t			 retry_at;	/* no new worker before then */
	int64_t			 down_since;	/* 0: served */
	int			 down_unsure;	/* down_since is the earliest */
	char			 down_why[160];	/* as last logged; "": not */
	int			 kept, fresh;	/* while a new table is made */
};

struct sup {
	struct loop		*loop;
	struct listeners	*listeners;	/* the slots' sockets */
	struct forker		*forker;	/* forks workers; NULL: here */
	struct beats		 beats;		/* workers' heartbeat cells */
	const struct conf	*conf;		/* what the slots serve now */
	unsigned		 gen;
	struct slot		**slots;
	int			 nslots;
	struct proc		*retiring;	/* no longer in a slot */
	struct proc		*retiring_tail;
	struct orphan		*orphans;	/* dead workers' programs */
	struct svcs		 svcs;		/* every service's record */
	/* Every worker by pid, for the reaper: open addressing, 2^k. */
	struct proc		**bypid;
	int			 bypid_size, bypid_used;
	int			 bypid_lost;	/* one is missing: walk */
	enum stop_how		 stopping;
	int			 starting;	/* a failure is fatal */
	int64_t			 died_after;	/* deaths reaped now happened
						   after this; 0: just now */
	char			 start_error[256];
	/* The master's figures, for workers that ask (metrics). */
	char			*(*answer)(void *, const char *, size_t *,
				    int *, uint64_t *);
	void			*answer_arg;
};

/* The slot table (slots.c). */
void	sup_init(struct sup *, struct loop *, struct listeners *);
int	sup_apply(struct sup *, const struct conf *, const int *counts,
	    unsigned gen);
int	sup_empty(const struct sup *);
void	sup_title(const struct sup *, char *, size_t);
void	sup_status(const struct sup *, char *, size_t);
int	sup_down(const struct sup *);
int	sup_settled(const struct sup *);
void	sup_free(struct sup *);
int	slot_counts(struct slot *);

/* The policy (supervise.c). */
void	sup_tend(struct sup *);
int	sup_started(struct sup *);
int	sup_reaped(struct sup *, pid_t, int status);
void	sup_stop(struct sup *, enum stop_how, int timeout);
int	sup_timeout(const struct sup *);

/* What a slot's state says (slot_life.c). */
int	slot_served(const struct slot *);
int	slot_has_worker(const struct slot *);
int	slot_wants(const struct slot *);
int	slot_down(const struct slot *);
int	slot_failing(const struct sup *, const struct slot *);
int	slot_settled(const struct sup *, const struct slot *);
const char *
	slot_state_name(const struct sup *, const struct slot *);

#endif
