/*
 * Memory the master shares with one worker, or with one service's
 * workers.  Every such mapping is made MADV_DONTFORK at birth, so a
 * fork copies none of them; proc_spawn() lets the new worker inherit
 * just its own (its heartbeat and ledger, its service's counts) for the
 * moment of its fork.  So no worker maps another's pages, nor those of
 * a service it does not serve.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>

#include "shm.h"

/* A zeroed mapping of size bytes that no fork copies; -1 with errno. */
int
shm_new(struct shm *m, size_t size)
{
	void	*p;
	int	 saved;

	m->base = NULL;
	m->size = 0;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (p == MAP_FAILED)
		return -1;
	if (madvise(p, size, MADV_DONTFORK) == -1) {
		saved = errno;
		munmap(p, size);
		errno = saved;
		return -1;
	}
	m->base = p;
	m->size = size;
	return 0;
}

void
shm_free(struct shm *m)
{
	if (m->base != NULL)
		munmap(m->base, m->size);
	m->base = NULL;
	m->size = 0;
}

/*
 * Let the next fork copy the n mappings (on), or no longer (off).  NULL
 * entries and empty mappings are passed over.  -1 with errno if one
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
