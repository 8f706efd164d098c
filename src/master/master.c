/* The master: its loop, signals, start, status and stop (reload: master_reload.c). */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "conf_net.h"
#include "control.h"
#include "forker.h"
#include "health_line.h"
#include "listener.h"
#include "log.h"
#include "shm_guard.h"
#include "loop.h"
#include "master.h"
#include "master_int.h"
#include "notify.h"
#include "orphan.h"
#include "proc.h"
#include "proctitle.h"
#include "reload.h"
#include "sig.h"
#include "status.h"
#include "supervise.h"
#include "util.h"

/* A wakeup this much later than asked: the master was not running. */
#define LATE_MS		100
/* How often the master looks whether leaving sockets are let go, in ms. */
#define RELEASE_LOOK_MS	10


static char	*master_answer(void *, const char *, size_t *, int *,
		    uint64_t *);

/* What each signal means to the master; all are read from a signalfd. */
static const struct {
	int	 sig;
	enum { ACT_REAP, ACT_RELOAD, ACT_MORE, ACT_FEWER, ACT_QUIT, ACT_STOP,
	    ACT_RESUMED, ACT_NONE } act;
} master_signals[] = {
	{ SIGCHLD, ACT_REAP }, { SIGHUP, ACT_RELOAD },
	{ SIGTTIN, ACT_MORE }, { SIGTTOU, ACT_FEWER },
	{ SIGQUIT, ACT_QUIT }, { SIGTERM, ACT_STOP }, { SIGINT, ACT_STOP },
	{ SIGCONT, ACT_RESUMED },
	/* Not commands: said in the log, rather than killing the master. */
	{ SIGUSR1, ACT_NONE }, { SIGUSR2, ACT_NONE }, { SIGALRM, ACT_NONE },
};

/* Signals: note what each asks for; master_turn() acts on it. */
static void
master_sig_cb(struct io *io, uint32_t ev)
{
	struct master	*m = container_of(io, struct master, sig_io);
	int		 sig;

	(void)ev;
	while ((sig = sig_read(io->fd)) > 0)
		for (size_t i = 0; i < nitems(master_signals); i++) {
			if (master_signals[i].sig != sig)
				continue;
			switch (master_signals[i].act) {
			case ACT_REAP:	 m->reap = 1; break;
			case ACT_RELOAD: m->reload = 1; break;
			case ACT_MORE:	 m->scale++; break;
			case ACT_FEWER:	 m->scale--; break;
			case ACT_QUIT:
				if (m->request == STOP_NONE)
					m->request = STOP_DRAIN;
				break;
			case ACT_STOP:	 m->request = STOP_FAST; break;
			case ACT_RESUMED: m->resumed = 1; break;
			case ACT_NONE:
				log_notice("signal %d (%s) ignored: the master "
				    "takes HUP, QUIT, TERM, INT, TTIN and TTOU",
				    sig, strsignal(sig));
				break;
			}
		}
}

/* Show in ps which slots are failing or down. */
static void
master_title(struct master *m)
{
	char	 slots[256];

	sup_title(&m->sup, slots, sizeof(slots));
	proctitle_set("tcpd: master -c %s%s", m->conf->path, slots);
}

/* Reap every child that ended, and let supervision act on it. */
static void
master_reap(struct master *m)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if (!sup_reaped(&m->sup, pid, st))
			log_debug("reaped pid %ld, not a worker", (long)pid);
}

/* p among the holders of sockets, with what it was given. */
static void
holder_add(struct lholder *h, int *n, const struct proc *p)
{
	if (p != NULL)
		h[(*n)++] = (struct lholder){ p->pid, p->ino, p->fd,
		    p->nlisten };
}

/*
 * Close the leaving sockets that no worker holds any more.  The holders:
 * every worker the master knows, serving, starting or retiring.
 */
