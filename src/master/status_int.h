/*
 * Inside status: the figures, gathered once (status.c) into plain
 * structs, and the three printers that only read them: text, JSON and
 * Prometheus.
 */
#ifndef TCPD_STATUS_INT_H
#define TCPD_STATUS_INT_H

#include <stdint.h>
#include <time.h>

#include "proto.h"

struct buf;

/* One of a slot's sockets: where it listens, and its accept queue. */
struct status_sock {
	const char		*listen;
	unsigned		 queue, backlog;	/* now, at most */
};

/* A slot, and the worker shown for it: the serving one, else the starting. */
struct status_slot {
	const char		*service;
	int			 svc;		/* its service's index; -1: none */
	int			 index;
	const char		*state;		/* ready, starting, down, failing */
	int64_t			 retry_ms;	/* -1: none due */
	unsigned		 restarts;
	int			 worker;	/* 0: none, else the rest is its */
	int			 serving;	/* it serves (not just starting) */
	long			 pid;
	unsigned		 gen;
	int64_t			 uptime_ms;
	int64_t			 beat_age_ms;
	unsigned		 open;
	unsigned long long	 accepted;	/* as its heartbeat says */
	long			 successor_pid;	/* 0: none starting */
	struct status_sock	*socks;
	int			 nsocks;
	unsigned		 queue, backlog;	/* over its sockets */
};

/* A worker no longer in a slot, finishing. */
struct status_retiring {
	const char		*name;
	int			 svc;		/* its service's index; -1: none */
	long			 pid;
	unsigned		 gen;
	unsigned		 open;
};

/* A service: its figures summed over its slots, retiring and gone workers. */
struct status_svc {
	const char		*name;
	const char		*handler;
	const char		**listen;
	int			 nlisten;
	int			 slots;
	int			 running;	/* slots with a worker serving */
	int			 retiring;	/* workers */
	unsigned long long	 open, accepted;
	unsigned long long	 refused[REFUSED_KINDS];
	unsigned long long	 refused_total;
	unsigned long long	 bytes_in, bytes_out;
	int			 max_connections;	/* 0: none */
	int			 max_used;
	int			 orphaned;	/* programs of dead workers */
};

/* Everything status shows, as it was when gathered. */
struct status_figs {
	long			 pid;
	const char		*config;
	unsigned		 gen;
	int64_t			 uptime_ms;
	time_t			 started_at;
	char			 started[32];	/* as UTC, ISO 8601 */
	char			 reload_at[32];	/* "": no reload yet */
	int			 reload_ok;
	const char		*reload_result;
	unsigned		 reloads_ok, reloads_refused;
	const char		*state;		/* serving, draining, stopping */
	int64_t			 stop_in_ms;	/* -1: no graceful stop */
	struct status_svc	*svcs;
	int			 nsvcs;
	struct status_slot	*slots;
	int			 nslots;
	struct status_retiring	*retiring;
	int			 nretiring;
	struct status_sock	*socks;		/* the slots' */
	const char		**listen;	/* the services' */
};

void	status_text(struct buf *, const struct status_figs *);
void	status_json(struct buf *, const struct status_figs *);
void	status_prom(struct buf *, const struct status_figs *);

#endif
