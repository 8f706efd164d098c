/*
 * A worker's lifecycle as a table of state by event: serving; draining
 * (still accepting, until the queues its sockets hold are empty);
 * finishing (not accepting, until its connections and programs end or a
 * deadline); and the end.
 */
#include "config.h"

#include <stdlib.h>
#include <unistd.h>

#include "acceptor.h"
#include "conf.h"
#include "conn.h"
#include "conn_timer.h"
#include "connlog.h"
#include "drain.h"
#include "log.h"
#include "proctitle.h"
#include "spawn.h"
#include "util.h"
#include "worker.h"
#include "worker_int.h"

/* A stop asked for, by the master or a signal; acted on between waits. */
void
worker_ask(struct worker *w, enum stop_how how, int timeout)
{
	if (how > w->asked || (how == w->asked && timeout > 0 &&
	    (w->asked_timeout == 0 || timeout < w->asked_timeout))) {
		w->asked = how;
		w->asked_timeout = timeout;
	}
}

/* End now: connections closed, programs stopped. */
void __attribute__((noreturn))
worker_exit(struct worker *w, const char *why)
{
	for (int i = 0; i < w->nacceptors; i++)
		acceptor_stop(&w->acceptors[i]);
	if (w->nacceptors > 0)
		handoff_take(&w->handoff);
	conn_close_all(&w->conns, why);
	spawn_stop_all(w->spawn);
	spawn_free(w->spawn);
	connlog_flush(loop_now_ms());
	log_debug("%s slot %d: exiting (%s)", w->svc->name, w->slot, why);
	exit(0);
}

/* A stop's deadline: the earlier of the one set and now + timeout. */
static void
worker_tighten(struct worker *w)
{
	int64_t	 at;

	if (w->asked > w->how)
		w->how = w->asked;
	if (w->asked_timeout == 0)
		return;
	at = w->loop.now + (int64_t)w->asked_timeout * 1000;
	if (w->deadline == 0 || at < w->deadline)
		w->deadline = at;
}

/* Draining: accept on until the queue is empty, then finish. */
static void
w_drain(struct worker *w)
{
	worker_tighten(w);
	w->state = W_DRAINING;
	w->drain = drain_start(w->fds, w->svc->listen, w->nacceptors,
	    w->loop.now);
}

/*
 * Stop accepting: the acceptors end, what they accepted is served, and
 * this process's copies of the slot sockets close.  The master keeps its
 * own, so connections still queued on them wait for the next worker.
 */
static void
w_finish(struct worker *w)
{
	unsigned	 n = w->conns.live;
	const char	*what;

	worker_tighten(w);
	what = w->how == STOP_RETIRE ? "retiring" : "stopping";
	w->state = W_FINISHING;
	for (int i = 0; i < w->nacceptors; i++)
		acceptor_stop(&w->acceptors[i]);
	handoff_take(&w->handoff);
	for (int i = 0; i < w->nacceptors; i++)
		close(w->acceptors[i].fd);
	w->nacceptors = 0;
	drain_free(w->drain);
	w->drain = NULL;
	proctitle_set("tcpd: worker %s slot %d (%s)", w->svc->name, w->slot,
	    what);
	if (n == 0)
		return;
	if (w->deadline != 0)
		log_info("%s slot %d: %s, %u connection%s open, %lld s at most",
		    w->svc->name, w->slot, what, n, n == 1 ? "" : "s",
		    (long long)((w->deadline - w->loop.now + 999) / 1000));
	else
		log_info("%s slot %d: %s, %u connection%s open, no deadline",
		    w->svc->name, w->slot, what, n, n == 1 ? "" : "s");
}

static void
w_fast(struct worker *w)
{
	worker_exit(w, "fast stop");
}

static void
w_done(struct worker *w)
{
	worker_exit(w, w->how == STOP_RETIRE ? "retired" : "graceful stop");
}

static void
w_late(struct worker *w)
{
	worker_exit(w, w->how == STOP_RETIRE ? "retire timeout" :
	    "shutdown timeout");
}

/* State x event: what to do; NULL: nothing. */
static void (*const transitions[W_NSTATES][EV_NEVENTS])(struct worker *) = {
	[W_SERVING] = {
		[EV_RETIRE] = w_finish, [EV_DRAIN] = w_drain,
		[EV_FAST] = w_fast,
	},
	[W_DRAINING] = {
		[EV_RETIRE] = worker_tighten, [EV_DRAIN] = worker_tighten,
		[EV_FAST] = w_fast, [EV_DRAINED] = w_finish,
	},
	[W_FINISHING] = {
		[EV_RETIRE] = worker_tighten, [EV_DRAIN] = worker_tighten,
		[EV_FAST] = w_fast, [EV_IDLE] = w_done, [EV_DEADLINE] = w_late,
	},
};

static void
worker_step(struct worker *w, enum wevent ev)
{
	if (transitions[w->state][ev] != NULL)
		transitions[w->state][ev](w);
}

/* After each wait: turn what happened into the lifecycle's events. */
void
worker_check(struct worker *w)
{
	static const enum wevent asked_event[] = {
		[STOP_RETIRE] = EV_RETIRE, [STOP_DRAIN] = EV_DRAIN,
		[STOP_FAST] = EV_FAST,
	};

	if (w->asked != STOP_NONE) {
		worker_step(w, asked_event[w->asked]);
		w->asked = STOP_NONE;
		w->asked_timeout = 0;
	}
	if (w->state == W_DRAINING && drain_done(w->drain, w->loop.now))
		worker_step(w, EV_DRAINED);
	if (w->state == W_FINISHING && w->conns.live == 0)
		worker_step(w, EV_IDLE);
	if (w->deadline != 0 && w->loop.now >= w->deadline)
		worker_step(w, EV_DEADLINE);
}

/* How long the next wait may be. */
int
worker_timeout(const struct worker *w)
{
	int	 t = conn_timer_next(&w->conns), c;
	int64_t	 left;

	/* A refusal summary owed is logged on time. */
	if ((c = connlog_next(w->loop.now)) != -1 && (t == -1 || c < t))
		t = c;
	/* A question to the master is given up on time. */
	if ((c = ask_timeout(&w->ask, w->loop.now)) != -1 && (t == -1 || c < t))
		t = c;
	if ((c = ask_timeout(&w->health, w->loop.now)) != -1 &&
	    (t == -1 || c < t))
		t = c;

	/* Wake often enough to show the master it is alive. */
	if (w->beat_ms > 0 && (t == -1 || t > w->beat_ms))
		t = w->beat_ms;
	if (w->state == W_DRAINING)
		return t == -1 || t > 10 ? 10 : t;	/* look at the queue again */
	if (w->deadline != 0) {
		left = w->deadline - w->loop.now;
		if (left < 0)
			left = 0;
		if (t == -1 || left < t)
			t = (int)left;
	}
	return t;
}

