/* The master: slot sockets, spawning and reaping workers, reload, stop. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "limit.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "master.h"
#include "proctitle.h"
#include "sig.h"
#include "util.h"
#include "worker.h"

/* A failing slot's respawns: 1 s, then doubling, up to this. */
#define RESPAWN_FIRST_MS	1000
#define RESPAWN_MAX_MS		60000
/* How often the watchdog looks, and how long SIGABRT has before SIGKILL. */
#define WATCHDOG_LOOK_MS	250
#define WATCHDOG_GRACE_MS	500
/* Beyond shutdown_timeout, before a stopping worker gets SIGKILL. */
#define KILL_GRACE_MS		5000

/* A worker process, as the master sees it. */
struct proc {
	struct io		 io;	/* master's end of the control socket */
	struct master		*m;
	pid_t			 pid;
	char			*service;
	struct conf_listen	*listen;	/* its slot sockets' addresses */
	int			 nlisten;
	int			 slot;
	unsigned		 gen;
	int			 ready;
	int			 retiring;
	int			 fails;	/* quick deaths in a row, this slot */
	struct svc_limit	*limit;	/* and its cell in it, if any */
	int			 cell;
	int64_t			 started;
	int64_t			 kill_at;	/* SIGKILL then, if not 0 */
	struct heartbeat	*beat;		/* shared with the worker */
	int64_t			 down_since;	/* its slot's, when it replaced a dead one */
	int			 aborted;	/* the watchdog sent SIGABRT */
	struct proc		*next;
};

/* The max_connections count of a service, by name across reloads. */
struct svc_limit {
	char			*service;
	struct limit		*shm;
	unsigned char		 used[LIMIT_CELLS];
	struct svc_limit	*next;
};

/* A slot waiting to be respawned after a pause. */
struct respawn {
	char			*service;
	int			 slot;
	int			 fails;
	int64_t			 at;
	int64_t			 down_since;	/* when its last worker died */
	struct respawn		*next;
};

enum stop { RUNNING, STOP_GRACEFUL, STOP_FAST };

/* How a worker is asked to go. */
enum retire {
	RETIRE_KEEP,	/* its sockets stay with the master: leave the queue */
	RETIRE_DRAIN,	/* its sockets are closing: serve what is queued */
	RETIRE_FAST,	/* close everything now */
};

struct master {
	struct conf		*conf;
	struct loop		 loop;
	struct io		 sig_io;
	int			 pidfd;
	struct listeners	 listeners;
	struct proc		*procs;
	struct respawn		*respawns;
	struct svc_limit	*limits;
	unsigned		 gen;
	int			 reload;	/* SIGHUP seen */
	int			 reap;		/* SIGCHLD seen */
	enum stop		 request;
	enum stop		 stopping;
	int			 foreground;
	int			*counts;	/* slots per service, see nslots */
	int			 scale;		/* pending: +1, -1 per signal */
};

static void	master_retire(struct master *, struct proc *, enum retire);
static void	master_drop_respawns(struct master *);

/* Slots of a service now: the file's workers, as SIGTTIN/SIGTTOU changed them. */
static int
nslots(const struct master *m, const struct conf_service *sv)
{
	return m->counts[sv - m->conf->services];
}

/* Does the master still hold every socket of p's slot? */
static int
proc_sockets_kept(struct master *m, const struct proc *p)
{
	for (int i = 0; i < p->nlisten; i++)
		if (listeners_fd(&m->listeners, &p->listen[i], p->slot) == -1)
			return 0;
	return 1;
}

