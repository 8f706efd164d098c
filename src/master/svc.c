/*
 * Service records: one per service name ever configured, with its
 * configuration now, its admission state and its gone workers' figures;
 * matched by name to a new configuration once, while it is applied.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "nofork.h"
#include "svc.h"
#include "util.h"

static unsigned
name_hash(const char *name)
{
	return fnv1a(name, strlen(name), FNV1A_SEED);
}

/*
 * Index every record by name, in a table at least twice their number: a
 * reload matches thousands of services.  -1: no memory for a larger
 * table (the old one, or a walk of the list, still works, more slowly).
 */
static int
svcs_reindex(struct svcs *r)
{
	struct svc	**t, *v;
	int		 size = r->size ? 2 * r->size : 64;

	if ((t = nofork_calloc(size, sizeof(*t))) == NULL)
		return -1;
	for (v = r->all; v != NULL; v = v->next) {
		v->hnext = t[name_hash(v->name) & (size - 1)];
		t[name_hash(v->name) & (size - 1)] = v;
	}
	nofork_free(r->index);
	r->index = t;
	r->size = size;
	return 0;
}

/* The record named so; made (not configured yet) if none; NULL: memory. */
static struct svc *
svcs_named(struct svcs *r, const char *name)
{
	struct svc	*v, **head;

	if (r->index != NULL) {
		for (v = r->index[name_hash(name) & (r->size - 1)]; v != NULL;
		    v = v->hnext)
			if (strcmp(v->name, name) == 0)
				return v;
	} else
		for (v = r->all; v != NULL; v = v->next)
			if (strcmp(v->name, name) == 0)
				return v;
	if ((v = nofork_calloc(1, sizeof(*v))) == NULL)
		return NULL;
	if ((v->name = nofork_strdup(name)) == NULL) {
		nofork_free(v);
		return NULL;
	}
	v->next = r->all;
	r->all = v;
	r->n++;
	if (2 * r->n > r->size && svcs_reindex(r) == 0)
		return v;	/* in the new table already */
	if (r->index == NULL)
		return v;	/* found by the list, then */
	head = &r->index[name_hash(name) & (r->size - 1)];
	v->hnext = *head;
	*head = v;
	return v;
}

/*
 * The records of c's services, in c's order, made for names not seen
 * before: the one time a service is found by its name.  NULL: memory
 * (records made stay, unconfigured, and are found again next time).
 */
struct svc **
svcs_match(struct svcs *r, const struct conf *c)
{
	struct svc	**m;

	if ((m = nofork_calloc(c->nservices ? c->nservices : 1,
	    sizeof(*m))) == NULL)
		return NULL;
	for (int i = 0; i < c->nservices; i++)
		if ((m[i] = svcs_named(r, c->services[i].name)) == NULL) {
			nofork_free(m);
			return NULL;
		}
	return m;
}

/* c is served now, by the records svcs_match() gave for it. */
void
svcs_apply(struct svcs *r, const struct conf *c, struct svc **matched)
{
	for (struct svc *v = r->all; v != NULL; v = v->next)
		v->conf = NULL;
	for (int i = 0; i < c->nservices; i++)
		matched[i]->conf = &c->services[i];
	nofork_free(r->byconf);
	r->byconf = matched;
	r->conf = c;
	svcs_gc(r);
}

/* The record of sv, one of the services of the configuration applied. */
struct svc *
svcs_of(const struct svcs *r, const struct conf_service *sv)
{
	return r->byconf[sv - r->conf->services];
}

/* Let go of the counts the service does not need and no worker counts in. */
void
svc_gc(struct svc *v)
{
	admission_gc(&v->adm, v->conf);
}

/* The same for every service. */
void
svcs_gc(struct svcs *r)
{
	for (struct svc *v = r->all; v != NULL; v = v->next)
		svc_gc(v);
}

/* At exit, once every worker and orphan is gone. */
void
svcs_free(struct svcs *r)
{
	while (r->all != NULL) {
		struct svc *v = r->all;
		r->all = v->next;
		admission_gc(&v->adm, NULL);
		limit_free(v->adm.limit);	/* none counts in it now */
		nofork_free(v->name);
		nofork_free(v);
	}
	nofork_free(r->index);
	nofork_free(r->byconf);
	memset(r, 0, sizeof(*r));
}
