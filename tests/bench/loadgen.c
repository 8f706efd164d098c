/* loadgen: a closed-loop TCP echo load generator that checks every echoed byte. */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Payload pool: its size is no multiple of any message size. */
#define POOL_SIZE	((1u << 20) - 7)
/* The most one read() takes. */
#define READ_MAX	(64 * 1024)
/* Largest -s accepted. */
#define SIZE_MAX_ARG	(1024 * 1024)
/* No progress for this long: the connection has stalled. */
#define STALL_NS	1000000000LL
/* How often stalls are looked for. */
#define CHECK_NS	100000000LL
/* After the run, how long outstanding work may take to finish. */
#define DRAIN_NS	1500000000LL
/* How long connecting may take, per phase. */
#define CONNECT_NS	60000000000LL
/* How long the gate file may hold the run. */
#define GATE_NS		60000000000LL
/* Connections being set up at once while opening idle ones. */
#define CONNECT_WINDOW	32
/* Events taken per epoll_wait(). */
#define MAX_EVENTS	256
/* Errors described on stderr, per thread. */
#define LOG_ERRORS	5

/* Latency histogram: 64 linear sub-buckets per power of two (1.6 %). */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1 << HIST_SUB_BITS)
#define HIST_BUCKETS	((64 - HIST_SUB_BITS) * HIST_SUB)

#define NS_PER_S	1000000000LL

enum mode { MODE_RR, MODE_CRR, MODE_IDLE, MODE_STREAM, MODE_SPAWN };

enum state { ST_CONNECTING, ST_ACTIVE, ST_DRAINING, ST_DONE };

enum err_kind { ERR_CONNECT, ERR_RESET, ERR_EOF, ERR_OTHER, ERR_KINDS };

static const char *const err_names[ERR_KINDS] = {
	"connect", "reset", "eof", "other"
};

struct conn {
	int		 fd;
	enum state	 state;
	uint32_t	 base;		/* where its payload starts in the pool */
	uint32_t	 events;	/* what epoll watches for */
	uint64_t	 tx, rx;	/* bytes sent and received */
	uint64_t	 msg_end;	/* tx once the current message is out */
	int64_t		 op_start;
	int64_t		 progress;	/* last time a byte moved */
	int		 stalled;
	int		 shut;		/* spawn: our FIN is sent */
};

struct hist {
	uint64_t	 counts[HIST_BUCKETS];
	uint64_t	 total;
	int64_t		 max;
};

struct worker {
	pthread_t	 thread;
	int		 id;
	int		 epfd;
	struct conn	*conns;
	int		 nconns;
	int		 live;		/* connections not yet done */
	uint64_t	 rng;
	unsigned char	*buf;
	struct hist	 hist;
	uint64_t	 ops, bytes;
	uint64_t	 errors[ERR_KINDS];
	uint64_t	 mismatches, stalls;
	int		 logged;
	int64_t		 next_check;
};

struct options {
	enum mode		 mode;
	const char		*mode_name;
	struct sockaddr_in	 addr;
	int			 conns;
	size_t			 size;
	double			 seconds;
	double			 warmup;
	int			 threads;
	int			 idle;
	const char		*gate;
	pid_t			 cpu_pids[64];	/* -C: the server's */
	int			 ncpu_pids;
};

static struct options		 opt;
static unsigned char		*pool;
/* Set by the main thread before the threads start. */
static int64_t			 t_warm, t_end, t_quit;
/* The server's CPU time (user + system, ns) over the measured window. */
static long long		 cpu_ns = -1;

