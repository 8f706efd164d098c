/*
 * A worker's end: found by its pid among thousands, its figures kept
 * with its service's, the programs it left running adopted, and its slot
 * told, to respawn it at once or, when it keeps dying, with back-off.
 */
#include "config.h"

#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "orphan.h"
#include "proc.h"
#include "sig.h"
#include "supervise.h"
#include "supervise_int.h"
#include "util.h"

/*
 * Workers by pid: each death is found at once among thousands of
 * workers, not by a walk over every slot and retiring worker.
 */
/* pid's cell in the table: its own, or the empty one it would take. */
static int
bypid_at(const struct sup *s, pid_t pid)
{
	int	 mask = s->bypid_size - 1;
	int	 i = ((unsigned)pid * 2654435761u) & mask;

	while (s->bypid[i] != NULL && s->bypid[i]->pid != pid)
		i = (i + 1) & mask;
	return i;
}

/* Note a new worker; -1 (memory): sup_find() then walks the table. */
int
sup_bypid_add(struct sup *s, struct proc *p)
{
	struct proc	**old = s->bypid;
	int		 n = s->bypid_size;

	if (2 * (s->bypid_used + 1) > s->bypid_size) {
		int size = s->bypid_size ? 2 * s->bypid_size : 64;
		if ((s->bypid = calloc(size, sizeof(*s->bypid))) == NULL) {
			s->bypid = old;
			return -1;
		}
		s->bypid_size = size;
		for (int i = 0; i < n; i++)
			if (old[i] != NULL)
				s->bypid[bypid_at(s, old[i]->pid)] = old[i];
		free(old);
	}
	s->bypid[bypid_at(s, p->pid)] = p;
	s->bypid_used++;
	return 0;
}

/* Forget a worker, moving back those its cell had pushed further on. */
static void
bypid_del(struct sup *s, pid_t pid)
{
	int	 mask = s->bypid_size - 1, i, j, home;

	if (s->bypid == NULL || s->bypid[i = bypid_at(s, pid)] == NULL)
		return;
	s->bypid[i] = NULL;
	s->bypid_used--;
	for (j = (i + 1) & mask; s->bypid[j] != NULL; j = (j + 1) & mask) {
		home = ((unsigned)s->bypid[j]->pid * 2654435761u) & mask;
		/* Leave it if its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		s->bypid[i] = s->bypid[j];
		s->bypid[j] = NULL;
		i = j;
	}
}

/*
 * A slot's worker died without being asked: replace it at once, unless
 * the slot is failing (too many quick deaths in a row): then after a
 * pause that doubles with each further quick death.
 */
static void
slot_died(struct sup *s, struct slot *sl, struct proc *p)
{
	const struct conf	*c = s->conf;
	int64_t			 lived = s->loop->now - p->started, delay;
	int			 over;

	if (sl->cur == p) {
		sl->cur = NULL;
		sl->down_since = s->died_after ? s->died_after : s->loop->now;
		sl->down_unsure = s->died_after != 0;
	} else
		sl->next = NULL;
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
		    "from %d s up to %d s", sl->svc->name, sl->index, sl->deaths,
		    c->respawn_window, RESPAWN_FIRST_MS / 1000,
		    RESPAWN_MAX_MS / 1000);
	else
		log_debug("%s slot %d: respawning in %lld ms", sl->svc->name,
		    sl->index, (long long)delay);
}

/* The process p, wherever the table keeps it. */
static struct proc *
sup_find(const struct sup *s, pid_t pid)
{
	struct proc	*p;

	if (s->bypid != NULL && !s->bypid_lost)
		return s->bypid[bypid_at(s, pid)];
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = s->slots[i];
		if (sl->cur != NULL && sl->cur->pid == pid)
			return sl->cur;
		if (sl->next != NULL && sl->next->pid == pid)
			return sl->next;
	}
	for (p = s->retiring; p != NULL; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

static void
sup_unlink_retiring(struct sup *s, struct proc *p)
{
	struct proc	*prev = NULL;

	for (struct proc **pp = &s->retiring; *pp != NULL;
	    prev = *pp, pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			if (s->retiring_tail == p)
				s->retiring_tail = prev;
			return;
		}
}

/* Log the end of a worker that was asked to go. */
static void
say_retired(const struct sup *s, const struct proc *p, const char *how)
{
	int64_t	 ms = s->loop->now - p->stop_sent;

	log_info("worker %ld (%s generation %u) %s, %lld.%03lld s after it "
	    "was asked to %s", (long)p->pid, p->name, p->gen, how,
	    (long long)(ms / 1000), (long long)(ms % 1000),
	    p->stopping == STOP_RETIRE ? "retire" : "stop");
}

/* A worker is gone: keep what it counted with its service's. */
static void
sup_account(struct sup *s, const struct proc *p)
{
	struct svc_stats	*st = &p->svc->gone;
	int64_t			 now = s->loop->now;

	add_counted(&st->accepted, proc_count(p, &p->beat->accepted,
	    PROC_CONNS_PER_MS, now));
	add_counted(&st->bytes_in, proc_count(p, &p->beat->bytes_in,
	    PROC_BYTES_PER_MS, now));
	add_counted(&st->bytes_out, proc_count(p, &p->beat->bytes_out,
	    PROC_BYTES_PER_MS, now));
	for (int i = 0; i < REFUSED_KINDS; i++)
		add_counted(&st->refused[i], proc_count(p, &p->beat->refused[i],
		    PROC_CONNS_PER_MS, now));
	if (p->stopping == STOP_NONE)
		st->restarts++;
}

/*
 * A child of the master ended.  Returns 0 if it was none of the
 * workers, 1 otherwise.
 */
int
sup_reaped(struct sup *s, pid_t pid, int status)
{
	struct proc	*p = sup_find(s, pid);
	struct svc	*v;
	char		 how[64];

	if (p == NULL)
		return 0;
	bypid_del(s, pid);
	sig_exit_text(status, how, sizeof(how));
	if (p->stopping != STOP_NONE)
		say_retired(s, p, how);
	else
		log_warnx("worker %ld (%s generation %u) %s unexpectedly, "
		    "holding %llu connection%s", (long)pid, p->name, p->gen, how,
		    proc_held(p), proc_held(p) == 1 ? "" : "s");
	sup_account(s, p);
	orphans_adopt(&s->orphans, p, s->loop->now);
	if (p->slot == NULL)
		sup_unlink_retiring(s, p);
	else if (s->starting && !p->ready) {
		snprintf(s->start_error, sizeof(s->start_error), "the worker "
		    "for %s %s before it was ready", p->name, how);
		/* The start has failed: no respawn, and no pointer to p. */
		if (p->slot->cur == p)
			p->slot->cur = NULL;
		if (p->slot->next == p)
			p->slot->next = NULL;
		p->slot->retry_at = INT64_MAX;
	} else
		slot_died(s, p->slot, p);
	v = p->svc;
	proc_free(s->loop, p);
	svc_gc(v);	/* what it counted in may be let go now */
	return 1;
}

