/* A connection's program: started on the socket, its stderr logged, reaped. */
#ifndef TCPD_SPAWN_H
#define TCPD_SPAWN_H

#include <sys/types.h>

struct conn;
struct loop;

int	spawn_run(struct conn *, char *const *argv, char *const *env);
void	spawn_reap(void);
void	spawn_stop_all(struct loop *);

#endif
