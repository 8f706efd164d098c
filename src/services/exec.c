/*
 * exec: run the service's program per connection, inetd style, with the
 * socket as its standard input and output.  The worker then closes its
 * own copy, which sends nothing: the program's copies keep the
 * connection open until it closes them or exits.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../conf.h"
#include "../conn.h"
#include "../log.h"
#include "../spawn.h"
#include "service.h"

static void
exec_open(struct conn *c)
{
	const struct conf_service	*sv = c->set->conf;

	if (spawn_run(c, sv->argv, sv->env) == -1) {
		log_warn("%s: cannot run %s", sv->name, sv->argv[0]);
		conn_close(c, "the program did not start");
	}
}

/* In a new worker: the program may have gone since the file was read. */
static int
exec_start(const struct conf_service *sv)
{
	if (access(sv->argv[0], X_OK) == -1) {
		log_warn("cannot run %s", sv->argv[0]);
		return -1;
	}
	return 0;
}

const struct service service_exec = {
	.name = "exec",
	.program = 1,
	.start = exec_start,
	.open = exec_open,
};
