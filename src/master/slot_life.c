/*
 * A slot's lifecycle as a table of state by event: empty (no worker: one
 * is started when its retry comes), starting, serving, outdated (its
 * worker serves an older generation: a successor is due), replacing (the
 * successor starts while the old worker serves on), and stopped.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "proc.h"
#include "supervise.h"
#include "supervise_int.h"

static const char *const state_names[SLOT_NSTATES] = {
	[SLOT_EMPTY] = "empty", [SLOT_STARTING] = "starting",
	[SLOT_SERVING] = "serving", [SLOT_OUTDATED] = "outdated",
	[SLOT_REPLACING] = "replacing", [SLOT_STOPPED] = "stopped",
};

static const char *const event_names[SE_NEVENTS] = {
	[SE_FORKED] = "forked", [SE_FORK_FAILED] = "fork failed",
	[SE_READY] = "ready", [SE_CUR_DIED] = "serving worker died",
	[SE_NEXT_DIED] = "starting worker died",
	[SE_NEW_GEN] = "new generation", [SE_START_FAILED] = "start failed",
	[SE_STOP] = "stop",
};

/* Milliseconds to wait after the n-th failure in a row (n from 0). */
int64_t
sup_backoff(int n)
{
	int64_t	 ms = (int64_t)RESPAWN_FIRST_MS << (n < 6 ? n : 6);

	return ms > RESPAWN_MAX_MS ? RESPAWN_MAX_MS : ms;
}

/* Is the slot failing: dying at start respawn_limit times in a row? */
int
slot_failing(const struct sup *s, const struct slot *sl)
{
	return sl->deaths >= s->conf->respawn_limit;
}

/* Has the slot a worker serving (cur), of whatever generation? */
int
slot_served(const struct slot *sl)
{
	return sl->state == SLOT_SERVING || sl->state == SLOT_OUTDATED ||
	    sl->state == SLOT_REPLACING;
}

/* Has the slot a worker at all, serving or starting? */
int
slot_has_worker(const struct slot *sl)
{
	return slot_served(sl) || sl->state == SLOT_STARTING;
}

/* Does the slot want a worker of the current generation started? */
int
slot_wants(const struct slot *sl)
{
	return sl->state == SLOT_EMPTY || sl->state == SLOT_OUTDATED;
}

/*
 * Is the slot down: no worker serves it, and one could not be started
 * (said in the log; it may be starting another now)?
 */
int
slot_down(const struct slot *sl)
{
	return !slot_served(sl) && sl->down_why[0] != '\0';
}

/*
 * Has the slot done what the current generation asks: its worker of that
 * generation serves, or it is being retried (its new worker cannot
 * start, or keeps dying)?
 */
int
slot_settled(const struct sup *s, const struct slot *sl)
{
	return sl->state == SLOT_SERVING || sl->down_why[0] != '\0' ||
	    slot_failing(s, sl);
}

/* What status shows: "ready", "starting", "down" or "failing". */
const char *
slot_state_name(const struct sup *s, const struct slot *sl)
{
	if (slot_served(sl))
		return "ready";
	if (sl->state == SLOT_STARTING)
		return "starting";
	return slot_failing(s, sl) ? "failing" : "down";
}

/* Take p out of its slot: the one place a slot lets go of a worker. */
static void
slot_unlink(struct slot *sl, struct proc *p)
{
	if (sl->cur == p)
		sl->cur = NULL;
	if (sl->next == p)
		sl->next = NULL;
	p->slot = NULL;
}

/* Does the master still hold every socket the worker accepts on? */
static int
sockets_kept(const struct sup *s, const struct proc *p)
{
	for (int i = 0; i < p->nlisten; i++)
		if (listeners_fd(s->listeners, &p->listen[i], p->slot_index,
		    NULL) == -1)
			return 0;
	return 1;
}

/*
 * Take p out of its slot and let it finish: it stops accepting (having
 * first served what is queued on sockets that leave with it) and ends
 * when its connections do, with no deadline unless retire_timeout says.
 */
