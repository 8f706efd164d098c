/* A thin epoll wrapper: watch fds, dispatch their events to callbacks. */
#ifndef TCPD_LOOP_H
#define TCPD_LOOP_H

#include <stdint.h>

struct io;
typedef void	(*io_cb)(struct io *, uint32_t events);

/* Embedded in whatever owns the fd; the callback finds its owner. */
struct io {
	int		 fd;
	uint32_t	 events;	/* what the loop is asked for now */
	io_cb		 cb;
};

/*
 * A callback may free its own io, but no other: another io freed during a
 * batch could still have an event waiting in it.  Work that touches many
 * (stopping, say) is flagged and done between batches.
 */
struct loop {
	int		 epfd;
	int64_t		 now;	/* monotonic ms, read once per wakeup */
};

int	loop_init(struct loop *);
void	loop_close(struct loop *);
int	loop_add(struct loop *, struct io *, int fd, uint32_t, io_cb);
int	loop_set(struct loop *, struct io *, uint32_t);
void	loop_del(struct loop *, struct io *);
int	loop_run_once(struct loop *, int timeout_ms);
int64_t	loop_now_ms(void);

#endif
