/*
 * A worker's programs as they end: reaped on SIGCHLD, each holding its
 * connection until the last process of its group is gone; and at the
 * worker's end, every one still there ended, strays included.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "addr.h"
#include "children.h"
#include "conn.h"
#include "errlog.h"
#include "log.h"
#include "loop.h"
#include "sig.h"
#include "spawn.h"
#include "spawn_int.h"
#include "util.h"

/* Is there no process left in p's process group? */
static int
group_gone(const struct program *p)
{
	return kill(-p->pid, 0) == -1 && errno == ESRCH;
}

/* The last process of p's group is gone: it lets go of its connection. */
static void
spawn_release(struct spawner *s, struct program *p)
{
	struct conn	*c = p->c;
	char		 who[ADDR_STRLEN];
	int64_t		 ms = s->loop->now - c->started;

	if (p->exited) {
		s->lingering--;
		addr_text(&c->peer, who, sizeof(who));
		log_info("%s %s: the last process of pid %ld's group ended "
		    "after %lld.%03lld s", s->name, who, (long)p->pid,
		    (long long)(ms / 1000), (long long)(ms % 1000));
	}
	pq_del(p);
	spawn_cell_free(s, p);
	conn_unref(c);
	free(p);
}

/* Log how a program ended, and what that put on the wire. */
static void
spawn_exited(const struct spawner *s, const struct program *p, int st,
    int alone)
{
	struct conn	*c = p->c;
	char		 who[ADDR_STRLEN], how[64];
	int64_t		 ms = s->loop->now - c->started;

	sig_exit_text(st, how, sizeof(how));
	addr_text(&c->peer, who, sizeof(who));
	log_info("%s %s: pid %ld %s after %lld.%03lld s%s", s->name, who,
	    (long)p->pid, how, (long long)(ms / 1000),
	    (long long)(ms % 1000), alone ? "" : "; what it started in its "
	    "process group still runs, and the connection counts until the "
	    "last of them ends");
	if (alone)
		log_debug("%s %s: pid %ld held the last copy of the socket, so "
		    "the kernel closed it at its exit: FIN, unless the program "
		    "sent one earlier with shutdown(), or RST if it left input "
		    "unread", s->name, who, (long)p->pid);
	else
		log_debug("%s %s: the kernel sends FIN when the last process "
		    "holding a copy of the socket closes it or exits, which "
		    "may be one of those left in pid %ld's group", s->name,
		    who, (long)p->pid);
}

/* The program pid ended with status st. */
static void
spawn_gone(struct spawner *s, pid_t pid, int st)
{
	struct program	*p;
	int		 alone;

	if ((p = spawn_find(s, pid, 0)) == NULL)
		return;
	alone = group_gone(p);
	/* Its lines are info and debug: not even formatted below that. */
	if (log_level() >= LOG_INFO)
		spawn_exited(s, p, st, alone);
	p->c->status = st;	/* for the connection's line */
	if (alone) {
		spawn_release(s, p);
		return;
	}
	p->exited = 1;
	s->lingering++;
	p->c->flags |= CONN_GROUP_LEFT;
}

/* Release every program whose group has no process left. */
static void
spawn_check_lingering(struct spawner *s)
{
	struct pqueue	*qs[] = { &s->running, &s->ending, &s->killed };
	struct program	*p, *next;

	for (size_t i = 0; i < nitems(qs) && s->lingering > 0; i++)
		for (p = qs[i]->head; p != NULL; p = next) {
			next = p->next;
			if (p->exited && group_gone(p))
				spawn_release(s, p);
		}
}

/*
 * SIGCHLD: programs that ended, and processes they started, which come
 * to this worker (a subreaper) when their parent is gone.  A program
 * gives back its connection once nothing of its group is left.
 */
void
spawn_reap(struct spawner *s)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		spawn_gone(s, pid, st);
	if (s->lingering > 0)
		spawn_check_lingering(s);
}

/* The first program still there, or NULL. */
static struct program *
spawn_any(const struct spawner *s)
{
	if (s->running.head != NULL)
		return s->running.head;
	return s->ending.head != NULL ? s->ending.head : s->killed.head;
}

/* Signal every program still there, and the processes of its group. */
static void
spawn_signal_all(struct spawner *s, int sig)
{
	struct pqueue	*qs[] = { &s->running, &s->ending, &s->killed };

	for (size_t i = 0; i < nitems(qs); i++)
		for (struct program *p = qs[i]->head; p != NULL; p = p->next) {
			if (sig == SIGKILL)
				log_warnx("%s: %s %ld ignored SIGTERM: "
				    "killing it", s->name, p->exited ?
				    "process group" : "pid", (long)p->pid);
			kill(-p->pid, sig);
		}
}

/* Is pid in the process group of one of s's programs? */
static int
in_a_group(pid_t pid, void *arg)
{
	struct spawner	*s = arg;

	return spawn_find(s, getpgid(pid), 1) != NULL;
}

/*
 * Signal this worker's children that are in no program's group: those
 * that left it (setsid(), as a daemon does) and came to the worker when
 * their parent ended.  Returns how many there were.
 */
static int
spawn_signal_strays(struct spawner *s, int sig)
{
	int	 n = children_signal(sig, in_a_group, s);

	if (n > 0 && sig == SIGTERM)
		log_notice("%s: %d process%s started by programs but out of "
		    "their process groups still running: SIGTERM",
		    s->name, n, n == 1 ? "" : "es");
	return n;
}

/*
 * Wait up to ms for every program's group, and every stray, to end,
 * reaping as they do; sig again to the strays that came meanwhile.
 */
static void
spawn_wait(struct spawner *s, int ms, int sig)
{
	for (int waited = 0; waited < ms; waited += 10) {
		spawn_reap(s);
		if (spawn_signal_strays(s, sig) == 0 && spawn_any(s) == NULL)
			return;
		sleep_ms(10);
		s->loop->now = loop_now_ms();
	}
}

/*
 * At a worker's end: SIGTERM to every program's process group still
 * there and to every stray, SIGKILL to those still there TERM_GRACE_MS
 * later; then what they wrote to stderr and was not logged yet is.
 */
void
spawn_stop_all(struct spawner *s)
{
	struct program	*p;

	spawn_reap(s);
	spawn_signal_all(s, SIGTERM);
	spawn_signal_strays(s, SIGTERM);
	spawn_wait(s, TERM_GRACE_MS, 0);
	if (spawn_any(s) != NULL)
		spawn_signal_all(s, SIGKILL);
	spawn_wait(s, TERM_GRACE_MS, SIGKILL);
	/* Unkillable (a process stuck in the kernel): let go regardless. */
	while ((p = spawn_any(s)) != NULL) {
		log_warnx("%s: process group %ld did not end even after "
		    "SIGKILL", s->name, (long)p->pid);
		if (p->exited) {
			p->exited = 0;	/* nothing to say it ended */
			s->lingering--;
		}
		spawn_release(s, p);
	}
	errlogs_drain(&s->errlogs);
}