static void
proc_ctl_cb(struct io *io, uint32_t ev)
{
	struct proc	*p = (struct proc *)io;
	struct master	*m = p->m;
	char		 msg;
	ssize_t		 n;

	(void)ev;
	n = recv(io->fd, &msg, 1, MSG_DONTWAIT);
	if (n == 1 && msg == WORKER_READY) {
		p->ready = 1;
		if (p->down_since != 0)
			log_info("worker %ld started: service %s slot %d "
			    "generation %u, %lld ms after the last one died",
			    (long)p->pid, p->service, p->slot, p->gen,
			    (long long)(m->loop.now - p->down_since));
		else
			log_info("worker %ld started: service %s slot %d "
			    "generation %u", (long)p->pid, p->service, p->slot,
			    p->gen);
		/* Its predecessor in the slot may go now: see master_retire. */
		for (struct proc *o = m->procs; o != NULL; o = o->next)
			if (o->gen < p->gen && o->slot == p->slot &&
			    strcmp(o->service, p->service) == 0)
				master_retire(m, o, proc_sockets_kept(m, o) ?
				    RETIRE_KEEP : RETIRE_DRAIN);
		return;
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		/* It is exiting; SIGCHLD will tell how. */
		loop_del(&m->loop, io);
		close(io->fd);
		io->fd = -1;
	}
}

/* In a new worker: drop every fd of the master but its own slot's. */
static void
master_close_inherited(struct master *m, const int *keep, int nkeep)
{
	listeners_close_except(&m->listeners, keep, nkeep);
	for (struct proc *p = m->procs; p != NULL; p = p->next)
		if (p->io.fd != -1)
			close(p->io.fd);
	close(m->sig_io.fd);
	loop_close(&m->loop);
	if (m->pidfd != -1)
		close(m->pidfd);
}

/* A cell in the service's max_connections count for a new worker. */
static int
master_limit_cell(struct master *m, const char *service,
    struct svc_limit **out)
{
	struct svc_limit	*l;

	for (l = m->limits; l != NULL; l = l->next)
		if (strcmp(l->service, service) == 0)
			break;
	if (l == NULL) {
		if ((l = calloc(1, sizeof(*l))) == NULL ||
		    (l->service = strdup(service)) == NULL ||
		    (l->shm = limit_new()) == NULL) {
			if (l != NULL)
				free(l->service);
			free(l);
			return -1;
		}
		l->next = m->limits;
		m->limits = l;
	}
	for (int i = 0; i < LIMIT_CELLS; i++)
		if (!l->used[i]) {
			l->used[i] = 1;
			*out = l;
			return i;
		}
	return -1;
}

static int
master_spawn(struct master *m, const struct conf_service *sv, int slot,
    int fails, int64_t down_since)
{
	struct worker_spec	 spec;
	struct proc		*p;
	int			 sp[2], *fds;
	pid_t			 pid;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->service = strdup(sv->name)) == NULL ||
	    (p->listen = calloc(sv->nlisten, sizeof(*p->listen))) == NULL ||
	    (fds = calloc(sv->nlisten, sizeof(*fds))) == NULL) {
		if (p) {
			free(p->service);
			free(p->listen);
		}
		free(p);
		log_warn("cannot start a worker for %s", sv->name);
		return -1;
	}
	memcpy(p->listen, sv->listen, sv->nlisten * sizeof(*p->listen));
	p->nlisten = sv->nlisten;
	p->beat = mmap(NULL, sizeof(*p->beat), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->beat == MAP_FAILED) {
		p->beat = NULL;
		goto fail;
	}
	p->beat->ms = m->loop.now;
	for (int a = 0; a < sv->nlisten; a++)
		fds[a] = listeners_fd(&m->listeners, &sv->listen[a], slot);
	if (sv->max_connections > 0 &&
	    (p->cell = master_limit_cell(m, sv->name, &p->limit)) == -1) {
		log_warnx("%s slot %d: no room to count max_connections",
		    sv->name, slot);
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		goto fail;
	switch (pid = fork()) {
	case -1:
		close(sp[0]);
		close(sp[1]);
		goto fail;
	case 0:
		close(sp[0]);
		spec = (struct worker_spec){
			.conf = m->conf, .svc = sv, .slot = slot, .fds = fds,
			.ctl = sp[1], .master = getppid(),
			.limit = p->limit ? p->limit->shm : NULL,
			.cell = p->cell,
			.beat = p->beat,
		};
		free(p->service);
		free(p->listen);
		free(p);
		master_close_inherited(m, fds, sv->nlisten);
		worker_run(&spec);
	}
	close(sp[1]);
	free(fds);
	p->m = m;
	p->pid = pid;
	p->slot = slot;
	p->gen = m->gen;
	p->fails = fails;
	p->down_since = down_since;
	p->started = m->loop.now;
	if (loop_add(&m->loop, &p->io, sp[0], EPOLLIN, proc_ctl_cb) == -1) {
		close(sp[0]);
		p->io.fd = -1;
	}
	p->next = m->procs;
	m->procs = p;
	log_debug("worker %ld forked: service %s slot %d generation %u",
	    (long)pid, sv->name, slot, m->gen);
	return 0;
fail:
	log_warn("cannot start a worker for %s slot %d", sv->name, slot);
	if (p->limit != NULL)
		p->limit->used[p->cell] = 0;
	if (p->beat != NULL)
		munmap(p->beat, sizeof(*p->beat));
	free(fds);
	free(p->service);
	free(p->listen);
	free(p);
	return -1;
}

