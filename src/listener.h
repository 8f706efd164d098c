/* Listening sockets: created and bound by the master, accepted on by workers. */
#ifndef TCPD_LISTENER_H
#define TCPD_LISTENER_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct conf;
struct conf_listen;
struct limit;

/*
 * The slot sockets the master holds: one per listen address per worker
 * slot, kept while their address and slot stay in the configuration.
 */
struct lsock;
struct listeners {
	struct lsock	*socks;
	int		 n;
};

typedef void	(*listener_handoff)(void *arg, int fd,
		    const struct sockaddr_storage *, socklen_t);
/*
 * Non-zero while the taker of handed-off connections has left them for
 * LISTENER_STALL_MS or more.
 */
#define LISTENER_STALL_MS	500
typedef int	(*listener_stalled)(void *arg);

/* One thread blocked in accept4() on one slot socket. */
struct acceptor {
	int			 fd;
	const char		*text;
	listener_handoff	 handoff;
	listener_stalled	 stalled;
	void			*arg;
	struct limit		*limit;		/* max_connections, or NULL */
	int			 cell;
	int			 max;
	pthread_t		 thread;
	atomic_int		 stop;
	atomic_int		 running;
};

int	listeners_bind(struct listeners *, const struct conf *,
	    const int *counts, char *err, size_t errlen);
void	listeners_close_unused(struct listeners *);
void	listeners_close_all(struct listeners *);
void	listeners_close_except(struct listeners *, const int *keep, int n);
int	listeners_fd(const struct listeners *, const struct conf_listen *,
	    int slot);
void	listeners_free(struct listeners *);
int	listener_start(struct acceptor *);
void	listener_stop(struct acceptor *);

#endif
