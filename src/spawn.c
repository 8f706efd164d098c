/* A connection's program: started on the socket, its stderr logged, reaped. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "sig.h"
#include "spawn.h"
#include "util.h"

/* After SIGTERM at a stop, how long programs get before SIGKILL. */
#define STOP_GRACE_MS	2000
/* Longest stderr line logged as one; longer ones are split. */
#define LINE_MAX_LOG	1024

/* The read end of a program's stderr, logged line by line. */
struct errlog {
	struct io	 io;
	struct loop	*loop;
	struct errlog	*prev, *next;
	char		 tag[96];	/* "service[pid]" */
	size_t		 len;
	char		 buf[LINE_MAX_LOG];
};

/* A program running for a connection, which it holds a reference to. */
struct program {
	pid_t		 pid;
	struct conn	*c;
	struct program	*next;
};

/* Every open stderr pipe of this worker's programs, and the programs. */
static struct errlog	*errlogs;
static struct program	*programs;

static void
errlog_flush(struct errlog *e)
{
	if (e->len > 0)
		log_notice("%s: %.*s", e->tag, (int)e->len, e->buf);
	e->len = 0;
}

/* Log each whole line of what was read; keep the rest for later. */
static void
errlog_take(struct errlog *e, const char *chunk, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++) {
		if (chunk[i] == '\n') {
			errlog_flush(e);
			continue;
		}
		if (e->len == sizeof(e->buf))
			errlog_flush(e);
		e->buf[e->len++] = chunk[i];
	}
}

static void
errlog_close(struct errlog *e)
{
	errlog_flush(e);
	loop_del(e->loop, &e->io);
	close(e->io.fd);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		errlogs = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	free(e);
}

static void
errlog_cb(struct io *io, uint32_t ev)
{
	struct errlog	*e = (struct errlog *)io;
	char		 chunk[4096];
	ssize_t		 n;

	(void)ev;
	n = read(io->fd, chunk, sizeof(chunk));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		errlog_close(e);
		return;
	}
	errlog_take(e, chunk, n);
}

/* "NAME=value" into v[*n], for the program's environment. */
static void
env_add(char **v, int *n, const char *name, const char *value)
{
	size_t	 len = strlen(name) + 1 + strlen(value) + 1;

	if ((v[*n] = malloc(len)) == NULL)
		return;
	snprintf(v[*n], len, "%s=%s", name, value);
	(*n)++;
}

/*
 * The environment tcpserver's programs expect, then the service's env
 * (which may override PATH).
 */
static char **
spawn_env(struct conn *c, char *const *extra)
{
	struct sockaddr_storage	 local;
	socklen_t		 len = sizeof(local);
	char			 ip[INET6_ADDRSTRLEN], port[8];
	char			**v;
	int			 n = 0, nextra = 0;

	while (extra != NULL && extra[nextra] != NULL)
		nextra++;
	if ((v = calloc(7 + nextra, sizeof(*v))) == NULL)
		return NULL;
	v[n++] = strdup("PATH=/usr/local/bin:/usr/bin:/bin");
	v[n++] = strdup("PROTO=TCP");
	addr_parts(&c->peer, ip, sizeof(ip), port, sizeof(port));
	env_add(v, &n, "TCPREMOTEIP", ip);
	env_add(v, &n, "TCPREMOTEPORT", port);
	if (getsockname(c->io.fd, (struct sockaddr *)&local, &len) == 0) {
		addr_parts(&local, ip, sizeof(ip), port, sizeof(port));
		env_add(v, &n, "TCPLOCALIP", ip);
		env_add(v, &n, "TCPLOCALPORT", port);
	}
	for (int i = 0; i < nextra; i++) {
		size_t klen = strcspn(extra[i], "=") + 1;
		/* A later NAME= replaces an earlier one. */
		for (int j = 0; j < n; j++)
			if (v[j] != NULL && strncmp(v[j], extra[i], klen) == 0) {
				free(v[j]);
				v[j] = v[--n];
				v[n] = NULL;
				break;
			}
		v[n++] = strdup(extra[i]);
	}
	return v;
}

static void
env_free(char **v)
{
	for (char **p = v; p != NULL && *p != NULL; p++)
		free(*p);
	free(v);
}

