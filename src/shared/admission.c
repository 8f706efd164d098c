/*
 * Admission: whether a connection may be served, and what it holds
 * meanwhile.  A worker takes a max_connections unit before it accepts,
 * checks the client against the access rules and takes its per_source
 * entry after, and gives both back once, when the connection ends or is
 * dropped.  The master keeps each service's counts and what each worker
 * counts in them, and gives back a dead worker's share.
 */
#include "config.h"

#include <sys/socket.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "addr.h"
#include "admission.h"
#include "conf.h"
#include "conf_net.h"
#include "log.h"
#include "proto.h"

/*
 * In an acceptor, before accept4(): a max_connections unit into *held,
 * waiting for one while the service is at its cap.  *behind is the
 * acceptor's own (limit_take()); held->waited says the connection about
 * to be taken may have waited at the cap.  1 once taken (or when there
 * is no cap), 0 when *stop was set.
 */
int
admission_take(const struct admission *adm, int fd, const atomic_int *stop,
    int *behind, struct admitted *held)
{
	if (adm->limit.shm == NULL)
		return 1;
	if (!limit_take(&adm->limit, fd, stop, behind))
		return 0;
	held->unit = 1;
	held->waited = *behind;
	return 1;
}

/* Is the service at its max_connections now? */
int
admission_full(const struct admission *adm)
{
	return adm->limit.shm != NULL && limit_full(&adm->limit);
}

/*
 * Whether client may come in, by the access rules, then per_source (its
 * entry taken into *held); if not, why into why, and *kind an enum
 * refusal.  Checked before the connection costs a buffer, a timer or a
 * program: in the acceptor for the peer, on the loop for a PROXY
 * header's client.
 */
int
admission_admit(const struct admission *adm,
    const struct sockaddr_storage *client, struct admitted *held, int *kind,
    char *why, size_t whylen)
{
	static const enum refusal	 kinds[] = {
		[SOURCE_CAP] = REFUSED_PER_SOURCE, [SOURCE_RATE] = REFUSED_RATE,
		[SOURCE_FULL] = REFUSED_TABLE_FULL,
	};
	const struct conf_net		*net = adm->net;
	enum source_verdict		 v;
	int				 i;

	if (access_match(net->access_index, net->access, net->naccess,
	    client, &i)) {
		if (adm->src.table.sh == NULL || (v = source_take(&adm->src,
		    client, &held->source, why, whylen)) == SOURCE_OK)
			return 1;
		*kind = kinds[v];
		return 0;
	}
	*kind = REFUSED_ACCESS;
	if (i >= 0)
		snprintf(why, whylen, "access rule %d '%s'", i + 1,
		    net->access[i].text);
	else
		snprintf(why, whylen, "no access rule matches");
	return 0;
}

/* Give back what held holds (at most once: it then holds nothing). */
void
admission_give_back(const struct admission *adm, struct admitted *held)
{
	if (held->unit)
		limit_put(&adm->limit);
	if (held->source >= 0)
		source_put(&adm->src, held->source);
	*held = ADMITTED_NONE;
}

/*
 * The one way to end an accepted socket that cannot become a connection,
 * nor end gently on the loop: read what the client sent already (so
 * close() sends a FIN rather than an RST), send our FIN, close, give
 * back what it held (held NULL: nothing), and warn why (why NULL: the
 * caller says it once for many, or it was said already).
 */
void
admission_drop(const struct admission *adm, struct admitted *held, int fd,
    const struct sockaddr_storage *peer, const char *why)
{
	char	 buf[4096], who[ADDR_STRLEN] = "?";

	for (int i = 0; i < 16 &&
	    recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0; i++)
		;
	shutdown(fd, SHUT_WR);
	close(fd);
	if (held != NULL)
		admission_give_back(adm, held);
	if (why == NULL)
		return;
	if (peer != NULL)
		addr_text(peer, who, sizeof(who));
	log_warnx("dropped a connection from %s: %s", who, why);
}

#ifdef TCPD_TEST_HOOKS
/* Tests only: a compromised worker's cell and ledger, at their largest. */
void
admission_hostile(const struct admission *adm)
{
	if (adm->limit.shm != NULL)
		limit_hostile(&adm->limit);
	if (adm->src.table.sh != NULL)
		source_hostile(&adm->src);
}
#endif

