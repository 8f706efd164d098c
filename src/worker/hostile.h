/* Tests only: a worker that writes what a compromised one would. */
#ifndef TCPD_HOSTILE_H
#define TCPD_HOSTILE_H

struct admission;
struct conf;
struct heartbeat;
struct shm;

void	hostile_act(const struct conf *, struct heartbeat *,
	    const struct admission *, const struct shm *, int nshm, int ctl,
	    pid_t master)
	    __attribute__((noreturn));

#endif
