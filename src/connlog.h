/* The connection log: one line per connection's end, one per refusal. */
#ifndef TCPD_CONNLOG_H
#define TCPD_CONNLOG_H

#include <sys/socket.h>

/*
 * In an acceptor thread, before fd is handed on to be ended: the
 * service refused peer, for reason.
 */
void	connlog_refused(const char *service, int fd,
	    const struct sockaddr_storage *peer, const char *reason);

#endif
