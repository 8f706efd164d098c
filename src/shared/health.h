/*
 * What a balancer asks of tcpd: the master's answer to a worker's
 * health question, one line (src/master/health_line.c writes it), and
 * what the worker reads in it.
 */
#ifndef TCPD_HEALTH_H
#define TCPD_HEALTH_H

#include <stddef.h>

/* The master's line: "STATE WEIGHT OUT\n", as health_build() writes it. */
struct health {
	char	 state[16];	/* serving, draining, stopping */
	int	 weight;	/* percent of capacity free, 1 to 100 */
	int	 out;		/* slots with no worker serving */
};

int	 health_parse(const char *text, size_t len, struct health *);
int	 health_ready(const struct health *);

#endif
