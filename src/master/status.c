/*
 * What tcpd -s status prints: the master, each service, each slot and
 * the accept queue behind its sockets, as a table for people or as one
 * JSON object for scripts.  Built by the master from its own records and
 * the workers' heartbeats; nothing here waits on anyone.
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
#include "listener.h"
#include "orphan.h"
#include "proc.h"
#include "services/service.h"
#include "status.h"
#include "util.h"
#include "supervise.h"

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
add_proc(struct svc_sum *sum, const struct proc *p, int64_t now)
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

/*
 * Every service's figures, summed over its slots, retiring workers and
 * gone workers' counts, in one pass over each: services[i]'s in [i].
 * calloc'd; NULL when out of memory.
 */
struct svc_sum *
status_sums(const struct status_in *in)
{
	const struct sup	*s = in->sup;
	struct svc_sum		*sums, *sum;
	int			 i;

	if ((sums = calloc(in->conf->nservices ? in->conf->nservices : 1,
	    sizeof(*sums))) == NULL)
		return NULL;
	for (int k = 0; k < s->nslots; k++) {
		const struct slot *sl = s->slots[k];
		if ((i = svc_index(in, sl->svc)) == -1)
			continue;
		sum = &sums[i];
		sum->slots++;
		if (sl->cur != NULL && sl->cur->ready)
			sum->running++;
		if (sl->cur != NULL)
			add_proc(sum, sl->cur, in->now);
		if (sl->next != NULL)
			add_proc(sum, sl->next, in->now);
	}
	for (const struct proc *p = s->retiring; p != NULL; p = p->next)
		if ((i = svc_index(in, p->svc)) != -1) {
			add_proc(&sums[i], p, in->now);
			sums[i].retiring++;
		}
	for (const struct svc *v = s->svcs.all; v != NULL; v = v->next) {
		const struct svc_stats *st = &v->gone;
		if ((i = svc_index(in, v)) == -1)
			continue;
		sum = &sums[i];
		add_counted(&sum->accepted, st->accepted);
		add_counted(&sum->bytes_in, st->bytes_in);
		add_counted(&sum->bytes_out, st->bytes_out);
		for (int r = 0; r < REFUSED_KINDS; r++)
			add_counted(&sum->refused[r], st->refused[r]);
	}
	return sums;
}

/* "ready", "starting", "down" or "failing", and the next retry. */
static const char *
slot_state(const struct status_in *in, const struct slot *sl,
    int64_t *retry_ms)
{
	*retry_ms = -1;
	if (sl->cur != NULL && sl->cur->ready)
		return "ready";
	if (sl->cur != NULL || sl->next != NULL)
		return "starting";
	if (sl->retry_at > in->now)
		*retry_ms = sl->retry_at - in->now;
	return slot_failing(in->sup, sl) ? "failing" : "down";
}

