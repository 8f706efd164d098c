/* Supervision: the slot table, and the policy that keeps every slot served. */
#ifndef TCPD_SUPERVISE_H
#define TCPD_SUPERVISE_H

#include <stddef.h>

#include "worker.h"

struct conf;
struct listeners;
struct loop;
struct proc;
struct slot;
struct svc_limit;

struct sup {
	struct loop		*loop;
	struct listeners	*listeners;	/* the slots' sockets */
	const struct conf	*conf;		/* what the slots serve now */
	unsigned		 gen;
	struct slot		**slots;
	int			 nslots;
	struct proc		*retiring;	/* no longer in a slot */
	struct svc_limit	*limits;	/* max_connections, by service */
	enum stop_how		 stopping;
	int			 starting;	/* a failure is fatal */
	char			 start_error[256];
};

void	sup_init(struct sup *, struct loop *, struct listeners *);
int	sup_apply(struct sup *, const struct conf *, const int *counts,
	    unsigned gen);
void	sup_tend(struct sup *);
int	sup_started(const struct sup *);
int	sup_reaped(struct sup *, pid_t, int status);
void	sup_stop(struct sup *, enum stop_how, int timeout);
int	sup_timeout(const struct sup *);
int	sup_empty(const struct sup *);
void	sup_title(const struct sup *, char *, size_t);
void	sup_free(struct sup *);

#endif
