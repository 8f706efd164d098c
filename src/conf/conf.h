/* The configuration file, parsed and validated into an immutable struct. */
#ifndef TCPD_CONF_H
#define TCPD_CONF_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>

#include "conf_exec.h"
#include "conf_ident.h"
#include "conf_net.h"

struct conf_handler;
struct service;

#define CONF_ADDRSTRLEN	64	/* "[v6 address]:port" */

/* The longest service name: letters, digits, '_', '-', '.' */
#define CONF_NAME_MAX	64

/* The most a configuration may hold, its @include files counted. */
#define CONF_MAX_SIZE	1048576	/* bytes */

struct conf_listen {
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	char			 text[CONF_ADDRSTRLEN];
};

/* An address of the file, by service and index, in its port's chain. */
struct conf_portref {
	int	 svc, idx;
	int	 next;		/* ref + 1; 0: the last */
};

struct conf_service {
	char			*name;
	const struct conf_handler *kind;	/* its handler, as the file names it */
	/*
	 * The handler's code: the worker's, set by the worker that serves
	 * the service (worker_run); NULL everywhere else.
	 */
	const struct service	*handler;
	struct conf_listen	*listen;
	int			 nlisten;
	int			 workers;
	int			 backlog;
	int			 idle_timeout;	/* seconds, 0 = none */
	int			 max_connections;	/* 0 = no limit */
	struct conf_exec	 exec;		/* exec: the program */
	struct conf_net		 net;		/* its own, over the global */
	struct conf_ident	 ident;		/* its own, or the global one */
	int			 line;
	char			*at;		/* "FILE:LINE" where it is */
};

/*
 * What conf_load() returns is read-only: a copy in a mapping of its own
 * (conf_freeze.c).  A pointer added to it, or to what it holds, is
 * copied there as conf_free() frees it.
 */
struct conf {
	char			*path;		/* absolute */
	struct conf_ident	 ident;		/* user: NULL, keep the starting one */
	char			*pid_file;	/* absolute, or NULL */
	char			*pid_file_at;	/* "FILE:LINE" setting it */
	char			*control_socket;	/* absolute, or NULL */
	char			*include_dir;	/* absolute, or NULL */
	int			 log_facility;
	int			 log_level;
	int			 log_target;	/* enum log_target */
	int			 shutdown_timeout;
	int			 retire_timeout;	/* seconds, 0 = none */
	int			 respawn_window;	/* seconds */
	int			 respawn_limit;
	int			 watchdog_timeout;	/* seconds, 0 = off */
	int			 drain_delay;	/* seconds draining before a
						   graceful stop; 0 = none */
	struct conf_net		 net;		/* the global settings */
	struct conf_service	*services;
	int			 nservices;
	/*
	 * While the file is read: every address so far, chained by family
	 * and port, since only those can clash; freed once it is read.
	 */
	int			*port_head;	/* [family][port]: ref + 1 */
	struct conf_portref	*port_refs;
	int			 nport_refs;
	/* Services by name: services[i] as i + 1; a power of 2 in size. */
	int			*names;
	int			 names_size;
	size_t			 frozen_len;	/* a mapping (conf_freeze.c),
						   so long; 0: malloc'd */
};

struct conf	*conf_load(const char *path, char *err, size_t errlen);
void		 conf_free(struct conf *);
int		 conf_check_paths(const struct conf *, char *err,
		    size_t errlen);
int		 conf_workers_total(const struct conf *);
void		 conf_log_open(const struct conf *, int foreground);
/* conf_service.c */
const struct conf_service *
		 conf_service_find(const struct conf *, const char *name);

#endif