static void
master_release(struct master *m)
{
	const struct sup	*s = &m->sup;
	struct lholder		*h;
	int			 n = 0, max = 2 * s->nslots;

	for (const struct proc *p = s->retiring; p != NULL; p = p->next)
		max++;
	if ((h = calloc(max ? max : 1, sizeof(*h))) == NULL)
		return;		/* next turn */
	for (int i = 0; i < s->nslots; i++) {
		holder_add(h, &n, s->slots[i]->cur);
		holder_add(h, &n, s->slots[i]->next);
	}
	for (const struct proc *p = s->retiring; p != NULL; p = p->next)
		holder_add(h, &n, p);
	listeners_release(&m->listeners, h, n);
	free(h);
}

/* Stop every worker (drain or fast) and close the listening sockets. */
void
master_stop(struct master *m, enum stop_how how)
{
	if (m->stopping >= how)
		return;
	log_info("stopping (%s)", how == STOP_FAST ? "fast" : "graceful");
	notify_stopping(m->notify, how == STOP_FAST ? "stopping (fast)" :
	    "stopping (graceful)");
	m->stopping = how;
	sup_stop(&m->sup, how, m->conf->shutdown_timeout);
	/*
	 * Once the workers have taken what is queued, their close is the
	 * last: the sockets go and new connections are refused, rather than
	 * queued for nobody and reset at exit.
	 */
	listeners_close_all(&m->listeners);
}

/* Has a stop been asked for, or begun? */
static int
master_stop_any(const struct master *m)
{
	return m->request != STOP_NONE || m->stopping != STOP_NONE;
}

/* Wait once, then handle what happened in a fixed order. */
static void
master_turn(struct master *m)
{
	int64_t	 before = m->loop.now;
	int	 timeout, late, ct;

	timeout = notify_timeout(m->notify, m->loop.now, sup_timeout(&m->sup));

	ct = control_timeout(m->control);
	if (ct >= 0 && (timeout < 0 || ct < timeout))
		timeout = ct;
	timeout = master_drain_timeout(m, timeout);
	if (listeners_leaving(&m->listeners) > 0 &&
	    (timeout < 0 || timeout > RELEASE_LOOK_MS))
		timeout = RELEASE_LOOK_MS;
	if (loop_run_once(&m->loop, timeout) == -1)
		fatal("epoll_wait");
	control_expire(m->control);
	late = timeout >= 0 && m->loop.now - before > timeout + LATE_MS;
	if (m->reap) {
		/*
		 * A child's death comes with no time.  SIGCHLD wakes the loop
		 * at once, so now will do; but if the master itself was
		 * stopped, a death may be as old as its last timely wakeup.
		 */
		m->sup.died_after = m->resumed ? m->awake_at : 0;
		m->reap = 0;
		master_reap(m);
	}
	if (!late && !m->resumed)
		m->awake_at = m->loop.now;
	m->resumed = 0;
	if (m->request != STOP_NONE && master_stop_due(m))
		master_stop(m, m->request);
	if (m->reload) {
		m->reload = 0;
		m->scale = 0;	/* the file's counts win */
		/* A stop asked for, drained first or not: no more reloads. */
		if (!master_stop_any(m) && m->reloading == NULL)
			master_reload_start(m);
		else if (!master_stop_any(m)) {
			log_info("reload: still reading the file; reading it "
			    "again once that is done");
			m->reload_again = 1;
		}
	}
	if (m->scale != 0) {
		if (!master_stop_any(m))
			master_scale(m, m->scale);
		m->scale = 0;
	}
	sup_tend(&m->sup);
	if (listeners_leaving(&m->listeners) > 0)
		master_release(m);
	master_reload_settled(m);
	master_title(m);
	notify_tick(m->notify, m->loop.now, &m->sup, m->reloading != NULL,
	    strcmp(master_state(m), "draining") == 0);
}

/* A master for conf, before anything is bound or started. */
struct master *
master_new(struct conf *conf, int pidfd, int foreground,
    struct notifier *n)
{
	struct master	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->conf = conf;
	m->notify = n;
	m->pidfd = pidfd;
	m->foreground = foreground;
	m->gen = 1;
	m->loop.epfd = -1;
	m->sig_io.fd = -1;
	m->reload_io.fd = -1;
	sup_init(&m->sup, &m->loop, &m->listeners);
	m->sup.answer = master_answer;
	m->sup.answer_arg = m;
	return m;
}

