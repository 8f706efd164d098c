/* Worker processes, as the master sees them: spawn, signal, free. */
#ifndef TCPD_PROC_H
#define TCPD_PROC_H

#include <sys/types.h>

#include <stdatomic.h>
#include <stdint.h>

#include "admission.h"
#include "conf.h"
#include "loop.h"
#include "shm.h"
#include "proto.h"

struct conf;
struct conf_service;
struct beats;
struct forker;
struct slot;
struct svc;

/* One worker process. */
struct proc {
	struct io		 io;	/* the master's end of its control socket */
	pid_t			 pid;
	unsigned		 gen;
	char			 name[96];	/* "echo slot 0", for logs */
	struct svc		*svc;		/* its service's record */
	int			 ready;		/* it said it accepts */
	enum stop_how		 stopping;	/* what it was asked */
	int64_t			 started;
	int64_t			 stop_sent;	/* when it was asked to stop */
	int64_t			 kill_at;	/* SIGKILL then; 0: never */
	int			 aborted;	/* the watchdog sent SIGABRT */
	struct heartbeat	*beat;		/* its cell, shared with it alone */
	struct beats		*beats;		/* where that cell is from */
	struct admission_share	 share;		/* what it counts in */
	struct conf_listen	*listen;	/* its sockets' addresses */
	ino_t			*ino;		/* and inodes */
	int			*fd;		/* and numbers in it */
	int			 nlisten;
	int			 slot_index;
	struct slot		*slot;		/* serving in; NULL once retiring */
	void			*arg;		/* its owner's */
	struct proc		*next;		/* among the retiring */
};

/* What a new worker is made of. */
struct proc_args {
	const struct conf		*conf;
	const struct conf_service	*svc;
	int				 slot;
	const int			*fds;	/* its slot's sockets */
	const ino_t			*inos;	/* their inodes */
	struct admission_state		*adm;	/* its service's counts */
	unsigned			 gen;
	struct loop			*loop;	/* the master's */
	io_cb				 ctl_cb;	/* its control messages */
	struct forker			*forker;	/* NULL: fork here */
	struct beats			*beats;		/* heartbeat cells */
	void				*arg;		/* for ctl_cb */
};

struct proc	*proc_spawn(const struct proc_args *, char *err,
		    size_t errlen);
void		 proc_stop(struct proc *, enum stop_how, int timeout, int64_t now);
void		 proc_free(struct loop *, struct proc *);
unsigned long long
		 proc_held(const struct proc *);
unsigned long long
		 proc_count(const struct proc *, const _Atomic unsigned long long *,
		    unsigned long long per_ms, int64_t now);

/* At most so many connections a millisecond, and bytes, for proc_count(). */
#define PROC_CONNS_PER_MS	10000ULL
#define PROC_BYTES_PER_MS	1000000000ULL

#endif
