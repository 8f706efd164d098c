/* The slot table: which slots there are, made anew at reload and scaling. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "nofork.h"
#include "orphan.h"
#include "proc.h"
#include "supervise.h"
#include "supervise_int.h"

/*
 * The shared counts the slot's service needs, made now if they could not
 * be before; -1 if they still cannot.
 */
int
slot_counts(struct slot *sl)
{
	return admission_want(&sl->svc->adm, sl->svc->conf);
}

/* A slot with no worker yet. */
static struct slot *
slot_new(struct svc *svc, int index)
{
	struct slot	*sl;

	if ((sl = nofork_calloc(1, sizeof(*sl))) == NULL)
		return NULL;
	sl->svc = svc;
	sl->index = index;
	return sl;
}

/* A slot that leaves the configuration: its workers drain and go. */
static void
slot_free(struct sup *s, struct slot *sl)
{
	slot_step(s, sl, &(struct slot_event){ .type = SE_STOP,
	    .how = STOP_DRAIN });
	nofork_free(sl);
}

/* Slots by service record, then index. */
static int
slot_cmp(const void *a, const void *b)
{
	const struct slot	*x = *(struct slot *const *)a;
	const struct slot	*y = *(struct slot *const *)b;
	uintptr_t		 p = (uintptr_t)x->svc, q = (uintptr_t)y->svc;

	if (p != q)
		return (p > q) - (p < q);
	return (x->index > y->index) - (x->index < y->index);
}

/* The slot (service, index) among n sorted by slot_cmp, or NULL. */
static struct slot *
slot_find(struct slot **sorted, int n, struct svc *svc, int index)
{
	struct slot	 key = { .svc = svc, .index = index };
	struct slot	*kp = &key, **found;

	if (n == 0)
		return NULL;
	found = bsearch(&kp, sorted, n, sizeof(*sorted), slot_cmp);
	return found != NULL ? *found : NULL;
}

/*
 * The slots that serve c with counts[i] workers for its service i, whose
 * record is svcs[i]: the table's own where they exist (marked kept), new
 * ones otherwise.  Returns how many, or -1 (memory) having made nothing.
 */
static int
sup_collect(struct sup *s, const struct conf *c, const int *counts,
    struct svc **svcs, struct slot **slots)
{
	struct slot	**sorted;
	int		 n = 0;

	/* Sorted, so that a reload of thousands of slots is no n^2 search. */
	if ((sorted = calloc(s->nslots ? s->nslots : 1, sizeof(*sorted))) ==
	    NULL)
		return -1;
	if (s->nslots > 0)
		memcpy(sorted, s->slots, s->nslots * sizeof(*sorted));
	qsort(sorted, s->nslots, sizeof(*sorted), slot_cmp);
	for (int i = 0; i < c->nservices; i++)
		for (int k = 0; k < counts[i]; k++) {
			struct slot *sl = slot_find(sorted, s->nslots, svcs[i],
			    k);
			if (sl == NULL && (sl = slot_new(svcs[i], k)) != NULL)
				sl->fresh = 1;
			if (sl == NULL)
				goto fail;
			sl->kept = 1;
			slots[n++] = sl;
		}
	free(sorted);
	return n;
fail:
	free(sorted);
	while (n-- > 0) {
		slots[n]->kept = 0;
		if (slots[n]->fresh)
			nofork_free(slots[n]);
	}
	return -1;
}

/*
 * Make the slot table that serves c with counts[i] workers for its
 * service i.  Slots that stay keep their workers and history; at a new
 * generation each gets a successor (sup_tend), and slots that go are
 * drained.  Each service's record is found by its name here, and only
 * here; its counts and figures carry on.  On failure (memory) nothing
 * changes.
 */
int
sup_apply(struct sup *s, const struct conf *c, const int *counts, unsigned gen)
{
	struct slot	**slots;
	struct svc	**svcs;
	int		 n, total = 0;

	for (int i = 0; i < c->nservices; i++)
		total += counts[i];
	if ((svcs = svcs_match(&s->svcs, c)) == NULL)
		return -1;
	if ((slots = nofork_calloc(total ? total : 1, sizeof(*slots))) ==
	    NULL) {
		nofork_free(svcs);
		return -1;
	}
	if ((n = sup_collect(s, c, counts, svcs, slots)) == -1) {
		nofork_free(slots);
		nofork_free(svcs);
		return -1;
	}
	s->conf = c;
	svcs_apply(&s->svcs, c, svcs);
	for (int i = 0; i < s->nslots; i++)
		if (!s->slots[i]->kept)
			slot_free(s, s->slots[i]);
	nofork_free(s->slots);
	s->slots = slots;
	s->nslots = n;
	for (int i = 0; i < n; i++) {
		/* A slot made while tcpd stops is never to be served. */
		if (slots[i]->fresh && s->stopping != STOP_NONE)
			slot_step(s, slots[i], &(struct slot_event){
			    .type = SE_STOP, .how = s->stopping });
		else if (gen != s->gen)
			slot_step(s, slots[i], &(struct slot_event){
			    .type = SE_NEW_GEN });
		slots[i]->kept = slots[i]->fresh = 0;
		/* Made now if it can be; else at the slot's spawn. */
		slot_counts(slots[i]);
	}
	s->gen = gen;
	return 0;
}

