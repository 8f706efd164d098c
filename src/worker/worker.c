/* A worker: acceptor threads on its slot sockets, connections on epoll. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acceptor.h"
#include "ask.h"
#include "conf.h"
#include "conf_handler.h"
#include "conn.h"
#include "conn_proxy.h"
#include "conn_timer.h"
#include "drain.h"
#include "connlog.h"
#include "handoff.h"
#include "hostile.h"
#include "log.h"
#include "loop.h"
#include "proctitle.h"
#include "services/service.h"
#include "shm_guard.h"
#include "sig.h"
#include "spawn.h"
#include "util.h"
#include "worker.h"
#include "worker_int.h"

/* Each connection the acceptors hand over: served, or else dropped. */
static void
worker_serve(void *arg, const struct accepted *a)
{
	struct worker	*w = arg;

	if (a->refused) {
		/* Said in the log already; ended at once if it cannot linger. */
		if (conn_refuse(&w->conns, a->fd, &a->peer, a->len) == NULL)
			admission_drop(&w->adm, NULL, a->fd, &a->peer, NULL);
		/*
		 * Finished, as the heartbeat counts: while it lingers to end
		 * politely it serves no one, and a worker that dies then was
		 * not holding it for a client.
		 */
		w->conns.released++;
		return;
	}
	if (a->proxy ? conn_proxy_wait(&w->conns, a->fd, &a->peer, a->len,
	    &a->held) == -1 : conn_new(&w->conns, a->fd, &a->peer, a->len,
	    &a->held) == NULL) {
		struct admitted held = a->held;
		admission_drop(&w->adm, &held, a->fd, &a->peer,
		    strerror(errno));
		w->conns.released++;
	}
}

/* A connection wants the master's figures or its health line. */
static void
worker_want(void *arg, struct conn *c, int what)
{
	struct worker	*w = arg;

	ask_want(what == WORKER_HEALTH ? &w->health : &w->ask, c,
	    w->loop.now);
}

/* The master's text for c (NULL: none came), to c's handler. */
static void
worker_answered(struct conn *c, const char *text, size_t len)
{
	if (c->set->svc->answer != NULL)
		c->set->svc->answer(c, text, len);
}

/* What each signal means to a worker; all are read from a signalfd. */
static const struct {
	int	 sig;
	enum { WS_REAP, WS_DRAIN, WS_FAST, WS_HANG, WS_HOSTILE, WS_NONE } act;
} worker_signals[] = {
	{ SIGCHLD, WS_REAP }, { SIGQUIT, WS_DRAIN },
	{ SIGTERM, WS_FAST }, { SIGINT, WS_FAST },
#ifdef TCPD_TEST_HOOKS
	{ SIGUSR1, WS_HANG }, { SIGWINCH, WS_HOSTILE },
#else
	{ SIGUSR1, WS_NONE },
#endif
	/* Meant for the master, or for nobody: said, not obeyed. */
	{ SIGHUP, WS_NONE }, { SIGTTIN, WS_NONE }, { SIGTTOU, WS_NONE },
	{ SIGALRM, WS_NONE },
};

static void
worker_sig_cb(struct io *io, uint32_t ev)
{
	struct worker	*w = container_of(io, struct worker, sig_io);
	int		 sig;

	(void)ev;
	while ((sig = sig_read(io->fd)) > 0)
		for (size_t i = 0; i < nitems(worker_signals); i++) {
			if (worker_signals[i].sig != sig)
				continue;
			switch (worker_signals[i].act) {
			case WS_REAP:	spawn_reap(w->spawn); break;
			case WS_DRAIN:
				worker_ask(w, STOP_DRAIN,
				    w->conf->shutdown_timeout);
				break;
			case WS_FAST:	worker_ask(w, STOP_FAST, 0); break;
			case WS_HANG:	/* tests only: a handler's bug */
				for (;;)
					pause();
			case WS_HOSTILE: /* tests only: a compromised worker */
#ifdef TCPD_TEST_HOOKS
				hostile_act(w->conf, w->beat, &w->adm,
				    w->shared, w->nshared, w->ctl_io.fd,
				    getppid());
#endif
				break;
			case WS_NONE:
				log_notice("%s slot %d: signal %d (%s) ignored: "
				    "signals are for the master", w->svc->name,
				    w->slot, sig, strsignal(sig));
				break;
			}
		}
}

/* A message from the master, or EOF: the master is gone, so is this worker. */
static void
worker_ctl_cb(struct io *io, uint32_t ev)
{
	static char		 buf[sizeof(struct worker_piece) +
				    WORKER_PIECE_MAX];
	struct worker		*w = container_of(io, struct worker, ctl_io);
	struct worker_msg	 msg;
	ssize_t			 n;

	(void)ev;
	n = recv(io->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n > 0 && (buf[0] == WORKER_METRICS || buf[0] == WORKER_HEALTH)) {
		ask_piece(buf[0] == WORKER_HEALTH ? &w->health : &w->ask, buf,
		    n);
		return;
	}
	if (n == (ssize_t)sizeof(msg)) {
		memcpy(&msg, buf, sizeof(msg));
		if (msg.type == WORKER_STOP && msg.how > STOP_NONE &&
		    msg.how <= STOP_FAST)
			worker_ask(w, msg.how, (int)msg.timeout);
		return;
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		log_warnx("%s slot %d: master gone, stopping", w->svc->name,
		    w->slot);
		loop_del(&w->loop, io);
		worker_ask(w, STOP_FAST, 0);
	}
}

/*
 * Run as the service's user, group and groups (its own, or the global
 * ones), when started as root.  Without root, conf_ident_check() made
 * sure at start and at reload that the service asks for no other.
 */