static int64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static uint64_t
xorshift(uint64_t *s)
{
	uint64_t	 x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Fill the payload pool; its head is repeated past its end so that any
 * run of up to tail bytes starting inside it is contiguous. */
static void
pool_init(size_t tail)
{
	uint64_t	 s = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();

	if ((pool = malloc(POOL_SIZE + tail)) == NULL) {
		perror("malloc");
		exit(2);
	}
	for (size_t i = 0; i < POOL_SIZE; i++)
		pool[i] = (unsigned char)(xorshift(&s) >> 24);
	for (size_t i = 0; i < tail; i++)
		pool[POOL_SIZE + i] = pool[i % POOL_SIZE];
}

static const unsigned char *
pool_at(const struct conn *c, uint64_t pos)
{
	return pool + (c->base + pos) % POOL_SIZE;
}

static int
hist_index(int64_t v)
{
	int	 msb, shift;

	if (v < 2 * HIST_SUB)
		return v < 0 ? 0 : (int)v;
	msb = 63 - __builtin_clzll((unsigned long long)v);
	shift = msb - HIST_SUB_BITS;
	return shift * HIST_SUB + (int)(v >> shift);
}

/* The middle of a bucket's range. */
static int64_t
hist_value(int i)
{
	int	 shift;

	if (i < 2 * HIST_SUB)
		return i;
	shift = i / HIST_SUB - 1;
	return ((int64_t)(i - shift * HIST_SUB) << shift) +
	    ((int64_t)1 << shift) / 2;
}

static void
hist_record(struct hist *h, int64_t ns)
{
	int	 i = hist_index(ns);

	if (i >= HIST_BUCKETS)
		i = HIST_BUCKETS - 1;
	h->counts[i]++;
	h->total++;
	if (ns > h->max)
		h->max = ns;
}

static void
hist_merge(struct hist *into, const struct hist *from)
{
	for (int i = 0; i < HIST_BUCKETS; i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
	if (from->max > into->max)
		into->max = from->max;
}

/* The value below which a fraction q of the samples lie, in ns. */
static int64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	 rank, seen = 0;
	int64_t		 v;

	if (h->total == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->total + 0.999999);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			v = hist_value(i);
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/* Count an error; the first few are described on stderr. */
static void
count_error(struct worker *w, enum err_kind kind, int err, const char *what)
{
	w->errors[kind]++;
	if (w->logged++ < LOG_ERRORS)
		fprintf(stderr, "loadgen: thread %d: %s error: %s%s%s\n", w->id,
		    err_names[kind], what, err ? ": " : "",
		    err ? strerror(err) : "");
}

static void
conn_watch(struct worker *w, struct conn *c, uint32_t events)
{
	struct epoll_event	 ev = { .events = events, .data.ptr = c };

	if (c->events == events)
		return;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		count_error(w, ERR_OTHER, errno, "epoll_ctl");
	c->events = events;
}

static void
conn_end(struct worker *w, struct conn *c)
{
	if (c->state == ST_DONE)
		return;
	close(c->fd);
	c->fd = -1;
	c->state = ST_DONE;
	w->live--;
}

/* An error ends the connection; it is not replaced. */
static void
conn_fail(struct worker *w, struct conn *c, enum err_kind kind, int err,
    const char *what)
{
	count_error(w, kind, err, what);
	conn_end(w, c);
}

/* Start a non-blocking connect; the socket is watched for its outcome. */
static int
conn_open(struct worker *w, struct conn *c, int64_t now)
{
	struct epoll_event	 ev;
	int			 on = 1;

	memset(c, 0, sizeof(*c));
	c->base = (uint32_t)(xorshift(&w->rng) % POOL_SIZE);
	c->op_start = c->progress = now;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		c->state = ST_DONE;
		count_error(w, ERR_CONNECT, errno, "socket");
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	c->state = ST_CONNECTING;
	w->live++;
	if (connect(c->fd, (const struct sockaddr *)&opt.addr,
	    sizeof(opt.addr)) == -1 && errno != EINPROGRESS) {
		conn_fail(w, c, ERR_CONNECT, errno, "connect");
		return -1;
	}
	c->events = EPOLLOUT;
	ev.events = c->events;
	ev.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		conn_fail(w, c, ERR_OTHER, errno, "epoll_ctl");
		return -1;
	}
	return 0;
}

/* The connect has finished: did it succeed? */
static int
conn_connected(struct worker *w, struct conn *c, int64_t now)
{
	int		 err = 0;
	socklen_t	 len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		conn_fail(w, c, ERR_CONNECT, err, "connect");
		return -1;
	}
	c->state = ST_ACTIVE;
	c->progress = now;
	conn_watch(w, c, EPOLLIN);
	return 0;
}

/* Send what is left of the current message (rr, crr). */
static void
send_message(struct worker *w, struct conn *c, int64_t now)
{
	ssize_t	 n;

	while (c->tx < c->msg_end) {
		n = send(c->fd, pool_at(c, c->tx), c->msg_end - c->tx,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->tx += (uint64_t)n;
			c->progress = now;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			conn_watch(w, c, EPOLLIN | EPOLLOUT);
			return;
		}
		conn_fail(w, c, errno == ECONNRESET || errno == EPIPE ?
		    ERR_RESET : ERR_OTHER, errno, "send");
		return;
	}
	conn_watch(w, c, EPOLLIN);
}

static void
start_message(struct worker *w, struct conn *c, int64_t now)
{
	c->msg_end = c->tx + opt.size;
	c->op_start = now;
	c->progress = now;
	send_message(w, c, now);
}

