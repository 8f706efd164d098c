/* The connection log: one line per connection's end, one per refusal. */
#ifndef TCPD_CONNLOG_H
#define TCPD_CONNLOG_H

#include <sys/socket.h>

#include <stdint.h>

struct conn;
struct tcpinfo;

/*
 * Refusal lines, per worker: each source gets CONNLOG_PER_SOURCE lines
 * per CONNLOG_INTERVAL_MS, the worker CONNLOG_PER_WORKER for all its
 * sources; what is over is counted and said in one summary line per
 * source at the end of its interval.  CONNLOG_SOURCES sources are
 * tracked at once; refusals of sources beyond them share one summary.
 */
#define CONNLOG_INTERVAL_MS	10000
#define CONNLOG_PER_SOURCE	5
#define CONNLOG_PER_WORKER	100
#define CONNLOG_SOURCES		256

/*
 * In a worker, before its acceptors start: its service, and whether
 * log_connections is on (off: refusals are logged in summaries only).
 */
void	connlog_init(const char *service, int enabled);

/*
 * In an acceptor thread, or the loop, before fd is handed on to be
 * ended: the service refused client, for reason; proxy: the balancer it
 * came through (NULL: none).
 */
void	connlog_refused(const char *service, int fd,
	    const struct sockaddr_storage *client,
	    const struct sockaddr_storage *proxy, const char *reason);

/* In the worker's loop: log the summaries due by now. */
void	connlog_tick(int64_t now);
/* The ms until the next summary is due (0: now), or -1 if none is owed. */
int	connlog_next(int64_t now);

/* At the worker's exit: every summary still owed, due or not. */
void	connlog_flush(int64_t now);

/*
 * c has ended: its line, with end, what the worker's close() put on the
 * wire (a program's connection: "program", at its exit).
 */
void	connlog_closed(const struct conn *c, const char *end,
	    const struct tcpinfo *);

#endif
