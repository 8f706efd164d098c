/* The slot table: which slots there are, made anew at reload and scaling. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "orphan.h"
#include "proc.h"
#include "supervise.h"

/*
 * The service's shared counts, made on first use: NULL when it has
 * neither max_connections nor per_source, or when they cannot be made
 * (its workers then fail to start, and the slot is retried).
 */
static struct svc_limit *
sup_limit(struct sup *s, const struct conf_service *sv)
{
	struct svc_limit	*l;

	if (sv->max_connections == 0 && !PER_SOURCE_ON(&sv->net.per_source))
		return NULL;
	for (l = s->limits; l != NULL; l = l->next)
		if (strcmp(l->service, sv->name) == 0)
			break;
	if (l == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL)
			return NULL;
		if ((l->service = strdup(sv->name)) == NULL) {
			free(l);
			return NULL;
		}
		l->next = s->limits;
		s->limits = l;
	}
	admission_want(&l->adm, sv);
	return l;
}

/*
 * The shared counts the slot's service needs, made now if they could not
 * be before; -1 if they still cannot.
 */
int
slot_counts(struct sup *s, struct slot *sl)
{
	const struct conf_service	*sv = slot_service(s, sl);

	sl->limit = sup_limit(s, sv);
	if (sv->max_connections == 0 && !PER_SOURCE_ON(&sv->net.per_source))
		return 0;
	if (sl->limit == NULL || admission_want(&sl->limit->adm, sv) == -1)
		return -1;
	return 0;
}

/* FNV-1a of a service name. */
static unsigned
name_hash(const char *name)
{
	unsigned	 h = 2166136261u;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/*
 * Index every service's counts by name, in a table at least twice their
 * number: each death adds to its service's, among thousands.  -1: no
 * memory for a larger table (the old one still works, more slowly).
 */
static int
sup_stats_reindex(struct sup *s)
{
	struct svc_stats	**t, *st;
	int			 size = s->stats_size ? 2 * s->stats_size : 64;

	if ((t = calloc(size, sizeof(*t))) == NULL)
		return -1;
	for (st = s->stats; st != NULL; st = st->next) {
		st->hnext = t[name_hash(st->service) & (size - 1)];
		t[name_hash(st->service) & (size - 1)] = st;
	}
	free(s->stats_index);
	s->stats_index = t;
	s->stats_size = size;
	return 0;
}

/* The counts of a service's gone workers; made at first, NULL if not. */
struct svc_stats *
sup_stats(struct sup *s, const char *service)
{
	struct svc_stats	*st, **head;

	if (s->stats_index != NULL) {
		for (st = s->stats_index[name_hash(service) &
		    (s->stats_size - 1)]; st != NULL; st = st->hnext)
			if (strcmp(st->service, service) == 0)
				return st;
	} else
		for (st = s->stats; st != NULL; st = st->next)
			if (strcmp(st->service, service) == 0)
				return st;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->service = strdup(service)) == NULL) {
		free(st);
		return NULL;
	}
	st->next = s->stats;
	s->stats = st;
	s->nstats++;
	if (2 * s->nstats > s->stats_size && sup_stats_reindex(s) == 0)
		return st;	/* in the new table already */
	if (s->stats_index == NULL)
		return st;	/* found by the list, then */
	head = &s->stats_index[name_hash(service) & (s->stats_size - 1)];
	st->hnext = *head;
	*head = st;
	return st;
}

/* Free the counts that no slot uses and no worker counts in any more. */
void
sup_limits_gc(struct sup *s)
{
	struct svc_limit	**lp = &s->limits, *l;
	int			 used;

	while ((l = *lp) != NULL) {
		used = 0;
		for (int i = 0; !used && i < s->nslots; i++)
			used = s->slots[i]->limit == l;
		if (!used)
			admission_gc(&l->adm, NULL);
		if (used || l->adm.limit != NULL) {
			lp = &l->next;
			continue;
		}
		*lp = l->next;
		free(l->service);
		free(l);
	}
}

/* A slot with no worker yet. */
static struct slot *
slot_new(const char *service, int index)
{
	struct slot	*sl;

	if ((sl = calloc(1, sizeof(*sl))) == NULL)
		return NULL;
	if ((sl->service = strdup(service)) == NULL) {
		free(sl);
		return NULL;
	}
	sl->index = index;
	return sl;
}

/* A slot that leaves the configuration: its workers drain and go. */
static void
slot_free(struct sup *s, struct slot *sl)
{
	if (sl->next != NULL)
		sup_retire(s, sl->next, STOP_DRAIN);
	if (sl->cur != NULL)
		sup_retire(s, sl->cur, STOP_DRAIN);
	free(sl->service);
	free(sl);
}

/* Slots by service name, then index. */
static int
slot_cmp(const void *a, const void *b)
{
	const struct slot	*x = *(struct slot *const *)a;
	const struct slot	*y = *(struct slot *const *)b;
	int			 c = strcmp(x->service, y->service);

	return c != 0 ? c : (x->index > y->index) - (x->index < y->index);
}

