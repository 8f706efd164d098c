/* Tests only: a worker that writes what a compromised one would. */
#ifndef TCPD_HOSTILE_H
#define TCPD_HOSTILE_H

struct heartbeat;
struct limit_ref;
struct source_ref;

void	hostile_act(struct heartbeat *, const struct limit_ref *,
	    const struct source_ref *, int ctl, pid_t master)
	    __attribute__((noreturn));

#endif
