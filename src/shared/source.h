/*
 * per_source: what one source may take, counted across all workers of a
 * service in a table of bounded size in shared memory.
 */
#ifndef TCPD_SOURCE_H
#define TCPD_SOURCE_H

#include <sys/socket.h>

#include <stdatomic.h>
#include <stddef.h>

struct per_source;
struct shm;
struct source_table;

struct source_shared;

/* What a worker sees of its service's table: where it is, its size. */
struct source_view {
	struct source_shared	*sh;
	int			 nsources;
};

/*
 * What a worker holds: the service's table, its own ledger of what it
 * counts in it (so the master can give back a dead worker's share), and
 * the limits of its configuration.
 */
struct source_ref {
	struct source_view	 table;		/* .sh NULL: none */
	atomic_uint		*ledger;	/* one count per entry */
	const struct per_source	*ps;
};

/* In the master. */
struct source_table *
		source_new(int nsources);
void		source_hold(struct source_table *);
void		source_release(struct source_table *);
int		source_size(const struct source_table *);
struct source_view
		source_view(const struct source_table *);
const struct shm *
		 source_shm(const struct source_table *);
int		 source_ledger_new(struct source_table *, struct shm *);
void		 source_ledger_free(struct source_table *, struct shm *);

/* In a worker's acceptor threads and its loop. */
/* What source_take() says. */
enum source_verdict {
	SOURCE_OK,
	SOURCE_CAP,		/* at max_connections */
	SOURCE_RATE,		/* its bucket is empty */
	SOURCE_FULL,		/* no room in the table */
};

enum source_verdict
		 source_take(const struct source_ref *,
		    const struct sockaddr_storage *, int *entry, char *why,
		    size_t whylen);
void		 source_put(const struct source_ref *, int entry);
void		 source_hostile(const struct source_ref *);	/* tests */

#endif