/* Compare n received bytes with what was sent; count those that differ. */
static void
verify(struct worker *w, const struct conn *c, const unsigned char *buf,
    size_t n)
{
	const unsigned char	*want = pool_at(c, c->rx);

	if (memcmp(buf, want, n) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (buf[i] != want[i])
			w->mismatches++;
}

/*
 * Read what the server echoed.  Returns the bytes taken, 0 when nothing
 * was there, -1 when the connection has ended.  Bytes beyond what was
 * sent are counted as mismatched.
 */
static ssize_t
receive(struct worker *w, struct conn *c, int64_t now)
{
	uint64_t	 owed = c->tx - c->rx;
	size_t		 want = owed > 0 && owed < READ_MAX ? owed : READ_MAX;
	ssize_t		 n;

	do {
		n = recv(c->fd, w->buf, want, 0);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno == EAGAIN)
			return 0;
		conn_fail(w, c, errno == ECONNRESET ? ERR_RESET : ERR_OTHER,
		    errno, "recv");
		return -1;
	}
	if (n == 0) {
		conn_fail(w, c, ERR_EOF, 0,
		    owed > 0 ? "server closed with the echo incomplete" :
		    "server closed the connection");
		return -1;
	}
	if ((uint64_t)n > owed) {
		w->mismatches += (uint64_t)n - owed;
		n = (ssize_t)owed;
	}
	verify(w, c, w->buf, (size_t)n);
	c->rx += (uint64_t)n;
	c->progress = now;
	return n;
}

static int
in_window(int64_t t)
{
	return t >= t_warm && t < t_end;
}

/* A message came back whole: record it and go on. */
static void
message_done(struct worker *w, struct conn *c, int64_t now)
{
	if (in_window(now)) {
		hist_record(&w->hist, now - c->op_start);
		w->ops++;
		w->bytes += opt.size;
	}
	if (opt.mode == MODE_CRR) {
		conn_end(w, c);
		if (now < t_end && conn_open(w, c, now) == 0)
			c->op_start = now;
		return;
	}
	if (now < t_end)
		start_message(w, c, now);
	else
		conn_end(w, c);
}

/* One epoll event on a request-response connection (rr, crr, idle). */
static void
rr_event(struct worker *w, struct conn *c, uint32_t ev, int64_t now)
{
	int64_t	 started = c->op_start;

	if (c->state == ST_CONNECTING) {
		if (conn_connected(w, c, now) == -1)
			return;
		if (opt.mode == MODE_CRR) {
			start_message(w, c, now);
			c->op_start = started;	/* the connect counts */
		}
		return;
	}
	if ((ev & EPOLLOUT) && c->tx < c->msg_end) {
		send_message(w, c, now);
		if (c->state == ST_DONE)
			return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if (receive(w, c, now) == -1)
			return;
		if (c->rx == c->msg_end && c->tx == c->msg_end)
			message_done(w, c, now);
	}
}

/* spawn: once the message is out, half-close (shutdown SHUT_WR). */
static void
spawn_shut(struct worker *w, struct conn *c)
{
	if (c->shut || c->state != ST_ACTIVE || c->tx < c->msg_end ||
	    opt.size == 0)
		return;
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_fail(w, c, errno == ENOTCONN ? ERR_RESET : ERR_OTHER,
		    errno, "shutdown");
		return;
	}
	c->shut = 1;
	conn_watch(w, c, EPOLLIN);
}

/*
 * spawn: read what the program sent until EOF.  A whole echo (none when
 * nothing was sent) then EOF completes the connection, which is closed
 * and replaced by a new one; EOF before the whole echo is an error.
 */
static void
spawn_receive(struct worker *w, struct conn *c, int64_t now)
{
	uint64_t	 owed;
	ssize_t		 n;

	for (;;) {
		owed = c->tx - c->rx;
		do {
			n = recv(c->fd, w->buf, READ_MAX, 0);
		} while (n == -1 && errno == EINTR);
		if (n == -1) {
			if (errno == EAGAIN)
				return;
			conn_fail(w, c, errno == ECONNRESET ? ERR_RESET :
			    ERR_OTHER, errno, "recv");
			return;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > owed) {
			w->mismatches += (uint64_t)n - owed;
			n = (ssize_t)owed;
		}
		verify(w, c, w->buf, (size_t)n);
		c->rx += (uint64_t)n;
		c->progress = now;
	}
	if (c->tx < c->msg_end || c->rx < c->tx) {
		conn_fail(w, c, ERR_EOF, 0,
		    "server closed with the echo incomplete");
		return;
	}
	if (in_window(now)) {
		hist_record(&w->hist, now - c->op_start);
		w->ops++;
		w->bytes += opt.size;
	}
	conn_end(w, c);
	if (now < t_end)
		conn_open(w, c, now);
}

