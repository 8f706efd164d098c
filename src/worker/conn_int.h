/* Inside a connection: what conn.c and conn_io.c share. */
#ifndef TCPD_CONN_INT_H
#define TCPD_CONN_INT_H

#include <stdint.h>

struct conn;
struct io;

void	conn_io(struct io *, uint32_t);
void	conn_update(struct conn *);

#endif
