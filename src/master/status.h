/* What tcpd -s status prints, built by the master. */
#ifndef TCPD_STATUS_H
#define TCPD_STATUS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"

struct conf;
struct conf_service;
struct listeners;
struct sup;

/* What the master knows of itself, and where the rest is. */
struct status_in {
	const struct conf	*conf;
	const struct sup	*sup;
	const struct listeners	*listeners;
	pid_t			 pid;
	unsigned		 gen;
	int64_t			 now;		/* the loop's, monotonic ms */
	int64_t			 started_ms;	/* monotonic */
	time_t			 started_at;	/* wall clock */
	time_t			 reload_at;	/* 0: none yet */
	int			 reload_ok;
	const char		*reload_result;
	unsigned		 reloads_ok, reloads_refused;
	const char		*state;		/* serving, draining, stopping */
	int64_t			 stop_in_ms;	/* a graceful stop's drain
						   ends in; -1: none */
};

enum status_form {
	STATUS_TEXT,		/* tcpd -s status */
	STATUS_JSON,		/* tcpd -s status --json */
	STATUS_METRICS,		/* the metrics handler: Prometheus text */
};

char	*status_build(const struct status_in *, enum status_form,
	    size_t *len);
int	 status_maxconn_used(const struct status_in *,
	    const struct conf_service *);

#endif
