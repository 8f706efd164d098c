/* The master: its loop, signals, reload, scaling, start and stop. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "control.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "master.h"
#include "notify.h"
#include "proctitle.h"
#include "reload.h"
#include "sig.h"
#include "status.h"
#include "supervise.h"
#include "util.h"

/* The longest start may take before every slot's worker accepts. */
#define START_MAX_MS	10000
/* A wakeup this much later than asked: the master was not running. */
#define LATE_MS		100
/* fds the master uses whatever the configuration: stdio, epoll, ... */
#define FDS_FIXED	16

struct master {
	struct conf		*conf;
	struct loop		 loop;
	struct io		 sig_io;
	struct io		 reload_io;	/* the reload thread is done */
	struct reload		*reloading;	/* a parse under way */
	struct listeners	 listeners;
	struct sup		 sup;
	int			*counts;	/* slots per service */
	unsigned		 gen;
	int			 pidfd;
	int			 foreground;
	/* Signals seen, acted on between two waits. */
	int			 reload;
	int			 reload_again;	/* SIGHUP during a parse */
	int			 reap;
	int			 resumed;	/* SIGCONT: the master was stopped */
	int64_t			 awake_at;	/* its last wakeup on time */
	int			 scale;		/* +1, -1 per signal */
	enum stop_how		 request;
	enum stop_how		 stopping;
	/* For status. */
	struct control		*control;	/* NULL: no control socket */
	int64_t			 started_ms;
	time_t			 started_at;
	time_t			 reload_at;	/* 0: none yet */
	int			 reload_ok;
	char			 reload_result[1024];
	unsigned		 reloads_ok, reloads_refused;
};

static char	*master_answer(void *, const char *, size_t *);

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

/* The file's worker count of each service. */
static int *
master_counts(const struct conf *c)
{
	int	*counts = calloc(c->nservices ? c->nservices : 1,
	    sizeof(*counts));

	for (int i = 0; counts != NULL && i < c->nservices; i++)
		counts[i] = c->services[i].workers;
	return counts;
}

/*
 * File descriptors the master needs for c: one per listen address per
 * slot, one per slot for its worker's control socket, and FDS_FIXED.
 * A reload needs a second control socket per slot for the successors.
 */
int
master_fds_needed(const struct conf *c, int reloading)
{
	int	 n = FDS_FIXED;

	for (int i = 0; i < c->nservices; i++)
		n += c->services[i].workers *
		    (c->services[i].nlisten + 1 + (reloading ? 1 : 0));
	return n;
}

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

/* What a reload came to, for status. */
static void
master_reloaded(struct master *m, int ok, const char *result)
{
	m->reload_at = time(NULL);
	m->reload_ok = ok;
	if (ok)
		m->reloads_ok++;
	else
		m->reloads_refused++;
	snprintf(m->reload_result, sizeof(m->reload_result), "%s", result);
}

/* A reload changed nothing: say why, in the log and to systemd. */
static void
master_refused(struct master *m, const char *why)
{
	char	 text[1100];

	snprintf(text, sizeof(text), "reload refused: %s; still running "
	    "generation %u", why, m->gen);
	log_warnx("%s", text);
	notify_refused(text);
	master_reloaded(m, 0, why);
}

/* At a reload: which services came and went. */
static void
master_log_changes(const struct conf *old, const struct conf *new)
{
	for (int i = 0; i < new->nservices; i++)
		if (conf_service_find(old, new->services[i].name) == NULL)
			log_info("reload: service %s added",
			    new->services[i].name);
	for (int i = 0; i < old->nservices; i++)
		if (conf_service_find(new, old->services[i].name) == NULL)
			log_info("reload: service %s removed",
			    old->services[i].name);
}

/* SIGHUP: read the file again, off the loop (reload.c). */
static void
master_reload_start(struct master *m)
{
	log_info("reload: reading %s", m->conf->path);
	notify_reloading(m->conf->path);
	if ((m->reloading = reload_start(m->conf->path, m->reload_io.fd)) ==
	    NULL)
		master_refused(m, strerror(errno));
}

/*
 * After a change of sockets failed half way: back to the running file's
 * sockets, backlogs and TCP options, closing what the change bound.  If
 * even that fails, nothing is closed, lest a socket in use go.
 */
static void
master_relisten(struct master *m)
{
	char	 err[512];

	if (listeners_bind(&m->listeners, m->conf, m->counts, err,
	    sizeof(err)) == -1) {
		log_warnx("cannot restore the running sockets: %s", err);
		return;
	}
	listeners_close_unused(&m->listeners);
}

/*
 * A parsed file replaces the running configuration only if its sockets
 * bind, take their options, and its slot table can be made; otherwise
 * nothing changes.
 */
