/* A worker: acceptor threads on its slot sockets, connections on epoll. */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conn.h"
#include "limit.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "proctitle.h"
#include "sig.h"
#include "spawn.h"
#include "util.h"
#include "worker.h"

/* Reads land here; connections hold a buffer only for unsent output. */
#define SCRATCH_SIZE	(64 * 1024)

/* A connection accepted by an acceptor, waiting for the event loop. */
struct accepted {
	int			 fd;
	socklen_t		 len;
	struct sockaddr_storage	 peer;
};

/* The longest a worker spends taking what is queued before it stops. */
#define DRAIN_MAX_MS	2000

enum stop { RUNNING, STOP_DRAIN, STOP_GRACEFUL, STOP_FAST };

struct worker {
	const struct conf		*conf;
	const struct conf_service	*svc;
	int				 slot;
	struct limit			*limit;
	int				 cell;
	struct heartbeat		*beat;
	int				 beat_ms;	/* 0: no watchdog */
	struct loop			 loop;
	struct io			 sig_io;
	struct io			 ctl_io;
	struct io			 queue_io;	/* eventfd */

	/* Filled by the acceptors, emptied by the loop. */
	pthread_mutex_t			 lock;
	_Atomic long long		 queue_since;	/* ms; 0: empty */
	struct accepted			*queue, *spare;
	size_t				 queued, queuecap, sparecap;

	struct acceptor			*acceptors;
	int				 nacceptors;
	const int			*fds;

	struct conn_set			 conns;
	enum stop			 request;	/* from signals */
	enum stop			 stopping;
	int64_t				 deadline;
	char				 scratch[SCRATCH_SIZE];
};

/* Runs in an acceptor thread. */
static void
worker_handoff(void *arg, int fd, const struct sockaddr_storage *peer,
    socklen_t len)
{
	struct worker	*w = arg;
	struct accepted	*q;
	int		 wake;
	uint64_t	 one = 1;

	atomic_fetch_add_explicit(&w->beat->accepted, 1, memory_order_relaxed);
	pthread_mutex_lock(&w->lock);
	if (w->queued == w->queuecap) {
		size_t cap = w->queuecap ? w->queuecap * 2 : 64;
		if ((q = realloc(w->queue, cap * sizeof(*q))) == NULL) {
			pthread_mutex_unlock(&w->lock);
			log_warnx("%s: out of memory, dropping a connection",
			    w->svc->name);
			close(fd);
			return;
		}
		w->queue = q;
		w->queuecap = cap;
	}
	q = &w->queue[w->queued++];
	q->fd = fd;
	q->len = len;
	memcpy(&q->peer, peer, len);
	/* The loop empties the whole queue per wakeup: one wakeup will do. */
	wake = (w->queued == 1);
	if (wake)
		atomic_store(&w->queue_since, loop_now_ms());
	pthread_mutex_unlock(&w->lock);
	if (wake && write(w->queue_io.fd, &one, sizeof(one)) == -1)
		log_warn("%s: eventfd", w->svc->name);
}

/* Runs in an acceptor thread: has the loop left the queue too long? */
static int
worker_stalled(void *arg)
{
	struct worker	*w = arg;
	long long	 since = atomic_load(&w->queue_since);

	return since != 0 && loop_now_ms() - since >= LISTENER_STALL_MS;
}

/* Take what the acceptors queued and give it to the handler. */
static void
worker_take(struct worker *w)
{
	struct accepted	*batch;
	size_t		 n, cap;
	uint64_t	 count;

	if (read(w->queue_io.fd, &count, sizeof(count)) == -1 &&
	    errno != EAGAIN)
		log_warn("%s: eventfd", w->svc->name);
	pthread_mutex_lock(&w->lock);
	batch = w->queue;
	n = w->queued;
	cap = w->queuecap;
	w->queue = w->spare;
	w->queuecap = w->sparecap;
	w->queued = 0;
	atomic_store(&w->queue_since, 0);
	pthread_mutex_unlock(&w->lock);

	for (size_t i = 0; i < n; i++) {
		if (conn_new(&w->conns, batch[i].fd, &batch[i].peer,
		    batch[i].len) == NULL) {
			log_warn("%s: cannot take a connection", w->svc->name);
			close(batch[i].fd);
			if (w->limit != NULL)
				limit_release(w->limit, w->cell,
				    w->svc->max_connections);
		}
	}
	w->spare = batch;
	w->sparecap = cap;
}

static void
worker_queue_cb(struct io *io, uint32_t ev)
{
	struct worker	*w = container_of(io, struct worker, queue_io);

	(void)ev;
	worker_take(w);
}

