/* The interface every connection handler implements, and their table. */
#ifndef TCPD_SERVICE_H
#define TCPD_SERVICE_H

#include <stddef.h>

struct conn;
struct conf_service;

/*
 * A handler is a small state machine driven by the connection's events.
 * open runs once the connection is set up; input when it is readable (and
 * reading is not paused); writable when all queued output has gone and the
 * handler asked for more room with conn_want_write().  start runs once
 * in each new worker, before it accepts: -1 means the handler cannot
 * work there.  answer takes the master's text a connection asked for
 * with its set's want (NULL: none came).  Any may be NULL.
 *
 * detaches says that open gives the socket to another process before it
 * returns, or closes it (exec): the connection is not put on the loop
 * unless open leaves it open there.
 *
 * What the configuration knows of a handler (its settings, whether it
 * runs a program) is src/conf/conf_handler.c's: this is its code.
 */
struct service {
	const char		 *name;
	int			  detaches;
	int			(*start)(const struct conf_service *);
	void			(*open)(struct conn *);
	void			(*input)(struct conn *);
	void			(*writable)(struct conn *);
	void			(*answer)(struct conn *, const char *,
				    size_t);
};

extern const struct service	service_echo;
extern const struct service	service_discard;
extern const struct service	service_chargen;
extern const struct service	service_daytime;
extern const struct service	service_time;
extern const struct service	service_exec;
extern const struct service	service_metrics;
extern const struct service	service_agent;

const struct service	*service_find(const char *name);

#endif
