/*
 * What a balancer asks of tcpd: the master's answer to a worker's
 * health question, one line, and what the worker reads in it.
 */
#ifndef TCPD_HEALTH_H
#define TCPD_HEALTH_H

#include <stddef.h>

struct status_in;

/* The master's line: "STATE WEIGHT OUT\n", as health_build() writes it. */
struct health {
	char	 state[16];	/* serving, draining, stopping */
	int	 weight;	/* percent of capacity free, 1 to 100 */
	int	 out;		/* slots with no worker serving */
};

char	*health_build(const struct status_in *, size_t *len);
int	 health_parse(const char *text, size_t len, struct health *);
int	 health_ready(const struct health *);

#endif
