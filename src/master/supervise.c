/* Supervision: the slot table, and the policy that keeps every slot served. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "listener.h"
#include "log.h"
#include "loop.h"
#include "orphan.h"
#include "proc.h"
#include "sig.h"
#include "supervise.h"
#include "supervise_int.h"
#include "util.h"

/* How often the watchdog looks, and how long SIGABRT has before SIGKILL. */
#define WATCHDOG_LOOK_MS	250
#define WATCHDOG_GRACE_MS	500
/* At start: the longest a worker may take, from its own fork, to accept. */
#define START_MAX_MS		10000
/*
 * Workers forked per turn of the master's loop: between two batches it
 * reads what the new ones say, and signals, however many are to come.
 */
#define SPAWN_BATCH		64

static void	sup_ctl_cb(struct io *, uint32_t);

/* A worker could not be made for the slot: retry later, and say so. */
static void
slot_spawn_failed(struct sup *s, struct slot *sl, const char *err)
{
	char			 why[160];
	struct slot_event	 e = { .type = SE_FORK_FAILED, .why = why };

	snprintf(why, sizeof(why), "cannot start a worker: %s", err);
	if (s->starting) {
		snprintf(s->start_error, sizeof(s->start_error), "%s slot %d: %s",
		    sl->svc->name, sl->index, why);
		e.type = SE_START_FAILED;
	}
	slot_step(s, sl, &e);
}

/*
 * Tests only, and a no-op without test hooks: pause before each fork for
 * as many ms as $TCPD_TEST_SPAWN_DELAY_MS says, as a loaded machine
 * would.
 */
static void
spawn_test_delay(void)
{
#ifdef TCPD_TEST_HOOKS
	static long	 ms = -1;
	const char	*v;

	if (ms == -1)
		ms = (v = getenv("TCPD_TEST_SPAWN_DELAY_MS")) != NULL ?
		    strtol(v, NULL, 10) : 0;
	if (ms > 0)
		sleep_ms(ms);
#endif
}

/* Start the slot's next worker. */
static void
slot_spawn(struct sup *s, struct slot *sl)
{
	const struct conf_service	*sv = sl->svc->conf;
	struct proc_args		 a;
	struct proc			*p;
	char				 err[128];
	int				 fds[sv->nlisten];
	ino_t				 inos[sv->nlisten];

	if (slot_counts(sl) == -1) {
		snprintf(err, sizeof(err), "shared memory: %s",
		    strerror(ENOMEM));
		slot_spawn_failed(s, sl, err);
		return;
	}
	for (int i = 0; i < sv->nlisten; i++)
		fds[i] = listeners_fd(s->listeners, &sv->listen[i], sl->index,
		    &inos[i]);
	a = (struct proc_args){
		.conf = s->conf, .svc = sv, .slot = sl->index, .fds = fds,
		.inos = inos,
		.adm = &sl->svc->adm, .gen = s->gen,
		.loop = s->loop, .ctl_cb = sup_ctl_cb, .arg = s,
		.forker = s->forker, .beats = &s->beats,
	};
	spawn_test_delay();
	/*
	 * Forking many workers takes a while: each one's start deadline and
	 * first heartbeat count from its own fork, not from the wakeup that
	 * began the batch.
	 */
	s->loop->now = loop_now_ms();
	if ((p = proc_spawn(&a, err, sizeof(err))) == NULL) {
		slot_spawn_failed(s, sl, err);
		return;
	}
	p->svc = sl->svc;
	slot_step(s, sl, &(struct slot_event){ .type = SE_FORKED, .p = p });
	if (sup_bypid_add(s, p) == -1)
		s->bypid_lost = 1;
}

/*
 * A worker asked for the metrics or the health line (type): send it in
 * pieces, without waiting.
 * A worker too slow to take them all gives up on its own, and the rest
 * is dropped here.
 */
