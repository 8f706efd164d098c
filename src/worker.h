/* A worker: acceptor threads on its slot sockets, connections on epoll. */
#ifndef TCPD_WORKER_H
#define TCPD_WORKER_H

#include <sys/types.h>

struct conf;
struct conf_service;

/* Messages on the control socket.  Worker to master: */
#define WORKER_READY	'R'	/* accepting now */
/* Master to worker: stop accepting and finish; the sockets stay. */
#define WORKER_QUIT	'Q'
/* The same, but the sockets are closing: first serve what is queued. */
#define WORKER_DRAIN	'D'

void	worker_run(const struct conf *, const struct conf_service *,
	    int slot, const int *fds, int ctl, pid_t master)
	    __attribute__((noreturn));

#endif
