/* The master's listening sockets: one per address per worker slot. */
#ifndef TCPD_LISTENER_H
#define TCPD_LISTENER_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

struct conf;
struct conf_listen;

/*
 * The slot sockets the master holds: one per listen address per worker
 * slot, kept while their address and slot stay in the configuration.
 */
struct lsock;
struct listeners {
	struct lsock	*socks;
	int		 n;
	/* By address and slot, and by address (slot -1): socks[i] as i + 1. */
	int		*index;
	int		*by_ino;	/* by inode, the same way */
	int		 index_size;	/* a power of 2, or 0 */
	int		 indexed;	/* socks[0..indexed) are in it */
};

/* A worker, and the inodes of the sockets it was given. */
struct lholder {
	pid_t		 pid;
	const ino_t	*ino;
	const int	*fd;	/* the numbers it has them at */
	int		 n;
};

int	listeners_bind(struct listeners *, const struct conf *,
	    const int *counts, char *err, size_t errlen);
void	listeners_close_unused(struct listeners *);
int	listeners_release(struct listeners *, const struct lholder *, int);
int	listeners_leaving(const struct listeners *);
void	listeners_close_all(struct listeners *);
int	listeners_fd(const struct listeners *, const struct conf_listen *,
	    int slot, ino_t *);
void	listeners_free(struct listeners *);

#endif
