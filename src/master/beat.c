/* Workers' heartbeats: a shared cell each, carved from a few mappings. */
#include "config.h"

#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beat.h"
#include "proto.h"

/* Cells per mapping. */
#define BEAT_CELLS	256

/*
 * One mapping of BEAT_CELLS cells, each a whole number of pages, so that
 * a worker can unmap all but its own.  A mapping per heartbeat would be
 * one more for every fork to copy per worker already started: forking N
 * workers cost N^2.
 */
struct chunk {
	char		*base;
	int		 used;
	unsigned char	 busy[BEAT_CELLS];
	struct chunk	*next;
};

/* A cell's size: the heartbeat, rounded up to whole pages. */
static size_t
beat_stride(void)
{
	size_t	 page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct heartbeat) + page - 1) / page * page;
}

/* A new mapping of BEAT_CELLS free cells, first in the list; NULL: memory. */
static struct chunk *
chunk_new(struct beats *bs)
{
	struct chunk	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base = mmap(NULL, BEAT_CELLS * beat_stride(), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->base == MAP_FAILED) {
		free(c);
		return NULL;
	}
	c->next = bs->chunks;
	bs->chunks = c;
	return c;
}

/* A zeroed heartbeat, shared with the next worker forked; NULL: memory. */
struct heartbeat *
beat_new(struct beats *bs)
{
	struct chunk	*c;
	size_t		 stride = beat_stride();
	int		 i;

	for (c = bs->chunks; c != NULL && c->used == BEAT_CELLS; c = c->next)
		;
	if (c == NULL && (c = chunk_new(bs)) == NULL)
		return NULL;
	for (i = 0; c->busy[i]; i++)
		;
	c->busy[i] = 1;
	c->used++;
	return (struct heartbeat *)(void *)(c->base + i * stride);
}

/* The cell of a worker that is gone; a mapping left empty goes too. */
void
beat_free(struct beats *bs, struct heartbeat *b)
{
	struct chunk	**cp, *c;
	size_t		 stride = beat_stride();
	char		*at = (char *)b;

	for (cp = &bs->chunks; (c = *cp) != NULL; cp = &c->next) {
		if (at < c->base || at >= c->base + BEAT_CELLS * stride)
			continue;
		c->busy[(at - c->base) / stride] = 0;
		if (--c->used > 0) {
			/* Its pages go: the next worker's reads as zeros. */
			if (madvise(at, stride, MADV_REMOVE) == -1)
				memset(at, 0, stride);
			return;
		}
		*cp = c->next;
		munmap(c->base, BEAT_CELLS * stride);
		free(c);
		return;
	}
}

/*
 * In a new worker: unmap every heartbeat but its own, so that it sees no
 * other worker's.  The list itself is the master's, and is left as it is.
 */
void
beat_only(const struct beats *bs, const struct heartbeat *mine)
{
	size_t		 stride = beat_stride(), len = BEAT_CELLS * stride;
	const char	*at = (const char *)mine;

	for (struct chunk *c = bs->chunks; c != NULL; c = c->next) {
		if (at < c->base || at >= c->base + len) {
			munmap(c->base, len);
			continue;
		}
		if (at > c->base)
			munmap(c->base, at - c->base);
		if (at + stride < c->base + len)
			munmap((char *)at + stride,
			    c->base + len - at - stride);
	}
}