static void
master_reload_apply(struct master *m, struct conf *c)
{
	char	 err[512] = "out of memory";
	int	*counts;

	if ((counts = master_counts(c)) == NULL)
		goto refuse;
	if (listeners_bind(&m->listeners, c, counts, err, sizeof(err)) == -1) {
		/* Kept sockets may have taken some of c's options. */
		master_relisten(m);
		goto refuse;
	}
	if (sup_apply(&m->sup, c, counts, m->gen + 1) == -1) {
		snprintf(err, sizeof(err), "out of memory");
		master_relisten(m);
		goto refuse;
	}
	if (c->pid_file != NULL && (m->conf->pid_file == NULL ||
	    strcmp(c->pid_file, m->conf->pid_file) != 0))
		log_notice("reload: a new pid_file takes effect at restart");
	if ((c->control_socket == NULL) != (m->conf->control_socket == NULL) ||
	    (c->control_socket != NULL &&
	    strcmp(c->control_socket, m->conf->control_socket) != 0))
		log_notice("reload: a new control_socket takes effect at "
		    "restart");
	master_log_changes(m->conf, c);
	log_open(c->log_facility, c->log_level, 1, m->foreground);
	conf_free(m->conf);
	free(m->counts);
	m->conf = c;
	m->counts = counts;
	m->gen++;
	listeners_close_unused(&m->listeners);
	log_info("reload: generation %u started", m->gen);
	snprintf(err, sizeof(err), "generation %u started", m->gen);
	master_reloaded(m, 1, err);
	return;
refuse:
	master_refused(m, err);
	free(counts);
	conf_free(c);
}

/* The file is read: apply it, or say why not. */
static void
master_reload_cb(struct io *io, uint32_t ev)
{
	struct master	*m = container_of(io, struct master, reload_io);
	struct conf	*c;
	char		 err[1024];
	uint64_t	 n;

	(void)ev;
	if (read(io->fd, &n, sizeof(n)) == -1 || m->reloading == NULL)
		return;
	c = reload_finish(m->reloading, err, sizeof(err));
	m->reloading = NULL;
	if (c == NULL)
		master_refused(m, err);
	else if (m->stopping == STOP_NONE)
		master_reload_apply(m, c);
	else
		conf_free(c);
	if (m->reload_again && m->stopping == STOP_NONE) {
		m->reload_again = 0;
		master_reload_start(m);
	}
}

/*
 * SIGTTIN, SIGTTOU: one worker more or fewer for every service (from 1
 * to 256), until the next reload.  A new slot gets sockets of its own; a
 * slot that goes is drained by its worker before its sockets close.
 * Signals of one kind that arrive together count once: the kernel keeps
 * one pending signal of each kind.
 */