static void
sup_send_metrics(struct sup *s, struct proc *p, uint8_t type, uint16_t seq)
{
	struct worker_piece	 h = { .type = type, .seq = seq };
	struct iovec		 iov[2];
	struct msghdr		 mh = { .msg_iov = iov, .msg_iovlen = 2 };
	char			*text;
	size_t			 len, off = 0;

	if (s->answer == NULL ||
	    (text = s->answer(s->answer_arg, type == WORKER_HEALTH ? "health" :
	    "metrics", &len, NULL,
	    NULL)) == NULL)
		return;
	do {
		h.len = len - off > WORKER_PIECE_MAX ? WORKER_PIECE_MAX :
		    len - off;
		h.more = off + h.len < len;
		iov[0] = (struct iovec){ &h, sizeof(h) };
		iov[1] = (struct iovec){ text + off, h.len };
		if (sendmsg(p->io.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1)
			break;
		off += h.len;
	} while (off < len);
	free(text);
}

/* A message from a worker, or the end of its control socket. */
static void
sup_ctl_cb(struct io *io, uint32_t ev)
{
	struct proc	*p = (struct proc *)io;
	struct sup		*s = p->arg;
	struct worker_msg	 msg;
	ssize_t			 n;

	(void)ev;
	n = recv(io->fd, &msg, sizeof(msg), MSG_DONTWAIT);
	if (n == (ssize_t)sizeof(msg) && (msg.type == WORKER_METRICS ||
	    msg.type == WORKER_HEALTH)) {
		sup_send_metrics(s, p, msg.type, msg.seq);
		return;
	}
	if (n == (ssize_t)sizeof(msg) && msg.type == WORKER_READY && !p->ready) {
		p->ready = 1;
		if (p->slot != NULL && p->slot->next == p)
			slot_step(s, p->slot, &(struct slot_event){
			    .type = SE_READY, .p = p });
		return;
	}
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		/* It is exiting; SIGCHLD will tell how. */
		loop_del(s->loop, io);
		close(io->fd);
		io->fd = -1;
	}
}

/*
 * A worker whose loop has not woken for watchdog_timeout is hung: log
 * it, SIGABRT it (a core shows where), and SIGKILL it half a second
 * later if it is still there.  Its slot is respawned as for any death;
 * its sockets, held here, keep what is queued for the new worker.
 */
static void
watchdog(struct sup *s, struct proc *p)
{
	int64_t		 limit = (int64_t)s->conf->watchdog_timeout * 1000;
	int64_t		 silent = s->loop->now - atomic_load(&p->beat->ms);
	unsigned	 conns = atomic_load(&p->beat->conns);

	if (limit == 0 || p->aborted || silent < limit)
		return;
	log_warnx("worker %ld (%s) hung: its loop has been silent for "
	    "%lld.%03lld s with %u connection%s open; sending SIGABRT",
	    (long)p->pid, p->name, (long long)(silent / 1000),
	    (long long)(silent % 1000), conns, conns == 1 ? "" : "s");
	kill(p->pid, SIGABRT);
	p->aborted = 1;
	p->kill_at = s->loop->now + WATCHDOG_GRACE_MS;
}

/* The watchdog, and SIGKILL for a worker that overstayed its deadline. */
static void
tend_proc(struct sup *s, struct proc *p)
{
	watchdog(s, p);
	if (p->kill_at == 0 || p->kill_at > s->loop->now)
		return;
	log_warnx("worker %ld (%s) %s: killing it", (long)p->pid, p->name,
	    p->aborted ? "still there after SIGABRT" : "did not stop in time");
	kill(p->pid, SIGKILL);
	p->kill_at = 0;
}

/* A slot's worker that has lived through respawn_window clears it. */
static void
slot_check_recovered(struct sup *s, struct slot *sl)
{
	struct proc	*p = sl->cur;

	if (sl->deaths == 0 || !slot_served(sl) || s->loop->now - p->started <
	    (int64_t)s->conf->respawn_window * 1000)
		return;
	if (slot_failing(s, sl))
		log_info("%s slot %d recovered: worker %ld has run for %d s",
		    sl->svc->name, sl->index, (long)p->pid,
		    s->conf->respawn_window);
	sl->deaths = 0;
}