static void
slot_retire(struct sup *s, struct proc *p, enum stop_how how)
{
	int	 t = s->conf->retire_timeout;

	/* Sockets that leave with it are first drained, whoever asks. */
	if (how == STOP_RETIRE && !sockets_kept(s, p))
		how = STOP_DRAIN;

	slot_unlink(p->slot, p);
	/*
	 * At the end: workers mostly end in the order they were asked to,
	 * so the reaper finds them near the head.
	 */
	p->next = NULL;
	*(s->retiring != NULL ? &s->retiring_tail->next : &s->retiring) = p;
	s->retiring_tail = p;
	if (p->stopping != STOP_NONE)
		return;
	proc_stop(p, how, t, s->loop->now);
	p->kill_at = t > 0 ? s->loop->now + (int64_t)t * 1000 + KILL_GRACE_MS
	    : 0;
}

/* Say, once per change, why a slot is not served as it should be. */
static void
slot_say_down(struct slot *sl, const char *why, int64_t delay)
{
	if (strcmp(sl->down_why, why) == 0) {
		log_debug("%s slot %d: retrying in %lld ms", sl->svc->name,
		    sl->index, (long long)delay);
		return;
	}
	snprintf(sl->down_why, sizeof(sl->down_why), "%s", why);
	if (sl->cur == NULL)
		log_warnx("%s slot %d is down: %s; retrying in %lld s, then "
		    "with back-off up to %d s", sl->svc->name, sl->index, why,
		    (long long)(delay / 1000), RESPAWN_MAX_MS / 1000);
	else
		log_warnx("%s slot %d: %s; its generation %u worker serves "
		    "on meanwhile; retrying in %lld s, then with back-off up "
		    "to %d s", sl->svc->name, sl->index, why, sl->cur->gen,
		    (long long)(delay / 1000), RESPAWN_MAX_MS / 1000);
}

/* A worker was forked for the slot: it starts there. */
static void
a_forked(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	(void)s;
	e->p->slot = sl;
	sl->next = e->p;
}

/* No worker could be made for the slot: retry later, and say so. */
static void
a_fork_failed(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	int64_t	 delay = sup_backoff(sl->spawn_fails++);

	sl->retry_at = s->loop->now + delay;
	if (sl->cur == NULL && sl->down_since == 0)
		sl->down_since = s->loop->now;
	slot_say_down(sl, e->why, delay);
}

/* The slot's new worker accepts: it takes the slot, its predecessor goes. */
static void
a_ready(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	struct proc	*p = e->p, *old = sl->cur;

	sl->cur = p;
	sl->next = NULL;
	if (sl->down_since != 0)
		log_info("worker %ld started: service %s slot %d generation %u, "
		    "%s%lld ms after the last one died", (long)p->pid,
		    sl->svc->name, sl->index, p->gen,
		    sl->down_unsure ? "at most " : "",
		    (long long)(s->loop->now - sl->down_since));
	else
		log_info("worker %ld started: service %s slot %d generation %u",
		    (long)p->pid, sl->svc->name, sl->index, p->gen);
	if (sl->down_why[0] != '\0')
		log_notice("%s slot %d is served again", sl->svc->name,
		    sl->index);
	sl->down_why[0] = '\0';
	sl->down_since = 0;
	sl->down_unsure = 0;
	sl->spawn_fails = 0;
	if (old != NULL)
		slot_retire(s, old, STOP_RETIRE);
}

/*
 * A slot's worker died without being asked: replace it at once, unless
 * the slot is failing (too many quick deaths in a row): then after a
 * pause that doubles with each further quick death.
 */
static void
a_died(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	const struct conf	*c = s->conf;
	int64_t			 lived = s->loop->now - e->p->started, delay;
	int			 over;

	if (sl->cur == e->p) {
		sl->down_since = s->died_after ? s->died_after : s->loop->now;
		sl->down_unsure = s->died_after != 0;
	}
	slot_unlink(sl, e->p);
	sl->restarts++;
	sl->deaths = lived < (int64_t)c->respawn_window * 1000 ?
	    sl->deaths + 1 : 0;
	if (!slot_failing(s, sl)) {
		sl->retry_at = 0;
		return;
	}
	over = sl->deaths - c->respawn_limit;
	delay = sup_backoff(over);
	sl->retry_at = s->loop->now + delay;
	if (over == 0)
		log_warnx("%s slot %d is failing: its workers died %d times in "
		    "a row within %d s of starting; respawning with back-off "
		    "from %d s up to %d s", sl->svc->name, sl->index,
		    sl->deaths, c->respawn_window, RESPAWN_FIRST_MS / 1000,
		    RESPAWN_MAX_MS / 1000);
	else
		log_debug("%s slot %d: respawning in %lld ms", sl->svc->name,
		    sl->index, (long long)delay);
}

