/*
 * A program's start: its environment, built in the worker, and its own
 * process, which sets itself up between vfork() and execve().
 *
 * Why not posix_spawn(), as before: the program's cwd, umask, nice and
 * rlimits belong to the program alone, and posix_spawn() can set none
 * but the first.  Setting them in the worker around the call would
 * change them for the worker's threads too (an acceptor would meet the
 * program's nofile limit).  So the child sets them itself.  vfork()
 * rather than fork(): like glibc's posix_spawn(), the child borrows the
 * worker's memory until execve() instead of copying its page tables, so
 * starting a program costs no more than before; the worker's loop waits
 * those few system calls, as it did in posix_spawn().  The child calls
 * only system call wrappers (no malloc, no stdio, no locks), touches no
 * memory of the worker but the request, and ends in execve() or _exit().
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_exec.h"
#include "conn.h"
#include "fdpass.h"
#include "spawn_child.h"

#define DEFAULT_PATH	"PATH=/usr/local/bin:/usr/bin:/bin"

/* "NAME=value", allocated; NULL: out of memory. */
static char *
env_entry(const char *name, const char *value)
{
	size_t	 len = strlen(name) + 1 + strlen(value) + 1;
	char	*s;

	if ((s = malloc(len)) != NULL)
		snprintf(s, len, "%s=%s", name, value);
	return s;
}

/*
 * Put entry into v, in place of the entry of the same NAME; own: v's
 * entries are v's to free (the shared part), else they are not.
 */
static int
env_put(char **v, int *n, char *entry, int own)
{
	size_t	 klen;

	if (entry == NULL)
		return -1;
	klen = strcspn(entry, "=") + 1;
	for (int i = 0; i < *n; i++)
		if (strncmp(v[i], entry, klen) == 0) {
			if (own)
				free(v[i]);
			v[i] = entry;
			return 0;
		}
	v[(*n)++] = entry;
	return 0;
}

/*
 * "NAME=value" into e's room for this program's own, put into its v;
 * copied, not formatted: a program's start writes half a dozen.
 */
static void
env_tcp_put(struct spawn_env *e, int *n, const char *name, const char *value)
{
	size_t	 left = sizeof(e->buf) - e->used;
	size_t	 nl = strlen(name), vl = strlen(value);
	char	*at = e->buf + e->used;

	if (nl + 1 + vl >= left)
		return;		/* cannot be: buf holds the longest of all */
	memcpy(at, name, nl);
	at[nl] = '=';
	memcpy(at + nl + 1, value, vl + 1);
	env_put(e->v, n, at, 0);
	e->used += nl + 1 + vl + 1;
}

/*
 * A balancer's: its own address (TCPPROXYIP, TCPPROXYPORT), and the
 * AUTHORITY and UNIQUE_ID (hex) its v2 header gave, if any.
 */
static void
env_proxy(struct spawn_env *e, int *n, const struct conn_proxy *px)
{
	char	 ip[INET6_ADDRSTRLEN], port[8];

	addr_parts(&px->proxy, ip, sizeof(ip), port, sizeof(port));
	env_tcp_put(e, n, "TCPPROXYIP", ip);
	env_tcp_put(e, n, "TCPPROXYPORT", port);
	if (px->authority[0] != '\0')
		env_tcp_put(e, n, "PROXY_AUTHORITY", px->authority);
	if (px->unique_id[0] != '\0')
		env_tcp_put(e, n, "PROXY_UNIQUE_ID", px->unique_id);
}

