/* Inside a worker: its state, shared by worker.c and worker_life.c. */
#ifndef TCPD_WORKER_INT_H
#define TCPD_WORKER_INT_H

#include <stdint.h>

#include "admission.h"
#include "ask.h"
#include "conf.h"
#include "conn.h"
#include "handoff.h"
#include "loop.h"
#include "proto.h"

struct acceptor;
struct drain;
struct spawner;

/* Reads land here; connections hold a buffer only for unsent output. */
#define SCRATCH_SIZE	(64 * 1024)

/*
 * A worker's life: serving; draining (still accepting, until the queues
 * its sockets hold are empty, since they close with it: drain.c);
 * finishing (not
 * accepting, until its connections and programs end or a deadline).
 */
enum wstate { W_SERVING, W_DRAINING, W_FINISHING, W_NSTATES };
enum wevent {
	EV_RETIRE, EV_DRAIN, EV_FAST,	/* asked to stop, so */
	EV_DRAINED,			/* drain_done() */
	EV_IDLE,			/* no connection or program left */
	EV_DEADLINE,			/* the stop's deadline has come */
	EV_NEVENTS
};

struct worker {
	const struct conf		*conf;
	const struct conf_service	*svc;	/* &own */
	struct conf_service		 own;	/* its service, with the
						   handler's code */
	int				 slot;
	const struct shm		*shared;	/* its shared memory */
	int				 nshared;
	struct admission		 adm;	/* its connections' admission */
	struct heartbeat		*beat;
	int				 beat_ms;	/* 0: no watchdog */
	struct loop			 loop;
	struct io			 sig_io;
	struct io			 ctl_io;
	struct handoff			 handoff;	/* acceptors to loop */

	struct acceptor			*acceptors;
	int				 nacceptors;
	const int			*fds;
	struct conn_set			 conns;
	struct spawner			*spawn;		/* its programs */
	struct ask			 ask;		/* metrics, of the master */
	struct ask			 health;	/* its health line */

	enum wstate			 state;
	enum stop_how			 how;		/* the stop under way */
	enum stop_how			 asked;		/* not acted on yet */
	int				 asked_timeout;	/* seconds, 0: none */
	struct drain			*drain;
	int64_t				 deadline;	/* 0: none */
	char				 scratch[SCRATCH_SIZE];
};

void	worker_ask(struct worker *, enum stop_how, int timeout);
void	worker_exit(struct worker *, const char *why)
	    __attribute__((noreturn));
void	worker_check(struct worker *);
int	worker_timeout(const struct worker *);

#endif
