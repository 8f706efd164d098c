/* Listening sockets: created and bound by the master, accepted on by workers. */
#ifndef TCPD_LISTENER_H
#define TCPD_LISTENER_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>

struct conf_listen;
struct limit;

typedef void	(*listener_handoff)(void *arg, int fd,
		    const struct sockaddr_storage *, socklen_t, int index);

/* One thread blocked in accept4() on one slot socket. */
struct acceptor {
	int			 fd;
	int			 index;		/* which listen address */
	const char		*text;
	listener_handoff	 handoff;
	void			*arg;
	struct limit		*limit;		/* max_connections, or NULL */
	int			 cell;
	int			 max;
	pthread_t		 thread;
	atomic_int		 stop;
	atomic_int		 running;
};

int	listener_open(const struct conf_listen *, int backlog);
int	listener_probe(const struct conf_listen *);
int	listener_start(struct acceptor *);
void	listener_stop(struct acceptor *);

#endif