/* At start, the slot's worker could not start: no respawn, no pointer. */
static void
a_start_failed(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	(void)s;
	if (e->p != NULL)
		slot_unlink(sl, e->p);
}

/*
 * A new generation: what the slot knew of failures starts over, and a
 * successor that was starting for the last one is not wanted any more.
 */
static void
a_new_generation(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	(void)e;
	sl->deaths = 0;
	sl->spawn_fails = 0;
	sl->retry_at = 0;
	if (sl->next != NULL)
		slot_retire(s, sl->next, STOP_RETIRE);
}

/* tcpd stops, or the slot leaves: its workers go, the starting first. */
static void
a_stop(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	if (sl->next != NULL)
		slot_retire(s, sl->next, e->how);
	if (sl->cur != NULL)
		slot_retire(s, sl->cur, e->how);
}

/* Nothing to do on the way. */
static void
a_none(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	(void)s;
	(void)sl;
	(void)e;
}

typedef void	slot_action(struct sup *, struct slot *,
		    const struct slot_event *);

/*
 * State x event: the state it leads to, and what is done on the way.  No
 * action: the event cannot happen in that state.
 */
static const struct {
	enum slot_state	 to;
	slot_action	*act;
} transitions[SLOT_NSTATES][SE_NEVENTS] = {
	[SLOT_EMPTY] = {
		[SE_FORKED] = { SLOT_STARTING, a_forked },
		[SE_FORK_FAILED] = { SLOT_EMPTY, a_fork_failed },
		[SE_NEW_GEN] = { SLOT_EMPTY, a_new_generation },
		[SE_START_FAILED] = { SLOT_STOPPED, a_start_failed },
		[SE_STOP] = { SLOT_STOPPED, a_stop },
	},
	[SLOT_STARTING] = {
		[SE_READY] = { SLOT_SERVING, a_ready },
		[SE_NEXT_DIED] = { SLOT_EMPTY, a_died },
		[SE_NEW_GEN] = { SLOT_EMPTY, a_new_generation },
		[SE_START_FAILED] = { SLOT_STOPPED, a_start_failed },
		[SE_STOP] = { SLOT_STOPPED, a_stop },
	},
	[SLOT_SERVING] = {
		[SE_CUR_DIED] = { SLOT_EMPTY, a_died },
		[SE_NEW_GEN] = { SLOT_OUTDATED, a_new_generation },
		[SE_STOP] = { SLOT_STOPPED, a_stop },
	},
	[SLOT_OUTDATED] = {
		[SE_FORKED] = { SLOT_REPLACING, a_forked },
		[SE_FORK_FAILED] = { SLOT_OUTDATED, a_fork_failed },
		[SE_CUR_DIED] = { SLOT_EMPTY, a_died },
		[SE_NEW_GEN] = { SLOT_OUTDATED, a_new_generation },
		[SE_STOP] = { SLOT_STOPPED, a_stop },
	},
	[SLOT_REPLACING] = {
		[SE_READY] = { SLOT_SERVING, a_ready },
		[SE_CUR_DIED] = { SLOT_STARTING, a_died },
		[SE_NEXT_DIED] = { SLOT_OUTDATED, a_died },
		[SE_NEW_GEN] = { SLOT_OUTDATED, a_new_generation },
		[SE_STOP] = { SLOT_STOPPED, a_stop },
	},
	[SLOT_STOPPED] = {
		[SE_STOP] = { SLOT_STOPPED, a_none },
	},
};

/*
 * What happens to a slot, as the table says.  An event its state has no
 * entry for cannot happen (the master sends each only where it applies):
 * it is logged and changes nothing.
 */
void
slot_step(struct sup *s, struct slot *sl, const struct slot_event *e)
{
	enum slot_state	 from = sl->state;

	if (transitions[from][e->type].act == NULL) {
		log_warnx("%s slot %d: \"%s\" ignored while %s", sl->svc->name,
		    sl->index, event_names[e->type], state_names[from]);
		return;
	}
	transitions[from][e->type].act(s, sl, e);
	sl->state = transitions[from][e->type].to;
}
