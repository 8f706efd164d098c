/*
 * A service at run time: its configuration, its admission state, the
 * figures of its workers that are gone.
 */
#ifndef TCPD_SVC_H
#define TCPD_SVC_H

#include "admission.h"
#include "proto.h"

struct conf;
struct conf_service;

/* What the workers of a service that are gone did, for status. */
struct svc_stats {
	unsigned long long	 accepted;
	unsigned long long	 refused[REFUSED_KINDS];
	unsigned long long	 bytes_in, bytes_out;
	unsigned		 restarts;	/* deaths not asked for */
};

/*
 * One service's record.  Made when its name first comes in a
 * configuration and kept to the end, across reloads, found by name only
 * while a reload is applied: its slots, workers and orphans point to it.
 */
struct svc {
	char			*name;
	const struct conf_service *conf;	/* now; NULL: not configured */
	struct admission_state	 adm;		/* what its workers share */
	struct svc_stats	 gone;		/* its gone workers' figures */
	struct svc		*next;		/* every record */
	struct svc		*hnext;		/* in the index by name */
};

/* Every record, and those of the configuration, in its order. */
struct svcs {
	struct svc		*all;
	struct svc		**index;	/* by name: chains, 2^k */
	int			 size, n;
	struct svc		**byconf;	/* services[i]'s at [i] */
	const struct conf	*conf;
};

struct svc	**svcs_match(struct svcs *, const struct conf *);
void		 svcs_apply(struct svcs *, const struct conf *,
		    struct svc **matched);
struct svc	*svcs_of(const struct svcs *, const struct conf_service *);
void		 svc_gc(struct svc *);
void		 svcs_gc(struct svcs *);
void		 svcs_free(struct svcs *);

#endif
