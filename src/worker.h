/* A worker: acceptor threads on its slot sockets, connections on epoll. */
#ifndef TCPD_WORKER_H
#define TCPD_WORKER_H

#include <sys/types.h>

struct conf;
struct conf_service;
struct limit;

/*
 * A worker's heartbeat, in memory shared with the master: the loop's
 * last wakeup (CLOCK_MONOTONIC ms), its open connections, and counts of
 * the connections accepted and finished, from which the master tells
 * how many a worker that died still held.
 */
struct heartbeat {
	_Atomic long long		 ms;
	_Atomic unsigned		 conns;
	_Atomic unsigned long long	 accepted;
	_Atomic unsigned long long	 finished;
};

/* What a worker is started with. */
struct worker_spec {
	const struct conf		*conf;
	const struct conf_service	*svc;
	int				 slot;
	const int			*fds;	/* one per listen address */
	int				 ctl;	/* its end of the control socket */
	pid_t				 master;
	struct limit			*limit;	/* max_connections, or NULL */
	int				 cell;
	struct heartbeat		*beat;
};

/* Messages on the control socket.  Worker to master: */
#define WORKER_READY	'R'	/* accepting now */
/* Master to worker: stop accepting and finish; the sockets stay. */
#define WORKER_QUIT	'Q'
/* The same, but the sockets are closing: first serve what is queued. */
#define WORKER_DRAIN	'D'

void	worker_run(const struct worker_spec *) __attribute__((noreturn));

#endif
