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

/* Every open stderr pipe of this worker's programs. */
static struct errlog	*errlogs;

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
 * Start argv with the connection as its fd 0 and 1 and a pipe to the
 * log as fd 2; a clean signal mask, default dispositions, a session of
 * its own and no other fd.  Returns its pid, or -1.  The connection's
 * socket stays open here: the caller decides when to close its copy.
 */
pid_t
spawn_program(struct conn *c, char *const *argv, char *const *extra)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	struct errlog			*e = NULL;
	sigset_t			 none, all;
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

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, c->io.fd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, c->io.fd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
#ifdef HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP
	posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&all);
	spawn_all_signals(&all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
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

static void
spawn_exited(struct conn_set *s, struct conn *c, int st)
{
	char	 who[ADDR_STRLEN], how[64];
	int64_t	 ms = s->loop->now - c->started;

	sig_exit_text(st, how, sizeof(how));
	addr_text(&c->peer, who, sizeof(who));
	log_info("%s %s: pid %ld %s after %lld.%03lld s", s->name, who,
	    (long)c->child, how, (long long)(ms / 1000),
	    (long long)(ms % 1000));
	log_debug("%s %s: pid %ld held the last copy of the socket, so the "
	    "kernel closed it at its exit: FIN, unless the program sent one "
	    "earlier with shutdown(), or RST if it left input unread",
	    s->name, who, (long)c->child);
}

/* SIGCHLD: every program that ended gives back its connection. */
void
spawn_reap(struct conn_set *s)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct conn *c = conn_child_find(s, pid);
		if (c == NULL)
			continue;
		spawn_exited(s, c, st);
		conn_child_gone(c);
	}
}

/*
 * At a worker's end: SIGTERM to every program still running, and to
 * the processes of its group, SIGKILL to those still there
 * STOP_GRACE_MS later; then what they wrote to stderr and was not
 * logged yet is.
 */
void
spawn_stop_all(struct conn_set *s)
{
	struct conn	*c;
	int		 waited = 0;

	if (s->children.head == NULL)
		goto out;
	/* Each program leads a process group: what it started goes too. */
	for (c = s->children.head; c != NULL; c = c->next)
		kill(-c->child, SIGTERM);
	while (s->children.head != NULL && waited < STOP_GRACE_MS) {
		sleep_ms(10);
		waited += 10;
		s->loop->now = loop_now_ms();
		spawn_reap(s);
	}
	for (c = s->children.head; c != NULL; c = c->next) {
		log_warnx("%s: pid %ld ignored SIGTERM: killing it", s->name,
		    (long)c->child);
		kill(-c->child, SIGKILL);
	}
	while (s->children.head != NULL) {
		pid_t pid = s->children.head->child;
		int st;
		if (waitpid(pid, &st, 0) == -1 && errno != EINTR) {
			conn_child_gone(s->children.head);
			continue;
		}
		spawn_exited(s, s->children.head, st);
		conn_child_gone(s->children.head);
	}
out:
	while (errlogs != NULL) {
		char chunk[4096];
		ssize_t n;
		/* Bounded: a child the program left behind may write on. */
		for (int i = 0; i < 16 &&
		    (n = read(errlogs->io.fd, chunk, sizeof(chunk))) > 0; i++)
			errlog_take(errlogs, chunk, n);
		errlog_close(errlogs);
	}
}
