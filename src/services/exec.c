/*
 * exec: run the service's program per connection, inetd style, with the
 * socket as its standard input and output.  The worker then closes its
 * own copy, which sends nothing: the program's copies keep the
 * connection open until it closes them or exits.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../conf.h"
#include "../conn.h"
#include "../log.h"
#include "../spawn.h"
#include "service.h"

/* Run the service's program on the connection. */
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

/* Is each entry of env NAME=value, NAME a C identifier?  -1 if not. */
static int
exec_check_env(char *const *env, const char **key, char *err, size_t errlen)
{
	for (char *const *e = env; e != NULL && *e != NULL; e++) {
		const char	*p = *e;

		if (isalpha((unsigned char)*p) || *p == '_') {
			while (isalnum((unsigned char)*p) || *p == '_')
				p++;
			if (*p == '=')
				continue;
		}
		*key = "env";
		snprintf(err, errlen,
		    "bad 'env' entry '%s': expected NAME=value", *e);
		return -1;
	}
	return 0;
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

	*key = "exec";
	if (sv->argv == NULL) {
		*key = NULL;
		snprintf(err, errlen, "service '%s' has handler exec but no "
		    "'exec'", sv->name);
		return -1;
	}
	if ((prog = sv->argv[0]) == NULL)
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
	else
		return exec_check_env(sv->env, key, err, errlen);
	return -1;
}

static const char *const exec_keys[] = { "exec", "env", NULL };

const struct service service_exec = {
	.name = "exec",
	.keys = exec_keys,
	.check = exec_check,
	.start = exec_start,
	.open = exec_open,
};
