/* A worker's accept threads (one per slot socket); dropping what they took. */
#ifndef TCPD_ACCEPTOR_H
#define TCPD_ACCEPTOR_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "handoff.h"

struct conf_net;

/*
 * Where an accepted connection goes: the worker's event loop, which ends
 * a refused one (given refuse_message, and a FIN).
 */
typedef void	(*acceptor_handoff)(void *arg, const struct accepted *);
/*
 * Non-zero while the taker of handed-off connections has left them for
 * HANDOFF_STALL_MS or more.
 */
typedef int	(*acceptor_stalled)(void *arg);

struct acceptor {
	int			 fd;
	const char		*text;		/* its address, for logs */
	const char		*name;		/* the service's, for logs */
	const struct conf_net	*net;		/* checked before the hand-off */
	const struct admission	*adm;
	_Atomic unsigned long long *refused;	/* counts, by enum refusal */
	int			 blocking;	/* accepted sockets block: they
						   go to programs (conn.c) */
	acceptor_handoff	 handoff;
	acceptor_stalled	 stalled;
	void			*arg;
	pthread_t		 thread;
	atomic_int		 stop;
	atomic_int		 running;
	/* The thread's own. */
	int			 reserve;	/* an fd kept for shedding */
	int			 starved;	/* out of fds or memory */
	int			 paused;	/* the loop is not taking */
	long			 shed;		/* connections shed meanwhile */
	long long		 full_said;	/* ms: "at max_connections" */
	int			 behind;	/* what is queued waited at it */
};

int	acceptor_start(struct acceptor *);
void	acceptor_stop(struct acceptor *);
#endif
