/* max_connections: one count per service, shared by all its workers. */
#include "config.h"

#include <sys/syscall.h>
#include <linux/futex.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "limit.h"
#include "nofork.h"
#include "shm.h"

/* Workers of one service that can count at once (all generations). */
#define LIMIT_CELLS	1023

/*
 * In memory shared by the master and the service's workers.  Each worker
 * also counts its own share in a cell of its own, so that when it dies
 * the master can take back what it held.
 */
struct limit_count {
	atomic_int	 active;
	atomic_int	 cell[LIMIT_CELLS];
};

/*
 * The master's own: which cells are given out is never read from memory
 * a worker can write.
 */
struct limit {
	struct shm		 shm;
	struct limit_count	*count;
	unsigned char		 used[LIMIT_CELLS];
	int			 nused;
};

/* A new count at zero, in shared memory; NULL with errno set. */
struct limit *
limit_new(void)
{
	struct limit	*l;

	/* The master's alone, a kilobyte a service: no fork copies it. */
	if ((l = nofork_calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if (shm_new(&l->shm, sizeof(*l->count)) == -1) {
		nofork_free(l);
		return NULL;
	}
	l->count = l->shm.base;
	return l;
}

void
limit_free(struct limit *l)
{
	if (l == NULL)
		return;
	shm_free(&l->shm);
	nofork_free(l);
}

/* The memory a worker of the service maps, and what it counts in. */
const struct shm *
limit_shm(const struct limit *l)
{
	return &l->shm;
}

struct limit_count *
limit_count(const struct limit *l)
{
	return l->count;
}

/* A free cell for a new worker, or -1 with errno set. */
int
limit_cell_get(struct limit *l)
{
	for (int i = 0; i < LIMIT_CELLS; i++)
		if (!l->used[i]) {
			l->used[i] = 1;
			l->nused++;
			atomic_store(&l->count->cell[i], 0);
			return i;
		}
	errno = ENOSPC;
	return -1;
}

/* Shared between processes: not FUTEX_PRIVATE. */
static void
futex_wait(atomic_int *addr, int val)
{
	syscall(SYS_futex, addr, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void
futex_wake(atomic_int *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Connections counted now (never below zero, whatever a worker wrote). */
int
limit_active(const struct limit *l)
{
	int	 n = atomic_load(&l->count->active);

	return n > 0 ? n : 0;
}

/*
 * Take n (at most what is counted, at least none) off the count: a dead
 * worker's cell says what it held, but a worker could have written any
 * number there, and the count must stay true for the others.
 */
static void
limit_give_back(struct limit_count *k, int n)
{
	int	 v = atomic_load(&k->active);

	if (n <= 0)
		return;
	while (!atomic_compare_exchange_weak(&k->active, &v,
	    v > n ? v - n : 0))
		;
	futex_wake(&k->active);
}

/* A worker is gone: take back what its connections held, free its cell. */
void
limit_cell_put(struct limit *l, int cell)
{
	limit_give_back(l->count, atomic_exchange(&l->count->cell[cell], 0));
	l->used[cell] = 0;
	l->nused--;
}

/*
 * A worker is gone, but n of its connections live on in programs: take
 * back the rest, and keep as many as its cell held of those n.  Returns
 * how many are kept; the cell is freed when that is none.
 */
int
limit_cell_hold(struct limit *l, int cell, int n)
{
	int	 v = atomic_load(&l->count->cell[cell]), keep;

	/* No worker holds more than is counted, whatever its cell says. */
	if (v > limit_active(l))
		v = limit_active(l);
	keep = n < v ? n : v;

	if (keep <= 0) {
		limit_cell_put(l, cell);
		return 0;
	}
	atomic_store(&l->count->cell[cell], keep);
	limit_give_back(l->count, v - keep);
	return keep;
}

/* One connection a cell held for a dead worker has ended. */
void
limit_cell_release(struct limit *l, int cell)
{
	if (atomic_load(&l->count->cell[cell]) > 1) {
		atomic_fetch_sub(&l->count->cell[cell], 1);
		limit_give_back(l->count, 1);
	} else
		limit_cell_put(l, cell);
}

int
limit_cells_used(const struct limit *l)
{
	return l->nused;
}

/*
 * In an acceptor, before accept4(): wait until the service is under max
 * and a connection is waiting on fd, then count it.  Until then the
 * connection stays in the accept queue.  Returns 1 once counted, 0 when
 * *stop was set (a signal interrupts the waits).
 *
 * *behind, the acceptor's own, says that what is queued on fd may have
 * waited while the service was at max: set when it waits for a unit,
 * cleared once the queue is seen empty, which costs a poll() then and
 * only then.
 */
int
limit_take(const struct limit_ref *r, int fd, const atomic_int *stop,
    int *behind)
{
	struct limit_count *l = r->shm;
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	int		 n, ready;

	while (!atomic_load(stop)) {
		n = atomic_load(&l->active);
		if (n >= r->max) {
			*behind = 1;
			futex_wait(&l->active, n);
			continue;
		}
		ready = 0;
		if (*behind && (ready = poll(&pfd, 1, 0)) == 0)
			*behind = 0;
		if (ready != 1 && poll(&pfd, 1, -1) != 1)
			continue;
		if (!(pfd.revents & POLLIN))
			continue;
		/* The cell first: a death in between undercounts, never over. */
		atomic_fetch_add(&l->cell[r->cell], 1);
		if (atomic_compare_exchange_strong(&l->active, &n, n + 1))
			return 1;
		atomic_fetch_sub(&l->cell[r->cell], 1);
	}
	return 0;
}

/* Is the service at its cap now? */
int
limit_full(const struct limit_ref *r)
{
	return atomic_load(&r->shm->active) >= r->max;
}

/* A counted connection ended, or was never made. */
void
limit_put(const struct limit_ref *r)
{
	atomic_fetch_sub(&r->shm->cell[r->cell], 1);
	if (atomic_fetch_sub(&r->shm->active, 1) >= r->max)
		futex_wake(&r->shm->active);
}

#ifdef TCPD_TEST_HOOKS
/* Tests only: a compromised worker's cell, as large as it can be. */
void
limit_hostile(const struct limit_ref *r)
{
	atomic_store(&r->shm->cell[r->cell], INT_MAX);
}
#endif
