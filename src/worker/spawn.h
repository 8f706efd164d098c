/*
 * A connection's program: started on the socket, its stderr logged,
 * reaped; a worker's table of them.
 */
#ifndef TCPD_SPAWN_H
#define TCPD_SPAWN_H

#include <sys/types.h>

#include <stddef.h>

struct conf_exec;
struct conf_service;
struct conn;
struct heartbeat;
struct loop;
struct spawner;

int		 spawn_parent(const char **);
struct spawner	*spawn_new(struct loop *, const struct conf_service *,
		    struct heartbeat *);
void		 spawn_free(struct spawner *);
int		 spawn_run(struct spawner *, struct conn *,
		    const struct conf_exec *, char *err, size_t errlen);
void		 spawn_reap(struct spawner *);
void		 spawn_stop_all(struct spawner *);

#endif
