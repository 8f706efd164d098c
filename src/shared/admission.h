/*
 * Admission: whether a connection may be served (the access rules,
 * max_connections, per_source), and what it holds meanwhile.
 */
#ifndef TCPD_ADMISSION_H
#define TCPD_ADMISSION_H

#include <sys/socket.h>

#include <stdatomic.h>
#include <stddef.h>

#include "limit.h"
#include "shm.h"
#include "source.h"

struct conf_net;
struct conf_service;

/*
 * What one connection holds of its service's admission: a
 * max_connections unit, a per_source entry.  Given back once, whatever
 * way the connection goes.
 */
struct admitted {
	int			 unit;		/* a max_connections unit */
	int			 waited;	/* for it, the service full */
	int			 source;	/* per_source entry, or -1 */
};
#define ADMITTED_NONE	((struct admitted){ .unit = 0, .source = -1 })

/*
 * A worker's admission: its service's rules, and the counts it shares
 * with the service's other workers as it counts in them.
 */
struct admission {
	const struct conf_net	*net;		/* access, per_source */
	struct limit_ref	 limit;		/* .shm NULL: no max_connections */
	struct source_ref	 src;		/* .table.sh NULL: no per_source */
};

/* In a worker's acceptor threads and its loop. */
int	admission_take(const struct admission *, int fd,
	    const atomic_int *stop, int *behind, struct admitted *);
int	admission_full(const struct admission *);
int	admission_admit(const struct admission *,
	    const struct sockaddr_storage *client, struct admitted *,
	    int *kind, char *why, size_t whylen);
void	admission_give_back(const struct admission *, struct admitted *);
void	admission_drop(const struct admission *, struct admitted *, int fd,
	    const struct sockaddr_storage *, const char *why);
void	admission_hostile(const struct admission *);	/* tests */

/*
 * A service's admission state, the master's: its max_connections count
 * and its per_source table, in memory shared with its workers, each
 * made when first needed.
 */
struct admission_state {
	struct limit		*limit;		/* NULL: none now */
	struct source_table	*table;		/* NULL: no per_source now */
};

/*
 * What one worker counts in its service's state, the master's record of
 * it: a cell of the count, a ledger in the table it started with (a
 * reload may give the service a new table; the worker keeps its own).
 */
struct admission_share {
	struct admission_state	*state;		/* NULL: no limit at all */
	int			 cell;		/* -1: none */
	struct source_table	*table;		/* NULL: no ledger */
	struct shm		 ledger;
};

/* In the master. */
int	admission_want(struct admission_state *, const struct conf_service *);
void	admission_gc(struct admission_state *, const struct conf_service *);
int	admission_share_take(struct admission_state *,
	    const struct conf_service *, struct admission_share *,
	    const char **failed);
void	admission_share_drop(struct admission_share *);
int	admission_share_hold(struct admission_share *, int n);
void	admission_share_inherit(const struct admission_share *,
	    const struct shm **own);
void	admission_of_share(const struct admission_share *,
	    const struct conf_service *, struct admission *);
int	admission_used(const struct admission_state *);

#endif
