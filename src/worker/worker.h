/* A worker: acceptor threads on its slot sockets, connections on epoll. */
#ifndef TCPD_WORKER_H
#define TCPD_WORKER_H

#include <sys/types.h>

#include <stdint.h>

#include "admission.h"
#include "proto.h"

struct conf;
struct conf_service;
struct shm;

/* What a worker is started with. */
struct worker_spec {
	const struct conf		*conf;
	const struct conf_service	*svc;
	int				 slot;
	const int			*fds;	/* one per listen address */
	int				 ctl;	/* its end of the control socket */
	pid_t				 master;
	struct admission		 adm;	/* its connections' admission */
	struct heartbeat		*beat;
	const struct shm		*own;	/* its shared memory */
	int				 nown;
};

void		 worker_run(const struct worker_spec *) __attribute__((noreturn));

#endif
