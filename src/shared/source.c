/*
 * per_source: the open connections and the token bucket of each source
 * (an address, or the prefix it falls in), counted across all workers of
 * a service.
 *
 * The table is a fixed array in shared memory, made by the master; a
 * source's entry is found by a keyed hash and a linear probe of at most
 * PROBE entries.  Finding or claiming an entry is done under a robust,
 * process-shared mutex (a worker that dies holding it does not wedge the
 * others); counts move by atomics.  Each worker also keeps a ledger of
 * what it counts in each entry, in memory the master maps, so that when
 * it dies the master gives back what it held, as it does for
 * max_connections.
 *
 * An entry is free again once it counts no connection and its bucket is
 * full: a source that has taken nothing lately has nothing to forget.
 * When no entry near a new source's hash is free, the table is full for
 * it, and its connection is refused.  Evicting a live entry would let
 * whoever fills the table reset someone else's count, and letting
 * untracked sources in would let them escape every per-source limit;
 * refusing only sources the table cannot hold keeps every count true,
 * and every source already known is served as before.
 */
#include "config.h"

#include <sys/random.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf_net.h"
#include "nofork.h"
#include "shm.h"
#include "source.h"

/* Entries tried from a source's hash on: a source lives in one of them. */
#define PROBE		32
/* Tokens are counted in thousandths, refilled every millisecond. */
#define TOKEN		1000

struct source_entry {
	uint8_t		 key[16];	/* the masked address */
	uint8_t		 family;	/* AF_INET, AF_INET6; 0: never used */
	atomic_int	 active;	/* open connections */
	int64_t		 tokens;	/* in thousandths */
	int64_t		 stamp;		/* ms of the last refill */
};

/* In memory shared by the master and the service's workers. */
struct source_shared {
	pthread_mutex_t		 lock;
	uint64_t		 seed;
	struct source_entry	 entry[];
};

/*
 * The master's own, in memory no fork copies (a worker has what it
 * needs of it in its struct source_ref): the size and the references
 * are never read from memory a worker can write.
 */
struct source_table {
	struct shm		 shm;
	struct source_view	 v;
	int			 refs;
};

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A table of nsources free entries, in shared memory; one reference. */
struct source_table *
source_new(int nsources)
{
	struct source_table	*t;
	pthread_mutexattr_t	 ma;

	if ((t = nofork_calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (shm_new(&t->shm, sizeof(*t->v.sh) +
	    (size_t)nsources * sizeof(t->v.sh->entry[0])) == -1) {
		nofork_free(t);
		return NULL;
	}
	t->v.sh = t->shm.base;
	t->v.nsources = nsources;
	t->refs = 1;
	if (getrandom(&t->v.sh->seed, sizeof(t->v.sh->seed), 0) !=
	    sizeof(t->v.sh->seed))
		t->v.sh->seed = (uint64_t)now_ms() * 0x9e3779b97f4a7c15ULL;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&t->v.sh->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	return t;
}

void
source_hold(struct source_table *t)
{
	t->refs++;
}

/* The master lets go of t; gone with the last reference. */
void
source_release(struct source_table *t)
{
	if (t != NULL && --t->refs == 0) {
		shm_free(&t->shm);
		nofork_free(t);
	}
}

int
source_size(const struct source_table *t)
{
	return t->v.nsources;
}

/* What a worker of the service is given of t. */
struct source_view
source_view(const struct source_table *t)
{
	return t->v;
}

/* The memory a worker of the service maps. */
const struct shm *
source_shm(const struct source_table *t)
{
	return &t->shm;
}

/*
 * A new worker's ledger, all zero, in *ledger; it holds a reference to
 * t.  -1 with errno set.
 */
int
source_ledger_new(struct source_table *t, struct shm *ledger)
{
	if (shm_new(ledger, (size_t)t->v.nsources * sizeof(atomic_uint)) == -1)
		return -1;
	source_hold(t);
	return 0;
}

/*
 * A worker is gone: give back what its ledger says its connections
 * held, never taking a count below zero (a worker could have written
 * any number there), and let go of its reference.
 */
void
source_ledger_free(struct source_table *t, struct shm *ledger)
{
	atomic_uint	*l = ledger->base;

	for (int i = 0; i < t->v.nsources; i++) {
		atomic_int	*a = &t->v.sh->entry[i].active;
		unsigned	 held = atomic_load(&l[i]);
		int		 v;

		/*
		 * The table's entry only where the ledger holds some: a
		 * read of the others would give every page of the table
		 * (200 of them by default) memory, for each worker gone.
		 */
		if (held == 0)
			continue;
		v = atomic_load(a);
		while (!atomic_compare_exchange_weak(a, &v,
		    v > 0 && (unsigned)v > held ? v - (int)held : 0))
			;
	}
	shm_free(ledger);
	source_release(t);
}

/*
 * The source of peer: its address cut to the configured prefix, into
 * key (16 bytes); returns the family.  A mapped IPv6 peer is an IPv4
 * source.
 */
static int
source_key(const struct per_source *ps, const struct sockaddr_storage *peer,
    uint8_t *key)
{
	const uint8_t	*addr;
	int		 family = peer->ss_family, bits, n;

	memset(key, 0, 16);
	if (family == AF_INET) {
		addr = (const uint8_t *)
		    &((const struct sockaddr_in *)peer)->sin_addr;
	} else {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)peer)->sin6_addr;
		addr = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			addr += 12;
		}
	}
	bits = family == AF_INET ? ps->ipv4_prefix : ps->ipv6_prefix;
	n = bits / 8;
	memcpy(key, addr, n);
	if (bits % 8 != 0)
		key[n] = addr[n] & (uint8_t)(0xff << (8 - bits % 8));
	return family;
}

