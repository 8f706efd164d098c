/*
 * A worker's end: found by its pid among thousands, its figures kept
 * with its service's, the programs it left running adopted, and its slot
 * told, to respawn it at once or, when it keeps dying, with back-off.
 */
#include "config.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "nofork.h"
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
		if ((s->bypid = nofork_calloc(size, sizeof(*s->bypid))) ==
		    NULL) {
			s->bypid = old;
			return -1;
		}
		s->bypid_size = size;
		for (int i = 0; i < n; i++)
			if (old[i] != NULL)
				s->bypid[bypid_at(s, old[i]->pid)] = old[i];
		nofork_free(old);
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
 * What p's death is to its slot: at start, before it was ready, the
 * start's failure (start_error says so); else the loss of its serving
 * or its starting worker.
 */
static enum slot_event_type
slot_loss(struct sup *s, const struct proc *p, const char *how)
{
	if (s->starting && !p->ready) {
		snprintf(s->start_error, sizeof(s->start_error), "the worker "
		    "for %s %s before it was ready", p->name, how);
		return SE_START_FAILED;
	}
	return p->slot->cur == p ? SE_CUR_DIED : SE_NEXT_DIED;
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
	else
		slot_step(s, p->slot, &(struct slot_event){
		    .type = slot_loss(s, p, how), .p = p });
	v = p->svc;
	proc_free(s->loop, p);
	svc_gc(v);	/* what it counted in may be let go now */
	return 1;
}

