/*
 * Memory no fork copies.
 *
 * A fork copies the page table entries of every private page its parent
 * has, and the new process's exit tears them down again.  The master
 * forks each of its workers, and its records of them (one for each
 * worker, slot, listening socket and service) grow with the
 * configuration: at 5,000 services, 7 MB of them, 1,700 pages copied
 * into every worker forked and never read there.  So a start's cost grew
 * with the square of the number of services.
 *
 * Those records live here instead, and with them the master's books of
 * the memory it shares with its workers (struct limit, a kilobyte for
 * each service counting max_connections; struct source_table): in
 * mappings made MADV_DONTFORK, which a fork passes over.  A worker has
 * none of them; it reads what it needs of its own record from what its
 * fork was given (proc.c).
 *
 * The allocator is small, as its users are: blocks of up to
 * NOFORK_SMALL_MAX bytes in size classes, cut from chunks and kept on a
 * free list per class once freed; larger ones a mapping each, grown
 * with mremap().  A 16-byte header before each block says which.  Only
 * the master's main thread allocates here.
 *
 * Under AddressSanitizer, the records are plain malloc() memory, so
 * that its checks of them are not lost.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nofork.h"

#if defined(__SANITIZE_ADDRESS__)
#define NOFORK_MALLOC	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NOFORK_MALLOC	1
#endif
#endif

#ifndef NOFORK_MALLOC

#define NOFORK_ALIGN	16
#define NOFORK_SMALL_MAX 4096		/* bytes; larger: a mapping each */
#define NOFORK_CLASSES	(NOFORK_SMALL_MAX / NOFORK_ALIGN)
#define NOFORK_CHUNK	(256 * 1024)	/* bytes the small ones are cut from */
#define NOFORK_LARGE	SIZE_MAX	/* a header's class: a mapping */

struct nofork_head {
	size_t	 cls;		/* free list index, or NOFORK_LARGE */
	size_t	 size;		/* a mapping's length, header included */
};

struct nofork_free {
	struct nofork_free	*next;
};

static struct nofork_free	*nofork_lists[NOFORK_CLASSES];
static char			*nofork_next;	/* the chunk's unused part */
static size_t			 nofork_left;

/* A private mapping of len bytes that no fork copies; NULL with errno. */
static void *
nofork_map(size_t len)
{
	void	*p;
	int	 saved;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_DONTFORK) == -1) {
		saved = errno;
		munmap(p, len);
		errno = saved;
		return NULL;
	}
	return p;
}

/*
 * The length of a mapping for a block of size bytes, its header and
 * whole pages; 0 (errno ENOMEM) when that is past what a size_t holds.
 */
static size_t
nofork_map_len(size_t size)
{
	size_t	 page = (size_t)sysconf(_SC_PAGESIZE);

	if (size > SIZE_MAX - sizeof(struct nofork_head) - page) {
		errno = ENOMEM;
		return 0;
	}
	return (size + sizeof(struct nofork_head) + page - 1) / page * page;
}

/* A block of at least size bytes, not zeroed; NULL with errno. */
static void *
nofork_alloc(size_t size)
{
	struct nofork_head	*h;
	size_t			 cls, need;

	if (size > NOFORK_SMALL_MAX) {
		if ((need = nofork_map_len(size)) == 0 ||
		    (h = nofork_map(need)) == NULL)
			return NULL;
		h->cls = NOFORK_LARGE;
		h->size = need;
		return h + 1;
	}
	cls = size == 0 ? 0 : (size - 1) / NOFORK_ALIGN;
	if (nofork_lists[cls] != NULL) {
		struct nofork_free	*f = nofork_lists[cls];

		nofork_lists[cls] = f->next;
		return f;
	}
	need = sizeof(*h) + (cls + 1) * NOFORK_ALIGN;
	if (nofork_left < need) {
		/* What is left of the chunk is too small for this class. */
		if ((nofork_next = nofork_map(NOFORK_CHUNK)) == NULL) {
			nofork_left = 0;
			return NULL;
		}
		nofork_left = NOFORK_CHUNK;
	}
	h = (struct nofork_head *)(void *)nofork_next;
	nofork_next += need;
	nofork_left -= need;
	h->cls = cls;
	h->size = need;
	return h + 1;
}

static struct nofork_head *
nofork_head(void *p)
{
	return (struct nofork_head *)p - 1;
}

/* The bytes p may hold. */
static size_t
nofork_usable(void *p)
{
	return nofork_head(p)->size - sizeof(struct nofork_head);
}

void *
nofork_calloc(size_t n, size_t size)
{
	void	*p;

	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	if ((p = nofork_alloc(n * size)) == NULL)
		return NULL;
	/* A block from a free list holds what it held before. */
	memset(p, 0, n * size);
	return p;
}

void
nofork_free(void *p)
{
	struct nofork_head	*h;
	struct nofork_free	*f = p;

	if (p == NULL)
		return;
	h = nofork_head(p);
	if (h->cls == NOFORK_LARGE) {
		munmap(h, h->size);
		return;
	}
	f->next = nofork_lists[h->cls];
	nofork_lists[h->cls] = f;
}

/* Like reallocarray(3); what the block grows by is not zeroed. */
void *
nofork_reallocarray(void *p, size_t n, size_t size)
{
	struct nofork_head	*h;
	void			*q;
	size_t			 want, len;

	if (size != 0 && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	want = n * size;
	if (p == NULL)
		return nofork_alloc(want);
	if (want <= nofork_usable(p))
		return p;
	h = nofork_head(p);
	if (h->cls == NOFORK_LARGE && want > NOFORK_SMALL_MAX) {
		/* A mapping moved keeps its MADV_DONTFORK. */
		if ((len = nofork_map_len(want)) == 0 ||
		    (q = mremap(h, h->size, len, MREMAP_MAYMOVE)) == MAP_FAILED)
			return NULL;
		h = q;
		h->size = len;
		return h + 1;
	}
	if ((q = nofork_alloc(want)) == NULL)
		return NULL;
	memcpy(q, p, nofork_usable(p));
	nofork_free(p);
	return q;
}

#else	/* NOFORK_MALLOC */

void *
nofork_calloc(size_t n, size_t size)
{
	return calloc(n, size);
}

void
nofork_free(void *p)
{
	free(p);
}

void *
nofork_reallocarray(void *p, size_t n, size_t size)
{
	return reallocarray(p, n, size);
}

#endif

char *
nofork_strdup(const char *s)
{
	size_t	 len = strlen(s) + 1;
	char	*p;

	if ((p = nofork_calloc(1, len)) != NULL)
		memcpy(p, s, len);
	return p;
}
