/*
 * The master's health line, for the agent handler and GET /ready.  It
 * is made of what the master knows itself (its state, its slots, the
 * max_connections counts, clamped); a worker reads it (src/shared/health.c).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "conf.h"
#include "conf_handler.h"
#include "health_line.h"
#include "proc.h"
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

		if (sv->max_connections <= 0 || sv->kind->reports)
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
