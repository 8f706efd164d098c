/* A connection's program: started on the socket, its stderr logged, reaped. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "children.h"
#include "conf_exec.h"
#include "conn.h"
#include "errlog.h"
#include "log.h"
#include "loop.h"
#include "sig.h"
#include "spawn.h"
#include "spawn_child.h"
#include "util.h"
#include "worker.h"

/* From SIGTERM to SIGKILL, at a stop and at a program's timeout. */
#define TERM_GRACE_MS	2000

struct pqueue;

/*
 * A program running for a connection, which it holds a reference to
 * until the last process of its process group ends: the program itself
 * and whatever it started that stayed in its group.
 */
struct program {
	pid_t		 pid;		/* and its process group's id */
	struct conn	*c;
	int		 timeout;	/* seconds, 0: none */
	int64_t		 deadline;	/* its queue's next step; 0: none */
	int		 exited;	/* pid itself is gone: its group lingers */
	int		 cell;		/* in the heartbeat's groups; -1: none */
	struct pqueue	*q;
	struct program	*prev, *next;
};

/*
 * This worker's programs, by what comes next for each.  Every program
 * enters a queue with the same delay (one service per worker, one
 * timeout; one grace), so appending keeps each in deadline order.
 */
struct pqueue {
	struct program	*head, *tail;
};
static struct pqueue	running;	/* SIGTERM at its timeout, if any */
static struct pqueue	ending;		/* SIGTERM sent: SIGKILL after grace */
static struct pqueue	killed;		/* SIGKILL sent: to be reaped */
static int		lingering;	/* programs that exited, groups not */
static int		next_cell;	/* where to look for a free one */
static const char	*service_name;	/* for the log */

/* One timer for them all, armed at the earliest deadline. */
static struct io	 timer = { .fd = -1 };
static struct loop	*timer_loop;
static int64_t		 timer_at;	/* 0: not armed */

static void
pq_add(struct pqueue *q, struct program *p, int64_t deadline)
{
	p->q = q;
	p->deadline = deadline;
	p->next = NULL;
	p->prev = q->tail;
	if (q->tail != NULL)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
}

static void
pq_del(struct program *p)
{
	struct pqueue	*q = p->q;

	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		q->head = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	else
		q->tail = p->prev;
	p->q = NULL;
}

/*
 * The program whose pid, or process group (group: 1, whether or not the
 * program itself is still there), is pid; or NULL.
 */
static struct program *
spawn_find(pid_t pid, int group)
{
	struct pqueue	*qs[] = { &running, &ending, &killed };
	struct program	*p;

	for (size_t i = 0; i < nitems(qs); i++)
		for (p = qs[i]->head; p != NULL; p = p->next)
			if (p->pid == pid && (group || !p->exited))
				return p;
	return NULL;
}

