/* max_connections: one count per service, shared by all its workers. */
#ifndef TCPD_LIMIT_H
#define TCPD_LIMIT_H

#include <stdatomic.h>

/* Workers of one service that can count at once (all generations). */
#define LIMIT_CELLS	1023

/*
 * In memory shared by the master and the service's workers.  Each worker
 * also counts its own share in a cell of its own, so that when it dies
 * the master can take back what it held.
 */
struct limit {
	atomic_int	 active;
	atomic_int	 cell[LIMIT_CELLS];
};

struct limit	*limit_new(void);
void		 limit_free(struct limit *);
int		 limit_reserve(struct limit *, int cell, int max, int fd,
		    const atomic_int *stop);
void		 limit_release(struct limit *, int cell, int max);
void		 limit_reclaim(struct limit *, int cell);

#endif