/*
 * Retire a worker: it stops accepting and finishes its connections, or
 * with RETIRE_FAST closes them.  The message goes on the control socket;
 * a signal does if that is gone.
 */
static void
master_retire(struct master *m, struct proc *p, enum retire how)
{
	char	 msg = how == RETIRE_KEEP ? WORKER_QUIT : WORKER_DRAIN;

	if (p->retiring && how != RETIRE_FAST)
		return;
	p->retiring = 1;
	p->kill_at = m->loop.now + KILL_GRACE_MS + (how == RETIRE_FAST ? 0 :
	    (int64_t)m->conf->shutdown_timeout * 1000);
	if (how == RETIRE_FAST || p->io.fd == -1 ||
	    send(p->io.fd, &msg, 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
		kill(p->pid, how == RETIRE_FAST ? SIGTERM : SIGQUIT);
}

/*
 * Start the workers of the current generation: every slot of every
 * service.  The previous generation, if any, retires slot by slot as
 * each successor reports ready (proc_ctl_cb); workers of slots that no
 * longer exist retire now.
 */
static void
master_start_generation(struct master *m)
{
	const struct conf	*c = m->conf;

	for (int i = 0; i < c->nservices; i++)
		for (int k = 0; k < nslots(m, &c->services[i]); k++)
			master_spawn(m, &c->services[i], k, 0, 0);
	for (struct proc *p = m->procs; p != NULL; p = p->next) {
		const struct conf_service *sv;
		if (p->gen == m->gen || p->retiring)
			continue;
		sv = conf_service_find(c, p->service);
		if (sv == NULL || p->slot >= nslots(m, sv))
			master_retire(m, p, RETIRE_DRAIN);
	}
}

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

/* The file's worker count of each service. */
static int *
master_counts(const struct conf *c)
{
	int	*counts = calloc(c->nservices, sizeof(*counts));

	for (int i = 0; counts != NULL && i < c->nservices; i++)
		counts[i] = c->services[i].workers;
	return counts;
}

/*
 * SIGTTIN, SIGTTOU: one worker more or fewer for every service (from 1
 * to 256), until the next reload.  A new slot gets sockets of its own; a
 * slot that goes is drained by its worker before its sockets close.
 */
static void
master_scale(struct master *m, int by)
{
	const struct conf	*c = m->conf;
	char			 err[512];
	int			*counts, changed = 0;

	if ((counts = calloc(c->nservices, sizeof(*counts))) == NULL) {
		log_warn("cannot change the worker count");
		return;
	}
	for (int i = 0; i < c->nservices; i++) {
		counts[i] = m->counts[i] + by;
		counts[i] = counts[i] < 1 ? 1 : counts[i] > 256 ? 256 : counts[i];
		changed |= counts[i] != m->counts[i];
	}
	if (!changed || listeners_bind(&m->listeners, c, counts, err, sizeof(err)) == -1) {
		if (changed)
			log_warnx("cannot add a worker: %s", err);
		else
			log_notice("%s: no service can have %s workers",
			    by > 0 ? "SIGTTIN" : "SIGTTOU",
			    by > 0 ? "more" : "fewer");
		free(counts);
		return;
	}
	for (int i = 0; i < c->nservices; i++) {
		const struct conf_service *sv = &c->services[i];
		for (int k = m->counts[i]; k < counts[i]; k++)
			master_spawn(m, sv, k, 0, 0);
		for (struct proc *p = m->procs; p != NULL; p = p->next)
			if (p->slot >= counts[i] && !p->retiring &&
			    strcmp(p->service, sv->name) == 0)
				master_retire(m, p, RETIRE_DRAIN);
		if (counts[i] != m->counts[i])
			log_info("%s: %s now has %d worker%s", by > 0 ?
			    "SIGTTIN" : "SIGTTOU", sv->name, counts[i],
			    counts[i] == 1 ? "" : "s");
	}
	free(m->counts);
	m->counts = counts;
	listeners_close_unused(&m->listeners);
}

/*
 * With net.ipv4.tcp_migrate_req at 0, a closing slot socket resets the
 * handshakes still in flight on it instead of moving them to the other
 * sockets of its group.  Said once, at start.
 */
static void
master_check_migrate(void)
{
	FILE	*fp = fopen("/proc/sys/net/ipv4/tcp_migrate_req", "r");
	int	 v = -1;

	if (fp == NULL)
		return;
	if (fscanf(fp, "%d", &v) != 1)
		v = -1;
	fclose(fp);
	if (v == 0)
		log_notice("net.ipv4.tcp_migrate_req is 0: when a slot socket "
		    "closes (fewer workers, an address removed), connections "
		    "still in their handshake on it are reset; "
		    "sysctl -w net.ipv4.tcp_migrate_req=1 moves them to the "
		    "remaining sockets");
}

/*
 * SIGHUP: read the file again.  Only a file that loads and binds
 * replaces the running configuration; otherwise nothing changes.
 */
static void
master_reload(struct master *m)
{
	struct conf	*c;
	char		 err[1024];
	int		*counts = NULL;

	log_info("reload: reading %s", m->conf->path);
	if ((c = conf_load(m->conf->path, err, sizeof(err))) == NULL) {
		log_warnx("reload refused: %s; still running generation %u",
		    err, m->gen);
		return;
	}
	if ((counts = master_counts(c)) == NULL ||
	    listeners_bind(&m->listeners, c, counts, err, sizeof(err)) == -1) {
		log_warnx("reload refused: %s; still running generation %u",
		    counts ? err : "out of memory", m->gen);
		free(counts);
		conf_free(c);
		return;
	}
	free(m->counts);
	m->counts = counts;
	if (c->pid_file != NULL && (m->conf->pid_file == NULL ||
	    strcmp(c->pid_file, m->conf->pid_file) != 0))
		log_notice("reload: a new pid_file takes effect at restart");
	master_log_changes(m->conf, c);
	log_open(c->log_facility, c->log_level, 1, m->foreground);
	conf_free(m->conf);
	m->conf = c;
	m->gen++;
	master_drop_respawns(m);	/* the new generation fills every slot */
	listeners_close_unused(&m->listeners);
	master_start_generation(m);
	log_info("reload: generation %u started", m->gen);
}

static void
proc_free(struct master *m, struct proc *p)
{
	struct proc	**pp;

	for (pp = &m->procs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->io.fd != -1) {
		loop_del(&m->loop, &p->io);
		close(p->io.fd);
	}
	/* Its connections died with it: take back their count. */
	if (p->limit != NULL) {
		limit_reclaim(p->limit->shm, p->cell);
		p->limit->used[p->cell] = 0;
	}
	if (p->beat != NULL)
		munmap(p->beat, sizeof(*p->beat));
	free(p->service);
	free(p->listen);
	free(p);
}

static void
master_schedule_respawn(struct master *m, const char *service, int slot,
    int fails, int64_t delay)
{
	struct respawn	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->service = strdup(service)) == NULL) {
		free(r);
		log_warn("cannot schedule a respawn of %s slot %d", service,
		    slot);
		return;
	}
	r->slot = slot;
	r->fails = fails;
	r->at = m->loop.now + delay;
	r->down_since = m->loop.now;
	r->next = m->respawns;
	m->respawns = r;
}

