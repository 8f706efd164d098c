/* Workers' heartbeats: a shared cell each, carved from a few mappings. */
#include "config.h"

#include <sys/mman.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beat.h"
#include "proto.h"
#include "shm.h"

/* Cells per mapping. */
#define BEAT_CELLS	256

/*
 * One mapping of BEAT_CELLS cells, each a whole number of pages, so that
 * a fork can be let copy one cell alone.  The mappings are made
 * MADV_DONTFORK, as all the master shares (shm.c): a new worker is given
 * its own cell and no other, and a fork passes the rest over.  A mapping
 * per heartbeat would be one more for the master to keep per worker.
 */
struct chunk {
	char		*base;
	int		 used;
	unsigned char	 busy[BEAT_CELLS];
	struct chunk	*next;
};


/* A new mapping of BEAT_CELLS free cells, first in the list; NULL: memory. */
static struct chunk *
chunk_new(struct beats *bs)
{
	struct chunk	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base = mmap(NULL, BEAT_CELLS * beat_cell_size(), PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (c->base == MAP_FAILED) {
		free(c);
		return NULL;
	}
	if (madvise(c->base, BEAT_CELLS * beat_cell_size(), MADV_DONTFORK) ==
	    -1) {
		munmap(c->base, BEAT_CELLS * beat_cell_size());
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
	size_t		 stride = beat_cell_size();
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
	size_t		 stride = beat_cell_size();
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

/* A cell's pages, for shm_inherit(): the worker it is for inherits them. */
void
beat_shm(struct heartbeat *b, struct shm *m)
{
	m->base = b;
	m->size = beat_cell_size();
}
