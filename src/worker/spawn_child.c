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
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf_exec.h"
#include "conn.h"
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

/* Put entry (taken) into v, in place of the entry of the same NAME. */
static int
env_put(char **v, int *n, char *entry)
{
	size_t	 klen;

	if (entry == NULL)
		return -1;
	klen = strcspn(entry, "=") + 1;
	for (int i = 0; i < *n; i++)
		if (strncmp(v[i], entry, klen) == 0) {
			free(v[i]);
			v[i] = entry;
			return 0;
		}
	v[(*n)++] = entry;
	return 0;
}

/*
 * A balancer's: its own address (TCPPROXYIP, TCPPROXYPORT), and the
 * AUTHORITY and UNIQUE_ID (hex) its v2 header gave, if any.
 */
static int
env_proxy(char **v, int *n, const struct conn_proxy *px)
{
	char	 ip[INET6_ADDRSTRLEN], port[8];
	int	 rc = 0;

	addr_parts(&px->proxy, ip, sizeof(ip), port, sizeof(port));
	rc |= env_put(v, n, env_entry("TCPPROXYIP", ip));
	rc |= env_put(v, n, env_entry("TCPPROXYPORT", port));
	if (px->authority[0] != '\0')
		rc |= env_put(v, n, env_entry("PROXY_AUTHORITY",
		    px->authority));
	if (px->unique_id[0] != '\0')
		rc |= env_put(v, n, env_entry("PROXY_UNIQUE_ID",
		    px->unique_id));
	return rc;
}

/* The variables tcpserver's programs expect: set last, over any other. */
static int
env_tcp(char **v, int *n, const struct conn *c)
{
	struct sockaddr_storage	 local;
	socklen_t		 len = sizeof(local);
	char			 ip[INET6_ADDRSTRLEN], port[8];
	int			 rc = 0;

	rc |= env_put(v, n, strdup("PROTO=TCP"));
	addr_parts(&c->peer, ip, sizeof(ip), port, sizeof(port));
	rc |= env_put(v, n, env_entry("TCPREMOTEIP", ip));
	rc |= env_put(v, n, env_entry("TCPREMOTEPORT", port));
	/* Behind a balancer: where the client connected, as it says. */
	if (c->px != NULL && c->px->dst.ss_family != 0)
		local = c->px->dst;
	else if (getsockname(c->io.fd, (struct sockaddr *)&local, &len) == -1)
		local.ss_family = 0;
	if (local.ss_family != 0) {
		addr_parts(&local, ip, sizeof(ip), port, sizeof(port));
		rc |= env_put(v, n, env_entry("TCPLOCALIP", ip));
		rc |= env_put(v, n, env_entry("TCPLOCALPORT", port));
	}
	if (c->px != NULL)
		rc |= env_proxy(v, n, c->px);
	return rc;
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
 * The program's environment, in this order, each replacing what came
 * before under the same name: PATH, the passenv variables tcpd has,
 * env, then PROTO and the TCP* variables.  NULL: out of memory.
 */
char **
spawn_env(const struct conn *c, const struct conf_exec *x)
{
	char		**v;
	const char	 *val;
	int		  n = 0, rc = 0;

	if ((v = calloc(1 + count(x->passenv) + count(x->env) + 9 + 1,
	    sizeof(*v))) == NULL)
		return NULL;
	rc |= env_put(v, &n, strdup(DEFAULT_PATH));
	for (char **p = x->passenv; p != NULL && *p != NULL; p++)
		if ((val = getenv(*p)) != NULL)
			rc |= env_put(v, &n, env_entry(*p, val));
	for (char **p = x->env; p != NULL && *p != NULL; p++)
		rc |= env_put(v, &n, strdup(*p));
	rc |= env_tcp(v, &n, c);
	if (rc != 0) {
		spawn_env_free(v);
		errno = ENOMEM;
		return NULL;
	}
	return v;
}

void
spawn_env_free(char **v)
{
	for (char **p = v; p != NULL && *p != NULL; p++)
		free(*p);
	free(v);
}

/* In the child: say which step failed, and end. */
static void __attribute__((noreturn))
child_fail(struct spawn_req *r, const char *step)
{
	r->err = errno;
	r->step = step;
	_exit(127);
}

/* In the child: fds 0, 1 and 2, and no other. */
static void
child_fds(struct spawn_req *r)
{
	/* A worker started with fd 0, 1 or 2 closed may hold either there. */
	if (r->sock <= STDERR_FILENO &&
	    (r->sock = fcntl(r->sock, F_DUPFD, STDERR_FILENO + 1)) == -1)
		child_fail(r, "fcntl");
	if (r->errfd <= STDERR_FILENO &&
	    (r->errfd = fcntl(r->errfd, F_DUPFD, STDERR_FILENO + 1)) == -1)
		child_fail(r, "fcntl");
	if (dup2(r->sock, STDIN_FILENO) == -1 ||
	    dup2(r->sock, STDOUT_FILENO) == -1 ||
	    dup2(r->errfd, STDERR_FILENO) == -1)
		child_fail(r, "dup2");
	/* Most fds of the worker are close-on-exec; this catches the rest. */
#if defined(HAVE_CLOSE_RANGE)
	close_range(STDERR_FILENO + 1, ~0U, 0);
#elif defined(SYS_close_range)
	syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, 0);
#endif
}

/*
 * In the child: default dispositions for every signal, then an empty
 * mask.  A handler of the worker must never run here, in its memory,
 * which is why every signal stayed blocked until now.
 *
 * Straight to the kernel, not through sigaction(): glibc refuses its
 * own two signals (32 and 33), and tcpd may have inherited them ignored
 * (glibc's posix_spawn() leaves them so, in the children of make, say),
 * while an ignored signal stays ignored across execve().  An all-zero
 * kernel sigaction is SIG_DFL with no flags and an empty mask, whatever
 * the architecture's layout.
 */
static void
child_signals(void)
{
	static const unsigned long	 dfl[16];
	sigset_t			 none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			syscall(SYS_rt_sigaction, sig, dfl, NULL,
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
	 * A session, and so a process group, of its own: what it starts in
	 * the background stays in the group, which is how the worker counts
	 * and signals them.  If the worker dies without ending it (kill -9),
	 * it is killed; the master ends the rest of its group.
	 */
	if (setsid() == -1)
		child_fail(r, "setsid");
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
	child_signals();
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
 * Start the program of r.  Returns its pid once it runs the program,
 * or -1 with errno, and r->step naming what failed (NULL: vfork
 * itself); a child that failed is reaped like any other.
 */
pid_t
spawn_child(struct spawn_req *r)
{
	sigset_t	 all, old;
	pid_t		 pid;
	int		 saved;

	r->err = 0;
	r->step = NULL;
	r->parent = getpid();
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = child_vfork(r);
	saved = errno;
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
