/* A connection's program: started on the socket, its stderr logged, reaped. */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf_exec.h"
#include "conn.h"
#include "errlog.h"
#include "log.h"
#include "loop.h"
#include "sig.h"
#include "spawn.h"
#include "spawn_child.h"
#include "util.h"

/* After SIGTERM at a stop, how long programs get before SIGKILL. */
#define STOP_GRACE_MS	2000

/* A program running for a connection, which it holds a reference to. */
struct program {
	pid_t		 pid;
	struct conn	*c;
	struct program	*next;
};

/* This worker's programs. */
static struct program	*programs;

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
 * Run x's program for c: it holds the connection from now on, and the
 * worker lets go of its own copy of the socket.  Returns -1, with what
 * failed in why, if it could not be started; c is then as it was.
 */
int
spawn_run(struct conn *c, const struct conf_exec *x, char *why, size_t whylen)
{
	struct program	*p;
	pid_t		 pid;

	if ((p = malloc(sizeof(*p))) == NULL) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if ((pid = spawn_program(c, x, why, whylen)) == -1) {
		free(p);
		return -1;
	}
	p->pid = pid;
	p->c = c;
	p->next = programs;
	programs = p;
	conn_detach(c, pid);
	return 0;
}

/* Log how a program ended, and what that put on the wire. */
static void
spawn_exited(const struct program *p, int st)
{
	struct conn	*c = p->c;
	char		 who[ADDR_STRLEN], how[64];
	int64_t		 ms = c->set->loop->now - c->started;

	sig_exit_text(st, how, sizeof(how));
	addr_text(&c->peer, who, sizeof(who));
	log_info("%s %s: pid %ld %s after %lld.%03lld s", c->set->name, who,
	    (long)p->pid, how, (long long)(ms / 1000),
	    (long long)(ms % 1000));
	log_debug("%s %s: pid %ld held the last copy of the socket, so the "
	    "kernel closed it at its exit: FIN, unless the program sent one "
	    "earlier with shutdown(), or RST if it left input unread",
	    c->set->name, who, (long)p->pid);
}

/* The program pid ended with status st: it lets go of its connection. */
static void
spawn_gone(pid_t pid, int st)
{
	struct program	**pp, *p;

	for (pp = &programs; (p = *pp) != NULL; pp = &p->next)
		if (p->pid == pid)
			break;
	if (p == NULL)
		return;
	*pp = p->next;
	spawn_exited(p, st);
	conn_unref(p->c);
	free(p);
}

/* SIGCHLD: every program that ended gives back its connection. */
void
spawn_reap(void)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		spawn_gone(pid, st);
}

/*
 * At a worker's end: SIGTERM to every program still running, and to
 * the processes of its group, SIGKILL to those still there
 * STOP_GRACE_MS later; then what they wrote to stderr and was not
 * logged yet is.
 */
void
spawn_stop_all(struct loop *loop)
{
	struct program	*p;
	int		 waited = 0, st;

	/* Each program leads a process group: what it started goes too. */
	for (p = programs; p != NULL; p = p->next)
		kill(-p->pid, SIGTERM);
	while (programs != NULL && waited < STOP_GRACE_MS) {
		sleep_ms(10);
		waited += 10;
		loop->now = loop_now_ms();
		spawn_reap();
	}
	for (p = programs; p != NULL; p = p->next) {
		log_warnx("%s: pid %ld ignored SIGTERM: killing it",
		    p->c->set->name, (long)p->pid);
		kill(-p->pid, SIGKILL);
	}
	while (programs != NULL) {
		pid_t pid = programs->pid;
		pid_t rc;
		while ((rc = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
			;
		spawn_gone(pid, rc == pid ? st : 0);
	}
	errlog_drain_all();
}