static void
worker_sig_cb(struct io *io, uint32_t ev)
{
	struct worker	*w = container_of(io, struct worker, sig_io);
	int		 sig;

	(void)ev;
	while ((sig = sig_read(io->fd)) > 0) {
		if (sig == SIGCHLD)
			spawn_reap(&w->conns);
#ifdef TCPD_TEST_HOOKS
		/* Tests only: hang this loop, as a bug in a handler might. */
		else if (sig == SIGUSR1)
			for (;;)
				pause();
#endif
		else if (sig == SIGQUIT && w->request == RUNNING)
			w->request = STOP_GRACEFUL;
		else if (sig == SIGTERM || sig == SIGINT)
			w->request = STOP_FAST;
	}
}

/* A message from the master, or EOF: the master is gone, so is this worker. */
static void
worker_ctl_cb(struct io *io, uint32_t ev)
{
	struct worker	*w = container_of(io, struct worker, ctl_io);
	char		 msg;
	ssize_t		 n;

	(void)ev;
	n = recv(io->fd, &msg, 1, MSG_DONTWAIT);
	if (n == 1 && w->request == RUNNING) {
		if (msg == WORKER_QUIT)
			w->request = STOP_GRACEFUL;
		else if (msg == WORKER_DRAIN)
			w->request = STOP_DRAIN;
		return;
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		log_warnx("%s slot %d: master gone, stopping", w->svc->name,
		    w->slot);
		loop_del(&w->loop, io);
		w->request = STOP_FAST;
	}
}

/*
 * Stop accepting: the acceptors end, what they accepted is served, and
 * this process's copies of the slot sockets close.  The master keeps its
 * own, so connections still queued on them wait for the next worker.
 */
static void
worker_stop_accepting(struct worker *w)
{
	for (int i = 0; i < w->nacceptors; i++)
		listener_stop(&w->acceptors[i]);
	worker_take(w);
	for (int i = 0; i < w->nacceptors; i++)
		close(w->acceptors[i].fd);
	w->nacceptors = 0;
}

static void __attribute__((noreturn))
worker_exit(struct worker *w, const char *why)
{
	conn_close_all(&w->conns, why);
	spawn_stop_all(&w->conns);
	log_debug("%s slot %d: exiting (%s)", w->svc->name, w->slot, why);
	exit(0);
}

/* Is a connection waiting in the accept queue of any slot socket? */
static int
worker_queued(const struct worker *w)
{
	for (int i = 0; i < w->nacceptors; i++) {
		struct pollfd pfd = { .fd = w->acceptors[i].fd, .events = POLLIN };
		if (poll(&pfd, 1, 0) > 0)
			return 1;
	}
	return 0;
}

/* Act on a stop asked for, between two batches of events. */
static void
worker_check_stop(struct worker *w)
{
	if (w->request == STOP_FAST) {
		if (w->nacceptors > 0)
			worker_stop_accepting(w);
		worker_exit(w, "fast stop");
	}
	/*
	 * Draining: the acceptors go on until the queue is empty, since the
	 * socket closes with this worker and would reset what it holds.
	 */
	if (w->request == STOP_DRAIN && w->stopping == RUNNING) {
		w->stopping = STOP_DRAIN;
		w->deadline = w->loop.now + DRAIN_MAX_MS;
	}
	if (w->stopping == STOP_DRAIN &&
	    (w->loop.now >= w->deadline || !worker_queued(w))) {
		w->stopping = RUNNING;
		w->request = STOP_GRACEFUL;
	}
	if (w->request == STOP_GRACEFUL && w->stopping == RUNNING) {
		w->stopping = STOP_GRACEFUL;
		w->deadline = w->loop.now +
		    (int64_t)w->conf->shutdown_timeout * 1000;
		proctitle_set("tcpd: worker %s slot %d (stopping)",
		    w->svc->name, w->slot);
		worker_stop_accepting(w);
		if (w->conns.live > 0)
			log_info("%s slot %d: stopping, %u connection%s open",
			    w->svc->name, w->slot, w->conns.live,
			    w->conns.live == 1 ? "" : "s");
	}
	if (w->stopping == STOP_GRACEFUL) {
		if (w->conns.live == 0)
			worker_exit(w, "graceful stop");
		if (w->loop.now >= w->deadline)
			worker_exit(w, "shutdown timeout");
	}
}

