/*
 * A connection's program: started on the socket, its stderr logged; the
 * worker's table of them, their timeouts and their heartbeat cells
 * (reaping and the stop: spawn_reap.c).
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_exec.h"
#include "conn.h"
#include "errlog.h"
#include "fdpass.h"
#include "log.h"
#include "loop.h"
#include "spawn.h"
#include "spawn_child.h"
#include "spawn_int.h"
#include "util.h"
#include "worker.h"

void
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

void
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
struct program *
spawn_find(struct spawner *s, pid_t pid, int group)
{
	struct pqueue	*qs[] = { &s->running, &s->ending, &s->killed };
	struct program	*p;

	for (size_t i = 0; i < nitems(qs); i++)
		for (p = qs[i]->head; p != NULL; p = p->next)
			if (p->pid == pid && (group || !p->exited))
				return p;
	return NULL;
}

/* Arm the timer for the earliest deadline, or disarm it. */
void
spawn_timer_arm(struct spawner *s)
{
	struct itimerspec	 its;
	int64_t			 at = 0;

	if (s->running.head != NULL && s->running.head->deadline != 0)
		at = s->running.head->deadline;
	if (s->ending.head != NULL && (at == 0 ||
	    s->ending.head->deadline < at))
		at = s->ending.head->deadline;
	if (at == s->timer_at || s->timer.fd == -1)
		return;
	memset(&its, 0, sizeof(its));
	if (at != 0) {
		/* A nanosecond on: the loop's clock, in whole ms, is at at. */
		its.it_value.tv_sec = at / 1000;
		its.it_value.tv_nsec = (at % 1000) * 1000000 + 1;
	}
	if (timerfd_settime(s->timer.fd, TFD_TIMER_ABSTIME, &its, NULL) == -1)
		fatal("timerfd_settime");
	s->timer_at = at;
}

/* Past its timeout: SIGTERM to its process group, SIGKILL after grace. */
static void
spawn_term(struct spawner *s, struct program *p, int64_t now)
{
	char	 who[ADDR_STRLEN];

	addr_text(&p->c->peer, who, sizeof(who));
	log_notice("%s %s: %s %ld still running after its timeout of %d s: "
	    "SIGTERM to its process group", s->name, who,
	    p->exited ? "process group" : "pid", (long)p->pid, p->timeout);
	kill(-p->pid, SIGTERM);
	pq_del(p);
	pq_add(&s->ending, p, now + TERM_GRACE_MS);
}

static void
spawn_kill(struct spawner *s, struct program *p)
{
	char	 who[ADDR_STRLEN];

	addr_text(&p->c->peer, who, sizeof(who));
	log_notice("%s %s: %s %ld still running %d s after SIGTERM: SIGKILL "
	    "to its process group", s->name, who,
	    p->exited ? "process group" : "pid", (long)p->pid,
	    TERM_GRACE_MS / 1000);
	kill(-p->pid, SIGKILL);
	pq_del(p);
	pq_add(&s->killed, p, 0);
}

/* The earliest deadline has come, or one before it went with its program. */
static void
timer_cb(struct io *io, uint32_t ev)
{
	struct spawner	*s = container_of(io, struct spawner, timer);
	int64_t		 now = s->loop->now;
	uint64_t	 n;

	(void)ev;
	if (read(io->fd, &n, sizeof(n)) == -1 && errno != EAGAIN)
		fatal("timerfd");
	s->timer_at = 0;
	while (s->running.head != NULL && s->running.head->deadline != 0 &&
	    s->running.head->deadline <= now)
		spawn_term(s, s->running.head, now);
	while (s->ending.head != NULL && s->ending.head->deadline <= now)
		spawn_kill(s, s->ending.head);
	spawn_timer_arm(s);
}

/* The timer, made for the first program that has a timeout. */
static int
timer_open(struct spawner *s)
{
	int	 fd;

	if (s->timer.fd != -1)
		return 0;
	if ((fd = timerfd_create(CLOCK_MONOTONIC,
	    TFD_NONBLOCK | TFD_CLOEXEC)) == -1)
		return -1;
	if (loop_add(s->loop, &s->timer, fd, EPOLLIN, timer_cb) == -1) {
		close(fd);
		s->timer.fd = -1;
		return -1;
	}
	return 0;
}

/*
 * Say p's process group in the heartbeat, for the master to end should
 * this worker die before it.  A full table leaves p to PDEATHSIG alone.
 */
static void
cell_take(struct spawner *s, struct program *p)
{
	p->cell = -1;
	if (s->beat == NULL)
		return;
	for (int i = 0; i < BEAT_GROUPS; i++) {
		int	 at = (s->next_cell + i) % BEAT_GROUPS;

		if (atomic_load_explicit(&s->beat->groups[at],
		    memory_order_relaxed) == 0) {
			atomic_store(&s->beat->groups[at], p->pid);
			p->cell = at;
			s->next_cell = (at + 1) % BEAT_GROUPS;
			return;
		}
	}
}

void
spawn_cell_free(struct spawner *s, struct program *p)
{
	if (p->cell != -1)
		atomic_store(&s->beat->groups[p->cell], 0);
	p->cell = -1;
}

/* What failed, for the caller's log line: "chdir /srv: ..." */
static void
spawn_err(const struct spawn_req *r, char *err, size_t len)
{
	const struct conf_exec	*x = r->x;

	if (r->step == NULL)
		snprintf(err, len, "%s", strerror(errno));
	else if (strcmp(r->step, "chdir") == 0)
		snprintf(err, len, "chdir %s: %s", x->cwd, strerror(errno));
	else if (strcmp(r->step, "setrlimit") == 0)
		snprintf(err, len, "setrlimit %s: %s",
		    conf_rlimit_name(r->rlimit), strerror(errno));
	else if (strcmp(r->step, "setpriority") == 0)
		snprintf(err, len, "nice %d: %s", x->nice, strerror(errno));
	else
		snprintf(err, len, "%s: %s", r->step, strerror(errno));
}