/* A keyed hash of the key, so a client cannot choose its collisions. */
static uint64_t
source_hash(const struct source_view *t, const uint8_t *key, int family)
{
	uint64_t	 h = t->sh->seed ^ (uint64_t)family, w;

	for (int i = 0; i < 16; i += 8) {
		memcpy(&w, key + i, 8);
		h ^= w;
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 33;
	}
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

/* Refill e's bucket up to now; the tokens it has then. */
static int64_t
refill(struct source_entry *e, const struct per_source *ps, int64_t now)
{
	int64_t	 full = (int64_t)ps->burst * TOKEN;

	if (ps->rate > 0 && now > e->stamp) {
		e->tokens += (now - e->stamp) * ps->rate;
		if (e->tokens > full)
			e->tokens = full;
	}
	e->stamp = now;
	return e->tokens;
}

/* Can e be given to another source: nothing open, nothing owed? */
static int
reusable(struct source_entry *e, const struct per_source *ps, int64_t now)
{
	if (e->family == 0)
		return 1;
	if (atomic_load(&e->active) > 0)
		return 0;
	return ps->rate == 0 || refill(e, ps, now) >= (int64_t)ps->burst * TOKEN;
}

/* The entry of key, or a fresh one for it; NULL: none near is free. */
static struct source_entry *
source_find(const struct source_view *t, const struct per_source *ps,
    const uint8_t *key, int family, int64_t now)
{
	struct source_entry	*e, *spare = NULL;
	uint64_t		 h = source_hash(t, key, family);

	for (int i = 0; i < PROBE; i++) {
		e = &t->sh->entry[(h + i) % t->nsources];
		if (e->family == family && memcmp(e->key, key, 16) == 0)
			return e;
		if (spare == NULL && reusable(e, ps, now))
			spare = e;
	}
	if (spare != NULL) {
		memcpy(spare->key, key, 16);
		spare->family = family;
		atomic_store(&spare->active, 0);
		spare->tokens = (int64_t)ps->burst * TOKEN;
		spare->stamp = now;
	}
	return spare;
}

static void
table_lock(const struct source_view *t)
{
	/* Its last holder died: what it did under the lock is whole. */
	if (pthread_mutex_lock(&t->sh->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&t->sh->lock);
}

/*
 * In an acceptor: may peer open one more connection?  If so it is
 * counted, its entry in *entry for source_put(), and SOURCE_OK returned;
 * if not, why in why and which limit.
 */
enum source_verdict
source_take(const struct source_ref *r, const struct sockaddr_storage *peer,
    int *entry, char *why, size_t whylen)
{
	const struct per_source	*ps = r->ps;
	const struct source_view *t = &r->table;
	struct source_entry	*e;
	uint8_t			 key[16];
	int			 family = source_key(ps, peer, key);
	enum source_verdict	 v;
	int64_t			 now = now_ms();

	table_lock(t);
	if ((e = source_find(t, ps, key, family, now)) == NULL) {
		v = SOURCE_FULL;
		snprintf(why, whylen, "per_source table full (%d sources)",
		    t->nsources);
	} else if (ps->max_connections > 0 &&
	    atomic_load(&e->active) >= ps->max_connections) {
		v = SOURCE_CAP;
		snprintf(why, whylen, "per_source max_connections %d",
		    ps->max_connections);
	} else if (ps->rate > 0 && refill(e, ps, now) < TOKEN) {
		v = SOURCE_RATE;
		snprintf(why, whylen, "per_source rate %d/s burst %d",
		    ps->rate, ps->burst);
	} else {
		v = SOURCE_OK;
		if (ps->rate > 0)
			e->tokens -= TOKEN;
		*entry = (int)(e - t->sh->entry);
		/* The ledger first: a death between undercounts, never over. */
		atomic_fetch_add(&r->ledger[*entry], 1);
		atomic_fetch_add(&e->active, 1);
	}
	pthread_mutex_unlock(&t->sh->lock);
	return v;
}

/*
 * A connection counted by source_take() has ended.  The count first: a
 * death between undercounts (the master takes one too many, never below
 * zero) rather than keep the entry busy for ever.
 */
void
source_put(const struct source_ref *r, int entry)
{
	atomic_fetch_sub(&r->table.sh->entry[entry].active, 1);
	atomic_fetch_sub(&r->ledger[entry], 1);
}

#ifdef TCPD_TEST_HOOKS
/* Tests only: a compromised worker's ledger, every count at its largest. */
void
source_hostile(const struct source_ref *r)
{
	for (int i = 0; i < r->table.nsources; i++)
		atomic_store(&r->ledger[i], UINT_MAX);
}
#endif
