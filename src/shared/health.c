/*
 * What a balancer asks of tcpd, for the agent handler and GET /ready: a
 * worker reads the master's line (src/master/health_line.c) and nothing
 * else.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "health.h"

/* A worker reads the master's line into h; -1 if it is not one. */
int
health_parse(const char *text, size_t len, struct health *h)
{
	char	 line[64];

	if (text == NULL || len == 0 || len >= sizeof(line))
		return -1;
	memcpy(line, text, len);
	line[len] = '\0';
	if (sscanf(line, "%15s %d %d", h->state, &h->weight, &h->out) != 3 ||
	    h->weight < 1 || h->weight > 100 || h->out < 0)
		return -1;
	return 0;
}

/* Serving, with every slot served: what GET /ready answers 200 to. */
int
health_ready(const struct health *h)
{
	return strcmp(h->state, "serving") == 0 && h->out == 0;
}
