/* Worker processes, as the master sees them: spawn, signal, free. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/wait.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admission.h"
#include "beat.h"
#include "conf.h"
#include "forker.h"
#include "log.h"
#include "nofork.h"
#include "proc.h"
#include "shm.h"
#include "util.h"
#include "worker.h"

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

/*
 * What proc_child() is given, in the new process's copy of memory.  Not
 * the master's record of the worker: that is in memory no fork copies
 * (nofork.c), so all the child needs of it is copied here.
 */
struct proc_birth {
	const struct conf		*conf;
	const struct conf_service	*svc;
	int				 slot;
	struct heartbeat		*beat;
	struct admission		 adm;
	struct shm			 own[4];	/* its shared memory */
	int				 nown;
};

/*
 * The child's side of proc_spawn(): become the worker.  fds: where its
 * slot's sockets are, then its control socket.
 */
static void __attribute__((noreturn))
proc_child(void *arg, int clean, const int *fds)
{
	const struct proc_birth	*b = arg;
	struct worker_spec	 spec;
	int			 n = b->svc->nlisten, keep[n + 1];

	memcpy(keep, fds, (n + 1) * sizeof(*keep));
	if (clean) {
		/* glibc's syslog socket is a number it does not have. */
		log_detach();
		log_reopen();
	} else
		close_all_but(keep, n + 1);
	spec = (struct worker_spec){
		.conf = b->conf, .svc = b->svc, .slot = b->slot, .fds = fds,
		.ctl = fds[n], .master = getppid(), .beat = b->beat,
		.adm = b->adm, .own = b->own, .nown = b->nown,
	};
	worker_run(&spec);
}

/*
 * Fork (by the forking thread: forker.c), with the new worker's own
 * shared memory, and no other, copied into it: every other worker's
 * heartbeat and ledger and every other service's counts stay out of its
 * reach; and of the master's fds, only its slot's sockets and its end of
 * the control socket.  -1 with errno set; a child
 * that would see more than its own is not let run.
 */
static pid_t
proc_fork(const struct proc_args *a, struct proc *p, int ctl)
{
	struct proc_birth	 birth = { .conf = a->conf, .svc = a->svc,
	    .slot = a->slot, .beat = p->beat };
	int			 n = a->svc->nlisten, fds[n + 1], placed[n + 1];
	struct shm		 cell;
	const struct shm	*own[4];
	pid_t			 pid;
	int			 saved;

	admission_of_share(&p->share, a->svc, &birth.adm);
	admission_share_inherit(&p->share, own);
	beat_shm(p->beat, &cell);
	own[3] = &cell;
	for (size_t i = 0; i < nitems(own); i++)
		if (own[i] != NULL)
			birth.own[birth.nown++] = *own[i];
	if (shm_inherit(own, nitems(own), 1) == -1)
		return -1;
	memcpy(fds, a->fds, n * sizeof(*fds));
	fds[n] = ctl;
	pid = forker_fork(a->forker, fds, n + 1, proc_child, &birth, placed);
	saved = errno;
	memcpy(p->fd, placed, n * sizeof(*p->fd));
	if (shm_inherit(own, nitems(own), 0) == -1) {
		saved = errno;
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		pid = -1;
	}
	errno = saved;
	return pid;
}

/*
 * Fork a worker for one slot.  Returns it, or NULL with errno set and
 * in err the step that failed and why ("fork: Resource temporarily
 * unavailable").
 */
struct proc *
proc_spawn(const struct proc_args *a, char *err, size_t errlen)
{
	struct proc	*p;
	const char	*step = "memory";
	int		 sp[2] = { -1, -1 }, saved;

	if ((p = nofork_calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%s: %s", step, strerror(errno));
		return NULL;
	}
	p->io.fd = -1;
	p->share.cell = -1;
	p->arg = a->arg;
	p->slot_index = a->slot;
	snprintf(p->name, sizeof(p->name), "%s slot %d", a->svc->name, a->slot);
	if ((p->listen = nofork_calloc(a->svc->nlisten,
	    sizeof(*p->listen))) == NULL ||
	    (p->ino = nofork_calloc(a->svc->nlisten, sizeof(*p->ino))) ==
	    NULL ||
	    (p->fd = nofork_calloc(a->svc->nlisten, sizeof(*p->fd))) == NULL)
		goto fail;
	memcpy(p->listen, a->svc->listen, a->svc->nlisten * sizeof(*p->listen));
	memcpy(p->ino, a->inos, a->svc->nlisten * sizeof(*p->ino));
	p->nlisten = a->svc->nlisten;
	step = "shared memory";
	p->beats = a->beats;
	if ((p->beat = beat_new(p->beats)) == NULL)
		goto fail;
	p->beat->ms = a->loop->now;
	if (admission_share_take(a->adm, a->svc, &p->share, &step) == -1)
		goto fail;
	step = "socketpair";
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		goto fail;
	step = "fork";
	if ((p->pid = proc_fork(a, p, sp[1])) == -1)
		goto fail;
	close(sp[1]);
	sp[1] = -1;
	step = "epoll";
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
	snprintf(err, errlen, "%s: %s", step, strerror(saved));
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
 * its heartbeat, and its share of max_connections and per_source, which
 * the master takes back since the connections died with it.
 */
void
proc_free(struct loop *loop, struct proc *p)
{
	if (p->io.fd != -1) {
		if (loop != NULL)
			loop_del(loop, &p->io);
		close(p->io.fd);
	}
	admission_share_drop(&p->share);
	if (p->beat != NULL)
		beat_free(p->beats, p->beat);
	nofork_free(p->listen);
	nofork_free(p->ino);
	nofork_free(p->fd);
	nofork_free(p);
}

/*
 * A count from p's heartbeat, if a worker could have reached it in the
 * time p has lived at per_ms a millisecond at most; else 0.  The figures
 * are the worker's own word: a lie about its own work is possible, but
 * not one that no machine could have done.
 */
unsigned long long
proc_count(const struct proc *p, const _Atomic unsigned long long *v,
    unsigned long long per_ms, int64_t now)
{
	unsigned long long	 n = atomic_load(v);
	unsigned long long	 life = now > p->started ? now - p->started : 0;

	life++;
	if (life > ~0ULL / per_ms || n <= life * per_ms)
		return n;
	return 0;
}

/*
 * Connections a dead worker had accepted and not finished, as far as its
 * last heartbeat tells (at most that many: some may have ended since);
 * none when it says it finished more than it took.
 */
unsigned long long
proc_held(const struct proc *p)
{
	unsigned long long	 a = atomic_load(&p->beat->accepted);
	unsigned long long	 f = atomic_load(&p->beat->finished);

	return a > f ? a - f : 0;
}
