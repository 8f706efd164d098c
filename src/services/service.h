/* The interface every connection handler implements, and their table. */
#ifndef TCPD_SERVICE_H
#define TCPD_SERVICE_H

struct conf_service;
struct conn;

/*
 * A handler is a small state machine driven by the connection's events.
 * open runs once the connection is set up; input when it is readable (and
 * reading is not paused); writable when all queued output has gone and the
 * handler asked for more room with conn_want_write().  start runs once
 * in each new worker, before it accepts: -1 (errno set) means the
 * handler cannot work there.  Any may be NULL.
 */
struct service {
	const char	*name;
	int		 program;	/* runs the service's 'exec' program */
	int		(*start)(const struct conf_service *);
	void		(*open)(struct conn *);
	void		(*input)(struct conn *);
	void		(*writable)(struct conn *);
};

extern const struct service	service_echo;
extern const struct service	service_discard;
extern const struct service	service_chargen;
extern const struct service	service_daytime;
extern const struct service	service_time;
extern const struct service	service_exec;

const struct service	*service_find(const char *name);
const char		*service_names(void);

#endif
