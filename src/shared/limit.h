/* max_connections: one count per service, shared by all its workers. */
#ifndef TCPD_LIMIT_H
#define TCPD_LIMIT_H

#include <stdatomic.h>

struct limit;
struct limit_count;
struct shm;

/*
 * What a worker holds: its service's count, its own cell in it (so the
 * master can take back a dead worker's share), and the cap.
 */
struct limit_ref {
	struct limit_count	*shm;
	int			 cell;
	int			 max;
};

/* In the master. */
struct limit	*limit_new(void);
void		 limit_free(struct limit *);
const struct shm *
		 limit_shm(const struct limit *);
struct limit_count *
		 limit_count(const struct limit *);
int		 limit_cell_get(struct limit *);
void		 limit_cell_put(struct limit *, int cell);
int		 limit_cell_hold(struct limit *, int cell, int n);
void		 limit_cell_release(struct limit *, int cell);
int		 limit_cells_used(const struct limit *);
int		 limit_active(const struct limit *);

/* In a worker. */
int		 limit_take(const struct limit_ref *, int fd,
		    const atomic_int *stop, int *behind);
void		 limit_put(const struct limit_ref *);
int		 limit_full(const struct limit_ref *);
void		 limit_hostile(const struct limit_ref *);	/* tests */

#endif
