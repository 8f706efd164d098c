/*
 * exec: run the service's program per connection, inetd style, with the
 * socket as its standard input and output.  The worker then closes its
 * own copy, which sends nothing: the program's copies keep the
 * connection open until it closes them or exits.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conn.h"
#include "errlog.h"
#include "log.h"
#include "spawn.h"
#include "tcpinfo.h"
#include "service.h"

/*
 * Run the service's program on the connection, unless the client is gone
 * already: one that reset while it waited in the accept queue (at
 * max_connections, say) gets no program.  A client that only sent its
 * FIN may be half-closed, waiting for the answer (nc -N), and is served.
 */
static void
exec_open(struct conn *c)
{
	const struct conf_service	*sv = c->set->conf;
	char				 err[256];
	struct tcpinfo			 ti;

	if (tcpinfo_get(c->io.fd, &ti) == 0 && ti.state == TCPINFO_CLOSE) {
		c->flags |= CONN_RESET;
		c->closer = "client";
		conn_close(c, "the client was gone before its program started");
		return;
	}
	if (spawn_run(c->set->spawn, c, &sv->exec, err, sizeof(err)) == -1) {
		log_warnx("%s: cannot run %s: %s", sv->name,
		    sv->exec.argv[0], err);
		conn_close(c, "the program did not start");
	}
}

/*
 * Can this worker, as the service's user, give the program its limits
 * and nice value?  Only root raises a hard limit, or lowers its nice
 * value below what RLIMIT_NICE allows.
 */
static int
exec_start_limits(const struct conf_service *sv)
{
	const struct conf_exec	*x = &sv->exec;
	struct rlimit		 rl;
	int			 now;

	if (geteuid() == 0)
		return 0;
	for (int i = 0; i < x->nrlimits; i++) {
		if (getrlimit(x->rlimits[i].resource, &rl) == 0 &&
		    x->rlimits[i].value > rl.rlim_max) {
			log_warnx("%s: rlimits: %s above the hard limit here "
			    "needs user root", sv->name,
			    conf_rlimit_name(x->rlimits[i].resource));
			return -1;
		}
	}
	errno = 0;
	now = getpriority(PRIO_PROCESS, 0);
	if (x->nice_set && errno == 0 && x->nice < now &&
	    getrlimit(RLIMIT_NICE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)(20 - x->nice) > rl.rlim_cur) {
		log_warnx("%s: nice %d needs user root, or a nice limit of "
		    "%d", sv->name, x->nice, 20 - x->nice);
		return -1;
	}
	return 0;
}

/*
 * In a new worker, as the service's user: the program and its directory
 * may have gone since the file was read, or be closed to this user.
 */
static int
exec_start(const struct conf_service *sv)
{
	if (spawn_subreaper() == -1) {
		log_warn("%s: prctl PR_SET_CHILD_SUBREAPER", sv->name);
		return -1;
	}
	errlog_init(sv->workers);
	if (access(sv->exec.argv[0], X_OK) == -1) {
		log_warn("%s: cannot run %s", sv->name, sv->exec.argv[0]);
		return -1;
	}
	if (access(sv->exec.cwd, X_OK) == -1) {
		log_warn("%s: cannot enter cwd %s", sv->name, sv->exec.cwd);
		return -1;
	}
	return exec_start_limits(sv);
}

/*
 * A script's interpreter, from its "#!" line, into interp; 0 when prog
 * is no script (or cannot be read: then execve() says what is wrong).
 */
static int
exec_interpreter(const char *prog, char *interp, size_t len)
{
	char	 line[256];
	ssize_t	 n;
	size_t	 i = 2, j = 0;
	int	 fd;

	if ((fd = open(prog, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[n] = '\0';
	while (line[i] == ' ' || line[i] == '\t')
		i++;
	while (j + 1 < len && line[i] != '\0' && strchr(" \t\r\n", line[i]) ==
	    NULL)
		interp[j++] = line[i++];
	interp[j] = '\0';
	return j > 0;
}

/*
 * The program must exist and be able to run: checked with the file
 * (at start, -t and reload) rather than failing at each connection.
 */
static int
exec_check(const struct conf_service *sv, const char **key, char *err,
    size_t errlen)
{
	const char	*prog;
	struct stat	 st;
	char		 interp[256];

	*key = "exec";
	if (sv->exec.argv == NULL) {
		*key = NULL;
		snprintf(err, errlen, "service '%s' has handler exec but no "
		    "'exec'", sv->name);
		return -1;
	}
	if ((prog = sv->exec.argv[0]) == NULL)
		snprintf(err, errlen, "'exec' of service '%s' is empty",
		    sv->name);
	else if (prog[0] != '/')
		snprintf(err, errlen, "program '%s' must be an absolute path",
		    prog);
	else if (stat(prog, &st) == -1)
		snprintf(err, errlen, "program %s: %s", prog, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "program %s is not a regular file", prog);
	else if (access(prog, X_OK) == -1)
		snprintf(err, errlen, "program %s is not executable: %s", prog,
		    strerror(errno));
	else if (exec_interpreter(prog, interp, sizeof(interp)) &&
	    access(interp, X_OK) == -1)
		/* Or every client would be closed at once, a failed exec. */
		snprintf(err, errlen, "program %s: its interpreter %s: %s",
		    prog, interp, strerror(errno));
	else
		return 0;
	return -1;
}

static const char *const exec_keys[] = {
	"exec", "env", "passenv", "cwd", "umask", "nice", "rlimits", "timeout",
	NULL
};

const struct service service_exec = {
	.name = "exec",
	.keys = exec_keys,
	.detaches = 1,
	.check = exec_check,
	.start = exec_start,
	.open = exec_open,
};
