/* A connection's program: started on the socket, its stderr logged, reaped. */
#ifndef TCPD_SPAWN_H
#define TCPD_SPAWN_H

#include <sys/types.h>

#include <stddef.h>

struct conf_exec;
struct conn;
struct loop;

int	spawn_init(const char *service);
int	spawn_run(struct conn *, const struct conf_exec *, char *why,
	    size_t whylen);
void	spawn_reap(void);
void	spawn_stop_all(struct loop *);

#endif