/* Append " svc/slot" to buf for every slot that sel() picks. */
static size_t
title_list(const struct sup *s, int (*sel)(const struct sup *,
    const struct slot *), const char *label, char *buf, size_t len, size_t n)
{
	size_t	 start = n;

	for (int i = 0; i < s->nslots; i++) {
		const struct slot *sl = s->slots[i];
		if (!sel(s, sl))
			continue;
		n += snprintf(buf + n, n < len ? len - n : 0, "%s %s/%d",
		    n == start ? label : "", sl->svc->name, sl->index);
	}
	if (n != start)
		n += snprintf(buf + n, n < len ? len - n : 0, "]");
	return n;
}

/* Down, and not failing (ps shows that instead). */
static int
slot_down_only(const struct sup *s, const struct slot *sl)
{
	return !slot_failing(s, sl) && slot_down(sl);
}

/*
 * What ps should show of the slots: " [failing: svc/0] [down: svc/1]",
 * or nothing when all is well.
 */
void
sup_title(const struct sup *s, char *buf, size_t len)
{
	size_t	 n = 0;

	buf[0] = '\0';
	n = title_list(s, slot_failing, " [failing:", buf, len, n);
	title_list(s, slot_down_only, " [down:", buf, len, n);
}

/* How many slots a worker serves now, of whatever generation. */
static int
sup_served(const struct sup *s)
{
	int	 n = 0;

	for (int i = 0; i < s->nslots; i++)
		n += slot_served(s->slots[i]);
	return n;
}

/*
 * What is served, in a line: "serving 2 services, 3 workers; generation
 * 1", with "3 of 4 workers" and the slots ps shows when some lack one.
 */
void
sup_status(const struct sup *s, char *buf, size_t len)
{
	char	 slots[256], of[32] = "";
	int	 n = s->conf->nservices, served = sup_served(s);

	if (served != s->nslots)
		snprintf(of, sizeof(of), "%d of ", served);
	sup_title(s, slots, sizeof(slots));
	snprintf(buf, len, "serving %d service%s, %s%d worker%s; generation "
	    "%u%s", n, n == 1 ? "" : "s", of, s->nslots,
	    s->nslots == 1 ? "" : "s", s->gen, slots);
}

/*
 * Is a slot down: served by no worker, and none could be started for it?
 * Not a slot between two workers, nor a failing one, whose workers start
 * and die: the master can make workers, and retries without end.
 */
int
sup_down(const struct sup *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (slot_down(s->slots[i]))
			return 1;
	return 0;
}

/*
 * After a reload: has every slot a worker of the current generation, or
 * is it being retried (its new worker cannot start, or keeps dying)?
 */
int
sup_settled(const struct sup *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (!slot_settled(s, s->slots[i]))
			return 0;
	return 1;
}

void
sup_init(struct sup *s, struct loop *loop, struct listeners *listeners)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->listeners = listeners;
}

/* At exit: forget every worker (they are gone) and every count. */
void
sup_free(struct sup *s)
{
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = s->slots[i];
		if (sl->cur != NULL)
			proc_free(s->loop, sl->cur);
		if (sl->next != NULL)
			proc_free(s->loop, sl->next);
		nofork_free(sl);
	}
	nofork_free(s->slots);
	s->slots = NULL;
	s->nslots = 0;
	while (s->retiring != NULL) {
		struct proc *p = s->retiring;
		s->retiring = p->next;
		proc_free(s->loop, p);
	}
	s->retiring_tail = NULL;
	orphans_free(&s->orphans);
	nofork_free(s->bypid);
	s->bypid = NULL;
	svcs_free(&s->svcs);
}

/* No worker left, serving, starting or retiring, nor a program of one. */
int
sup_empty(const struct sup *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (slot_has_worker(s->slots[i]))
			return 0;
	return s->retiring == NULL && s->orphans == NULL;
}
