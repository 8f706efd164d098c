/* The master: its loop, signals, reload, scaling, start and stop. */
#ifndef TCPD_MASTER_H
#define TCPD_MASTER_H

#include <stddef.h>

struct conf;
struct notifier;

struct master;

struct master	*master_new(struct conf *, int pidfd, int foreground,
		    struct notifier *);
int		 master_fds_needed(const struct conf *, int reloading);
int		 master_worker_fds(const struct conf *);
int		 master_check_limits(const struct conf *, int at_start,
		    char *err, size_t errlen);
int		 master_listen(struct master *);
int		 master_start(struct master *);
int		 master_run(struct master *);
void		 master_free(struct master *);

#endif
