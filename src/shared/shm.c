/*
 * Memory the master shares with one worker, or with one service's
 * workers.  Every such region is carved, in whole pages, from a few
 * large shared mappings (pools) made MADV_DONTFORK at birth, so a fork
 * copies none of it; proc_spawn() lets the new worker inherit just its
 * own regions (its heartbeat and ledger, its service's counts) for the
 * moment of its fork.  So no worker maps another's pages, nor those of
 * a service it does not serve.
 *
 * A mapping each would do as well, but a fork walks every mapping of
 * its parent, copied or not, and a master with 5,000 services each
 * counting max_connections and per_source had 15,000 of them: each fork
 * cost 2.8 ms, the start 25 s.  Turning MADV_DOFORK on for a region
 * splits its pool's mapping for the fork, and turning it off merges it
 * again, so the master's mappings stay a few, whatever the services.
 *
 * Only the master's main thread makes and frees regions.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"

/*
 * A pool's pages: 256 MiB of 4 kB.  Only what is written takes memory;
 * a per_source table of the default size (16,384 sources) spans over a
 * hundred.
 */
#define SHM_POOL_PAGES	65536
#define SHM_BITS	64

/* One pool: a shared mapping, and which of its pages are given out. */
struct shm_pool {
	char		*base;
	size_t		 npages;
	size_t		 used;		/* pages given out */
	size_t		 hint;		/* where the next search starts */
	uint64_t	*map;		/* a bit a page: given out */
	struct shm_pool	*next;
};

static struct shm_pool	*shm_pools;

static size_t
shm_page(void)
{
	static size_t	 page;

	if (page == 0)
		page = (size_t)sysconf(_SC_PAGESIZE);
	return page;
}

static int
shm_bit(const struct shm_pool *p, size_t i)
{
	return (p->map[i / SHM_BITS] >> (i % SHM_BITS)) & 1;
}

/* Mark pages [at, at + n) given out (on) or free. */
static void
shm_mark(struct shm_pool *p, size_t at, size_t n, int on)
{
	for (size_t i = at; i < at + n; i++) {
		if (on)
			p->map[i / SHM_BITS] |= UINT64_C(1) << (i % SHM_BITS);
		else
			p->map[i / SHM_BITS] &=
			    ~(UINT64_C(1) << (i % SHM_BITS));
	}
	p->used = on ? p->used + n : p->used - n;
}

/* The first run of n free pages from the hint on, else from the start. */
static int
shm_find(const struct shm_pool *p, size_t n, size_t *at)
{
	size_t	 run;

	if (p->npages - p->used < n)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		run = 0;
		for (size_t i = pass ? 0 : p->hint; i < p->npages; i++) {
			/* Whole words given out are passed over at once. */
			if (run == 0 && i % SHM_BITS == 0 &&
			    p->map[i / SHM_BITS] == UINT64_MAX) {
				i += SHM_BITS - 1;
				continue;
			}
			if (shm_bit(p, i)) {
				run = 0;
				continue;
			}
			if (++run == n) {
				*at = i + 1 - n;
				return 0;
			}
		}
	}
	return -1;
}

/* A new pool of at least n pages, first in the list; NULL with errno. */
static struct shm_pool *
shm_pool_new(size_t n)
{
	struct shm_pool	*p;
	size_t		 npages = n > SHM_POOL_PAGES ? n : SHM_POOL_PAGES;
	int		 saved;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->npages = npages;
	if ((p->map = calloc((npages + SHM_BITS - 1) / SHM_BITS,
	    sizeof(*p->map))) == NULL) {
		free(p);
		return NULL;
	}
	/*
	 * Pages are taken when first written; the rest costs nothing,
	 * unless the kernel counts all it maps (vm.overcommit_memory=2):
	 * then as little as asked.
	 */
	p->base = mmap(NULL, npages * shm_page(), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p->base == MAP_FAILED && npages > n) {
		npages = p->npages = n;
		p->base = mmap(NULL, npages * shm_page(), PROT_READ |
		    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1,
		    0);
	}
	if (p->base == MAP_FAILED)
		goto fail;
	if (madvise(p->base, npages * shm_page(), MADV_DONTFORK) == -1) {
		saved = errno;
		munmap(p->base, npages * shm_page());
		errno = saved;
		goto fail;
	}
	p->next = shm_pools;
	shm_pools = p;
	return p;
fail:
	saved = errno;
	free(p->map);
	free(p);
	errno = saved;
	return NULL;
}

/*
 * A zeroed region of size bytes that no fork copies; -1 with errno.
 * Each is followed by a page no region has, so that two a worker
 * inherits are two mappings in it, and it reads past neither.
 */
int
shm_new(struct shm *m, size_t size)
{
	struct shm_pool	*p;
	size_t		 n = (size + shm_page() - 1) / shm_page(), at;

	m->base = NULL;
	m->size = 0;
	if (n == 0)
		n = 1;
	n++;		/* the gap */
	for (p = shm_pools; p != NULL; p = p->next)
		if (shm_find(p, n, &at) == 0)
			break;
	if (p == NULL) {
		if ((p = shm_pool_new(n)) == NULL)
			return -1;
		at = 0;
	}
	shm_mark(p, at, n, 1);
	p->hint = at + n < p->npages ? at + n : 0;
	m->base = p->base + at * shm_page();
	m->size = (n - 1) * shm_page();
	return 0;
}

/*
 * Give a region back.  Its pages go (MADV_REMOVE), so that whoever is
 * given them next reads zeros; a pool left empty goes, but the last.
 */
void
shm_free(struct shm *m)
{
	struct shm_pool	**pp, *p;
	char		*at = m->base;

	if (at == NULL)
		return;
	for (pp = &shm_pools; (p = *pp) != NULL; pp = &p->next) {
		if (at < p->base || at >= p->base + p->npages * shm_page())
			continue;
		if (madvise(at, m->size, MADV_REMOVE) == -1)
			memset(at, 0, m->size);
		shm_mark(p, (size_t)(at - p->base) / shm_page(),
		    m->size / shm_page() + 1, 0);
		if (p->used == 0 && (p != shm_pools || p->next != NULL)) {
			*pp = p->next;
			munmap(p->base, p->npages * shm_page());
			free(p->map);
			free(p);
		}
		break;
	}
	m->base = NULL;
	m->size = 0;
}

/*
 * Let the next fork copy the n regions (on), or no longer (off).  NULL
 * entries and empty regions are passed over.  -1 with errno if one
 * could not be changed; those before it are turned back.
 */
int
shm_inherit(const struct shm *const *m, int n, int on)
{
	int	 saved;

	for (int i = 0; i < n; i++) {
		if (m[i] == NULL || m[i]->base == NULL)
			continue;
		if (madvise(m[i]->base, m[i]->size,
		    on ? MADV_DOFORK : MADV_DONTFORK) == 0)
			continue;
		saved = errno;
		while (--i >= 0)
			if (m[i] != NULL && m[i]->base != NULL)
				madvise(m[i]->base, m[i]->size,
				    on ? MADV_DONTFORK : MADV_DOFORK);
		errno = saved;
		return -1;
	}
	return 0;
}