/*
 * The counts sv needs now, made if they are not yet: its max_connections
 * count, kept while it is counted in; its per_source table, anew when
 * its size changes (workers of the old configuration keep theirs until
 * they exit).  -1 when one cannot be made: its workers then fail to
 * start, and the slot is retried.
 */
int
admission_want(struct admission_state *st, const struct conf_service *sv)
{
	const struct per_source	*ps = &sv->net.per_source;

	if (sv->max_connections > 0 && st->limit == NULL &&
	    (st->limit = limit_new()) == NULL)
		return -1;
	if (st->table != NULL && (!PER_SOURCE_ON(ps) ||
	    source_size(st->table) != ps->sources)) {
		source_release(st->table);
		st->table = NULL;
	}
	if (PER_SOURCE_ON(ps) && st->table == NULL &&
	    (st->table = source_new(ps->sources)) == NULL)
		return -1;
	return 0;
}

/*
 * Let go of what sv (NULL: a service gone from the configuration) no
 * longer needs and no worker counts in any more.
 */
void
admission_gc(struct admission_state *st, const struct conf_service *sv)
{
	if (st->limit != NULL && (sv == NULL || sv->max_connections == 0) &&
	    limit_cells_used(st->limit) == 0) {
		limit_free(st->limit);
		st->limit = NULL;
	}
	if (sv == NULL && st->table != NULL) {
		source_release(st->table);
		st->table = NULL;
	}
}

/*
 * A new worker's share in st (NULL: none), made by admission_want() for sv: a cell
 * of the count when sv has a max_connections, a ledger in the table when
 * it has a per_source.  -1 with errno set, *failed naming what.
 */
int
admission_share_take(struct admission_state *st,
    const struct conf_service *sv, struct admission_share *sh,
    const char **failed)
{
	sh->state = st;
	sh->cell = -1;
	sh->table = NULL;
	if (st == NULL)
		return 0;
	*failed = "max_connections count";
	if (sv->max_connections > 0 && st->limit != NULL &&
	    (sh->cell = limit_cell_get(st->limit)) == -1)
		return -1;
	*failed = "per_source table";
	if (st->table != NULL && source_ledger_new(st->table, &sh->ledger) ==
	    -1)
		return -1;
	sh->table = sh->ledger.base != NULL ? st->table : NULL;
	return 0;
}

/*
 * A worker is gone (or never started): give back what its connections
 * held, which died with it.
 */
void
admission_share_drop(struct admission_share *sh)
{
	if (sh->cell != -1)
		limit_cell_put(sh->state->limit, sh->cell);
	sh->cell = -1;
	if (sh->ledger.base != NULL)
		source_ledger_free(sh->table, &sh->ledger);
	sh->table = NULL;
}

/*
 * A worker is gone, but n of its connections live on in programs: of
 * its max_connections units, as many as its cell held of those n stay
 * held (limit_cell_hold()); how many.  None: its cell is free already.
 */
int
admission_share_hold(struct admission_share *sh, int n)
{
	int	 held;

	if (sh->cell == -1)
		return 0;
	if ((held = limit_cell_hold(sh->state->limit, sh->cell, n)) == 0)
		sh->cell = -1;
	return held;
}

/* The shared memory a worker of the share maps: own[3], NULL for none. */
void
admission_share_inherit(const struct admission_share *sh,
    const struct shm **own)
{
	own[0] = sh->ledger.base != NULL ? &sh->ledger : NULL;
	own[1] = sh->cell != -1 ? limit_shm(sh->state->limit) : NULL;
	own[2] = sh->table != NULL ? source_shm(sh->table) : NULL;
}

/* In a new worker of sv: its admission, from its share. */
void
admission_of_share(const struct admission_share *sh,
    const struct conf_service *sv, struct admission *adm)
{
	*adm = (struct admission){ .net = &sv->net };
	if (sh->cell != -1)
		adm->limit = (struct limit_ref){ limit_count(sh->state->limit),
		    sh->cell, sv->max_connections };
	if (sh->table != NULL)
		adm->src = (struct source_ref){ source_view(sh->table),
		    sh->ledger.base, &sv->net.per_source };
}

/* Connections counted against the service's max_connections now. */
int
admission_used(const struct admission_state *st)
{
	return st->limit != NULL ? limit_active(st->limit) : 0;
}
