/*
 * Inside a connection: what conn.c (made, referenced, closed), conn_io.c
 * (its life on the loop) and conn_proxy.c (its PROXY header first)
 * share, each using only those below it.
 */
#ifndef TCPD_CONN_INT_H
#define TCPD_CONN_INT_H

#include <sys/socket.h>

#include <stdint.h>

#include "loop.h"

struct conn;
struct conn_set;

struct conn	*conn_make(struct conn_set *, int fd,
		    const struct sockaddr_storage *, socklen_t, io_cb,
		    int watch);
void		 conn_io(struct io *, uint32_t);
void		 conn_update(struct conn *);
int		 conn_nonblock(struct conn *);

#endif