/*
 * Start x's program with the connection as its fd 0 and 1 and a pipe
 * to the log as fd 2.  Returns its pid, or -1 with err filled in.
 */
static pid_t
spawn_program(struct spawner *s, struct conn *c, const struct conf_exec *x,
    char *err, size_t errlen)
{
	struct spawn_req	 r = { .x = x, .sock = c->io.fd };
	struct errlog		*e = NULL;
	int			 errp[2] = { -1, -1 }, off = 0, saved;
	pid_t			 pid = -1;

	/*
	 * The program gets a plain blocking socket, as accepted (unless a
	 * PROXY header was read from it on the loop first).  The worker's
	 * end of the pipe blocks too: it is read only when epoll says it
	 * holds something (errlog.c), which spares a system call a program.
	 */
	if ((!(c->flags & CONN_BLOCKING) &&
	    ioctl(c->io.fd, FIONBIO, &off) == -1) ||
	    (e = errlog_new(&s->errlogs)) == NULL ||
	    pipe2(errp, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	r.errfd = errp[1];
	r.env = spawn_env(&s->env, c);
	r.parent = s->self;
	if (!s->sigs.known)
		spawn_sigs_find(&s->sigs);
	r.sigs = &s->sigs;
	/*
	 * The socket goes to the child in flight, and the worker closes its
	 * own copy before the child runs: a program that ends before the
	 * worker runs again (one CPU, a short program) would otherwise
	 * leave the worker's close the last, and the FIN the worker's.
	 */
	r.pass = -1;
	if (s->pass[0] != -1 && fd_send(s->pass[0], c->io.fd) == 0) {
		conn_let_go(c);
		r.sock = -1;
		r.pass = s->pass[1];
	}
	if ((pid = spawn_child(&r)) == -1) {
		saved = errno;
		spawn_err(&r, err, errlen);
		/* Never taken, or sent back: the connection is ours again. */
		if (r.pass != -1) {
			if ((c->io.fd = fd_recv(s->pass[1])) == -1)
				c->io.fd = fd_recv(s->pass[0]);
			c->flags &= ~CONN_GIVEN;
		}
		errno = saved;
		goto out;
	}
	errlog_start(e, s->loop, errp[0], s->name, pid);
	errp[0] = -1;
	e = NULL;
out:
	saved = errno;
	if (errp[0] != -1)
		close(errp[0]);
	if (errp[1] != -1)
		close(errp[1]);
	errlog_free(e);
	errno = saved;
	return pid;
}

/*
 * In a worker that runs programs, before the first: a session of its
 * own, in which each program leads a process group.  Only this worker's
 * descendants can be in those groups (a process joins a group only in
 * its own session), which is how the master tells a dead worker's groups
 * from any other's.  And a subreaper: what they start and leave behind
 * comes to it, not to init, when their parent ends, so that it can be
 * reaped, counted and ended here.  -1 with errno set, and *step the call
 * that failed.
 */
int
spawn_parent(const char **step)
{
	*step = "setsid";
	if (getsid(0) != getpid() && setsid() == -1)
		return -1;
	*step = "prctl PR_SET_CHILD_SUBREAPER";
	return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/*
 * A worker's table of the programs of sv, on loop, saying their process
 * groups in beat (NULL: nowhere).  NULL when out of memory.
 */
struct spawner *
spawn_new(struct loop *loop, const struct conf_service *sv,
    struct heartbeat *beat)
{
	struct spawner	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if (spawn_env_init(&s->env, sv) == -1) {
		free(s);
		return NULL;
	}
	s->loop = loop;
	s->name = sv->name;
	s->beat = beat;
	errlogs_init(&s->errlogs, sv->workers);
	s->self = getpid();
	s->timer.fd = -1;
	/* Without the pair, the worker's copy closes after the vfork(). */
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, s->pass) == -1)
		s->pass[0] = s->pass[1] = -1;
	return s;
}

/* At the worker's end, once spawn_stop_all() let go of every program. */
void
spawn_free(struct spawner *s)
{
	if (s == NULL)
		return;
	if (s->timer.fd != -1)
		close(s->timer.fd);
	if (s->pass[0] != -1) {
		close(s->pass[0]);
		close(s->pass[1]);
	}
	spawn_env_free(&s->env);
	free(s);
}

/*
 * Run x's program for c: it holds the connection from now on, and the
 * worker lets go of its own copy of the socket.  Returns -1, with what
 * failed in err, if it could not be started; c is then as it was.
 */
int
spawn_run(struct spawner *s, struct conn *c, const struct conf_exec *x,
    char *err, size_t errlen)
{
	struct program	*p;
	pid_t		 pid;

	if ((p = malloc(sizeof(*p))) == NULL ||
	    (x->timeout > 0 && timer_open(s) == -1)) {
		snprintf(err, errlen, "%s", strerror(errno));
		free(p);
		return -1;
	}
	if ((pid = spawn_program(s, c, x, err, errlen)) == -1) {
		free(p);
		return -1;
	}
	p->pid = pid;
	p->c = c;
	p->timeout = x->timeout;
	p->exited = 0;
	cell_take(s, p);
	pq_add(&s->running, p, x->timeout > 0 ?
	    s->loop->now + (int64_t)x->timeout * 1000 : 0);
	if (s->running.head == p)
		spawn_timer_arm(s);
	conn_detach(c, pid);
	return 0;
}
