/*
 * What xinetd and inetd services have in common: the program and its
 * argv (with Debian's TCP wrappers taken out), the built-in services,
 * the addresses a service listens on.
 */
#include "config.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>

#include "util.h"
#include "convert.h"

/* Debian's TCP wrappers program, and where it looks for a bare name. */
#define WRAPPER		"/usr/sbin/tcpd"
#define WRAPPER_DIR	"/usr/sbin"

/* The classic services tcpd serves itself, by their /etc/services name. */
static const char *const builtins[] = {
	"echo", "discard", "chargen", "daytime", "time",
};

/* The handler of a built-in service, or NULL. */
const char *
cv_builtin(const char *name)
{
	for (size_t i = 0; i < nitems(builtins); i++)
		if (strcmp(builtins[i], name) == 0)
			return builtins[i];
	return NULL;
}

static const char *
base(const char *path)
{
	const char	*p = strrchr(path, '/');

	return p != NULL ? p + 1 : path;
}

/*
 * The service's exec: the server, then its arguments.  With argv0, the
 * first argument is the program's argv[0] (inetd, xinetd's NAMEINARGS),
 * which tcpd does not set apart: its programs get their path.
 */
int
cv_program(struct cv_svc *s, const char *server, char **args, size_t n,
    int argv0)
{
	const char	*prog = server;

	if (server[0] != '/') {
		cv_svc_off(s, "the server '%s' is not an absolute path",
		    server);
		return 0;
	}
	if (strcmp(server, WRAPPER) == 0) {
		if (!argv0 || n == 0) {
			cv_svc_off(s, "%s (TCP wrappers) is the server, but "
			    "which program it wraps is not said (xinetd: "
			    "flags = NAMEINARGS, and the program first in "
			    "server_args)", WRAPPER);
			return 0;
		}
		if (args[0][0] == '/')
			cv_add(&s->exec, "%s", args[0]);
		else
			cv_add(&s->exec, "%s/%s", WRAPPER_DIR, args[0]);
		cv_add(&s->notes, "%s (TCP wrappers) is left out: tcpd runs "
		    "%s itself, and /etc/hosts.allow and /etc/hosts.deny are "
		    "not read: write what they say for it as 'access'",
		    WRAPPER, s->exec.v[0]);
		argv0 = 1;
	} else {
		cv_add(&s->exec, "%s", prog);
		if (argv0 && n > 0 && strcmp(base(args[0]), base(prog)) != 0)
			cv_add(&s->notes, "argv[0] '%s' is not carried: tcpd "
			    "gives a program its path as argv[0]", args[0]);
	}
	for (size_t i = argv0 ? 1 : 0; i < n; i++)
		cv_add(&s->exec, "%s", args[i]);
	return 0;
}

/* Listen on every address of the families asked, on port. */
void
cv_listen_all(struct cv_svc *s, const char *port, int v4, int v6)
{
	if (v4)
		cv_add(&s->listen, "0.0.0.0:%s", port);
	if (v6)
		cv_add(&s->listen, "[::]:%s", port);
}

/* A user or group name, or a number that names one. */
char *
cv_ident(const char *v, int group)
{
	struct passwd	*pw;
	struct group	*gr;
	long		 id;

	if (cv_number(v, 0, INT_MAX, &id) == 0) {
		if (group)
			return (gr = getgrgid((gid_t)id)) ?
			    cv_strdup(gr->gr_name) : NULL;
		return (pw = getpwuid((uid_t)id)) ? cv_strdup(pw->pw_name) :
		    NULL;
	}
	if (group)
		return getgrnam(v) != NULL ? cv_strdup(v) : NULL;
	return getpwnam(v) != NULL ? cv_strdup(v) : NULL;
}
