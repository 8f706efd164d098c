/* max_connections: one count per service, shared by all its workers. */
#include "config.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include "limit.h"

struct limit *
limit_new(void)
{
	struct limit	*l;

	l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return l == MAP_FAILED ? NULL : l;
}

void
limit_free(struct limit *l)
{
	if (l != NULL)
		munmap(l, sizeof(*l));
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

/*
 * In an acceptor, before accept4(): wait until the service is under max
 * and a connection is waiting on fd, then count it.  Until then the
 * connection stays in the accept queue.  Returns 1 once counted, 0 when
 * *stop was set (a signal interrupts the waits).
 */
int
limit_reserve(struct limit *l, int cell, int max, int fd,
    const atomic_int *stop)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	int		 n;

	while (!atomic_load(stop)) {
		n = atomic_load(&l->active);
		if (n >= max) {
			futex_wait(&l->active, n);
			continue;
		}
		if (poll(&pfd, 1, -1) != 1 || !(pfd.revents & POLLIN))
			continue;
		/* The cell first: a death in between undercounts, never over. */
		atomic_fetch_add(&l->cell[cell], 1);
		if (atomic_compare_exchange_strong(&l->active, &n, n + 1))
			return 1;
		atomic_fetch_sub(&l->cell[cell], 1);
	}
	return 0;
}

/* A counted connection ended. */
void
limit_release(struct limit *l, int cell, int max)
{
	atomic_fetch_sub(&l->cell[cell], 1);
	if (atomic_fetch_sub(&l->active, 1) >= max)
		futex_wake(&l->active);
}

/* In the master, when a worker is gone: take back its share. */
void
limit_reclaim(struct limit *l, int cell)
{
	int	 v = atomic_exchange(&l->cell[cell], 0);

	if (v != 0) {
		atomic_fetch_sub(&l->active, v);
		futex_wake(&l->active);
	}
}