static int
count(char *const *v)
{
	int	 n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/*
 * The address every connection of sv arrives at, when it listens on
 * one address only, and not a wildcard: no getsockname() a program.
 */
static void
env_local(struct spawn_env *e, const struct conf_service *sv)
{
	const struct sockaddr_storage	*ss;

	e->local.ss_family = 0;
	if (sv->nlisten != 1)
		return;
	ss = &sv->listen[0].addr;
	if (ss->ss_family == AF_INET && ((const struct sockaddr_in *)
	    ss)->sin_addr.s_addr != htonl(INADDR_ANY))
		e->local = *ss;
	else if (ss->ss_family == AF_INET6 && !IN6_IS_ADDR_UNSPECIFIED(
	    &((const struct sockaddr_in6 *)ss)->sin6_addr))
		e->local = *ss;
}

/*
 * What every program of sv is given, made once: PATH, the passenv
 * variables tcpd has, then env, each replacing what came before under
 * the same name.  -1: out of memory.
 */
int
spawn_env_init(struct spawn_env *e, const struct conf_service *sv)
{
	const struct conf_exec	*x = &sv->exec;
	const char		*val;
	int			 max, rc = 0;

	memset(e, 0, sizeof(*e));
	max = 1 + count(x->passenv) + count(x->env);
	if ((e->fixed = calloc(max + 1, sizeof(*e->fixed))) == NULL ||
	    (e->v = calloc(max + SPAWN_ENV_TCP + 1, sizeof(*e->v))) == NULL) {
		spawn_env_free(e);
		return -1;
	}
	rc |= env_put(e->fixed, &e->nfixed, strdup(DEFAULT_PATH), 1);
	for (char **p = x->passenv; p != NULL && *p != NULL; p++)
		if ((val = getenv(*p)) != NULL)
			rc |= env_put(e->fixed, &e->nfixed, env_entry(*p, val),
			    1);
	for (char **p = x->env; p != NULL && *p != NULL; p++)
		rc |= env_put(e->fixed, &e->nfixed, strdup(*p), 1);
	env_local(e, sv);
	if (rc != 0) {
		spawn_env_free(e);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void
spawn_env_free(struct spawn_env *e)
{
	for (char **p = e->fixed; p != NULL && *p != NULL; p++)
		free(*p);
	free(e->fixed);
	free(e->v);
	e->fixed = e->v = NULL;
}

/*
 * c's program's environment: the shared part, then PROTO and the TCP*
 * variables tcpserver's programs expect, set last, over any other.  In
 * e's own memory, good until the next call: nothing is allocated.
 */
char **
spawn_env(struct spawn_env *e, const struct conn *c)
{
	struct sockaddr_storage	 local;
	socklen_t		 len = sizeof(local);
	char			 ip[INET6_ADDRSTRLEN], port[8];
	int			 n = e->nfixed;

	memcpy(e->v, e->fixed, n * sizeof(*e->v));
	e->used = 0;
	env_tcp_put(e, &n, "PROTO", "TCP");
	addr_parts(&c->peer, ip, sizeof(ip), port, sizeof(port));
	env_tcp_put(e, &n, "TCPREMOTEIP", ip);
	env_tcp_put(e, &n, "TCPREMOTEPORT", port);
	/* Behind a balancer: where the client connected, as it says. */
	if (c->px != NULL && c->px->dst.ss_family != 0)
		local = c->px->dst;
	else if (e->local.ss_family != 0)
		local = e->local;
	else if (getsockname(c->io.fd, (struct sockaddr *)&local, &len) == -1)
		local.ss_family = 0;
	if (local.ss_family != 0) {
		addr_parts(&local, ip, sizeof(ip), port, sizeof(port));
		env_tcp_put(e, &n, "TCPLOCALIP", ip);
		env_tcp_put(e, &n, "TCPLOCALPORT", port);
	}
	if (c->px != NULL)
		env_proxy(e, &n, c->px);
	e->v[n] = NULL;
	return e->v;
}

/* In the child: say which step failed, and end. */
static void __attribute__((noreturn))
child_fail(struct spawn_req *r, const char *step)
{
	r->err = errno;
	r->step = step;
	/* The worker ends the connection itself, as if never handed over. */
	if (r->pass != -1 && r->sock != -1)
		fd_send(r->pass, r->sock);
	_exit(127);
}

/* close_range(2), where there is one: the rest are close-on-exec. */
static void
child_close_range(unsigned first, unsigned last)
{
#if defined(HAVE_CLOSE_RANGE)
	close_range(first, last, 0);
#elif defined(SYS_close_range)
	syscall(SYS_close_range, first, last, 0);
#else
	(void)first;
	(void)last;
#endif
}

/* In the child: fds 0, 1 and 2, and no other but the pass socket. */
static void
child_fds(struct spawn_req *r)
{
	/*
	 * tcpd runs with 0, 1 and 2 open (main.c opens /dev/null where it
	 * was started without), so the socket, the pipe and the pass socket
	 * are all above them.
	 */
	if (dup2(r->sock, STDIN_FILENO) == -1 ||
	    dup2(r->sock, STDOUT_FILENO) == -1 ||
	    dup2(r->errfd, STDERR_FILENO) == -1)
		child_fail(r, "dup2");
	/* From here the socket is fd 0, which goes back if execve() fails. */
	r->sock = STDIN_FILENO;
	/*
	 * Most fds of the worker are close-on-exec; this catches the rest.
	 * The pass socket, close-on-exec, stays until execve().
	 */
	if (r->pass == -1)
		child_close_range(STDERR_FILENO + 1, ~0U);
	else {
		if (r->pass > STDERR_FILENO + 1)
			child_close_range(STDERR_FILENO + 1, r->pass - 1);
		child_close_range(r->pass + 1, ~0U);
	}
}

/*
 * The signals whose disposition is not the default, and whether a
 * handler's signal is unblocked in this thread; once, in the worker.
 * glibc's own two signals (32 and 33), which sigaction() refuses to
 * show, are counted in: tcpd may have inherited them ignored (glibc's
 * posix_spawn() leaves them so, in the children of make, say), and an
 * ignored signal stays ignored across execve().
 */
void
spawn_sigs_find(struct spawn_sigs *ss)
{
	struct sigaction	 sa;
	sigset_t		 mask;

	pthread_sigmask(SIG_BLOCK, NULL, &mask);
	ss->n = 0;
	ss->block = 0;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) == -1) {
			ss->sig[ss->n++] = sig;
			continue;
		}
		if (sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO))
			continue;
		ss->sig[ss->n++] = sig;
		if (sa.sa_handler != SIG_IGN && !sigismember(&mask, sig))
			ss->block = 1;
	}
	ss->known = 1;
}

