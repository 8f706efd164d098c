/* The master's own state, shared by master.c and master_reload.c. */
#ifndef TCPD_MASTER_INT_H
#define TCPD_MASTER_INT_H

#include <stdint.h>
#include <time.h>

#include "listener.h"
#include "loop.h"
#include "supervise.h"

struct conf;
struct control;
struct notifier;
struct reload;

struct master {
	struct conf		*conf;
	struct notifier		*notify;	/* what systemd hears */
	struct loop		 loop;
	struct io		 sig_io;
	struct io		 reload_io;	/* the reload thread is done */
	struct reload		*reloading;	/* a parse under way */
	struct listeners	 listeners;
	struct sup		 sup;
	int			*counts;	/* slots per service */
	unsigned		 gen;
	int			 pidfd;
	int			 foreground;
	/* Signals seen, acted on between two waits. */
	int			 reload;
	int			 reload_again;	/* SIGHUP during a parse */
	int			 reap;
	int			 resumed;	/* SIGCONT: the master was stopped */
	int64_t			 awake_at;	/* its last wakeup on time */
	int			 scale;		/* +1, -1 per signal */
	enum stop_how		 request;
	enum stop_how		 stopping;
	/* Draining for a balancer (master_drain.c). */
	int			 drained;	/* -s drain, no -s undrain since */
	int64_t			 drained_at;
	int64_t			 stop_at;	/* a graceful stop's drain ends;
						   0: none under way */
	/* For status. */
	struct control		*control;	/* NULL: no control socket */
	int64_t			 started_ms;
	time_t			 started_at;
	time_t			 reload_at;	/* 0: none yet */
	int			 reload_ok;
	char			 reload_result[1024];
	unsigned		 reloads_ok, reloads_refused;
	/* For tcpd -s reload, waiting on the control socket. */
	uint64_t		 reloads_started;	/* the last one's number */
	uint64_t		 reload_settling;	/* applied, its workers
							   starting; 0: none */
};

int	*master_counts(const struct conf *);
void	 master_stop(struct master *, enum stop_how);

/* master_drain.c: -s drain, -s undrain and drain_delay. */
const char *
	 master_state(const struct master *);
int64_t	 master_stop_in(const struct master *);
int	 master_stop_due(struct master *);
int	 master_drain_timeout(const struct master *, int other);
const char *
	 master_drain_command(struct master *, const char *request);

/* master_reload.c: reading the file again, and SIGTTIN/SIGTTOU. */
void	 master_reload_start(struct master *);
void	 master_reload_cb(struct io *, uint32_t);
void	 master_scale(struct master *, int by);
void	 master_reload_settled(struct master *);

#endif
