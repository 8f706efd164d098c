/* Inside supervision: what supervise.c and supervise_reap.c share. */
#ifndef TCPD_SUPERVISE_INT_H
#define TCPD_SUPERVISE_INT_H

#include <stdint.h>

struct proc;
struct slot;
struct sup;

/* A slot's retries after deaths or failed spawns: 1 s, doubling, to this. */
#define RESPAWN_FIRST_MS	1000
#define RESPAWN_MAX_MS		60000

int64_t	sup_backoff(int n);
void	slot_say_down(struct slot *, const char *why, int64_t delay);
int	sup_bypid_add(struct sup *, struct proc *);

#endif
