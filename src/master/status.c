/*
 * What tcpd -s status prints: the master, each service, each slot and
 * the accept queue behind its sockets, as a table for people, as one
 * JSON object for scripts, or as metrics.  The figures are gathered here
 * once, from the master's own records and the workers' heartbeats
 * (nothing here waits on anyone), then printed by one of three printers
 * that read nothing else.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "conf.h"
#include "conf_handler.h"
#include "listener.h"
#include "orphan.h"
#include "proc.h"
#include "status.h"
#include "status_int.h"
#include "util.h"
#include "supervise.h"
#include "svc.h"

/* One slot socket's accept queue, now and at most (its backlog). */
static void
queue_of(int fd, unsigned *now, unsigned *max)
{
	struct tcp_info	 ti;
	socklen_t	 len = sizeof(ti);

	*now = *max = 0;
	if (fd != -1 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0) {
		/* On a listener: the queue's length, and its bound. */
		*now = ti.tcpi_unacked;
		*max = ti.tcpi_sacked;
	}
}

/* A worker's figures, as far as they could be true (proc_count()). */
static void
add_proc(struct status_svc *sum, const struct proc *p, int64_t now)
{
	unsigned long long	 acc, open = atomic_load(&p->beat->conns);

	acc = proc_count(p, &p->beat->accepted, PROC_CONNS_PER_MS, now);
	add_counted(&sum->open, open < acc ? open : acc);
	add_counted(&sum->accepted, acc);
	add_counted(&sum->bytes_in, proc_count(p, &p->beat->bytes_in,
	    PROC_BYTES_PER_MS, now));
	add_counted(&sum->bytes_out, proc_count(p, &p->beat->bytes_out,
	    PROC_BYTES_PER_MS, now));
	for (int i = 0; i < REFUSED_KINDS; i++)
		add_counted(&sum->refused[i], proc_count(p,
		    &p->beat->refused[i], PROC_CONNS_PER_MS, now));
}

/* The index of a service's record in in->conf, or -1: not in it now. */
static int
svc_index(const struct status_in *in, const struct svc *v)
{
	return v->conf != NULL ? (int)(v->conf - in->conf->services) : -1;
}

/* Connections counted against sv's max_connections now. */
int
status_maxconn_used(const struct status_in *in, const struct conf_service *sv)
{
	return admission_used(&svcs_of(&in->sup->svcs, sv)->adm);
}

