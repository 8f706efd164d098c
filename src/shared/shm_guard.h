/* A worker's shared memory kept a window on its own regions alone. */
#ifndef TCPD_SHM_GUARD_H
#define TCPD_SHM_GUARD_H

struct shm;

int	shm_guard(const struct shm *, int n);
int	shm_guard_possible(void);

#endif