/* One epoll event on a spawn connection. */
static void
spawn_event(struct worker *w, struct conn *c, uint32_t ev, int64_t now)
{
	int64_t	 started = c->op_start;

	if (c->state == ST_CONNECTING) {
		if (conn_connected(w, c, now) == -1)
			return;
		if (opt.size > 0) {
			start_message(w, c, now);
			c->op_start = started;	/* the connect counts */
			if (c->state == ST_DONE)
				return;
			spawn_shut(w, c);
		}
		return;
	}
	if ((ev & EPOLLOUT) && c->tx < c->msg_end) {
		send_message(w, c, now);
		if (c->state == ST_DONE)
			return;
		spawn_shut(w, c);
		if (c->state == ST_DONE)
			return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		spawn_receive(w, c, now);
}

/* Write one chunk of the endless stream. */
static void
stream_send(struct worker *w, struct conn *c, int64_t now)
{
	ssize_t	 n;

	n = send(c->fd, pool_at(c, c->tx), opt.size, MSG_NOSIGNAL);
	if (n > 0) {
		c->tx += (uint64_t)n;
		c->progress = now;
	} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		conn_fail(w, c, errno == ECONNRESET || errno == EPIPE ?
		    ERR_RESET : ERR_OTHER, errno, "send");
	}
}

/* One epoll event on a stream connection. */
static void
stream_event(struct worker *w, struct conn *c, uint32_t ev, int64_t now)
{
	ssize_t	 n;

	if (c->state == ST_CONNECTING) {
		conn_connected(w, c, now);
		return;
	}
	if ((ev & EPOLLOUT) && c->state == ST_ACTIVE) {
		stream_send(w, c, now);
		if (c->state == ST_DONE)
			return;
	}
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
		if ((n = receive(w, c, now)) == -1)
			return;
		if (in_window(now))
			w->bytes += (uint64_t)n;
	}
	if (c->state == ST_DRAINING && c->rx == c->tx)
		conn_end(w, c);
}

/* Count the connections with work outstanding that moved nothing for a
 * second, once per episode. */
static void
check_stalls(struct worker *w, int64_t now)
{
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == ST_DONE)
			continue;
		if (now - c->progress > STALL_NS) {
			if (!c->stalled) {
				c->stalled = 1;
				w->stalls++;
				if (w->logged++ < LOG_ERRORS)
					fprintf(stderr, "loadgen: thread %d: "
					    "connection %d stalled (sent %llu, "
					    "received %llu)\n", w->id, i,
					    (unsigned long long)c->tx,
					    (unsigned long long)c->rx);
			}
		} else
			c->stalled = 0;
	}
}

/* Wait for events until deadline and dispatch them. */
static void
poll_once(struct worker *w, int64_t deadline)
{
	struct epoll_event	 evs[MAX_EVENTS];
	int64_t			 now = now_ns(), wait;
	int			 n;

	wait = (deadline - now) / 1000000;
	if (wait > CHECK_NS / 1000000)
		wait = CHECK_NS / 1000000;
	if (wait < 0)
		wait = 0;
	n = epoll_wait(w->epfd, evs, MAX_EVENTS, (int)wait);
	now = now_ns();
	for (int i = 0; i < n; i++) {
		struct conn *c = evs[i].data.ptr;

		if (c->state == ST_DONE)
			continue;
		if (opt.mode == MODE_STREAM)
			stream_event(w, c, evs[i].events, now);
		else if (opt.mode == MODE_SPAWN)
			spawn_event(w, c, evs[i].events, now);
		else
			rr_event(w, c, evs[i].events, now);
	}
	if (now >= w->next_check) {
		check_stalls(w, now);
		w->next_check = now + CHECK_NS;
	}
}

/* Stop starting work: streams stop writing and wait for their echo. */
static void
begin_drain(struct worker *w)
{
	if (opt.mode != MODE_STREAM)
		return;
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (c->state != ST_ACTIVE)
			continue;
		c->state = ST_DRAINING;
		c->progress = now_ns();
		if (c->rx == c->tx)
			conn_end(w, c);
		else
			conn_watch(w, c, EPOLLIN);
	}
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	int64_t		 now;

	now = now_ns();
	w->next_check = now + CHECK_NS;
	for (int i = 0; i < w->nconns; i++) {
		struct conn *c = &w->conns[i];

		if (opt.mode == MODE_CRR || opt.mode == MODE_SPAWN)
			conn_open(w, c, now);
		else if (c->state == ST_ACTIVE) {
			c->progress = now;
			if (opt.mode == MODE_STREAM)
				conn_watch(w, c, EPOLLIN | EPOLLOUT);
			else
				start_message(w, c, now);
		}
	}
	while (w->live > 0 && (now = now_ns()) < t_end)
		poll_once(w, t_end);
	begin_drain(w);
	while (w->live > 0 && (now = now_ns()) < t_quit)
		poll_once(w, t_quit);
	check_stalls(w, now_ns());
	for (int i = 0; i < w->nconns; i++)
		conn_end(w, &w->conns[i]);
	return NULL;
}