/* The slot (service, index) among n sorted by slot_cmp, or NULL. */
static struct slot *
slot_find(struct slot **sorted, int n, const char *service, int index)
{
	struct slot	 key = { .service = (char *)(uintptr_t)service,
			    .index = index };
	struct slot	*kp = &key, **found;

	if (n == 0)
		return NULL;
	found = bsearch(&kp, sorted, n, sizeof(*sorted), slot_cmp);
	return found != NULL ? *found : NULL;
}

/*
 * A new generation: what the slot knew of failures starts over, and a
 * successor that was starting for the last one is not wanted any more.
 */
static void
slot_new_generation(struct sup *s, struct slot *sl)
{
	sl->deaths = 0;
	sl->spawn_fails = 0;
	sl->retry_at = 0;
	if (sl->next != NULL)
		sup_retire(s, sl->next, STOP_RETIRE);
}

/*
 * The slots that serve c with counts[i] workers for its service i: the
 * table's own where they exist (marked kept), new ones otherwise.
 * Returns how many, or -1 (memory) having made nothing.
 */
static int
sup_collect(struct sup *s, const struct conf *c, const int *counts,
    struct slot **slots)
{
	struct slot	**sorted;
	int		 n = 0;

	/* Sorted, so that a reload of thousands of slots is no n^2 search. */
	if ((sorted = calloc(s->nslots ? s->nslots : 1, sizeof(*sorted))) ==
	    NULL)
		return -1;
	memcpy(sorted, s->slots, s->nslots * sizeof(*sorted));
	qsort(sorted, s->nslots, sizeof(*sorted), slot_cmp);
	for (int i = 0; i < c->nservices; i++)
		for (int k = 0; k < counts[i]; k++) {
			const char *name = c->services[i].name;
			struct slot *sl = slot_find(sorted, s->nslots, name, k);
			if (sl == NULL && (sl = slot_new(name, k)) != NULL)
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
		if (slots[n]->fresh) {
			free(slots[n]->service);
			free(slots[n]);
		}
	}
	return -1;
}

/*
 * Make the slot table that serves c with counts[i] workers for its
 * service i.  Slots that stay keep their workers and history; at a new
 * generation each gets a successor (sup_tend), and slots that go are
 * drained.  On failure (memory) nothing changes.
 */
int
sup_apply(struct sup *s, const struct conf *c, const int *counts, unsigned gen)
{
	struct slot	**slots;
	int		 n, total = 0;

	for (int i = 0; i < c->nservices; i++)
		total += counts[i];
	if ((slots = calloc(total ? total : 1, sizeof(*slots))) == NULL)
		return -1;
	if ((n = sup_collect(s, c, counts, slots)) == -1) {
		free(slots);
		return -1;
	}
	s->conf = c;
	for (int i = 0; i < s->nslots; i++)
		if (!s->slots[i]->kept)
			slot_free(s, s->slots[i]);
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	/* The table holds each service's slots in turn, in c's order. */
	for (int i = 0, sv = 0, k = 0; i < n; i++, k++) {
		while (k == counts[sv]) {
			sv++;
			k = 0;
		}
		slots[i]->svc = &c->services[sv];
		slots[i]->kept = slots[i]->fresh = 0;
		if (gen != s->gen)
			slot_new_generation(s, slots[i]);
		slots[i]->limit = sup_limit(s, slot_service(s, slots[i]));
	}
	s->gen = gen;
	sup_limits_gc(s);
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
		    n == start ? label : "", sl->service, sl->index);
	}
	if (n != start)
		n += snprintf(buf + n, n < len ? len - n : 0, "]");
	return n;
}

static int
slot_down(const struct sup *s, const struct slot *sl)
{
	return !slot_failing(s, sl) && sl->down_why[0] != '\0' &&
	    sl->cur == NULL;
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
	title_list(s, slot_down, " [down:", buf, len, n);
}

/* How many slots a worker serves now, of whatever generation. */
static int
sup_served(const struct sup *s)
{
	int	 n = 0;

	for (int i = 0; i < s->nslots; i++)
		n += s->slots[i]->cur != NULL;
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
		if (s->slots[i]->cur == NULL && s->slots[i]->down_why[0] != '\0')
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
	for (int i = 0; i < s->nslots; i++) {
		const struct slot *sl = s->slots[i];
		if ((sl->cur == NULL || sl->cur->gen != s->gen) &&
		    sl->down_why[0] == '\0' && !slot_failing(s, sl))
			return 0;
	}
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
		free(sl->service);
		free(sl);
	}
	free(s->slots);
	s->slots = NULL;
	s->nslots = 0;
	while (s->retiring != NULL) {
		struct proc *p = s->retiring;
		s->retiring = p->next;
		proc_free(s->loop, p);
	}
	s->retiring_tail = NULL;
	orphans_free(&s->orphans);
	free(s->bypid);
	s->bypid = NULL;
	sup_limits_gc(s);
	while (s->stats != NULL) {
		struct svc_stats *st = s->stats;
		s->stats = st->next;
		free(st->service);
		free(st);
	}
	free(s->stats_index);
	s->stats_index = NULL;
	s->stats_size = s->nstats = 0;
}

/* No worker left, serving, starting or retiring, nor a program of one. */
int
sup_empty(const struct sup *s)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->slots[i]->cur != NULL || s->slots[i]->next != NULL)
			return 0;
	return s->retiring == NULL && s->orphans == NULL;
}
