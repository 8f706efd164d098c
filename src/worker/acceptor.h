/* A worker's accept threads (one per slot socket); dropping what they took. */
#ifndef TCPD_ACCEPTOR_H
#define TCPD_ACCEPTOR_H

#include <sys/socket.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

struct conf_net;
struct limit_ref;
struct source_ref;

/* A connection an acceptor took, for the worker's event loop. */
struct accepted {
	int			 fd;
	int			 refused;	/* to be ended, not served */
	int			 source;	/* per_source entry held, or -1 */
	int			 proxy;		/* its PROXY header comes first */
	socklen_t		 len;
	struct sockaddr_storage	 peer;
};

/*
 * Where an accepted connection goes: the worker's event loop, which ends
 * a refused one (given refuse_message, and a FIN).
 */
typedef void	(*acceptor_handoff)(void *arg, const struct accepted *);
/*
 * Non-zero while the taker of handed-off connections has left them for
 * ACCEPTOR_STALL_MS or more.
 */
#define ACCEPTOR_STALL_MS	500
typedef int	(*acceptor_stalled)(void *arg);

struct acceptor {
	int			 fd;
	const char		*text;		/* its address, for logs */
	const struct limit_ref	*limit;		/* max_connections, or NULL */
	const char		*name;		/* the service's, for logs */
	const struct conf_net	*net;		/* checked before the hand-off */
	const struct source_ref	*src;		/* per_source, or NULL */
	_Atomic unsigned long long *refused;	/* counts, by enum refusal */
	acceptor_handoff	 handoff;
	acceptor_stalled	 stalled;
	void			*arg;
	pthread_t		 thread;
	atomic_int		 stop;
	atomic_int		 running;
	/* The thread's own. */
	int			 reserve;	/* an fd kept for shedding */
	int			 starved;	/* out of fds or memory */
	int			 paused;	/* the loop is not taking */
	long			 shed;		/* connections shed meanwhile */
	long long		 full_said;	/* ms: "at max_connections" */
};

int	acceptor_start(struct acceptor *);
void	acceptor_stop(struct acceptor *);
/*
 * The one way to end an accepted fd that never becomes a connection.
 * why: said in a warning (NULL: the caller says it, or nothing).
 */
void	acceptor_drop(int fd, const struct limit_ref *,
	    const struct sockaddr_storage *, const char *why);
/*
 * Whether client may come in by the access rules, then per_source (an
 * entry taken into *source); if not, why, and *kind an enum refusal.
 */
int	acceptor_admit(const struct conf_net *, const struct source_ref *,
	    const struct sockaddr_storage *client, int *source, int *kind,
	    char *why, size_t whylen);

#endif