static void
master_scale(struct master *m, int by)
{
	const struct conf	*c = m->conf;
	const char		*sig = by > 0 ? "SIGTTIN" : "SIGTTOU";
	char			 err[512] = "";
	int			*counts, changed = 0;

	if ((counts = master_counts(c)) == NULL) {
		log_warn("%s: cannot change the worker count", sig);
		return;
	}
	for (int i = 0; i < c->nservices; i++) {
		counts[i] = m->counts[i] + by;
		counts[i] = counts[i] < 1 ? 1 : counts[i] > 256 ? 256 : counts[i];
		changed |= counts[i] != m->counts[i];
	}
	if (!changed) {
		log_notice("%s: no service can have %s workers", sig,
		    by > 0 ? "more" : "fewer");
		free(counts);
		return;
	}
	if (listeners_bind(&m->listeners, c, counts, err, sizeof(err)) == -1 ||
	    sup_apply(&m->sup, c, counts, m->gen) == -1) {
		log_warnx("%s: cannot change the worker count: %s", sig,
		    err[0] != '\0' ? err : "out of memory");
		master_relisten(m);
		free(counts);
		return;
	}
	for (int i = 0; i < c->nservices; i++)
		if (counts[i] != m->counts[i])
			log_info("%s: %s now has %d worker%s", sig,
			    c->services[i].name, counts[i],
			    counts[i] == 1 ? "" : "s");
	free(m->counts);
	m->counts = counts;
	listeners_close_unused(&m->listeners);
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

/* Stop every worker (drain or fast) and close the listening sockets. */
static void
master_stop(struct master *m, enum stop_how how)
{
	if (m->stopping >= how)
		return;
	log_info("stopping (%s)", how == STOP_FAST ? "fast" : "graceful");
	notify_stopping(how == STOP_FAST ? "stopping (fast)" :
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

/* Wait once, then handle what happened in a fixed order. */
static void
master_turn(struct master *m)
{
	int64_t	 before = m->loop.now;
	int	 timeout, late, ct;

	timeout = notify_timeout(m->loop.now, sup_timeout(&m->sup));

	ct = control_timeout(m->control);
	if (ct >= 0 && (timeout < 0 || ct < timeout))
		timeout = ct;
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
	if (m->request != STOP_NONE)
		master_stop(m, m->request);
	if (m->reload) {
		m->reload = 0;
		m->scale = 0;	/* the file's counts win */
		if (m->stopping == STOP_NONE && m->reloading == NULL)
			master_reload_start(m);
		else if (m->reloading != NULL) {
			log_info("reload: still reading the file; reading it "
			    "again once that is done");
			m->reload_again = 1;
		}
	}
	if (m->scale != 0) {
		if (m->stopping == STOP_NONE)
			master_scale(m, m->scale);
		m->scale = 0;
	}
	sup_tend(&m->sup);
	master_title(m);
	notify_tick(m->loop.now, &m->sup, m->reloading != NULL);
}

/* A master for conf, before anything is bound or started. */
struct master *
master_new(struct conf *conf, int pidfd, int foreground)
{
	struct master	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	m->conf = conf;
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
 * when the fd limit cannot hold them and their workers' control sockets.
 */
int
master_listen(struct master *m)
{
	struct rlimit	 rl;
	char		 err[512];
	int		 need = master_fds_needed(m->conf, 0);

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need) {
		log_warnx("cannot start: the configuration needs %d file "
		    "descriptors in the master (one per listen address and one "
		    "per worker, %d more of its own), and the limit is %llu "
		    "(ulimit -n)", need, FDS_FIXED,
		    (unsigned long long)rl.rlim_cur);
		return -1;
	}
	if ((m->counts = master_counts(m->conf)) == NULL)
		return -1;
	if (listeners_bind(&m->listeners, m->conf, m->counts, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

/* The control socket's answers. */
static char *
master_answer(void *arg, const char *request, size_t *len)
{
	struct master		*m = arg;
	struct status_in	 in = {
		.conf = m->conf, .sup = &m->sup, .listeners = &m->listeners,
		.pid = getpid(), .gen = m->gen, .now = m->loop.now,
		.started_ms = m->started_ms, .started_at = m->started_at,
		.reload_at = m->reload_at, .reload_ok = m->reload_ok,
		.reload_result = m->reload_result,
		.reloads_ok = m->reloads_ok, .reloads_refused = m->reloads_refused,
	};

	if (strcmp(request, "status") == 0)
		return status_build(&in, STATUS_TEXT, len);
	if (strcmp(request, "status json") == 0)
		return status_build(&in, STATUS_JSON, len);
	if (strcmp(request, "metrics") == 0)
		return status_build(&in, STATUS_METRICS, len);
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
	if ((sigfd = sig_open(sigs)) == -1)
		fatal("signalfd");
	if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	if (loop_init(&m->loop) == -1 ||
	    loop_add(&m->loop, &m->sig_io, sigfd, EPOLLIN, master_sig_cb) ||
	    loop_add(&m->loop, &m->reload_io, efd, EPOLLIN, master_reload_cb))
		fatal("epoll");
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
	int64_t	 until;
	int	 state;

	master_init(m);
	if (m->conf->control_socket != NULL &&
	    (m->control = control_open(&m->loop, m->conf->control_socket,
	    master_answer, m, err, sizeof(err))) == NULL) {
		log_warnx("cannot start: %s", err);
		return -1;
	}
	m->sup.starting = 1;
	if (sup_apply(&m->sup, m->conf, m->counts, m->gen) == -1)
		fatal("cannot make the slot table");
	until = m->loop.now + START_MAX_MS;
	while ((state = sup_started(&m->sup)) == 0 &&
	    m->request == STOP_NONE && m->loop.now < until)
		master_turn(m);
	m->sup.starting = 0;
	if (state == 1 && m->request == STOP_NONE) {
		log_info("tcpd %s started: %d service%s, %d worker%s",
		    PACKAGE_VERSION, m->conf->nservices,
		    m->conf->nservices == 1 ? "" : "s",
		    conf_workers_total(m->conf),
		    conf_workers_total(m->conf) == 1 ? "" : "s");
		listeners_check_migrate();
		/* A daemon's parent says READY=1: systemd listens to it. */
		notify_started(m->foreground, &m->sup);
		return 0;
	}
	if (state == -1)
		log_warnx("cannot start: %s", m->sup.start_error);
	else if (m->request == STOP_NONE)
		log_warnx("cannot start: not every worker was accepting "
		    "after %d s", START_MAX_MS / 1000);
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