/*
 * Between two waits: start what each slot lacks when it is due, and look
 * at every worker for hangs and overstays.
 */
void
sup_tend(struct sup *s)
{
	int	 forked = 0;

	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = s->slots[i];
		/* The rest at the next turn: sup_timeout() makes it now. */
		if (slot_wants(sl) && sl->retry_at <= s->loop->now &&
		    forked++ < SPAWN_BATCH)
			slot_spawn(s, sl);
		slot_check_recovered(s, sl);
		if (sl->cur != NULL)
			tend_proc(s, sl->cur);
		if (sl->next != NULL)
			tend_proc(s, sl->next);
	}
	for (struct proc *p = s->retiring; p != NULL; p = p->next)
		tend_proc(s, p);
	if (s->orphans != NULL && orphans_check(&s->orphans, s->loop->now) > 0)
		svcs_gc(&s->svcs);
}

/*
 * At start: 1 once every slot's worker accepts, -1 when one could not be
 * started (start_error says why), 0 meanwhile.  Each worker has
 * START_MAX_MS from its own fork, however long forking them all takes.
 */
int
sup_started(struct sup *s)
{
	int	 all = 1;

	for (int i = 0; s->start_error[0] == '\0' && i < s->nslots; i++) {
		struct slot *sl = s->slots[i];
		struct proc *p = sl->next;
		if (slot_served(sl))
			continue;
		all = 0;
		if (p == NULL || s->loop->now - p->started < START_MAX_MS)
			continue;
		/* Its READY may wait unread behind other workers' messages. */
		if (p->io.fd != -1)
			sup_ctl_cb(&p->io, EPOLLIN);
		if (slot_served(sl))
			continue;
		snprintf(s->start_error, sizeof(s->start_error), "the worker "
		    "for %s was not accepting %d s after it was forked",
		    p->name, START_MAX_MS / 1000);
	}
	if (s->start_error[0] != '\0')
		return -1;
	return all;
}

/* Stop every worker: drain them with a deadline, or close all now. */
void
sup_stop(struct sup *s, enum stop_how how, int timeout)
{
	int64_t	 at = s->loop->now + KILL_GRACE_MS +
	    (how == STOP_FAST ? 0 : (int64_t)timeout * 1000);

	s->stopping = how;
	for (int i = 0; i < s->nslots; i++)
		slot_step(s, s->slots[i], &(struct slot_event){
		    .type = SE_STOP, .how = how });
	for (struct proc *p = s->retiring; p != NULL; p = p->next) {
		proc_stop(p, how, timeout, s->loop->now);
		if (p->kill_at == 0 || p->kill_at > at)
			p->kill_at = at;
	}
}

static void
earliest(int64_t *next, int64_t t)
{
	if (t != 0 && (*next == -1 || t < *next))
		*next = t;
}

/* Milliseconds until sup_tend() has something to do, or -1. */
int
sup_timeout(const struct sup *s)
{
	int64_t	 next = -1, now = s->loop->now;

	for (int i = 0; i < s->nslots; i++) {
		const struct slot *sl = s->slots[i];
		if (slot_wants(sl))
			earliest(&next, sl->retry_at > now ? sl->retry_at : now);
		if (sl->deaths > 0 && slot_served(sl))
			earliest(&next, sl->cur->started +
			    (int64_t)s->conf->respawn_window * 1000);
		if (sl->cur != NULL)
			earliest(&next, sl->cur->kill_at);
		if (sl->next != NULL)
			earliest(&next, sl->next->kill_at);
	}
	for (const struct proc *p = s->retiring; p != NULL; p = p->next)
		earliest(&next, p->kill_at);
	if (s->conf->watchdog_timeout > 0 && !sup_empty(s))
		earliest(&next, now + WATCHDOG_LOOK_MS);
	if (s->orphans != NULL)
		earliest(&next, orphans_next(s->orphans, now));
	if (next == -1)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

