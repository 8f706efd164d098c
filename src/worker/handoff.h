/* The queue from a worker's acceptor threads to its event loop. */
#ifndef TCPD_HANDOFF_H
#define TCPD_HANDOFF_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "admission.h"
#include "loop.h"

/* A connection an acceptor took, for the worker's event loop. */
struct accepted {
	int			 fd;
	int			 refused;	/* to be ended, not served */
	int			 proxy;		/* its PROXY header comes first */
	struct admitted		 held;		/* what it holds */
	socklen_t		 len;
	struct sockaddr_storage	 peer;
};

/*
 * How long the loop may leave what is queued before the acceptors stop
 * taking more (handoff_stalled()).
 */
#define HANDOFF_STALL_MS	500

/* In the loop: each connection taken off the queue, refused or not. */
typedef void	(*handoff_cb)(void *arg, const struct accepted *);

struct handoff {
	/* Set by the owner before handoff_init(). */
	const char			*name;		/* for logs */
	const struct admission		*adm;
	_Atomic unsigned long long	*accepted;	/* +1 a queued fd */
	handoff_cb			 take;
	void				*arg;		/* take's */

	/* Its own: filled by the acceptors, emptied by the loop. */
	struct io			 io;		/* eventfd */
	pthread_mutex_t			 lock;
	_Atomic long long		 since;		/* ms; 0: empty */
	struct accepted			*queue, *spare;
	size_t				 queued, queuecap, sparecap;
};

void	handoff_init(struct handoff *, struct loop *);
/* For struct acceptor's handoff and stalled, with the handoff as arg. */
void	handoff_put(void *, const struct accepted *);
int	handoff_stalled(void *);
/* In the loop: what is queued, to take. */
void	handoff_take(struct handoff *);

#endif
