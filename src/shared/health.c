/*
 * What a balancer asks of tcpd, for the agent handler and GET /ready.
 * The master builds one line from what it knows itself (its state, its
 * slots, the max_connections counts, clamped); a worker reads that line
 * and nothing else.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "health.h"
#include "proc.h"
#include "services/service.h"
#include "status.h"
#include "supervise.h"

/*
 * Is sl out of service: no worker serving and none merely starting (a
 * down slot), or failing, whose workers start and die?  The kernel still
 * hashes new connections to its sockets, where they wait.
 */
static int
health_slot_out(const struct sup *s, const struct slot *sl)
{
	if (slot_served(sl))
		return 0;
	return !slot_has_worker(sl) || slot_failing(s, sl);
}

/*
 * The capacity free, in percent: over the services that serve clients
 * (not agent nor metrics) and have a max_connections, the connections
 * not counted against them, out of their sum.  100 when none has one;
 * at least 1, since a weight of 0 is what draining means to a balancer.
 */
static int
health_weight(const struct status_in *in)
{
	long long	 max = 0, free = 0;

	for (int i = 0; i < in->conf->nservices; i++) {
		const struct conf_service *sv = &in->conf->services[i];
		int used;

		if (sv->max_connections <= 0 || sv->handler == &service_agent ||
		    sv->handler == &service_metrics)
			continue;
		/* Counted by workers: at most the limit, at least none. */
		used = status_maxconn_used(in, sv);
		if (used > sv->max_connections)
			used = sv->max_connections;
		max += sv->max_connections;
		free += sv->max_connections - (used > 0 ? used : 0);
	}
	if (max == 0)
		return 100;
	return free * 100 / max > 0 ? (int)(free * 100 / max) : 1;
}

/* The master's answer to a health question, malloc'd; NULL: no memory. */
char *
health_build(const struct status_in *in, size_t *len)
{
	char	*out;
	int	 n, nout = 0;

	for (int i = 0; i < in->sup->nslots; i++)
		nout += health_slot_out(in->sup, in->sup->slots[i]);
	n = asprintf(&out, "%s %d %d\n", in->state, health_weight(in), nout);
	if (n == -1)
		return NULL;
	*len = (size_t)n;
	return out;
}

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
