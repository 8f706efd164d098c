/* Worker processes, as the master sees them: spawn, signal, free. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beat.h"
#include "conf.h"
#include "limit.h"
#include "source.h"
#include "log.h"
#include "proc.h"
#include "util.h"

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/*
 * In a new worker: close every fd but stdio and the n in keep[].  The
 * master's sockets, its other workers' control sockets, its epoll and
 * signal fds: the worker needs none of them, and must not hold a slot
 * socket that is not its own.
 */
static void
close_all_but(int *keep, int n)
{
	unsigned	 from = STDERR_FILENO + 1;

	qsort(keep, n, sizeof(*keep), cmp_int);
	log_detach();
	for (int i = 0; i < n; i++) {
		if ((unsigned)keep[i] > from)
			close_range(from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	close_range(from, ~0U, 0);
	log_reopen();
}

/* The child's side of proc_spawn(): become the worker. */
static void __attribute__((noreturn))
proc_child(const struct proc_args *a, struct proc *p, int ctl)
{
	struct worker_spec	 spec;
	int			 n = a->svc->nlisten, keep[n + 1];

	memcpy(keep, a->fds, n * sizeof(*keep));
	keep[n] = ctl;
	close_all_but(keep, n + 1);
	beat_only(p->beat);
	spec = (struct worker_spec){
		.conf = a->conf, .svc = a->svc, .slot = a->slot, .fds = a->fds,
		.ctl = ctl, .master = getppid(), .beat = p->beat,
		.limit = { a->limit, p->cell, a->svc->max_connections },
		.src = { p->src, p->ledger, &a->svc->net.per_source },
	};
	worker_run(&spec);
}

/*
 * Fork a worker for one slot.  Returns it, or NULL with errno set and
 * *failed naming the step that failed (fork, socketpair, ...).
 */
struct proc *
proc_spawn(const struct proc_args *a, const char **failed)
{
	struct proc	*p;
	int		 sp[2] = { -1, -1 }, saved;

	*failed = "memory";
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->io.fd = -1;
	p->cell = -1;
	p->arg = a->arg;
	p->slot_index = a->slot;
	snprintf(p->name, sizeof(p->name), "%s slot %d", a->svc->name, a->slot);
	snprintf(p->service, sizeof(p->service), "%s", a->svc->name);
	if ((p->listen = calloc(a->svc->nlisten, sizeof(*p->listen))) == NULL)
		goto fail;
	memcpy(p->listen, a->svc->listen, a->svc->nlisten * sizeof(*p->listen));
	p->nlisten = a->svc->nlisten;
	*failed = "shared memory";
	if ((p->beat = beat_new()) == NULL)
		goto fail;
	p->beat->ms = a->loop->now;
	*failed = "max_connections count";
	if (a->limit != NULL && (p->cell = limit_cell_get(a->limit)) == -1)
		goto fail;
	p->limit = a->limit;
	*failed = "per_source table";
	if (a->src != NULL && (p->ledger = source_ledger_new(a->src)) == NULL)
		goto fail;
	p->src = p->ledger != NULL ? a->src : NULL;
	*failed = "socketpair";
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		goto fail;
	*failed = "fork";
	if ((p->pid = fork()) == -1)
		goto fail;
	if (p->pid == 0)
		proc_child(a, p, sp[1]);
	close(sp[1]);
	sp[1] = -1;
	*failed = "epoll";
	if (loop_add(a->loop, &p->io, sp[0], EPOLLIN, a->ctl_cb) == -1) {
		/* The worker exits when it finds its control socket closed. */
		kill(p->pid, SIGKILL);
		goto fail;
	}
	p->gen = a->gen;
	p->started = a->loop->now;
	log_debug("worker %ld forked: service %s", (long)p->pid, p->name);
	return p;
fail:
	saved = errno;
	if (sp[0] != -1)
		close(sp[0]);
	if (sp[1] != -1)
		close(sp[1]);
	p->io.fd = -1;
	p->pid = 0;
	proc_free(NULL, p);
	errno = saved;
	return NULL;
}

/*
 * Ask a worker to stop: on its control socket, or by signal when that
 * is gone (SIGQUIT: drain with its own shutdown_timeout; SIGTERM: now).
 */
void
proc_stop(struct proc *p, enum stop_how how, int timeout, int64_t now)
{
	struct worker_msg	 msg = { .type = WORKER_STOP, .how = how,
	    .timeout = (uint32_t)timeout };

	if (p->stopping == STOP_NONE)
		p->stop_sent = now;
	p->stopping = how;
	if (how == STOP_FAST || p->io.fd == -1 ||
	    send(p->io.fd, &msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(msg))
		kill(p->pid, how == STOP_FAST ? SIGTERM : SIGQUIT);
}

/*
 * Forget a worker that is gone (or never started): its control socket,
 * its heartbeat, and its share of max_connections, which the master
 * takes back since the connections died with it.
 */
void
proc_free(struct loop *loop, struct proc *p)
{
	if (p->io.fd != -1) {
		if (loop != NULL)
			loop_del(loop, &p->io);
		close(p->io.fd);
	}
	if (p->cell != -1)
		limit_cell_put(p->limit, p->cell);
	if (p->ledger != NULL)
		source_ledger_free(p->src, p->ledger);
	if (p->beat != NULL)
		beat_free(p->beat);
	free(p->listen);
	free(p);
}

/*
 * Connections a dead worker had accepted and not finished, as far as its
 * last heartbeat tells (at most that many: some may have ended since).
 */
unsigned long long
proc_held(const struct proc *p)
{
	return atomic_load(&p->beat->accepted) -
	    atomic_load(&p->beat->finished);
}
