/*
 * What master and worker say to each other: the messages on the control
 * socket between them, the heartbeat a worker writes in memory the
 * master reads, and the names both use for refusals and stops.  Anything
 * a worker writes here, the master checks before it acts on it (see
 * doc/design.md, "Trust between the master and its workers").
 */
#ifndef TCPD_PROTO_H
#define TCPD_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Why a connection was refused, as counted and shown by status. */
enum refusal {
	REFUSED_ACCESS,		/* an access rule, or none matched */
	REFUSED_PER_SOURCE,	/* per_source max_connections */
	REFUSED_RATE,		/* per_source rate */
	REFUSED_TABLE_FULL,	/* per_source table full */
	REFUSED_PROXY,		/* an untrusted proxy, or no good header */
	REFUSED_KINDS
};

/*
 * A worker's heartbeat, in memory shared with the master: the loop's
 * last wakeup (CLOCK_MONOTONIC ms), its open connections, and counts of
 * the connections accepted (refused ones too) and finished (a refused
 * one as soon as the loop takes it, though it lingers a while to end
 * politely), from which the master tells how many a worker that died
 * still held for its clients, and refused; and the process groups of
 * its programs, which the master ends if the worker dies.
 */
#define BEAT_GROUPS	1024

struct heartbeat {
	_Atomic long long		 ms;
	_Atomic unsigned		 conns;
	_Atomic unsigned long long	 accepted;
	_Atomic unsigned long long	 finished;
	_Atomic unsigned long long	 refused[REFUSED_KINDS];
	_Atomic unsigned long long	 bytes_in, bytes_out;
	_Atomic int			 groups[BEAT_GROUPS];	/* 0: free */
};

/* A heartbeat's cell: the struct in whole pages, so that it maps alone. */
size_t	beat_cell_size(void);

extern const char *const refusal_names[REFUSED_KINDS];

/*
 * How a worker is asked to stop: the one set of names the master, the
 * control socket and the worker all use.
 */
enum stop_how {
	STOP_NONE,
	STOP_RETIRE,	/* a successor took the slot, whose sockets stay:
			   stop accepting, finish the connections */
	STOP_DRAIN,	/* the sockets close with this worker: first serve
			   what is queued on them, then finish */
	STOP_FAST,	/* close everything now */
};

/*
 * On the control socket (SOCK_SEQPACKET, one message a packet).  Worker
 * to master: WORKER_READY once it accepts.  Master to worker: WORKER_STOP
 * with how and a deadline for the connections (0: none).
 */
#define WORKER_READY	'R'
#define WORKER_STOP	'S'
#define WORKER_METRICS	'M'	/* worker to master: the metrics, please */
#define WORKER_HEALTH	'H'	/* ... the health line (health.h) */
struct worker_msg {
	uint8_t		 type;
	uint8_t		 how;		/* enum stop_how; else 0 */
	uint16_t	 seq;		/* a question's number, for its answer;
					   else 0: no byte goes out unset */
	uint32_t	 timeout;	/* seconds, 0: none */
};

/*
 * Master to worker: the metrics text (the Prometheus text format) or the
 * health line, in pieces of at most WORKER_PIECE_MAX bytes after this
 * header; more is 0 on the last.
 */
#define WORKER_PIECE_MAX	32768
struct worker_piece {
	uint8_t		 type;		/* WORKER_METRICS, WORKER_HEALTH */
	uint8_t		 more;
	uint16_t	 seq;		/* the question's */
	uint32_t	 len;
};

#endif
