/*
 * tcpd -s status as a table for people: the master, each service, each
 * slot with its accept queue, the retiring workers; printed from the
 * figures gathered (status.c), nothing else.
 */
#include "config.h"

#include <stdio.h>

#include "buf.h"
#include "status_int.h"

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
text_master(struct buf *b, const struct status_figs *f)
{
	char	 up[32];

	buf_printf(b, "tcpd %s, pid %ld, up %s, config %s, generation %u\n",
	    PACKAGE_VERSION, f->pid, duration(up, sizeof(up), f->uptime_ms),
	    f->config, f->gen);
	if (f->reload_at[0] == '\0')
		buf_printf(b, "last reload: none\n");
	else
		buf_printf(b, "last reload: %s, %s\n", f->reload_at,
		    f->reload_result);
	buf_printf(b, "state: %s", f->state);
	if (f->stop_in_ms >= 0)
		buf_printf(b, ", stopping (graceful) in %lld.%03lld s",
		    (long long)(f->stop_in_ms / 1000),
		    (long long)(f->stop_in_ms % 1000));
	buf_printf(b, "\n");
}

static void
text_services(struct buf *b, const struct status_figs *f)
{
	buf_printf(b, "\n%-16s %-8s %7s %6s %10s %8s %9s  %s\n", "SERVICE",
	    "HANDLER", "WORKERS", "OPEN", "ACCEPTED", "REFUSED", "MAXCONN",
	    "LISTEN");
	for (int i = 0; i < f->nsvcs; i++) {
		const struct status_svc *v = &f->svcs[i];
		char	 workers[24], maxconn[24] = "-";

		snprintf(workers, sizeof(workers), "%d/%d", v->running,
		    v->slots);
		if (v->max_connections > 0)
			snprintf(maxconn, sizeof(maxconn), "%d/%d",
			    v->max_used, v->max_connections);
		buf_printf(b, "%-16s %-8s %7s %6llu %10llu %8llu %9s ",
		    v->name, v->handler, workers, v->open, v->accepted,
		    v->refused_total, maxconn);
		for (int j = 0; j < v->nlisten; j++)
			buf_printf(b, " %s", v->listen[j]);
		buf_printf(b, "\n");
	}
}

static void
text_slot(struct buf *b, const struct status_slot *v)
{
	char	 name[96], up[32];

	snprintf(name, sizeof(name), "%s/%d", v->service, v->index);
	buf_printf(b, "%-20s %-8s ", name, v->state);
	if (!v->worker)
		buf_printf(b, "%8s %5s %8s %8u %6s %6s %10s ", "-", "-", "-",
		    v->restarts, "-", "-", "-");
	else
		buf_printf(b, "%8ld %5u %8s %8u %4lldms %6u %10llu ", v->pid,
		    v->gen, duration(up, sizeof(up), v->uptime_ms),
		    v->restarts, (long long)v->beat_age_ms, v->open,
		    v->accepted);
	buf_printf(b, "%u/%u", v->queue, v->backlog);
	if (v->retry_ms >= 0)
		buf_printf(b, "  (retry in %lld ms)", (long long)v->retry_ms);
	buf_printf(b, "\n");
}

static void
text_slots(struct buf *b, const struct status_figs *f)
{
	buf_printf(b, "\n%-20s %-8s %8s %5s %8s %8s %6s %6s %10s %7s\n",
	    "SLOT", "STATE", "PID", "GEN", "UP", "RESTARTS", "BEAT", "OPEN",
	    "ACCEPTED", "QUEUE");
	for (int i = 0; i < f->nslots; i++)
		text_slot(b, &f->slots[i]);
	for (int i = 0; i < f->nretiring; i++) {
		const struct status_retiring *r = &f->retiring[i];

		buf_printf(b, "%-20s %-8s %8ld %5u %8s %8s %6s %6u\n",
		    r->name, "retiring", r->pid, r->gen, "-", "-", "-",
		    r->open);
	}
	for (int i = 0; i < f->nsvcs; i++) {
		int	 n = f->svcs[i].orphaned;

		if (n > 0)
			buf_printf(b, "%s: %d program%s of dead workers being "
			    "ended\n", f->svcs[i].name, n, n == 1 ? "" : "s");
	}
}

/* tcpd -s status. */
void
status_text(struct buf *b, const struct status_figs *f)
{
	text_master(b, f);
	text_services(b, f);
	text_slots(b, f);
}
