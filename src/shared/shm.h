/* Memory the master shares with one worker, or with one service's workers. */
#ifndef TCPD_SHM_H
#define TCPD_SHM_H

#include <stddef.h>

/* One shared mapping; base NULL: none. */
struct shm {
	void	*base;
	size_t	 size;
};

int	shm_new(struct shm *, size_t size);
void	shm_free(struct shm *);
int	shm_inherit(const struct shm *const *, int n, int on);

#endif