static int
worker_timeout(struct worker *w)
{
	int	 t = conn_timeout(&w->conns);
	int64_t	 left;

	/* Wake often enough to show the master it is alive. */
	if (w->beat_ms > 0 && (t == -1 || t > w->beat_ms))
		t = w->beat_ms;
	if (w->stopping == STOP_DRAIN)
		return t == -1 || t > 10 ? 10 : t;	/* look at the queue again */
	if (w->stopping == STOP_GRACEFUL) {
		left = w->deadline - w->loop.now;
		if (left < 0)
			left = 0;
		if (t == -1 || left < t)
			t = (int)left;
	}
	return t;
}

/* Run as the configured user, when started as root. */
static void
worker_drop_privileges(const struct conf *conf)
{
	if (geteuid() != 0 || conf->user == NULL)
		return;
	if (setgroups(1, &conf->gid) == -1 || setgid(conf->gid) == -1 ||
	    setuid(conf->uid) == -1)
		fatal("cannot run as user %s", conf->user);
	if (setuid(0) != -1)
		fatalx("could give up root, but regained it: refusing to run");
}

static void
worker_init(struct worker *w, pid_t master, int ctl)
{
	static const int	 signals[] = {
		SIGQUIT, SIGTERM, SIGINT, SIGCHLD,
#ifdef TCPD_TEST_HOOKS
		SIGUSR1,
#endif
		0
	};
	sigset_t		 set;
	int			 sigfd, qfd;
	char			 ready = WORKER_READY;

	proctitle_set("tcpd: worker %s slot %d", w->svc->name, w->slot);
	worker_drop_privileges(w->conf);
	/*
	 * A program that went missing since the file was checked: exit, and
	 * let the connections wait in the queue while the master backs off,
	 * rather than take each one only to drop it.
	 */
	if (w->svc->argv != NULL && access(w->svc->argv[0], X_OK) == -1)
		fatal("%s slot %d: cannot run %s", w->svc->name, w->slot,
		    w->svc->argv[0]);
	/* Set after the uid change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		exit(0);

	/* Acceptor threads take the wake signal; this one does not. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sigfd = sig_open(signals)) == -1)
		fatal("signalfd");
	if (loop_init(&w->loop) == -1)
		fatal("epoll");
	if ((qfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	if (loop_add(&w->loop, &w->sig_io, sigfd, EPOLLIN, worker_sig_cb) ||
	    loop_add(&w->loop, &w->ctl_io, ctl, EPOLLIN, worker_ctl_cb) ||
	    loop_add(&w->loop, &w->queue_io, qfd, EPOLLIN, worker_queue_cb))
		fatal("epoll_ctl");
	pthread_mutex_init(&w->lock, NULL);
	conn_set_init(&w->conns, &w->loop, w->svc, w->scratch,
	    sizeof(w->scratch));
	w->conns.limit = w->limit;
	w->conns.cell = w->cell;
	w->conns.max = w->svc->max_connections;

	w->nacceptors = w->svc->nlisten;
	if ((w->acceptors = calloc(w->nacceptors, sizeof(*w->acceptors))) ==
	    NULL)
		fatal("calloc");
	for (int i = 0; i < w->nacceptors; i++) {
		struct acceptor *a = &w->acceptors[i];
		a->fd = w->fds[i];
		a->text = w->svc->listen[i].text;
		a->handoff = worker_handoff;
		a->stalled = worker_stalled;
		a->arg = w;
		a->limit = w->limit;
		a->cell = w->cell;
		a->max = w->svc->max_connections;
		if (listener_start(a) == -1)
			fatal("cannot start the acceptor for %s", a->text);
	}
	if (send(ctl, &ready, 1, MSG_NOSIGNAL) == -1)
		exit(0);	/* the master is gone already */
}

/*
 * The worker's life: started by the master with the sockets of one slot
 * of one service and one end of a control socket; ends with exit().
 */
void
worker_run(const struct worker_spec *spec)
{
	struct worker	*w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("calloc");
	w->conf = spec->conf;
	w->svc = spec->svc;
	w->slot = spec->slot;
	w->fds = spec->fds;
	w->limit = spec->limit;
	w->cell = spec->cell;
	w->beat = spec->beat;
	w->beat_ms = spec->conf->watchdog_timeout * 1000 / 3;
	worker_init(w, spec->master, spec->ctl);

	for (;;) {
		if (loop_run_once(&w->loop, worker_timeout(w)) == -1)
			fatal("epoll_wait");
		atomic_store_explicit(&w->beat->ms, w->loop.now,
		    memory_order_relaxed);
		atomic_store_explicit(&w->beat->conns, w->conns.live,
		    memory_order_relaxed);
		atomic_store_explicit(&w->beat->finished, w->conns.released,
		    memory_order_relaxed);
		conn_expire(&w->conns);
		worker_check_stop(w);
	}
}
