/* What a draining worker waits for before it lets go of its sockets. */
#ifndef TCPD_DRAIN_H
#define TCPD_DRAIN_H

#include <stdint.h>

struct conf_listen;
struct drain;

struct drain	*drain_start(const int *fds, const struct conf_listen *,
		    int n, int64_t now);
int		 drain_done(struct drain *, int64_t now);
void		 drain_free(struct drain *);

#endif
