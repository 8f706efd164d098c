/*
 * exec: run the service's program per connection, inetd style, with the
 * socket as its standard input and output.  The worker then closes its
 * own copy, which sends nothing: the program's copies keep the
 * connection open until it closes them or exits.
 */
#include "config.h"

#include <sys/resource.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "spawn.h"
#include "tcpinfo.h"
#include "service.h"

/*
 * Run the service's program on the connection, unless the client is gone
 * already: one that reset while it waited in the accept queue for
 * max_connections gets no program.  Only a connection that waited so is
 * asked (TCP_INFO): one taken as it came has had no time to go, and a
 * program a second should not pay a system call for it.  A client that
 * only sent its FIN may be half-closed, waiting for the answer (nc -N),
 * and is served.
 */
static void
exec_open(struct conn *c)
{
	const struct conf_service	*sv = c->set->conf;
	char				 err[256];
	struct tcpinfo			 ti;

	if (c->held.waited && tcpinfo_get(c->io.fd, &ti) == 0 &&
	    ti.state == TCPINFO_CLOSE) {
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
	const char	*step;

	if (spawn_parent(&step) == -1) {
		log_warn("%s: %s", sv->name, step);
		return -1;
	}
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

const struct service service_exec = {
	.name = "exec",
	.detaches = 1,
	.start = exec_start,
	.open = exec_open,
};