/* A connection being opened: connecting, then its one-byte ping. */
struct opening {
	int		 fd;
	int		 pinged;
	unsigned char	 ping;
};

/* Drop a connection that could not be opened. */
static void
opening_fail(struct worker *w, struct opening *o, enum err_kind kind, int err,
    const char *what)
{
	count_error(w, kind, err, what);
	close(o->fd);
	o->fd = -1;
}

/* Start connecting in slot o; -1 when that failed at once. */
static int
opening_start(struct worker *w, struct opening *o, int index)
{
	struct epoll_event	 ev = { .events = EPOLLOUT, .data.u32 = (uint32_t)index };
	int			 on = 1;

	o->pinged = 0;
	o->ping = (unsigned char)(xorshift(&w->rng) >> 32);
	o->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (o->fd == -1) {
		count_error(w, ERR_CONNECT, errno, "socket");
		return -1;
	}
	setsockopt(o->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (connect(o->fd, (const struct sockaddr *)&opt.addr,
	    sizeof(opt.addr)) == -1 && errno != EINPROGRESS) {
		opening_fail(w, o, ERR_CONNECT, errno, "connect");
		return -1;
	}
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, o->fd, &ev) == -1) {
		opening_fail(w, o, ERR_OTHER, errno, "epoll_ctl");
		return -1;
	}
	return 0;
}

/* Move slot o on after an event; 1 once its ping has come back. */
static int
opening_step(struct worker *w, struct opening *o, int index)
{
	struct epoll_event	 ev = { .events = EPOLLIN, .data.u32 = (uint32_t)index };
	int			 err = 0;
	socklen_t		 len = sizeof(err);
	unsigned char		 got;
	ssize_t			 n;

	if (!o->pinged) {
		if (getsockopt(o->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
			err = errno;
		if (err != 0) {
			opening_fail(w, o, ERR_CONNECT, err, "connect");
			return 0;
		}
		if (send(o->fd, &o->ping, 1, MSG_NOSIGNAL) != 1) {
			opening_fail(w, o, ERR_RESET, errno, "send");
			return 0;
		}
		o->pinged = 1;
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, o->fd, &ev);
		return 0;
	}
	n = recv(o->fd, &got, 1, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n != 1) {
		opening_fail(w, o, n == 0 ? ERR_EOF : ERR_RESET,
		    n == 0 ? 0 : errno, "first echo");
		return 0;
	}
	if (got != o->ping)
		w->mismatches++;
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, o->fd, NULL);
	return 1;
}

/*
 * Open count connections, CONNECT_WINDOW at a time, before the clock
 * starts.  A connection counts as open once one byte has gone through
 * it and come back, so the server has taken it (a server that accepts
 * slowly is not flooded past its listen backlog).  Returns how many
 * opened; their fds are in fds.
 */
static int
open_conns(struct worker *w, int *fds, int count)
{
	struct opening		 slots[CONNECT_WINDOW];
	struct epoll_event	 evs[MAX_EVENTS];
	int64_t			 deadline = now_ns() + CONNECT_NS;
	int			 started = 0, open = 0, pending = 0, n;

	for (int i = 0; i < CONNECT_WINDOW; i++)
		slots[i].fd = -1;
	while ((started < count || pending > 0) && now_ns() < deadline) {
		for (int i = 0; i < CONNECT_WINDOW && started < count; i++) {
			if (slots[i].fd != -1)
				continue;
			started++;
			if (opening_start(w, &slots[i], i) == 0)
				pending++;
		}
		n = epoll_wait(w->epfd, evs, MAX_EVENTS, 100);
		for (int i = 0; i < n; i++) {
			int index = (int)evs[i].data.u32;
			struct opening *o = &slots[index];

			if (o->fd == -1)
				continue;
			if (opening_step(w, o, index)) {
				fds[open++] = o->fd;
				o->fd = -1;
			}
			if (o->fd == -1)
				pending--;
		}
	}
	for (int i = 0; i < CONNECT_WINDOW; i++)
		if (slots[i].fd != -1)
			opening_fail(w, &slots[i], ERR_CONNECT, ETIMEDOUT,
			    "connect");
	if (open < count) {
		w->errors[ERR_CONNECT] += (uint64_t)(count - started);
		fprintf(stderr, "loadgen: only %d of %d connections opened\n",
		    open, count);
	}
	return open;
}

/* Idle connections must still be open, with nothing to read. */
static void
check_idle(struct worker *w, const int *fds, int count)
{
	struct pollfd	 pfds[1024];
	int		 n;

	for (int i = 0; i < count; i += n) {
		n = count - i < 1024 ? count - i : 1024;
		for (int j = 0; j < n; j++) {
			pfds[j].fd = fds[i + j];
			pfds[j].events = POLLIN | POLLRDHUP;
			pfds[j].revents = 0;
		}
		if (poll(pfds, (nfds_t)n, 0) <= 0)
			continue;
		for (int j = 0; j < n; j++)
			if (pfds[j].revents)
				count_error(w, ERR_EOF, 0,
				    "an idle connection was closed or sent data");
	}
}

