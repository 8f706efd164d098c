/*
 * tcpd -s status --json: the same figures as one JSON object for
 * scripts, printed from the figures gathered (status.c), nothing else.
 */
#include "config.h"

#include "buf.h"
#include "status_int.h"

static void
json_slot(struct buf *b, const struct status_slot *v)
{
	buf_printf(b, "{\"index\":%d,\"state\":\"%s\",\"restarts\":%u,",
	    v->index, v->state, v->restarts);
	if (v->retry_ms >= 0)
		buf_printf(b, "\"retry_in_ms\":%lld,", (long long)v->retry_ms);
	if (v->worker)
		buf_printf(b, "\"pid\":%ld,\"generation\":%u,\"uptime_ms\":%lld,"
		    "\"heartbeat_age_ms\":%lld,\"open\":%u,\"accepted\":%llu,",
		    v->pid, v->gen, (long long)v->uptime_ms,
		    (long long)v->beat_age_ms, v->open, v->accepted);
	if (v->successor_pid != 0)
		buf_printf(b, "\"successor_pid\":%ld,", v->successor_pid);
	buf_printf(b, "\"sockets\":[");
	for (int i = 0; i < v->nsocks; i++) {
		buf_printf(b, "%s{\"listen\":", i ? "," : "");
		buf_json_string(b, v->socks[i].listen);
		buf_printf(b, ",\"queue\":%u,\"backlog\":%u}", v->socks[i].queue,
		    v->socks[i].backlog);
	}
	buf_printf(b, "]}");
}

/* The service's slots and its retiring workers, as two arrays. */
static void
json_workers(struct buf *b, const struct status_figs *f, int svc)
{
	const struct status_svc	*v = &f->svcs[svc];
	int			 first = 1;

	buf_printf(b, "\"slots\":[");
	for (int i = 0; v->slots > 0 && i < f->nslots; i++) {
		if (f->slots[i].svc != svc)
			continue;
		buf_printf(b, "%s", first ? "" : ",");
		json_slot(b, &f->slots[i]);
		first = 0;
	}
	buf_printf(b, "],\"retiring\":[");
	first = 1;
	for (int i = 0; v->retiring > 0 && i < f->nretiring; i++) {
		const struct status_retiring *r = &f->retiring[i];

		if (r->svc != svc)
			continue;
		buf_printf(b, "%s{\"pid\":%ld,\"generation\":%u,\"open\":%u}",
		    first ? "" : ",", r->pid, r->gen, r->open);
		first = 0;
	}
	buf_printf(b, "]");
}

static void
json_service(struct buf *b, const struct status_figs *f, int svc)
{
	const struct status_svc	*v = &f->svcs[svc];

	buf_printf(b, "{\"name\":");
	buf_json_string(b, v->name);
	buf_printf(b, ",\"handler\":\"%s\",\"listen\":[", v->handler);
	for (int i = 0; i < v->nlisten; i++) {
		buf_printf(b, "%s", i ? "," : "");
		buf_json_string(b, v->listen[i]);
	}
	buf_printf(b, "],\"workers\":%d,\"running\":%d,\"open\":%llu,"
	    "\"accepted\":%llu,\"refused\":{", v->slots, v->running, v->open,
	    v->accepted);
	for (int i = 0; i < REFUSED_KINDS; i++)
		buf_printf(b, "%s\"%s\":%llu", i ? "," : "", refusal_names[i],
		    v->refused[i]);
	buf_printf(b, "},\"max_connections\":%d,\"max_connections_used\":%d,"
	    "\"orphaned_programs\":%d,", v->max_connections, v->max_used,
	    v->orphaned);
	json_workers(b, f, svc);
	buf_printf(b, "}");
}

/* tcpd -s status --json. */
void
status_json(struct buf *b, const struct status_figs *f)
{
	buf_printf(b, "{\"version\":\"%s\",\"pid\":%ld,\"config\":",
	    PACKAGE_VERSION, f->pid);
	buf_json_string(b, f->config);
	buf_printf(b, ",\"generation\":%u,\"uptime_ms\":%lld,\"started\":"
	    "\"%s\",\"last_reload\":", f->gen, (long long)f->uptime_ms,
	    f->started);
	if (f->reload_at[0] == '\0')
		buf_printf(b, "null");
	else {
		buf_printf(b, "{\"at\":\"%s\",\"ok\":%s,\"result\":",
		    f->reload_at, f->reload_ok ? "true" : "false");
		buf_json_string(b, f->reload_result);
		buf_printf(b, "}");
	}
	buf_printf(b, ",\"state\":\"%s\"", f->state);
	if (f->stop_in_ms >= 0)
		buf_printf(b, ",\"stop_in_ms\":%lld", (long long)f->stop_in_ms);
	buf_printf(b, ",\"services\":[");
	for (int i = 0; i < f->nsvcs; i++) {
		buf_printf(b, "%s", i ? "," : "");
		json_service(b, f, i);
	}
	buf_printf(b, "]}\n");
}