/*
 * Show in ps which slots are failing: dying within respawn_window of
 * their start respawn_limit times in a row or more.
 */
static void
master_title(struct master *m)
{
	char	 failing[256] = "";
	size_t	 n = 0;
	int	 count = 0;

	for (struct proc *p = m->procs; p != NULL; p = p->next)
		if (p->fails >= m->conf->respawn_limit && !p->retiring) {
			count++;
			n += snprintf(failing + n, n < sizeof(failing) ?
			    sizeof(failing) - n : 0, " %s/%d", p->service,
			    p->slot);
		}
	for (struct respawn *r = m->respawns; r != NULL; r = r->next)
		if (r->fails >= m->conf->respawn_limit) {
			count++;
			n += snprintf(failing + n, n < sizeof(failing) ?
			    sizeof(failing) - n : 0, " %s/%d", r->service,
			    r->slot);
		}
	if (count == 0)
		proctitle_set("tcpd: master -c %s", m->conf->path);
	else
		proctitle_set("tcpd: master -c %s [failing:%s]",
		    m->conf->path, failing);
}

/*
 * A worker of the current generation died: put a new one in its slot,
 * at once, unless the slot is failing: then after a pause that doubles
 * with each further quick death.
 */
static void
master_replace(struct master *m, struct proc *p)
{
	const struct conf_service	*sv;
	const struct conf		*c = m->conf;
	int64_t				 lived = m->loop.now - p->started;
	int				 fails, over;
	int64_t				 delay;

	sv = conf_service_find(c, p->service);
	if (sv == NULL || p->slot >= nslots(m, sv))
		return;
	fails = lived < (int64_t)c->respawn_window * 1000 ? p->fails + 1 : 0;
	if (fails < c->respawn_limit) {
		master_spawn(m, sv, p->slot, fails, m->loop.now);
		return;
	}
	over = fails - c->respawn_limit;
	delay = (int64_t)RESPAWN_FIRST_MS << (over < 6 ? over : 6);
	if (delay > RESPAWN_MAX_MS)
		delay = RESPAWN_MAX_MS;
	if (over == 0)
		log_warnx("%s slot %d is failing: its workers died %d times in "
		    "a row within %d s of starting; respawning with back-off "
		    "from %d s up to %d s", p->service, p->slot, fails,
		    c->respawn_window, RESPAWN_FIRST_MS / 1000,
		    RESPAWN_MAX_MS / 1000);
	else
		log_debug("%s slot %d: respawning in %lld ms", p->service,
		    p->slot, (long long)delay);
	master_schedule_respawn(m, p->service, p->slot, fails, delay);
}