/* ms as "42s", "3m07s", "2h05m" or "4d03h". */
static const char *
duration(char *text, size_t len, int64_t ms)
{
	long long	 s = ms / 1000;

	if (s >= 86400)
		snprintf(text, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(text, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(text, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(text, len, "%llds", s);
	return text;
}

static void
wall(struct buf *b, time_t t)
{
	char		 text[64];
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_printf(b, "%s", text);
}

static unsigned long long
refused_total(const struct svc_sum *sum)
{
	unsigned long long	 n = 0;

	for (int i = 0; i < REFUSED_KINDS; i++)
		add_counted(&n, sum->refused[i]);
	return n;
}

/* The slot's queue, summed over its sockets. */
void
status_slot_queue(const struct status_in *in, const struct conf_service *sv,
    const struct slot *sl, unsigned *now, unsigned *max)
{
	unsigned	 n, m;

	*now = *max = 0;
	for (int i = 0; i < sv->nlisten; i++) {
		queue_of(listeners_fd(in->listeners, &sv->listen[i],
		    sl->index), &n, &m);
		*now += n;
		*max += m;
	}
}

static void
text_master(struct buf *b, const struct status_in *in)
{
	char	 up[32];

	buf_printf(b, "tcpd %s, pid %ld, up %s, config %s, generation %u\n",
	    PACKAGE_VERSION, (long)in->pid,
	    duration(up, sizeof(up), in->now - in->started_ms),
	    in->conf->path, in->gen);
	if (in->reload_at == 0)
		buf_printf(b, "last reload: none\n");
	else {
		buf_printf(b, "last reload: ");
		wall(b, in->reload_at);
		buf_printf(b, ", %s\n", in->reload_result);
	}
	buf_printf(b, "state: %s", in->state);
	if (in->stop_in_ms >= 0)
		buf_printf(b, ", stopping (graceful) in %lld.%03lld s",
		    (long long)(in->stop_in_ms / 1000),
		    (long long)(in->stop_in_ms % 1000));
	buf_printf(b, "\n");
}

static void
text_services(struct buf *b, const struct status_in *in)
{
	struct svc_sum	*sums;

	if ((sums = status_sums(in)) == NULL) {
		b->failed = 1;
		return;
	}
	buf_printf(b, "\n%-16s %-8s %7s %6s %10s %8s %9s  %s\n", "SERVICE",
	    "HANDLER", "WORKERS", "OPEN", "ACCEPTED", "REFUSED", "MAXCONN",
	    "LISTEN");
	for (int i = 0; i < in->conf->nservices; i++) {
		const struct conf_service *sv = &in->conf->services[i];
		const struct svc_sum *sum = &sums[i];
		char	 workers[24], maxconn[24] = "-";

		snprintf(workers, sizeof(workers), "%d/%d", sum->running,
		    sum->slots);
		if (sv->max_connections > 0)
			snprintf(maxconn, sizeof(maxconn), "%d/%d",
			    status_maxconn_used(in, sv), sv->max_connections);
		buf_printf(b, "%-16s %-8s %7s %6llu %10llu %8llu %9s ",
		    sv->name, sv->handler->name, workers, sum->open,
		    sum->accepted, refused_total(sum), maxconn);
		for (int j = 0; j < sv->nlisten; j++)
			buf_printf(b, " %s", sv->listen[j].text);
		buf_printf(b, "\n");
	}
	free(sums);
}

static void
text_slots(struct buf *b, const struct status_in *in)
{
	const struct sup	*s = in->sup;
	int64_t			 retry;
	unsigned		 qn, qm;

	buf_printf(b, "\n%-20s %-8s %8s %5s %8s %8s %6s %6s %10s %7s\n",
	    "SLOT", "STATE", "PID", "GEN", "UP", "RESTARTS", "BEAT", "OPEN",
	    "ACCEPTED", "QUEUE");
	for (int i = 0; i < s->nslots; i++) {
		const struct slot *sl = s->slots[i];
		const struct proc *p = sl->cur != NULL ? sl->cur : sl->next;
		const struct conf_service *sv = sl->svc->conf;
		char	 name[96], up[32];

		snprintf(name, sizeof(name), "%s/%d", sl->svc->name, sl->index);
		buf_printf(b, "%-20s %-8s ", name, slot_state(in, sl, &retry));
		if (p == NULL) {
			buf_printf(b, "%8s %5s %8s %8u %6s %6s %10s ", "-",
			    "-", "-", sl->restarts, "-", "-", "-");
		} else {
			buf_printf(b, "%8ld %5u %8s %8u %4lldms %6u %10llu ",
			    (long)p->pid, p->gen,
			    duration(up, sizeof(up), in->now - p->started),
			    sl->restarts,
			    (long long)(in->now - atomic_load(&p->beat->ms)),
			    atomic_load(&p->beat->conns),
			    atomic_load(&p->beat->accepted));
		}
		status_slot_queue(in, sv, sl, &qn, &qm);
		buf_printf(b, "%u/%u", qn, qm);
		if (retry >= 0)
			buf_printf(b, "  (retry in %lld ms)", (long long)retry);
		buf_printf(b, "\n");
	}
	for (const struct proc *p = s->retiring; p != NULL; p = p->next)
		buf_printf(b, "%-20s %-8s %8ld %5u %8s %8s %6s %6u\n",
		    p->name, "retiring", (long)p->pid, p->gen, "-", "-", "-",
		    atomic_load(&p->beat->conns));
	for (int i = 0; i < in->conf->nservices; i++) {
		const char	*name = in->conf->services[i].name;
		int		 n = orphans_count(s->orphans, svcs_of(&s->svcs,
		    &in->conf->services[i]));

		if (n > 0)
			buf_printf(b, "%s: %d program%s of dead workers being "
			    "ended\n", name, n, n == 1 ? "" : "s");
	}
}

/* Connections counted against sv's max_connections now. */
int
status_maxconn_used(const struct status_in *in, const struct conf_service *sv)
{
	return admission_used(&svcs_of(&in->sup->svcs, sv)->adm);
}

static void
json_slot(struct buf *b, const struct status_in *in,
    const struct conf_service *sv, const struct slot *sl)
{
	const struct proc	*p = sl->cur != NULL ? sl->cur : sl->next;
	int64_t			 retry;
	unsigned		 qn, qm;

	buf_printf(b, "{\"index\":%d,\"state\":\"%s\",\"restarts\":%u,",
	    sl->index, slot_state(in, sl, &retry), sl->restarts);
	if (retry >= 0)
		buf_printf(b, "\"retry_in_ms\":%lld,", (long long)retry);
	if (p != NULL)
		buf_printf(b, "\"pid\":%ld,\"generation\":%u,\"uptime_ms\":%lld,"
		    "\"heartbeat_age_ms\":%lld,\"open\":%u,\"accepted\":%llu,",
		    (long)p->pid, p->gen, (long long)(in->now - p->started),
		    (long long)(in->now - atomic_load(&p->beat->ms)),
		    atomic_load(&p->beat->conns),
		    atomic_load(&p->beat->accepted));
	if (sl->cur != NULL && sl->next != NULL)
		buf_printf(b, "\"successor_pid\":%ld,", (long)sl->next->pid);
	buf_printf(b, "\"sockets\":[");
	for (int i = 0; i < sv->nlisten; i++) {
		queue_of(listeners_fd(in->listeners, &sv->listen[i],
		    sl->index), &qn, &qm);
		buf_printf(b, "%s{\"listen\":", i ? "," : "");
		buf_json_string(b, sv->listen[i].text);
		buf_printf(b, ",\"queue\":%u,\"backlog\":%u}", qn, qm);
	}
	buf_printf(b, "]}");
}

static void
json_service(struct buf *b, const struct status_in *in,
    const struct conf_service *sv, const struct svc_sum *sum)
{
	int		 first = 1;

	buf_printf(b, "{\"name\":");
	buf_json_string(b, sv->name);
	buf_printf(b, ",\"handler\":\"%s\",\"listen\":[", sv->handler->name);
	for (int i = 0; i < sv->nlisten; i++) {
		buf_printf(b, "%s", i ? "," : "");
		buf_json_string(b, sv->listen[i].text);
	}
	buf_printf(b, "],\"workers\":%d,\"running\":%d,\"open\":%llu,"
	    "\"accepted\":%llu,\"refused\":{", sum->slots, sum->running,
	    sum->open, sum->accepted);
	for (int i = 0; i < REFUSED_KINDS; i++)
		buf_printf(b, "%s\"%s\":%llu", i ? "," : "", refusal_names[i],
		    sum->refused[i]);
	buf_printf(b, "},\"max_connections\":%d,\"max_connections_used\":%d,"
	    "\"orphaned_programs\":%d,\"slots\":[", sv->max_connections,
	    status_maxconn_used(in, sv), orphans_count(in->sup->orphans,
	    svcs_of(&in->sup->svcs, sv)));
	for (int i = 0; sum->slots > 0 && i < in->sup->nslots; i++) {
		const struct slot *sl = in->sup->slots[i];
		if (sl->svc->conf != sv)
			continue;
		buf_printf(b, "%s", first ? "" : ",");
		json_slot(b, in, sv, sl);
		first = 0;
	}
	buf_printf(b, "],\"retiring\":[");
	first = 1;
	for (const struct proc *p = in->sup->retiring; sum->retiring > 0 &&
	    p != NULL; p = p->next)
		if (p->svc->conf == sv) {
			buf_printf(b, "%s{\"pid\":%ld,\"generation\":%u,"
			    "\"open\":%u}", first ? "" : ",", (long)p->pid,
			    p->gen, atomic_load(&p->beat->conns));
			first = 0;
		}
	buf_printf(b, "]}");
}

static void
json_all(struct buf *b, const struct status_in *in)
{
	struct svc_sum	*sums;

	buf_printf(b, "{\"version\":\"%s\",\"pid\":%ld,\"config\":",
	    PACKAGE_VERSION, (long)in->pid);
	buf_json_string(b, in->conf->path);
	buf_printf(b, ",\"generation\":%u,\"uptime_ms\":%lld,\"started\":\"",
	    in->gen, (long long)(in->now - in->started_ms));
	wall(b, in->started_at);
	buf_printf(b, "\",\"last_reload\":");
	if (in->reload_at == 0)
		buf_printf(b, "null");
	else {
		buf_printf(b, "{\"at\":\"");
		wall(b, in->reload_at);
		buf_printf(b, "\",\"ok\":%s,\"result\":",
		    in->reload_ok ? "true" : "false");
		buf_json_string(b, in->reload_result);
		buf_printf(b, "}");
	}
	buf_printf(b, ",\"state\":\"%s\"", in->state);
	if (in->stop_in_ms >= 0)
		buf_printf(b, ",\"stop_in_ms\":%lld", (long long)in->stop_in_ms);
	buf_printf(b, ",\"services\":[");
	if ((sums = status_sums(in)) == NULL) {
		b->failed = 1;
		return;
	}
	for (int i = 0; i < in->conf->nservices; i++) {
		buf_printf(b, "%s", i ? "," : "");
		json_service(b, in, &in->conf->services[i], &sums[i]);
	}
	free(sums);
	buf_printf(b, "]}\n");
}

/* The answer, malloc'd, its length in *len; NULL when out of memory. */
char *
status_build(const struct status_in *in, enum status_form form, size_t *len)
{
	struct buf	 b = { 0 };

	if (form == STATUS_JSON)
		json_all(&b, in);
	else if (form == STATUS_METRICS)
		status_prom(&b, in);
	else {
		text_master(&b, in);
		text_services(&b, in);
		text_slots(&b, in);
	}
	if (b.failed) {
		buf_free(&b);
		return NULL;
	}
	*len = b.len;
	return b.p;
}
