/* The queue from a worker's acceptor threads to its event loop. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admission.h"
#include "handoff.h"
#include "log.h"
#include "loop.h"
#include "util.h"

/* The eventfd: the acceptors queued something. */
static void
handoff_io_cb(struct io *io, uint32_t ev)
{
	(void)ev;
	handoff_take(container_of(io, struct handoff, io));
}

/* Once the owner has set its fields: an empty queue, its eventfd on loop. */
void
handoff_init(struct handoff *h, struct loop *loop)
{
	int	 fd;

	h->queue = h->spare = NULL;
	h->queued = h->queuecap = h->sparecap = 0;
	atomic_init(&h->since, 0);
	if ((fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	/*
	 * Edge-triggered: each write of the eventfd is one event, so the
	 * loop never reads it (a system call per wakeup saved); its count
	 * only grows, by one per wakeup, and 2^64 is never reached.
	 */
	if (loop_add(loop, &h->io, fd, EPOLLIN | EPOLLET, handoff_io_cb) ==
	    -1)
		fatal("epoll_ctl");
	pthread_mutex_init(&h->lock, NULL);
}

/*
 * Runs in an acceptor thread: queue a connection for the loop, and wake
 * it; out of memory, drop it.
 */
void
handoff_put(void *arg, const struct accepted *a)
{
	struct handoff	*h = arg;
	struct accepted	*q;
	struct admitted	 held = a->held;
	int		 wake;
	uint64_t	 one = 1;

	pthread_mutex_lock(&h->lock);
	if (h->queued == h->queuecap) {
		size_t cap = h->queuecap ? h->queuecap * 2 : 64;
		if ((q = realloc(h->queue, cap * sizeof(*q))) == NULL) {
			pthread_mutex_unlock(&h->lock);
			admission_drop(h->adm, &held, a->fd, &a->peer,
			    "out of memory");
			return;
		}
		h->queue = q;
		h->queuecap = cap;
	}
	atomic_fetch_add_explicit(h->accepted, 1, memory_order_relaxed);
	h->queue[h->queued++] = *a;
	/* The loop empties the whole queue per wakeup: one wakeup will do. */
	wake = (h->queued == 1);
	if (wake)
		atomic_store(&h->since, loop_now_ms());
	pthread_mutex_unlock(&h->lock);
	if (wake && write(h->io.fd, &one, sizeof(one)) == -1)
		log_warn("%s: eventfd", h->name);
}

/* Runs in an acceptor thread: has the loop left the queue too long? */
int
handoff_stalled(void *arg)
{
	struct handoff	*h = arg;
	long long	 since = atomic_load(&h->since);

	return since != 0 && loop_now_ms() - since >= HANDOFF_STALL_MS;
}

/* In the loop: give each queued connection to take. */
void
handoff_take(struct handoff *h)
{
	struct accepted	*batch;
	size_t		 n, cap;

	pthread_mutex_lock(&h->lock);
	batch = h->queue;
	n = h->queued;
	cap = h->queuecap;
	h->queue = h->spare;
	h->queuecap = h->sparecap;
	h->queued = 0;
	atomic_store(&h->since, 0);
	pthread_mutex_unlock(&h->lock);

	for (size_t i = 0; i < n; i++)
		h->take(h->arg, &batch[i]);
	h->spare = batch;
	h->sparecap = cap;
}
