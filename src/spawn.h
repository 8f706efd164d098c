/* A connection's program: started on the socket, its stderr logged, reaped. */
#ifndef TCPD_SPAWN_H
#define TCPD_SPAWN_H

#include <sys/types.h>

struct conn;
struct conn_set;

pid_t	spawn_program(struct conn *, char *const *argv, char *const *env);
void	spawn_reap(struct conn_set *);
void	spawn_stop_all(struct conn_set *);

#endif