/*
 * glibc keeps two real-time signals for itself (SIGCANCEL, SIGSETXID:
 * 32 and 33) and leaves them out of sigfillset(); posix_spawn() then
 * sets them to SIG_IGN in the child, and an ignored signal stays ignored
 * across execve().  The program is owed default dispositions for every
 * signal, so their bits go into the set by hand: glibc copies it as is.
 */
static void
spawn_all_signals(sigset_t *set)
{
	unsigned long	*words = (unsigned long *)set;
	const int	 bits = 8 * sizeof(unsigned long);

	for (int sig = 32; sig <= 33; sig++)
		words[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
}

/*
 * The child's start: the socket as its fd 0 and 1, errfd as fd 2 and no
 * other fd; a clean signal mask, default dispositions, a session of its
 * own.
 */
static void
spawn_attrs(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, int sock,
    int errfd)
{
	sigset_t	 none, all;

	posix_spawn_file_actions_init(fa);
	posix_spawn_file_actions_adddup2(fa, sock, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(fa, sock, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(fa, errfd, STDERR_FILENO);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	posix_spawn_file_actions_addclosefrom_np(fa, STDERR_FILENO + 1);
#endif
	posix_spawnattr_init(at);
	sigemptyset(&none);
	sigfillset(&all);
	spawn_all_signals(&all);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setsigdefault(at, &all);
	posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
}

/*
 * Start argv with the connection as its fd 0 and 1 and a pipe to the
 * log as fd 2, set up by spawn_attrs().  Returns its pid, or -1.
 */
static pid_t
spawn_program(struct conn *c, char *const *argv, char *const *extra)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	struct errlog			*e = NULL;
	char				**env = NULL;
	int				 errp[2] = { -1, -1 }, rc, fl;
	pid_t				 pid = -1;

	/* The program gets a plain blocking socket. */
	if ((fl = fcntl(c->io.fd, F_GETFL)) == -1 ||
	    fcntl(c->io.fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		return -1;
	if ((env = spawn_env(c, extra)) == NULL ||
	    (e = calloc(1, sizeof(*e))) == NULL ||
	    pipe2(errp, O_CLOEXEC) == -1)
		goto out;
	fcntl(errp[0], F_SETFL, O_NONBLOCK);

	spawn_attrs(&fa, &at, c->io.fd, errp[1]);
	rc = posix_spawn(&pid, argv[0], &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		errno = rc;
		pid = -1;
		goto out;
	}

	snprintf(e->tag, sizeof(e->tag), "%s[%ld]", c->set->name, (long)pid);
	e->loop = c->set->loop;
	if (loop_add(e->loop, &e->io, errp[0], EPOLLIN, errlog_cb) == 0) {
		errp[0] = -1;
		e->next = errlogs;
		if (errlogs != NULL)
			errlogs->prev = e;
		errlogs = e;
		e = NULL;
	}
out:
	rc = errno;
	if (errp[0] != -1)
		close(errp[0]);
	if (errp[1] != -1)
		close(errp[1]);
	free(e);
	env_free(env);
	errno = rc;
	return pid;
}

/*
 * Run argv for c: the program holds the connection from now on, and the
 * worker lets go of its own copy of the socket.  Returns -1 if it could
 * not be started; c is then as it was.
 */
int
spawn_run(struct conn *c, char *const *argv, char *const *env)
{
	struct program	*p;
	pid_t		 pid;

	if ((p = malloc(sizeof(*p))) == NULL)
		return -1;
	if ((pid = spawn_program(c, argv, env)) == -1) {
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
	p->c->status = st;	/* for the connection's line, at this unref */
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
 * Log what the programs wrote to stderr and was not logged yet, bounded:
 * a child a program left behind may write on.
 */
static void
spawn_drain_errlogs(void)
{
	char	 chunk[4096];
	ssize_t	 n;

	while (errlogs != NULL) {
		for (int i = 0; i < 16 &&
		    (n = read(errlogs->io.fd, chunk, sizeof(chunk))) > 0; i++)
			errlog_take(errlogs, chunk, n);
		errlog_close(errlogs);
	}
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
	spawn_drain_errlogs();
}
