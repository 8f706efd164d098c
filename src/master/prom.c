/*
 * The metrics handler's text: the figures of tcpd -s status in the
 * Prometheus text exposition format (version 0.0.4), each metric with
 * its HELP and TYPE lines.
 */
#include "config.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "orphan.h"
#include "proc.h"
#include "status.h"
#include "supervise.h"
#include "util.h"

/* The figures per service and per slot, as the tables below name them. */
enum fig {
	F_WORKERS, F_READY, F_OPEN, F_ACCEPTED, F_BYTES_IN, F_BYTES_OUT,
	F_MAX, F_MAX_USED, F_ORPHANED,
	F_UP, F_RESTARTS, F_BEAT, F_SLOT_OPEN, F_QUEUE, F_QUEUE_MAX,
};

struct metric {
	const char	*name;
	const char	*type;
	const char	*help;
	enum fig	 fig;
};

static const struct metric service_metrics[] = {
	{ "service_workers", "gauge", "The service's worker slots.",
	    F_WORKERS },
	{ "service_workers_ready", "gauge", "Slots with a ready worker.",
	    F_READY },
	{ "connections_open", "gauge",
	    "Connections open now, refused ones still ending included.",
	    F_OPEN },
	{ "connections_accepted_total", "counter",
	    "Connections accepted, refused ones included.", F_ACCEPTED },
	{ "received_bytes_total", "counter",
	    "Bytes read from clients by built-in handlers (not by programs).",
	    F_BYTES_IN },
	{ "sent_bytes_total", "counter",
	    "Bytes written to clients by built-in handlers (not by programs).",
	    F_BYTES_OUT },
	{ "max_connections", "gauge", "The service's max_connections; 0: none.",
	    F_MAX },
	{ "max_connections_used", "gauge",
	    "Connections counted against max_connections now.", F_MAX_USED },
	{ "orphaned_programs", "gauge",
	    "Programs of dead workers whose process groups are being ended.",
	    F_ORPHANED },
};

static const struct metric slot_metrics[] = {
	{ "slot_up", "gauge", "1 while the slot has a ready worker.", F_UP },
	{ "slot_restarts_total", "counter",
	    "Deaths of the slot's workers that nobody asked for.", F_RESTARTS },
	{ "slot_heartbeat_age_seconds", "gauge",
	    "How long ago the slot worker's event loop last woke.", F_BEAT },
	{ "slot_connections_open", "gauge",
	    "Connections open in the slot's worker.", F_SLOT_OPEN },
	{ "slot_accept_queue", "gauge",
	    "Connections waiting in the slot's accept queues.", F_QUEUE },
	{ "slot_accept_queue_max", "gauge",
	    "The most that may wait there (the backlog).", F_QUEUE_MAX },
};

static void
head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP tcpd_%s %s\n# TYPE tcpd_%s %s\n", name, help,
	    name, type);
}

static unsigned long long
service_value(const struct status_in *in, const struct conf_service *sv,
    const struct svc_sum *sum, enum fig fig)
{
	switch (fig) {
	case F_WORKERS:		return sum->slots;
	case F_READY:		return sum->running;
	case F_OPEN:		return sum->open;
	case F_ACCEPTED:	return sum->accepted;
	case F_BYTES_IN:	return sum->bytes_in;
	case F_BYTES_OUT:	return sum->bytes_out;
	case F_MAX:		return sv->max_connections;
	case F_MAX_USED:	return status_maxconn_used(in, sv);
	case F_ORPHANED:	return orphans_count(in->sup->orphans,
				    svcs_of(&in->sup->svcs, sv));
	default:		return 0;
	}
}

/* One slot's figure, as the text of its value. */
static void
slot_value(struct buf *b, const struct status_in *in, const struct slot *sl,
    enum fig fig)
{
	const struct proc	*p = sl->cur;
	unsigned		 qn, qm;
	int64_t			 ms;

