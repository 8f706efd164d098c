/* A thin epoll wrapper: watch fds, dispatch their events to callbacks. */
#include "config.h"

#include <sys/epoll.h>

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

/*
 * Events taken per wakeup.  Each ready connection gets one turn per
 * wakeup, so a busy connection cannot starve the others.
 */
#define LOOP_BATCH	256

int
loop_init(struct loop *l)
{
	l->now = loop_now_ms();
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	return 0;
}

void
loop_close(struct loop *l)
{
	if (l->epfd != -1)
		close(l->epfd);
	l->epfd = -1;
}

/* Watch fd for events, calling cb with io when they come. */
int
loop_add(struct loop *l, struct io *io, int fd, uint32_t events, io_cb cb)
{
	struct epoll_event	 ev = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->cb = cb;
	io->events = events;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Change what io waits for; a no-op when nothing changes. */
int
loop_set(struct loop *l, struct io *io, uint32_t events)
{
	struct epoll_event	 ev = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	io->events = events;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev);
}

void
loop_del(struct loop *l, struct io *io)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->events = 0;
}

/* Wait up to timeout_ms (-1: no limit) and dispatch what is ready. */
int
loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event	 evs[LOOP_BATCH];
	int			 n;

	n = epoll_wait(l->epfd, evs, LOOP_BATCH, timeout_ms);
	l->now = loop_now_ms();
	if (n == -1)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct io *io = evs[i].data.ptr;
		io->cb(io, evs[i].events);
	}
	return n;
}

int64_t
loop_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