/*
 * The CPU time of process pid (all its threads, live or ended), in ns:
 * its CPU-time clock, which counts to the nanosecond, where utime and
 * stime count in clock ticks (10 ms: 7% of 0.14 s).  -1 if none.
 */
static long long
process_cpu_ns(pid_t pid)
{
	struct timespec	 ts;
	clockid_t	 clk;

	if (clock_getcpuclockid(pid, &clk) != 0 ||
	    clock_gettime(clk, &ts) == -1)
		return -1;
	return (long long)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/*
 * CPU time, in ns, summed over the -C processes (each with all its
 * threads, live or ended); from utime + stime, in ticks, where the
 * clock cannot be read; -1 if neither can.
 */
static long long
server_cpu_ns(void)
{
	char		 path[64], buf[1024], *p;
	long long	 sum = 0, ut, st, ns;
	FILE		*f;
	int		 ok;

	for (int i = 0; i < opt.ncpu_pids; i++) {
		if ((ns = process_cpu_ns(opt.cpu_pids[i])) >= 0) {
			sum += ns;
			continue;
		}
		snprintf(path, sizeof(path), "/proc/%ld/stat",
		    (long)opt.cpu_pids[i]);
		if ((f = fopen(path, "r")) == NULL)
			return -1;
		ok = fgets(buf, sizeof(buf), f) != NULL;
		fclose(f);
		/* After the name, which may hold spaces: fields 3 on. */
		if (!ok || (p = strrchr(buf, ')')) == NULL ||
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
		    "%lld %lld", &ut, &st) != 2)
			return -1;
		sum += (ut + st) * NS_PER_S / sysconf(_SC_CLK_TCK);
	}
	return sum;
}

static void
sleep_until(int64_t t)
{
	int64_t		 d;
	struct timespec	 ts;

	while ((d = t - now_ns()) > 0) {
		ts.tv_sec = d / NS_PER_S;
		ts.tv_nsec = d % NS_PER_S;
		nanosleep(&ts, NULL);
	}
}

/* Create the gate file, then wait (bounded) for someone to remove it. */
static void
hold_gate(int open)
{
	struct stat	 st;
	int64_t		 deadline = now_ns() + GATE_NS;
	FILE		*f;

	if ((f = fopen(opt.gate, "w")) == NULL) {
		perror(opt.gate);
		return;
	}
	fprintf(f, "%d\n", open);
	fclose(f);
	while (stat(opt.gate, &st) == 0 && now_ns() < deadline)
		usleep(10000);
	if (stat(opt.gate, &st) == 0) {
		fprintf(stderr, "loadgen: gate %s not removed in time\n",
		    opt.gate);
		unlink(opt.gate);
	}
}

static void
raise_nofile(rlim_t need)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		fprintf(stderr, "loadgen: need %llu file descriptors, the limit "
		    "is %llu\n", (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
		exit(2);
	}
}

static void
on_alarm(int sig)
{
	static const char msg[] = "loadgen: hard time limit reached\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-h host] [-p port] [-c conns] [-s size] "
	    "[-d seconds] [-t threads]\n"
	    "               [-k idle_conns] [-w warmup_seconds] [-g gate_file] "
	    "rr|crr|idle|stream|spawn\n");
	exit(2);
}

static long
parse_long(const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		usage();
	return v;
}

static double
parse_seconds(const char *s)
{
	char	*end;
	double	 v;

	v = strtod(s, &end);
	if (*end != '\0' || end == s || !(v >= 0) || v > 3600)
		usage();
	return v;
}

/* -C pid,pid,...: the processes whose CPU time is the server's. */
static void
parse_pids(const char *arg)
{
	char	*copy, *tok, *save = NULL;

	if ((copy = strdup(arg)) == NULL)
		exit(2);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (opt.ncpu_pids == (int)(sizeof(opt.cpu_pids) /
		    sizeof(opt.cpu_pids[0])))
			usage();
		opt.cpu_pids[opt.ncpu_pids++] = (pid_t)parse_long(tok, 1,
		    INT_MAX);
	}
	free(copy);
}

