/* One connection: reference count, output queue, timers, one close path. */
#ifndef TCPD_CONN_H
#define TCPD_CONN_H

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <stddef.h>
#include <stdint.h>

#include "admission.h"
#include "loop.h"

struct service;
struct conf_service;
struct heartbeat;
struct spawner;

/* Output a connection may queue beyond what the kernel takes. */
#define CONN_OUT_MAX	(256 * 1024)
/* After our FIN, how long to read the peer's leftovers before closing. */
#define CONN_LINGER_MS	5000
/* Refused connections a worker lets end gently at once; beyond: at once. */
#define CONN_REFUSING_MAX	512

struct conn;

struct conn_list {
	struct conn	*head;
	struct conn	*tail;
};

/* The connections of one worker and what they share. */
struct conn_set {
	struct loop		*loop;
	const struct conf_service *conf;
	const struct service	*svc;
	const char		*name;		/* the service's, for logs */
	int64_t			 idle_ms;	/* 0: no idle timeout */
	/*
	 * Timer lists.  Every deadline in a list is now + the same delay, so
	 * appending keeps it sorted: each timer costs O(1).
	 */
	struct conn_list	 idle;
	struct conn_list	 linger;
	struct conn_list	 untimed;
	struct conn_list	 proxy;		/* waiting for a PROXY header */
	int64_t			 proxy_ms;	/* proxy_timeout */
	unsigned		 proxy_waiting;	/* on that list */
	unsigned		 proxy_max;	/* the most at once */
	uint8_t			*proxy_buf;	/* headers are peeked into;
						   made at the first */
	unsigned		 live;		/* not yet released */
	unsigned		 refusing;	/* of them, refused ones */
	unsigned long long	 released;	/* since the worker started;
						   refused ones as they come */
	char			*scratch;	/* shared read buffer */
	size_t			 scratchlen;
	const struct admission	*adm;		/* what connections hold */
	struct heartbeat	*beat;		/* bytes moved go there */
	struct spawner		*spawn;		/* the worker's programs */
	/*
	 * For a handler that needs the master's text: what, a worker.h
	 * question (WORKER_METRICS, WORKER_HEALTH); the answer goes to the
	 * handler's answer.
	 */
	void			(*want)(void *, struct conn *, int what);
	void			*want_arg;
};

enum {
	CONN_PEER_EOF	= 0x01,	/* read() saw the peer's FIN */
	CONN_SHUT_WR	= 0x02,	/* our FIN is sent */
	CONN_FINISHING	= 0x04,	/* end once the output has gone */
	CONN_LINGERING	= 0x08,	/* FIN sent; reading to EOF, then close */
	CONN_CLOSED	= 0x10,	/* off the loop, gone at the last unref */
	CONN_WANT_WRITE	= 0x20,	/* the handler wants room to write */
	CONN_RESET	= 0x40,	/* the peer sent an RST */
	CONN_REFUSED	= 0x80,	/* refused: no handler, no max_connections */
	CONN_GROUP_LEFT	= 0x100, /* its program exited, its process group not */
	CONN_PROXY_WAIT	= 0x200, /* its PROXY header is not read yet */
	CONN_OFF_LOOP	= 0x400, /* not on the loop (yet): conn_new() */
	CONN_BLOCKING	= 0x800, /* its socket blocks, as a program wants */
	CONN_GIVEN	= 0x1000, /* its socket went to a program in flight */
};

/* What a PROXY header said, beside the client (c->peer). */
struct conn_proxy {
	struct sockaddr_storage	 proxy;		/* the balancer: the peer */
	struct sockaddr_storage	 dst;		/* the client's destination;
						   family 0: LOCAL, UNKNOWN */
	char			 authority[256];	/* "": none */
	char			 unique_id[2 * 128 + 1];	/* hex; "": none */
};

/*
 * References: the event loop holds one from accept to conn_close (it
 * covers the epoll registration, the timers and queued output, which all
 * end there); a handler's callback holds one while it runs; whoever
 * holds the socket after conn_detach() holds one until it lets go.
 */
struct conn {
	struct io		 io;		/* first: the loop's handle */
	struct conn_set		*set;
	int			 refs;
	unsigned		 flags;
	uint32_t		 state;		/* the handler's own */
	struct conn_list	*list;
	struct conn		*prev, *next;
	int64_t			 deadline;
	int64_t			 started;
	char			*out;		/* queued output, or NULL */
	size_t			 outoff, outlen;
	uint64_t		 bytes_in, bytes_out;
	pid_t			 holder;	/* a program holding the socket */
	int			 status;	/* its wait status, once it exited */
	struct admitted		 held;		/* given back at release */
	struct conn_proxy	*px;		/* via a balancer, or NULL */
	char			*hbuf;		/* the handler's, freed at release */
	size_t			 hlen, hoff;
	const char		*closer;	/* who sent the first FIN */
	const char		*reason;	/* why it ended */
	int			 error;		/* errno that ended it */
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	union {				/* for the log, read at close */
		struct sockaddr		 sa;
		struct sockaddr_in	 sin;
		struct sockaddr_in6	 sin6;
	}			 local;
};

void	 conn_set_init(struct conn_set *, struct loop *,
	    const struct conf_service *, const struct admission *,
	    char *scratch, size_t scratchlen);
struct conn *
	 conn_new(struct conn_set *, int fd,
	    const struct sockaddr_storage *, socklen_t,
	    const struct admitted *);
struct conn *
	 conn_refuse(struct conn_set *, int fd,
	    const struct sockaddr_storage *, socklen_t);
void	 conn_start(struct conn *);
void	 conn_refuse_late(struct conn *);
void	 conn_ref(struct conn *);
void	 conn_let_go(struct conn *);
void	 conn_unref(struct conn *);

ssize_t	 conn_read(struct conn *, void *, size_t);
size_t	 conn_write(struct conn *, const void *, size_t);
void	*conn_scratch(struct conn *, size_t *);
void	 conn_want_write(struct conn *, int);
void	 conn_finish(struct conn *, const char *reason);
void	 conn_close(struct conn *, const char *reason);

void	 conn_detach(struct conn *, pid_t holder);

void	 conn_expire(struct conn_set *);
void	 conn_close_all(struct conn_set *, const char *reason);

#endif