/* A worker that has lived through respawn_window clears its slot. */
static void
master_check_recovered(struct master *m)
{
	int64_t	 window = (int64_t)m->conf->respawn_window * 1000;
	int	 changed = 0;

	for (struct proc *p = m->procs; p != NULL; p = p->next) {
		if (p->fails == 0 || !p->ready || m->loop.now - p->started <
		    window)
			continue;
		if (p->fails >= m->conf->respawn_limit) {
			log_info("%s slot %d recovered: worker %ld has run for "
			    "%d s", p->service, p->slot, (long)p->pid,
			    m->conf->respawn_window);
			changed = 1;
		}
		p->fails = 0;
	}
	if (changed)
		master_title(m);
}

/*
 * Connections a dead worker had accepted and not finished, as far as its
 * last heartbeat tells (at most that many: some may have ended since).
 */
static unsigned long long
proc_held(const struct proc *p)
{
	return atomic_load(&p->beat->accepted) -
	    atomic_load(&p->beat->finished);
}

static void
master_reap(struct master *m)
{
	struct proc	*p;
	pid_t		 pid;
	int		 st;
	char		 how[64];

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (p = m->procs; p != NULL && p->pid != pid; p = p->next)
			;
		if (p == NULL)
			continue;
		sig_exit_text(st, how, sizeof(how));
		if (p->retiring || m->stopping != RUNNING)
			log_info("worker %ld (%s slot %d generation %u) %s",
			    (long)pid, p->service, p->slot, p->gen, how);
		else
			log_warnx("worker %ld (%s slot %d generation %u) %s "
			    "unexpectedly, holding %llu connection%s", (long)pid,
			    p->service, p->slot, p->gen, how, proc_held(p),
			    proc_held(p) == 1 ? "" : "s");
		if (!p->retiring && m->stopping == RUNNING && p->gen == m->gen)
			master_replace(m, p);
		proc_free(m, p);
	}
}