static void
parse_args(int argc, char **argv)
{
	const char	*host = "127.0.0.1";
	long		 port = 7;
	int		 ch, size_set = 0;

	opt.conns = -1;
	opt.size = 64;
	opt.seconds = 3;
	opt.warmup = 1;
	opt.threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	while ((ch = getopt(argc, argv, "h:p:c:s:d:t:k:w:g:C:")) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': port = parse_long(optarg, 1, 65535); break;
		case 'c': opt.conns = (int)parse_long(optarg, 1, 1000000); break;
		case 's':
			opt.size = (size_t)parse_long(optarg, 0, SIZE_MAX_ARG);
			size_set = 1;
			break;
		case 'd': opt.seconds = parse_seconds(optarg); break;
		case 't': opt.threads = (int)parse_long(optarg, 1, 256); break;
		case 'k': opt.idle = (int)parse_long(optarg, 0, 1000000); break;
		case 'w': opt.warmup = parse_seconds(optarg); break;
		case 'g': opt.gate = optarg; break;
		case 'C': parse_pids(optarg); break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	opt.mode_name = argv[optind];
	if (strcmp(opt.mode_name, "rr") == 0)
		opt.mode = MODE_RR;
	else if (strcmp(opt.mode_name, "crr") == 0)
		opt.mode = MODE_CRR;
	else if (strcmp(opt.mode_name, "idle") == 0)
		opt.mode = MODE_IDLE;
	else if (strcmp(opt.mode_name, "stream") == 0)
		opt.mode = MODE_STREAM;
	else if (strcmp(opt.mode_name, "spawn") == 0)
		opt.mode = MODE_SPAWN;
	else
		usage();
	/* Only spawn sends nothing (-s 0), and that is its default. */
	if (opt.mode == MODE_SPAWN && !size_set)
		opt.size = 0;
	if (opt.size == 0 && opt.mode != MODE_SPAWN)
		usage();
	if (opt.conns == -1)
		opt.conns = opt.mode == MODE_IDLE ? 16 : 1;
	if (opt.mode == MODE_STREAM && !size_set)
		opt.size = 64 * 1024;
	if (opt.mode == MODE_IDLE && opt.idle == 0)
		opt.idle = 1000;
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
	if (opt.threads < 1)
		opt.threads = 1;

	memset(&opt.addr, 0, sizeof(opt.addr));
	opt.addr.sin_family = AF_INET;
	opt.addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &opt.addr.sin_addr) != 1) {
		fprintf(stderr, "loadgen: %s: not an IPv4 address\n", host);
		exit(2);
	}
	/* Load is only ever aimed at this machine. */
	if ((ntohl(opt.addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "loadgen: %s: only loopback (127.0.0.0/8) "
		    "targets are allowed\n", host);
		exit(2);
	}
}

/* Print the one-line result; returns the number of failures. */
static uint64_t
report(struct worker **ws, const struct worker *opener, int idle_open,
    double elapsed)
{
	struct hist	*h;
	uint64_t	 ops = 0, bytes = 0, errors[ERR_KINDS] = { 0 };
	uint64_t	 err_total = 0, mismatches = 0, stalls = 0;
	double		 secs = elapsed > 0 ? elapsed : 1;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		perror("calloc");
		exit(2);
	}
	for (int i = 0; i < opt.threads; i++) {
		hist_merge(h, &ws[i]->hist);
		ops += ws[i]->ops;
		bytes += ws[i]->bytes;
		mismatches += ws[i]->mismatches;
		stalls += ws[i]->stalls;
		for (int k = 0; k < ERR_KINDS; k++)
			errors[k] += ws[i]->errors[k];
	}
	mismatches += opener->mismatches;
	for (int k = 0; k < ERR_KINDS; k++)
		errors[k] += opener->errors[k];
	for (int k = 0; k < ERR_KINDS; k++)
		err_total += errors[k];

	printf("case=%s conns=%d size=%zu threads=%d seconds=%.2f",
	    opt.mode_name, opt.conns, opt.size, opt.threads, opt.seconds);
	if (opt.mode == MODE_IDLE)
		printf(" idle=%d", idle_open);
	if (opt.mode == MODE_STREAM)
		printf(" ops=na ops_s=na p50_us=na p99_us=na max_us=na");
	else
		printf(" ops=%llu ops_s=%.0f p50_us=%.1f p99_us=%.1f "
		    "max_us=%.1f", (unsigned long long)ops, (double)ops / secs,
		    hist_quantile(h, 0.50) / 1e3, hist_quantile(h, 0.99) / 1e3,
		    h->max / 1e3);
	if (opt.ncpu_pids > 0 && cpu_ns >= 0 && ops > 0 &&
	    opt.mode != MODE_STREAM)
		printf(" srv_cpu_s=%.3f cpu_us_op=%.2f", (double)cpu_ns / 1e9,
		    (double)cpu_ns / 1e3 / ops);
	else if (opt.ncpu_pids > 0)
		printf(" srv_cpu_s=na cpu_us_op=na");
	printf(" mbps=%.2f errors=%llu mismatches=%llu stalls=%llu\n",
	    (double)bytes / secs / 1e6, (unsigned long long)err_total,
	    (unsigned long long)mismatches, (unsigned long long)stalls);
	fflush(stdout);
	if (err_total > 0) {
		fprintf(stderr, "loadgen: errors:");
		for (int k = 0; k < ERR_KINDS; k++)
			fprintf(stderr, " %s=%llu", err_names[k],
			    (unsigned long long)errors[k]);
		fprintf(stderr, "\n");
	}
	free(h);
	return err_total + mismatches + stalls;
}

