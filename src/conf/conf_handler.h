/*
 * The handlers as the configuration knows them: their names, the
 * settings only each takes, and what the file asks of a service of each.
 * Their code is the worker's (src/worker/services/), found by name.
 */
#ifndef TCPD_CONF_HANDLER_H
#define TCPD_CONF_HANDLER_H

struct conf_handler {
	const char		*name;
	/* The service settings only it takes, NULL-ended; NULL: none. */
	const char *const	*keys;
	int			 program;	/* runs the service's program:
						   it is checked with the file */
	int			 reports;	/* tells of tcpd itself (agent,
						   metrics) rather than serve
						   clients */
};

const struct conf_handler	*conf_handler_find(const char *name);
const struct conf_handler	*conf_handler_owner(const char *key);
const char			*conf_handler_names(void);

#endif