	switch (fig) {
	case F_UP:
		buf_printf(b, "%d\n", p != NULL && p->ready);
		break;
	case F_RESTARTS:
		buf_printf(b, "%u\n", sl->restarts);
		break;
	case F_BEAT:
		ms = p == NULL ? 0 : in->now - atomic_load(&p->beat->ms);
		buf_printf(b, "%lld.%03lld\n", (long long)(ms / 1000),
		    (long long)(ms % 1000));
		break;
	case F_SLOT_OPEN:
		buf_printf(b, "%u\n", p == NULL ? 0 :
		    atomic_load(&p->beat->conns));
		break;
	default:
		status_slot_queue(in, sl->svc->conf, sl, &qn, &qm);
		buf_printf(b, "%u\n", fig == F_QUEUE ? qn : qm);
	}
}

static const char *const prom_states[] = {
	"serving", "draining", "stopping",
};

static void
master_metrics(struct buf *b, const struct status_in *in)
{
	head(b, "info", "gauge", "The running tcpd, by version.");
	buf_printf(b, "tcpd_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	head(b, "start_time_seconds", "gauge",
	    "When the master started, in seconds since the epoch.");
	buf_printf(b, "tcpd_start_time_seconds %lld\n",
	    (long long)in->started_at);
	head(b, "generation", "gauge",
	    "The configuration's generation: 1 at start, +1 per reload.");
	buf_printf(b, "tcpd_generation %u\n", in->gen);
	head(b, "reloads_total", "counter", "Reloads asked for, by result.");
	buf_printf(b, "tcpd_reloads_total{result=\"ok\"} %u\n"
	    "tcpd_reloads_total{result=\"refused\"} %u\n", in->reloads_ok,
	    in->reloads_refused);
	head(b, "draining", "gauge",
	    "1 while tcpd tells balancers to send it nothing new: draining "
	    "or stopping.");
	buf_printf(b, "tcpd_draining %d\n", strcmp(in->state, "serving") != 0);
	head(b, "state", "gauge", "1 for the master's state: serving, "
	    "draining (for a balancer) or stopping.");
	for (size_t i = 0; i < nitems(prom_states); i++)
		buf_printf(b, "tcpd_state{state=\"%s\"} %d\n", prom_states[i],
		    strcmp(in->state, prom_states[i]) == 0);
}

/* Refusals, by service and reason. */
static void
refused_metrics(struct buf *b, const struct status_in *in,
    const struct svc_sum *sums)
{
	head(b, "connections_refused_total", "counter",
	    "Connections refused, by reason: access, per_source, rate, "
	    "table_full, proxy.");
	for (int i = 0; i < in->conf->nservices; i++)
		for (int r = 0; r < REFUSED_KINDS; r++)
			buf_printf(b, "tcpd_connections_refused_total{service="
			    "\"%s\",reason=\"%s\"} %llu\n",
			    in->conf->services[i].name, refusal_names[r],
			    sums[i].refused[r]);
}

void
status_prom(struct buf *b, const struct status_in *in)
{
	const struct sup	*s = in->sup;
	struct svc_sum		*sums;
	int			 n = in->conf->nservices;

	/* Each service's figures, summed once for all its rows. */
	if ((sums = status_sums(in)) == NULL) {
		b->failed = 1;
		return;
	}
	master_metrics(b, in);
	for (size_t m = 0; m < nitems(service_metrics); m++) {
		const struct metric *mt = &service_metrics[m];
		head(b, mt->name, mt->type, mt->help);
		for (int i = 0; i < n; i++)
			buf_printf(b, "tcpd_%s{service=\"%s\"} %llu\n",
			    mt->name, in->conf->services[i].name,
			    service_value(in, &in->conf->services[i],
			    &sums[i], mt->fig));
	}
	refused_metrics(b, in, sums);
	free(sums);
	for (size_t m = 0; m < nitems(slot_metrics); m++) {
		const struct metric *mt = &slot_metrics[m];
		head(b, mt->name, mt->type, mt->help);
		for (int i = 0; i < s->nslots; i++) {
			buf_printf(b, "tcpd_%s{service=\"%s\",slot=\"%d\"} ",
			    mt->name, s->slots[i]->svc->name, s->slots[i]->index);
			slot_value(b, in, s->slots[i], mt->fig);
		}
	}
}