/*
 * Bind every slot socket; before any privilege is given up.  Refused
 * when the fd limit cannot hold them and their workers' control sockets,
 * or the process limits their workers.
 */
int
master_listen(struct master *m)
{
	char		 err[512];

	if (master_check_limits(m->conf, 1, err, sizeof(err)) == -1) {
		log_warnx("cannot start: %s", err);
		return -1;
	}
	if ((m->counts = master_counts(m->conf)) == NULL)
		return -1;
	/* Its numbers are taken first, so that they are low. */
	if ((m->sup.forker = forker_new(master_worker_fds(m->conf))) == NULL &&
	    errno != 0)
		log_notice("cannot reserve fds for the forking thread (%s): "
		    "workers are forked by the master, slower with many "
		    "services", strerror(errno));
	if (listeners_bind(&m->listeners, m->conf, m->counts, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

static const char *const master_commands[] = {
	"reload", "quit", "quit wait", "stop", "stop wait", "drain", "undrain",
};

/*
 * "reload": as SIGHUP, the client held until that reload's outcome;
 * "quit", "stop": as SIGQUIT, SIGTERM, and with " wait", the client held
 * until the master's end; "drain", "undrain": master_drain.c.
 */
static char *
master_command(struct master *m, const char *request, size_t *len,
    int *hold, uint64_t *tag)
{
	char	*out;
	int	 n, wait = 0;

	if (m->stopping != STOP_NONE || m->request != STOP_NONE) {
		n = asprintf(&out, "error: stopping already\n");
		*hold = strstr(request, " wait") != NULL;
	} else if (strstr(request, "drain") != NULL) {
		n = asprintf(&out, "%s", master_drain_command(m, request));
	} else if (strcmp(request, "reload") == 0) {
		m->reload = 1;
		*hold = 1;
		*tag = m->reloads_started + 1;
		return NULL;
	} else if (strcmp(request, "quit") == 0 ||
	    (wait = strcmp(request, "quit wait") == 0)) {
		m->request = STOP_DRAIN;
		n = asprintf(&out, "ok: stopping (graceful)\n");
		*hold = wait;
	} else {
		m->request = STOP_FAST;
		n = asprintf(&out, "ok: stopping (fast)\n");
		*hold = strcmp(request, "stop wait") == 0;
	}
	if (n == -1)
		return NULL;
	*len = (size_t)n;
	return out;
}

/* The control socket's answers. */
static char *
master_answer(void *arg, const char *request, size_t *len, int *hold,
    uint64_t *tag)
{
	struct master		*m = arg;
	struct status_in	 in = {
		.conf = m->conf, .sup = &m->sup, .listeners = &m->listeners,
		.pid = getpid(), .gen = m->gen, .now = m->loop.now,
		.started_ms = m->started_ms, .started_at = m->started_at,
		.reload_at = m->reload_at, .reload_ok = m->reload_ok,
		.reload_result = m->reload_result,
		.reloads_ok = m->reloads_ok, .reloads_refused = m->reloads_refused,
		.state = master_state(m), .stop_in_ms = master_stop_in(m),
	};

	if (strcmp(request, "status") == 0)
		return status_build(&in, STATUS_TEXT, len);
	if (strcmp(request, "status json") == 0)
		return status_build(&in, STATUS_JSON, len);
	if (strcmp(request, "metrics") == 0)
		return status_build(&in, STATUS_METRICS, len);
	if (strcmp(request, "health") == 0)
		return health_build(&in, len);
	/* Commands come from the control socket only, not from workers. */
	for (size_t i = 0; hold != NULL && i < nitems(master_commands); i++)
		if (strcmp(request, master_commands[i]) == 0)
			return master_command(m, request, len, hold, tag);
	return NULL;
}

/* Signals as events, the loop, the reload eventfd. */
static void
master_init(struct master *m)
{
	int	 sigs[nitems(master_signals) + 1], sigfd, efd;

	for (size_t i = 0; i < nitems(master_signals); i++)
		sigs[i] = master_signals[i].sig;
	sigs[nitems(master_signals)] = 0;
	signal(SIGPIPE, SIG_IGN);	/* sends say MSG_NOSIGNAL; syslog may not */
	/*
	 * What a worker's programs leave when the worker dies comes here,
	 * not to init: the master ends it, and knows when it has ended.
	 */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("prctl PR_SET_CHILD_SUBREAPER");
	if ((sigfd = sig_open(sigs)) == -1)
		fatal("signalfd");
	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	if (loop_init(&m->loop) == -1 ||
	    loop_add(&m->loop, &m->sig_io, sigfd, EPOLLIN, master_sig_cb) ||
	    loop_add(&m->loop, &m->reload_io, efd, EPOLLIN, master_reload_cb))
		fatal("epoll");
	/* After the signals are blocked: it and the workers inherit that. */
	if (m->sup.forker != NULL && forker_start(m->sup.forker) == -1)
		log_notice("cannot make the forking thread (%s): workers are "
		    "forked by the master, slower with many services",
		    strerror(errno));
	if (!shm_guard_possible())
		log_warnx("workers cannot keep to their own shared memory (no "
		    "CAP_SYS_ADMIN and no NoNewPrivileges, or no seccomp "
		    "filter for this machine): a compromised one could reach "
		    "other workers' heartbeats and counts");
	m->awake_at = m->loop.now;
	m->started_ms = m->loop.now;
	m->started_at = time(NULL);
}

/*
 * Start a worker in every slot and wait until each accepts.  A worker
 * that cannot be started is a failed start: the others are stopped and
 * -1 returned, the reason logged.
 */
int
master_start(struct master *m)
{
	char	 err[256];
	int	 state;

	master_init(m);
	if (m->conf->control_socket != NULL &&
	    (m->control = control_open(&m->loop, m->conf->control_socket,
	    master_answer, m, err, sizeof(err))) == NULL) {
		log_warnx("cannot start: %s", err);
		return -1;
	}
	conf_access_log(m->conf);
	m->sup.starting = 1;
	/*
	 * Give back what reading the file left free: a fork copies the
	 * page table entries of free pages of the heap as of used ones.
	 */
	malloc_trim(0);
	if (sup_apply(&m->sup, m->conf, m->counts, m->gen) == -1)
		fatal("cannot make the slot table");
	/* Each worker has a deadline of its own: sup_started() says. */
	while ((state = sup_started(&m->sup)) == 0 && m->request == STOP_NONE)
		master_turn(m);
	m->sup.starting = 0;
	if (state == 1 && m->request == STOP_NONE) {
		log_info("tcpd %s started: %d service%s, %d worker%s",
		    PACKAGE_VERSION, m->conf->nservices,
		    m->conf->nservices == 1 ? "" : "s",
		    conf_workers_total(m->conf),
		    conf_workers_total(m->conf) == 1 ? "" : "s");
		/* A daemon's parent says READY=1: systemd listens to it. */
		notify_started(m->notify, m->foreground, &m->sup);
		return 0;
	}
	if (state == -1)
		log_warnx("cannot start: %s", m->sup.start_error);
	master_stop(m, STOP_FAST);
	while (!sup_empty(&m->sup))
		master_turn(m);
	return -1;
}

/*
 * The master's loop, from a successful master_start() until the last
 * worker is gone after a stop.
 */
int
master_run(struct master *m)
{
	while (m->stopping == STOP_NONE || !sup_empty(&m->sup))
		master_turn(m);
	orphans_strays();
	listeners_close_all(&m->listeners);
	control_close(m->control);
	m->control = NULL;
	log_info("stopped");
	return 0;
}

/* At exit: every socket, worker record and the configuration. */
void
master_free(struct master *m)
{
	listeners_close_all(&m->listeners);
	control_close(m->control);
	sup_free(&m->sup);
	/* A parse still under way (a file that blocks) ends with the process. */
	if (m->reloading == NULL && m->reload_io.fd != -1)
		close(m->reload_io.fd);
	if (m->sig_io.fd != -1)
		close(m->sig_io.fd);
	loop_close(&m->loop);
	conf_free(m->conf);
	free(m->counts);
	listeners_free(&m->listeners);
	free(m);
}
