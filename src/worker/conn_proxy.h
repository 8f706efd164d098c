/* Connections waiting on the loop for their PROXY header, then served. */
#ifndef TCPD_CONN_PROXY_H
#define TCPD_CONN_PROXY_H

#include <sys/socket.h>

#include <stdint.h>

struct conn;
struct admitted;
struct conn_set;

/* How many may wait for their header at once, per worker. */
#define CONN_PROXY_WAITING_MAX	1024

void	conn_proxy_init(struct conn_set *);
int	conn_proxy_wait(struct conn_set *, int fd,
	    const struct sockaddr_storage *, socklen_t,
	    const struct admitted *);
void	conn_proxy_expire(struct conn_set *);

#endif