/* Give an opened connection to a worker, ready for the clock to start. */
static void
adopt(struct worker *w, struct conn *c, int fd)
{
	struct epoll_event	 ev = { .events = EPOLLIN, .data.ptr = c };

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->state = ST_DONE;
	if (fd == -1)
		return;
	c->base = (uint32_t)(xorshift(&w->rng) % POOL_SIZE);
	c->events = EPOLLIN;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		count_error(w, ERR_OTHER, errno, "epoll_ctl");
		close(fd);
		c->fd = -1;
		return;
	}
	c->state = ST_ACTIVE;
	w->live++;
}

static struct worker *
worker_new(int id)
{
	struct worker	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("loadgen: setup");
		exit(2);
	}
	w->id = id;
	w->rng = 0x2545f4914f6cdd1dULL * (uint64_t)(id + 2) ^
	    (uint64_t)now_ns();
	return w;
}

int
main(int argc, char **argv)
{
	struct worker	**ws, *opener;
	int		*fds, nfds, idle_open = 0, conns_open = 0, per, extra;
	uint64_t	 failures;
	double		 limit;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile((rlim_t)opt.conns + (rlim_t)opt.idle + 64);

	/* A backstop: whatever happens, the process ends. */
	limit = opt.warmup + opt.seconds + (CONNECT_NS + CONNECT_NS +
	    GATE_NS + DRAIN_NS) / 1e9 + 10;
	signal(SIGALRM, on_alarm);
	alarm((unsigned)limit);

	pool_init(opt.size > READ_MAX ? opt.size : READ_MAX);

	/* Connections are opened here, before any thread starts. */
	opener = worker_new(-1);
	nfds = opt.idle + opt.conns;
	if ((fds = calloc((size_t)nfds, sizeof(*fds))) == NULL ||
	    (ws = calloc((size_t)opt.threads, sizeof(*ws))) == NULL) {
		perror("calloc");
		return 2;
	}
	if (opt.mode == MODE_IDLE)
		idle_open = open_conns(opener, fds, opt.idle);
	if (opt.mode != MODE_CRR && opt.mode != MODE_SPAWN && opt.seconds > 0)
		conns_open = open_conns(opener, fds + idle_open, opt.conns);
	if (opt.gate != NULL)
		hold_gate(idle_open);

	per = opt.conns / opt.threads;
	extra = opt.conns % opt.threads;
	for (int i = 0, k = 0; i < opt.threads; i++) {
		struct worker *w = ws[i] = worker_new(i);

		w->nconns = per + (i < extra);
		w->conns = calloc((size_t)w->nconns, sizeof(*w->conns));
		w->buf = malloc(READ_MAX);
		if (w->conns == NULL || w->buf == NULL) {
			perror("loadgen: setup");
			return 2;
		}
		for (int j = 0; j < w->nconns; j++, k++)
			if (opt.mode != MODE_CRR && opt.mode != MODE_SPAWN)
				adopt(w, &w->conns[j],
				    k < conns_open ? fds[idle_open + k] : -1);
	}

	if (opt.seconds > 0) {
		t_warm = now_ns() + (int64_t)(opt.warmup * NS_PER_S);
		t_end = t_warm + (int64_t)(opt.seconds * NS_PER_S);
		t_quit = t_end + DRAIN_NS;
		for (int i = 0; i < opt.threads; i++)
			if (pthread_create(&ws[i]->thread, NULL, worker_main,
			    ws[i]) != 0) {
				fprintf(stderr, "loadgen: pthread_create\n");
				return 2;
			}
		if (opt.ncpu_pids > 0) {
			long long t0, t1;

			sleep_until(t_warm);
			t0 = server_cpu_ns();
			sleep_until(t_end);
			t1 = server_cpu_ns();
			if (t0 >= 0 && t1 >= t0)
				cpu_ns = t1 - t0;
		}
		for (int i = 0; i < opt.threads; i++)
			pthread_join(ws[i]->thread, NULL);
	}

	if (opt.mode == MODE_IDLE) {
		check_idle(opener, fds, idle_open);
		for (int i = 0; i < idle_open; i++)
			close(fds[i]);
	}
	failures = report(ws, opener, idle_open, opt.seconds);
	return failures > 0 ? 1 : 0;
}