/* t as UTC, ISO 8601. */
static void
wall(char *text, size_t len, time_t t)
{
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(text, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* What the master says of itself. */
static void
gather_master(struct status_figs *f, const struct status_in *in)
{
	f->pid = (long)in->pid;
	f->config = in->conf->path;
	f->gen = in->gen;
	f->uptime_ms = in->now - in->started_ms;
	f->started_at = in->started_at;
	wall(f->started, sizeof(f->started), in->started_at);
	if (in->reload_at != 0)
		wall(f->reload_at, sizeof(f->reload_at), in->reload_at);
	f->reload_ok = in->reload_ok;
	f->reload_result = in->reload_result;
	f->reloads_ok = in->reloads_ok;
	f->reloads_refused = in->reloads_refused;
	f->state = in->state;
	f->stop_in_ms = in->stop_in_ms;
}

/* Each service's own figures, before its workers' are added. */
static void
gather_services(struct status_figs *f, const struct status_in *in)
{
	const char	**listen = f->listen;

	for (int i = 0; i < in->conf->nservices; i++) {
		const struct conf_service *sv = &in->conf->services[i];
		struct status_svc *v = &f->svcs[i];

		v->name = sv->name;
		v->handler = sv->kind->name;
		v->listen = listen;
		v->nlisten = sv->nlisten;
		for (int j = 0; j < sv->nlisten; j++)
			*listen++ = sv->listen[j].text;
		v->max_connections = sv->max_connections;
		v->max_used = status_maxconn_used(in, sv);
		v->orphaned = orphans_count(in->sup->orphans,
		    svcs_of(&in->sup->svcs, sv));
	}
}

/* The worker shown for the slot: the serving one, else the starting. */
static void
gather_worker(struct status_slot *v, const struct slot *sl, int64_t now)
{
	const struct proc	*p = sl->cur != NULL ? sl->cur : sl->next;

	if (p == NULL)
		return;
	v->worker = 1;
	v->serving = slot_served(sl);
	v->pid = (long)p->pid;
	v->gen = p->gen;
	v->uptime_ms = now - p->started;
	v->beat_age_ms = now - atomic_load(&p->beat->ms);
	v->open = atomic_load(&p->beat->conns);
	v->accepted = atomic_load(&p->beat->accepted);
	if (sl->cur != NULL && sl->next != NULL)
		v->successor_pid = (long)sl->next->pid;
}

/* A slot's figures, its sockets' taken from *socks on. */
static void
gather_slot(struct status_slot *v, const struct status_in *in,
    const struct slot *sl, struct status_sock **socks)
{
	const struct conf_service	*sv = sl->svc->conf;

	v->service = sl->svc->name;
	v->svc = svc_index(in, sl->svc);
	v->index = sl->index;
	v->state = slot_state_name(in->sup, sl);
	v->retry_ms = !slot_has_worker(sl) && sl->retry_at > in->now ?
	    sl->retry_at - in->now : -1;
	v->restarts = sl->restarts;
	gather_worker(v, sl, in->now);
	v->socks = *socks;
	v->nsocks = sv->nlisten;
	for (int i = 0; i < sv->nlisten; i++) {
		struct status_sock *k = (*socks)++;
		k->listen = sv->listen[i].text;
		queue_of(listeners_fd(in->listeners, &sv->listen[i],
		    sl->index, NULL), &k->queue, &k->backlog);
		v->queue += k->queue;
		v->backlog += k->backlog;
	}
}

/* The slots, each added to its service's sums. */
static void
gather_slots(struct status_figs *f, const struct status_in *in)
{
	const struct sup	*s = in->sup;
	struct status_sock	*socks = f->socks;

	for (int k = 0; k < s->nslots; k++) {
		const struct slot *sl = s->slots[k];
		struct status_slot *v = &f->slots[k];
		struct status_svc *sum;

		gather_slot(v, in, sl, &socks);
		if (v->svc == -1)
			continue;
		sum = &f->svcs[v->svc];
		sum->slots++;
		sum->running += v->serving;
		if (sl->cur != NULL)
			add_proc(sum, sl->cur, in->now);
		if (sl->next != NULL)
			add_proc(sum, sl->next, in->now);
	}
	f->nslots = s->nslots;
}

/* The retiring workers, and the counts of gone ones, in their services'. */
static void
gather_gone(struct status_figs *f, const struct status_in *in)
{
	const struct sup	*s = in->sup;
	struct status_svc	*sum;
	int			 i;

	for (const struct proc *p = s->retiring; p != NULL; p = p->next) {
		struct status_retiring *r = &f->retiring[f->nretiring++];

		*r = (struct status_retiring){ .name = p->name,
		    .svc = svc_index(in, p->svc), .pid = (long)p->pid,
		    .gen = p->gen, .open = atomic_load(&p->beat->conns) };
		if (r->svc != -1) {
			add_proc(&f->svcs[r->svc], p, in->now);
			f->svcs[r->svc].retiring++;
		}
	}
	for (const struct svc *gone = s->svcs.all; gone != NULL;
	    gone = gone->next) {
		const struct svc_stats *st = &gone->gone;
		if ((i = svc_index(in, gone)) == -1)
			continue;
		sum = &f->svcs[i];
		add_counted(&sum->accepted, st->accepted);
		add_counted(&sum->bytes_in, st->bytes_in);
		add_counted(&sum->bytes_out, st->bytes_out);
		for (int r = 0; r < REFUSED_KINDS; r++)
			add_counted(&sum->refused[r], st->refused[r]);
	}
	for (i = 0; i < f->nsvcs; i++)
		for (int r = 0; r < REFUSED_KINDS; r++)
			add_counted(&f->svcs[i].refused_total,
			    f->svcs[i].refused[r]);
}

static void
figs_free(struct status_figs *f)
{
	free(f->svcs);
	free(f->slots);
	free(f->retiring);
	free(f->socks);
	free(f->listen);
}

/* Every figure status shows, gathered once; -1 when out of memory. */
static int
figs_gather(struct status_figs *f, const struct status_in *in)
{
	const struct sup	*s = in->sup;
	size_t			 nsocks = 0, nlisten = 0, nret = 0;

	for (int i = 0; i < s->nslots; i++)
		nsocks += s->slots[i]->svc->conf->nlisten;
	for (int i = 0; i < in->conf->nservices; i++)
		nlisten += in->conf->services[i].nlisten;
	for (const struct proc *p = s->retiring; p != NULL; p = p->next)
		nret++;
	*f = (struct status_figs){ .nsvcs = in->conf->nservices };
	f->svcs = calloc(f->nsvcs ? f->nsvcs : 1, sizeof(*f->svcs));
	f->slots = calloc(s->nslots ? s->nslots : 1, sizeof(*f->slots));
	f->retiring = calloc(nret ? nret : 1, sizeof(*f->retiring));
	f->socks = calloc(nsocks ? nsocks : 1, sizeof(*f->socks));
	f->listen = calloc(nlisten ? nlisten : 1, sizeof(*f->listen));
	if (f->svcs == NULL || f->slots == NULL || f->retiring == NULL ||
	    f->socks == NULL || f->listen == NULL) {
		figs_free(f);
		return -1;
	}
	gather_master(f, in);
	gather_services(f, in);
	gather_slots(f, in);
	gather_gone(f, in);
	return 0;
}

/* The answer, malloc'd, its length in *len; NULL when out of memory. */
char *
status_build(const struct status_in *in, enum status_form form, size_t *len)
{
	struct status_figs	 f;
	struct buf		 b = { 0 };

	if (figs_gather(&f, in) == -1)
		return NULL;
	if (form == STATUS_JSON)
		status_json(&b, &f);
	else if (form == STATUS_METRICS)
		status_prom(&b, &f);
	else
		status_text(&b, &f);
	figs_free(&f);
	if (b.failed) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