static void
worker_drop_privileges(const struct conf_service *svc)
{
	const struct conf_ident	*id = &svc->ident;

	if (geteuid() != 0 || id->user == NULL)
		return;
	if (setgroups(id->ngroups, id->groups) == -1 ||
	    setgid(id->gid) == -1 || setuid(id->uid) == -1)
		fatal("%s: cannot run as user %s", svc->name, id->user);
	if (id->uid != 0 && setuid(0) != -1)
		fatalx("could give up root, but regained it: refusing to run");
}

/* Signals as events, in one place: the worker's set, and the rest. */
static int
worker_signals_open(void)
{
	int		 sigs[nitems(worker_signals) + 1];
	sigset_t	 set;

	/* Acceptor threads take the wake signal; this one does not. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);	/* writes say MSG_NOSIGNAL; syslog may not */
	for (size_t i = 0; i < nitems(worker_signals); i++)
		sigs[i] = worker_signals[i].sig;
	sigs[nitems(worker_signals)] = 0;
	return sig_open(sigs);
}

/* The hand-off queue to the loop, and one acceptor thread per slot socket. */
static void
worker_start_acceptors(struct worker *w)
{
	w->handoff.name = w->svc->name;
	w->handoff.adm = &w->adm;
	w->handoff.accepted = &w->beat->accepted;
	w->handoff.take = worker_serve;
	w->handoff.arg = w;
	handoff_init(&w->handoff, &w->loop);
	w->nacceptors = w->svc->nlisten;
	if ((w->acceptors = calloc(w->nacceptors, sizeof(*w->acceptors))) ==
	    NULL)
		fatal("calloc");
	for (int i = 0; i < w->nacceptors; i++) {
		struct acceptor *a = &w->acceptors[i];
		a->fd = w->fds[i];
		a->text = w->svc->listen[i].text;
		a->handoff = handoff_put;
		a->stalled = handoff_stalled;
		a->arg = &w->handoff;
		a->adm = &w->adm;
		a->refused = w->beat->refused;
		a->name = w->svc->name;
		a->net = &w->svc->net;
		a->blocking = w->conns.svc->detaches;
		if (acceptor_start(a) == -1)
			fatal("cannot start the acceptor for %s", a->text);
	}
}

/* From fork to accepting: identity, signals, loop, acceptors, READY. */
static void
worker_init(struct worker *w, pid_t master, int ctl)
{
	struct worker_msg	 ready = { .type = WORKER_READY };
	int			 sigfd;

	proctitle_set("tcpd: worker %s slot %d", w->svc->name, w->slot);
	worker_drop_privileges(w->svc);
	/*
	 * A handler that cannot work (a program gone since the file was
	 * checked): exit, and let connections wait in the queue while the
	 * master backs off, rather than take each one only to drop it.
	 */
	if (w->svc->handler->start != NULL && w->svc->handler->start(w->svc) ==
	    -1)
		fatal("%s slot %d", w->svc->name, w->slot);
	/* Set after the uid change, which clears it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		exit(0);
	if ((sigfd = worker_signals_open()) == -1)
		fatal("signalfd");
	if (loop_init(&w->loop) == -1)
		fatal("epoll");
	/* Alive from now on, not from the first wakeup of its loop. */
	atomic_store(&w->beat->ms, w->loop.now);
	if (loop_add(&w->loop, &w->sig_io, sigfd, EPOLLIN, worker_sig_cb) ||
	    loop_add(&w->loop, &w->ctl_io, ctl, EPOLLIN, worker_ctl_cb))
		fatal("epoll_ctl");
	if ((w->spawn = spawn_new(&w->loop, w->svc, w->beat)) == NULL)
		fatal("calloc");
	connlog_init(w->svc->name, w->svc->net.log_connections);
	conn_set_init(&w->conns, &w->loop, w->svc, &w->adm, w->scratch,
	    sizeof(w->scratch));
	w->conns.beat = w->beat;
	w->conns.spawn = w->spawn;
	conn_proxy_init(&w->conns);
	w->conns.want = worker_want;
	w->conns.want_arg = w;
	w->ask = (struct ask){ .ctl = ctl, .type = WORKER_METRICS,
	    .what = "metrics", .done = worker_answered };
	w->health = (struct ask){ .ctl = ctl, .type = WORKER_HEALTH,
	    .what = "health", .done = worker_answered };
	worker_start_acceptors(w);
	if (send(ctl, &ready, sizeof(ready), MSG_NOSIGNAL) == -1)
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
	/*
	 * The configuration knows its handler by name only: the code is
	 * the worker's own, looked up once in its copy of the service.
	 */
	w->own = *spec->svc;
	if ((w->own.handler = service_find(w->own.kind->name)) == NULL)
		fatalx("%s: no code for handler %s", w->own.name,
		    w->own.kind->name);
	w->svc = &w->own;
	w->slot = spec->slot;
	w->fds = spec->fds;
	w->adm = spec->adm;
	w->beat = spec->beat;
	w->shared = spec->own;
	w->nshared = spec->nown;
	w->beat_ms = spec->conf->watchdog_timeout * 1000 / 3;
	/* While still root (worker_init drops it): see shm_guard.c. */
	if (shm_guard(spec->own, spec->nown) == -1 && errno != EACCES &&
	    errno != ENOSYS)
		log_warn("%s slot %d: cannot keep its shared memory to its own "
		    "regions (seccomp)", w->svc->name, w->slot);
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
		ask_expire(&w->ask, w->loop.now);
		ask_expire(&w->health, w->loop.now);
		conn_expire(&w->conns);
		conn_proxy_expire(&w->conns);
		connlog_tick(w->loop.now);
		worker_check(w);
	}
}