static void
master_sig_cb(struct io *io, uint32_t ev)
{
	struct master	*m = container_of(io, struct master, sig_io);
	int		 sig;

	(void)ev;
	while ((sig = sig_read(io->fd)) > 0) {
		switch (sig) {
		case SIGCHLD:
			m->reap = 1;
			break;
		case SIGHUP:
			m->reload = 1;
			break;
		case SIGTTIN:
			m->scale++;
			break;
		case SIGTTOU:
			m->scale--;
			break;
		case SIGQUIT:
			if (m->request == RUNNING)
				m->request = STOP_GRACEFUL;
			break;
		case SIGTERM:
		case SIGINT:
			m->request = STOP_FAST;
			break;
		}
	}
}

static void
master_drop_respawns(struct master *m)
{
	while (m->respawns != NULL) {
		struct respawn *r = m->respawns;
		m->respawns = r->next;
		free(r->service);
		free(r);
	}
}

static void
master_stop(struct master *m, enum stop how)
{
	if (m->stopping >= how)
		return;
	log_info("stopping (%s)", how == STOP_FAST ? "fast" : "graceful");
	m->stopping = how;
	for (struct proc *p = m->procs; p != NULL; p = p->next)
		master_retire(m, p, how == STOP_FAST ? RETIRE_FAST :
		    RETIRE_DRAIN);
	master_drop_respawns(m);
	/*
	 * Once the workers have taken what is queued, their close is the
	 * last: the sockets go and new connections are refused, rather than
	 * queued for nobody and reset at exit.
	 */
	listeners_close_all(&m->listeners);
}

/*
 * A worker whose loop has not woken for watchdog_timeout is hung: log
 * it, SIGABRT it (a core shows where), and SIGKILL it half a second
 * later if it is still there.  Its slot is respawned as for any death; its
 * sockets, held here, keep what is queued for the new worker.
 */
static void
master_watchdog(struct master *m)
{
	int64_t	 limit = (int64_t)m->conf->watchdog_timeout * 1000, silent;

	if (limit == 0)
		return;
	for (struct proc *p = m->procs; p != NULL; p = p->next) {
		if (p->aborted)
			continue;
		silent = m->loop.now - atomic_load(&p->beat->ms);
		if (silent < limit)
			continue;
		log_warnx("worker %ld (%s slot %d) hung: its loop has been "
		    "silent for %lld.%03lld s with %u connection%s open; "
		    "sending SIGABRT", (long)p->pid, p->service, p->slot,
		    (long long)(silent / 1000), (long long)(silent % 1000),
		    atomic_load(&p->beat->conns),
		    atomic_load(&p->beat->conns) == 1 ? "" : "s");
		kill(p->pid, SIGABRT);
		p->aborted = 1;
		p->kill_at = m->loop.now + WATCHDOG_GRACE_MS;
	}
}

/* Respawns that are due, and workers that overstayed their stop. */
static void
master_timers(struct master *m)
{
	struct respawn	**rp = &m->respawns, *r;

	while ((r = *rp) != NULL) {
		const struct conf_service *sv;
		if (r->at > m->loop.now) {
			rp = &r->next;
			continue;
		}
		*rp = r->next;
		sv = conf_service_find(m->conf, r->service);
		if (sv != NULL && r->slot < nslots(m, sv))
			master_spawn(m, sv, r->slot, r->fails, r->down_since);
		free(r->service);
		free(r);
	}
	master_watchdog(m);
	for (struct proc *p = m->procs; p != NULL; p = p->next)
		if (p->kill_at != 0 && p->kill_at <= m->loop.now) {
			log_warnx("worker %ld (%s slot %d) %s: killing it",
			    (long)p->pid, p->service, p->slot, p->aborted ?
			    "still there after SIGABRT" : "did not stop in time");
			kill(p->pid, SIGKILL);
			p->kill_at = 0;
		}
}