/*
 * In the child: the default disposition for every signal that has
 * another, then an empty mask.  A handler of the worker must never run
 * here, in its memory, which is why every signal that has one stayed
 * blocked until now.
 *
 * Straight to the kernel, not through sigaction(), which refuses glibc's
 * two signals.  An all-zero kernel sigaction is SIG_DFL with no flags
 * and an empty mask, whatever the architecture's layout.
 */
static void
child_signals(const struct spawn_sigs *ss)
{
	static const unsigned long	 dfl[16];
	sigset_t			 none;

	for (int i = 0; i < ss->n; i++)
		syscall(SYS_rt_sigaction, ss->sig[i], dfl, NULL,
		    (NSIG - 1) / 8);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child: become the program. */
static void __attribute__((noreturn))
child_run(struct spawn_req *r)
{
	const struct conf_exec	*x = r->x;
	struct rlimit		 rl;

	/*
	 * A process group of its own, in the worker's session: what it
	 * starts in the background stays in the group, which is how the
	 * worker counts and signals them.  If the worker dies without ending
	 * it (kill -9), it is killed; the master ends the rest of its group.
	 * Not a session: on kernels with autogroup scheduling (Debian's),
	 * each new session is a scheduling group of its own, which cost the
	 * worker a context switch and about a sixth of its CPU a program.
	 */
	if (setpgid(0, 0) == -1)
		child_fail(r, "setpgid");
	/* The socket, in flight: from now on this process holds the only copy. */
	if (r->pass != -1 && (r->sock = fd_recv(r->pass)) == -1)
		child_fail(r, "recvmsg");
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1)
		child_fail(r, "prctl");
	if (getppid() != r->parent)
		_exit(127);
	child_fds(r);
	if (x->cwd != NULL && chdir(x->cwd) == -1)
		child_fail(r, "chdir");
	if (x->umask_set)
		umask(x->umask);
	/* Before the limits: a low 'nice' limit must not forbid 'nice'. */
	if (x->nice_set && setpriority(PRIO_PROCESS, 0, x->nice) == -1)
		child_fail(r, "setpriority");
	for (int i = 0; i < x->nrlimits; i++) {
		rl.rlim_cur = rl.rlim_max = x->rlimits[i].value;
		if (setrlimit(x->rlimits[i].resource, &rl) == -1) {
			r->rlimit = x->rlimits[i].resource;
			child_fail(r, "setrlimit");
		}
	}
	child_signals(r->sigs);
	execve(x->argv[0], x->argv, r->env);
	child_fail(r, "execve");
}

/* Kept apart, so that nothing of the caller's frame lives across vfork(). */
static pid_t
child_vfork(struct spawn_req *r)
{
	pid_t	 pid;

	if ((pid = vfork()) == 0)
		child_run(r);
	return pid;
}

/*
 * Start the program of r (r->parent and r->sigs filled in by the
 * caller).  Returns its pid once it runs the program, or -1 with errno,
 * and r->step naming what failed (NULL: vfork itself); a child that
 * failed is reaped like any other.
 *
 * Every signal is blocked around vfork() only if a handler's signal is
 * not blocked already in this thread; in a worker none is (its signals
 * are read from a signalfd, and the acceptors' wake signal is blocked in
 * the loop's thread), which spares two system calls a program.
 */
pid_t
spawn_child(struct spawn_req *r)
{
	sigset_t	 all, old;
	pid_t		 pid;
	int		 saved;

	r->err = 0;
	r->step = NULL;
	if (r->sigs->block) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
	}
	pid = child_vfork(r);
	saved = errno;
	if (r->sigs->block)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		errno = saved;
		return -1;
	}
	if (r->err != 0) {
		errno = r->err;
		return -1;
	}
	return pid;
}
