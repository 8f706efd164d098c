/*
 * What an exec service's program is started with: arguments,
 * environment, directory, umask, nice, resource limits and lifetime.
 */
#ifndef TCPD_CONF_EXEC_H
#define TCPD_CONF_EXEC_H

#include <sys/types.h>
#include <sys/resource.h>

#include <libconfig.h>

struct conf_ctx;
struct freeze;

/* One of 'rlimits': soft and hard limit alike. */
struct conf_rlimit {
	int		 resource;	/* RLIMIT_* */
	rlim_t		 value;		/* RLIM_INFINITY: unlimited */
};

struct conf_exec {
	char			**argv;		/* program and arguments */
	char			**env;		/* NAME=value */
	char			**passenv;	/* NAMEs, from tcpd's own */
	char			*cwd;
	mode_t			 umask;
	int			 umask_set;	/* else tcpd's own */
	int			 nice;
	int			 nice_set;	/* else the worker's */
	struct conf_rlimit	*rlimits;
	int			 nrlimits;
	int			 timeout;	/* seconds, 0: none */
};

int		 conf_exec_load(struct conf_ctx *, const config_setting_t *,
		    struct conf_exec *);
int		 conf_exec_check(const char *service, const struct conf_exec *,
		    const char **key, char *err, size_t errlen);
void		 conf_exec_free(struct conf_exec *);
void		 conf_exec_freeze(struct freeze *, size_t at,
		    const struct conf_exec *);
const char	*conf_rlimit_name(int resource);

#endif
