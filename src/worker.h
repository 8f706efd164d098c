/* A worker: acceptor threads on its slot sockets, connections on epoll. */
#ifndef TCPD_WORKER_H
#define TCPD_WORKER_H

#include <sys/types.h>

struct conf;
struct conf_service;

/* What a worker says to the master on its control socket. */
#define WORKER_READY	'R'

void	worker_run(const struct conf *, const struct conf_service *,
	    int slot, const int *fds, int ctl, pid_t master)
	    __attribute__((noreturn));

#endif