/* Arm the timer for the earliest deadline, or disarm it. */
static void
timer_arm(void)
{
	struct itimerspec	 its;
	int64_t			 at = 0;

	if (running.head != NULL && running.head->deadline != 0)
		at = running.head->deadline;
	if (ending.head != NULL && (at == 0 || ending.head->deadline < at))
		at = ending.head->deadline;
	if (at == timer_at || timer.fd == -1)
		return;
	memset(&its, 0, sizeof(its));
	if (at != 0) {
		/* A nanosecond on: the loop's clock, in whole ms, is at at. */
		its.it_value.tv_sec = at / 1000;
		its.it_value.tv_nsec = (at % 1000) * 1000000 + 1;
	}
	if (timerfd_settime(timer.fd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		fatal("timerfd_settime");
	timer_at = at;
}

/* Past its timeout: SIGTERM to its process group, SIGKILL after grace. */
static void
spawn_term(struct program *p, int64_t now)
{
	char	 who[ADDR_STRLEN];

	addr_text(&p->c->peer, who, sizeof(who));
	log_notice("%s %s: %s %ld still running after its timeout of %d s: "
	    "SIGTERM to its process group", p->c->set->name, who,
	    p->exited ? "process group" : "pid", (long)p->pid, p->timeout);
	kill(-p->pid, SIGTERM);
	pq_del(p);
	pq_add(&ending, p, now + TERM_GRACE_MS);
}

static void
spawn_kill(struct program *p)
{
	char	 who[ADDR_STRLEN];

	addr_text(&p->c->peer, who, sizeof(who));
	log_notice("%s %s: %s %ld still running %d s after SIGTERM: SIGKILL "
	    "to its process group", p->c->set->name, who,
	    p->exited ? "process group" : "pid", (long)p->pid,
	    TERM_GRACE_MS / 1000);
	kill(-p->pid, SIGKILL);
	pq_del(p);
	pq_add(&killed, p, 0);
}

/* The earliest deadline has come, or one before it went with its program. */
static void
timer_cb(struct io *io, uint32_t ev)
{
	int64_t		 now = timer_loop->now;
	uint64_t	 n;

	(void)ev;
	if (read(io->fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		fatal("timerfd");
	timer_at = 0;
	while (running.head != NULL && running.head->deadline != 0 &&
	    running.head->deadline <= now)
		spawn_term(running.head, now);
	while (ending.head != NULL && ending.head->deadline <= now)
		spawn_kill(ending.head);
	timer_arm();
}

/* The timer, made for the first program that has a timeout. */
static int
timer_open(struct loop *loop)
{
	int	 fd;

	if (timer.fd != -1)
		return 0;
	if ((fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) == -1)
		return -1;
	if (loop_add(loop, &timer, fd, EPOLLIN, timer_cb) == -1) {
		close(fd);
		timer.fd = -1;
		return -1;
	}
	timer_loop = loop;
	return 0;
}

/*
 * Say p's process group in the heartbeat, for the master to end should
 * this worker die before it.  A full table leaves p to PDEATHSIG alone.
 */
static void
cell_take(struct program *p, struct heartbeat *beat)
{
	p->cell = -1;
	if (beat == NULL)
		return;
	for (int i = 0; i < BEAT_GROUPS; i++) {
		int	 at = (next_cell + i) % BEAT_GROUPS;

		if (atomic_load_explicit(&beat->groups[at],
		    memory_order_relaxed) == 0) {
			atomic_store(&beat->groups[at], p->pid);
			p->cell = at;
			next_cell = (at + 1) % BEAT_GROUPS;
			return;
		}
	}
}

static void
cell_free(struct program *p)
{
	if (p->cell != -1)
		atomic_store(&p->c->set->beat->groups[p->cell], 0);
	p->cell = -1;
}

/* What failed, for the caller's log line: "chdir /srv: ..." */
static void
spawn_why(const struct spawn_req *r, char *why, size_t len)
{
	const struct conf_exec	*x = r->x;

	if (r->step == NULL)
		snprintf(why, len, "%s", strerror(errno));
	else if (strcmp(r->step, "chdir") == 0)
		snprintf(why, len, "chdir %s: %s", x->cwd, strerror(errno));
	else if (strcmp(r->step, "setrlimit") == 0)
		snprintf(why, len, "setrlimit %s: %s",
		    conf_rlimit_name(r->rlimit), strerror(errno));
	else if (strcmp(r->step, "setpriority") == 0)
		snprintf(why, len, "nice %d: %s", x->nice, strerror(errno));
	else
		snprintf(why, len, "%s: %s", r->step, strerror(errno));
}

/*
 * Start x's program with the connection as its fd 0 and 1 and a pipe
 * to the log as fd 2.  Returns its pid, or -1 with why filled in.
 */
static pid_t
spawn_program(struct conn *c, const struct conf_exec *x, char *why,
    size_t whylen)
{
	struct spawn_req	 r = { .x = x, .sock = c->io.fd };
	struct errlog		*e = NULL;
	int			 errp[2] = { -1, -1 }, fl, saved;
	pid_t			 pid = -1;

	/* The program gets a plain blocking socket. */
	if ((fl = fcntl(c->io.fd, F_GETFL)) == -1 ||
	    fcntl(c->io.fd, F_SETFL, fl & ~O_NONBLOCK) == -1 ||
	    (r.env = spawn_env(c, x)) == NULL ||
	    (e = errlog_new()) == NULL ||
	    pipe2(errp, O_CLOEXEC) == -1) {
		snprintf(why, whylen, "%s", strerror(errno));
		goto out;
	}
	fcntl(errp[0], F_SETFL, O_NONBLOCK);
	r.errfd = errp[1];
	if ((pid = spawn_child(&r)) == -1) {
		saved = errno;
		spawn_why(&r, why, whylen);
		errno = saved;
		goto out;
	}
	errlog_start(e, c->set->loop, errp[0], c->set->name, pid);
	errp[0] = -1;
	e = NULL;
out:
	saved = errno;
	if (errp[0] != -1)
		close(errp[0]);
	if (errp[1] != -1)
		close(errp[1]);
	errlog_free(e);
	spawn_env_free(r.env);
	errno = saved;
	return pid;
}

/*
 * In a worker that runs programs: what they start and leave behind comes
 * to it, not to init, when their parent ends, so that it can be reaped,
 * counted and ended here.
 */
int
spawn_init(const char *service)
{
	service_name = service;
	return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/*
 * Run x's program for c: it holds the connection from now on, and the
 * worker lets go of its own copy of the socket.  Returns -1, with what
 * failed in why, if it could not be started; c is then as it was.
 */
int
spawn_run(struct conn *c, const struct conf_exec *x, char *why, size_t whylen)
{
	struct program	*p;
	pid_t		 pid;

	if ((p = malloc(sizeof(*p))) == NULL ||
	    (x->timeout > 0 && timer_open(c->set->loop) == -1)) {
		snprintf(why, whylen, "%s", strerror(errno));
		free(p);
		return -1;
	}
	if ((pid = spawn_program(c, x, why, whylen)) == -1) {
		free(p);
		return -1;
	}
	p->pid = pid;
	p->c = c;
	p->timeout = x->timeout;
	p->exited = 0;
	cell_take(p, c->set->beat);
	pq_add(&running, p, x->timeout > 0 ?
	    c->set->loop->now + (int64_t)x->timeout * 1000 : 0);
	if (running.head == p)
		timer_arm();
	conn_detach(c, pid);
	return 0;
}

/* Is there no process left in p's process group? */
static int
group_gone(const struct program *p)
{
	return kill(-p->pid, 0) == -1 && errno == ESRCH;
}

/* The last process of p's group is gone: it lets go of its connection. */
static void
spawn_release(struct program *p)
{
	struct conn	*c = p->c;
	char		 who[ADDR_STRLEN];
	int64_t		 ms = c->set->loop->now - c->started;

	if (p->exited) {
		lingering--;
		addr_text(&c->peer, who, sizeof(who));
		log_info("%s %s: the last process of pid %ld's group ended "
		    "after %lld.%03lld s", c->set->name, who, (long)p->pid,
		    (long long)(ms / 1000), (long long)(ms % 1000));
	}
	pq_del(p);
	cell_free(p);
	conn_unref(c);
	free(p);
}

/* Log how a program ended, and what that put on the wire. */
static void
spawn_exited(const struct program *p, int st, int alone)
{
	struct conn	*c = p->c;
	char		 who[ADDR_STRLEN], how[64];
	int64_t		 ms = c->set->loop->now - c->started;

	sig_exit_text(st, how, sizeof(how));
	addr_text(&c->peer, who, sizeof(who));
	log_info("%s %s: pid %ld %s after %lld.%03lld s%s", c->set->name, who,
	    (long)p->pid, how, (long long)(ms / 1000),
	    (long long)(ms % 1000), alone ? "" : "; what it started in its "
	    "process group still runs, and the connection counts until the "
	    "last of them ends");
	if (alone)
		log_debug("%s %s: pid %ld held the last copy of the socket, so "
		    "the kernel closed it at its exit: FIN, unless the program "
		    "sent one earlier with shutdown(), or RST if it left input "
		    "unread", c->set->name, who, (long)p->pid);
	else
		log_debug("%s %s: the kernel sends FIN when the last process "
		    "holding a copy of the socket closes it or exits, which "
		    "may be one of those left in pid %ld's group", c->set->name,
		    who, (long)p->pid);
}

/* The program pid ended with status st. */
static void
spawn_gone(pid_t pid, int st)
{
	struct program	*p;
	int		 alone;

	if ((p = spawn_find(pid, 0)) == NULL)
		return;
	alone = group_gone(p);
	spawn_exited(p, st, alone);
	p->c->status = st;	/* for the connection's line */
	if (alone) {
		spawn_release(p);
		return;
	}
	p->exited = 1;
	lingering++;
	p->c->flags |= CONN_GROUP_LEFT;
}

/* Release every program whose group has no process left. */
static void
spawn_check_lingering(void)
{
	struct pqueue	*qs[] = { &running, &ending, &killed };
	struct program	*p, *next;

	for (size_t i = 0; i < nitems(qs) && lingering > 0; i++)
		for (p = qs[i]->head; p != NULL; p = next) {
			next = p->next;
			if (p->exited && group_gone(p))
				spawn_release(p);
		}
}

/*
 * SIGCHLD: programs that ended, and processes they started, which come
 * to this worker (a subreaper) when their parent is gone.  A program
 * gives back its connection once nothing of its group is left.
 */
void
spawn_reap(void)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		spawn_gone(pid, st);
	if (lingering > 0)
		spawn_check_lingering();
}

/* The first program still there, or NULL. */
static struct program *
spawn_any(void)
{
	if (running.head != NULL)
		return running.head;
	return ending.head != NULL ? ending.head : killed.head;
}

/* Signal every program still there, and the processes of its group. */
static void
spawn_signal_all(int sig)
{
	struct pqueue	*qs[] = { &running, &ending, &killed };

	for (size_t i = 0; i < nitems(qs); i++)
		for (struct program *p = qs[i]->head; p != NULL; p = p->next) {
			if (sig == SIGKILL)
				log_warnx("%s: %s %ld ignored SIGTERM: "
				    "killing it", p->c->set->name, p->exited ?
				    "process group" : "pid", (long)p->pid);
			kill(-p->pid, sig);
		}
}

/* Is pid in the process group of one of the programs? */
static int
in_a_group(pid_t pid)
{
	return spawn_find(getpgid(pid), 1) != NULL;
}

/*
 * Signal this worker's children that are in no program's group: those
 * that left it (setsid(), as a daemon does) and came to the worker when
 * their parent ended.  Returns how many there were.
 */
static int
spawn_signal_strays(int sig)
{
	int	 n = children_signal(sig, in_a_group);

	if (n > 0 && sig == SIGTERM)
		log_notice("%s: %d process%s started by programs but out of "
		    "their process groups still running: SIGTERM",
		    service_name, n, n == 1 ? "" : "es");
	return n;
}

/*
 * Wait up to ms for every program's group, and every stray, to end,
 * reaping as they do; sig again to the strays that came meanwhile.
 */
static void
spawn_wait(struct loop *loop, int ms, int sig)
{
	for (int waited = 0; waited < ms; waited += 10) {
		spawn_reap();
		if (spawn_signal_strays(sig) == 0 && spawn_any() == NULL)
			return;
		sleep_ms(10);
		loop->now = loop_now_ms();
	}
}

/*
 * At a worker's end: SIGTERM to every program's process group still
 * there and to every stray, SIGKILL to those still there TERM_GRACE_MS
 * later; then what they wrote to stderr and was not logged yet is.
 */
void
spawn_stop_all(struct loop *loop)
{
	struct program	*p;

	spawn_reap();
	spawn_signal_all(SIGTERM);
	spawn_signal_strays(SIGTERM);
	spawn_wait(loop, TERM_GRACE_MS, 0);
	if (spawn_any() != NULL)
		spawn_signal_all(SIGKILL);
	spawn_wait(loop, TERM_GRACE_MS, SIGKILL);
	/* Unkillable (a process stuck in the kernel): let go regardless. */
	while ((p = spawn_any()) != NULL) {
		log_warnx("%s: process group %ld did not end even after "
		    "SIGKILL", p->c->set->name, (long)p->pid);
		if (p->exited) {
			p->exited = 0;	/* nothing to say it ended */
			lingering--;
		}
		spawn_release(p);
	}
	errlog_drain_all();
}