static int
master_timeout(const struct master *m)
{
	int64_t	 next = -1;

	for (const struct respawn *r = m->respawns; r != NULL; r = r->next)
		if (next == -1 || r->at < next)
			next = r->at;
	for (const struct proc *p = m->procs; p != NULL; p = p->next) {
		int64_t recovered = p->started +
		    (int64_t)m->conf->respawn_window * 1000;
		if (p->kill_at != 0 && (next == -1 || p->kill_at < next))
			next = p->kill_at;
		if (p->fails > 0 && p->ready && (next == -1 || recovered < next))
			next = recovered;
	}
	if (m->conf->watchdog_timeout > 0 && m->procs != NULL &&
	    (next == -1 || next > m->loop.now + WATCHDOG_LOOK_MS))
		next = m->loop.now + WATCHDOG_LOOK_MS;
	if (next == -1)
		return -1;
	return next <= m->loop.now ? 0 : (int)(next - m->loop.now);
}

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
	return m;
}

/* Bind every slot socket; before any privilege is given up. */
int
master_listen(struct master *m)
{
	char	 err[512];

	if ((m->counts = master_counts(m->conf)) == NULL)
		return -1;
	if (listeners_bind(&m->listeners, m->conf, m->counts, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	return 0;
}

/*
 * The master's loop: wait, then handle what happened in a fixed order:
 * reap, stop, reload, timers.  Returns when the last worker is gone
 * after a stop.
 */
int
master_run(struct master *m)
{
	static const int signals[] = {
		SIGCHLD, SIGHUP, SIGQUIT, SIGTERM, SIGINT, SIGTTIN, SIGTTOU, 0
	};
	int	 sigfd;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	if ((sigfd = sig_open(signals)) == -1)
		fatal("signalfd");
	if (loop_init(&m->loop) == -1 ||
	    loop_add(&m->loop, &m->sig_io, sigfd, EPOLLIN, master_sig_cb) == -1)
		fatal("epoll");
	log_info("tcpd %s started: %d service%s, %d worker%s", PACKAGE_VERSION,
	    m->conf->nservices, m->conf->nservices == 1 ? "" : "s",
	    conf_workers_total(m->conf),
	    conf_workers_total(m->conf) == 1 ? "" : "s");
	master_check_migrate();
	master_start_generation(m);

	for (;;) {
		if (loop_run_once(&m->loop, master_timeout(m)) == -1)
			fatal("epoll_wait");
		if (m->reap) {
			m->reap = 0;
			master_reap(m);
		}
		if (m->request != RUNNING)
			master_stop(m, m->request);
		if (m->stopping != RUNNING && m->procs == NULL)
			break;
		if (m->reload) {
			m->reload = 0;
			m->scale = 0;	/* the file's counts win */
			if (m->stopping == RUNNING)
				master_reload(m);
		}
		if (m->scale != 0) {
			if (m->stopping == RUNNING)
				master_scale(m, m->scale);
			m->scale = 0;
		}
		master_timers(m);
		master_check_recovered(m);
		master_title(m);
	}
	listeners_close_all(&m->listeners);
	log_info("stopped");
	return 0;
}

void
master_free(struct master *m)
{
	listeners_close_all(&m->listeners);
	master_drop_respawns(m);
	while (m->procs != NULL)
		proc_free(m, m->procs);
	if (m->sig_io.fd != -1)
		close(m->sig_io.fd);
	loop_close(&m->loop);
	while (m->limits != NULL) {
		struct svc_limit *l = m->limits;
		m->limits = l->next;
		limit_free(l->shm);
		free(l->service);
		free(l);
	}
	conf_free(m->conf);
	free(m->counts);
	listeners_free(&m->listeners);
	free(m);
}
