/* The configuration file, parsed and validated into an immutable struct. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <ctype.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "services/service.h"

/* Where an error is reported: the file being read and the caller's buffer. */
struct ctx {
	const char	*path;		/* as the user named it */
	const char	*abs;		/* as libconfig knows it */
	char		*err;
	size_t		 errlen;
};

/* Name the file as the user did, not by the path libconfig was given. */
static const char *
ctx_file(const struct ctx *x, const char *file)
{
	if (file == NULL || (x->abs != NULL && strcmp(file, x->abs) == 0))
		return x->path;
	return file;
}

static const char *const top_keys[] = {
	"user", "group", "pid_file", "log_facility", "log_level",
	"shutdown_timeout", "retire_timeout", "respawn_window", "respawn_limit",
	"watchdog_timeout", "services", NULL
};
static const char *const service_keys[] = {
	"name", "handler", "listen", "workers", "backlog", "idle_timeout",
	"max_connections", "exec", "env", NULL
};

/* Record "FILE:LINE: message" and fail. */
static int __attribute__((format(printf, 3, 4)))
bad(struct ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	va_list		 ap;
	char		 msg[512];
	const char	*file = NULL;
	int		 line = 0;

	if (s != NULL) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	file = ctx_file(x, file);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(x->err, x->errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(x->err, x->errlen, "%s: %s", file, msg);
	return -1;
}

static int
known_key(const char *const *keys, const char *name)
{
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, name) == 0)
			return 1;
	return 0;
}

/* Reject any member of group g that is not in keys. */
static int
check_keys(struct ctx *x, const config_setting_t *g, const char *const *keys,
    const char *where)
{
	const config_setting_t	*s;

	for (int i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++)
		if (!known_key(keys, config_setting_name(s)))
			return bad(x, s, "unknown key '%s'%s",
			    config_setting_name(s), where);
	return 0;
}

/* An optional string member; *out stays as it is when absent. */
static int
get_string(struct ctx *x, const config_setting_t *g, const char *name,
    const char **out)
{
	const config_setting_t	*s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return bad(x, s, "'%s' must be a string", name);
	*out = config_setting_get_string(s);
	if (**out == '\0')
		return bad(x, s, "'%s' must not be empty", name);
	return 0;
}

/* An optional integer member within [min, max]. */
static int
get_int(struct ctx *x, const config_setting_t *g, const char *name,
    long long min, long long max, int *out)
{
	const config_setting_t	*s = config_setting_get_member(g, name);
	long long		 v;

	if (s == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		return bad(x, s, "'%s' must be an integer", name);
	}
	if (v < min || v > max)
		return bad(x, s, "'%s' must be between %lld and %lld, not %lld",
		    name, min, max, v);
	*out = (int)v;
	return 0;
}

static int
load_listen(struct ctx *x, struct conf *c, struct conf_service *sv,
    const config_setting_t *g)
{
	const config_setting_t	*ls = config_setting_get_member(g, "listen");
	const config_setting_t	*e;
	int			 n;

	if (ls == NULL)
		return bad(x, g, "service '%s' has no 'listen'", sv->name);
	if (config_setting_type(ls) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(ls) != CONFIG_TYPE_LIST)
		return bad(x, ls, "'listen' must be a list of addresses, "
		    "like [ \"127.0.0.1:7007\" ]");
	if ((n = config_setting_length(ls)) == 0)
		return bad(x, ls, "'listen' of service '%s' is empty",
		    sv->name);
	if ((sv->listen = calloc(n, sizeof(*sv->listen))) == NULL)
		return bad(x, ls, "out of memory");
	for (int i = 0; i < n; i++) {
		struct conf_listen	*l = &sv->listen[i];
		const char		*text;

		e = config_setting_get_elem(ls, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return bad(x, ls, "'listen' entries must be strings");
		text = config_setting_get_string(e);
		if (addr_parse(text, &l->addr, &l->addrlen) == -1)
			return bad(x, ls, "bad listen address '%s': expected "
			    "a.b.c.d:port or [ipv6]:port, port 1-65535", text);
		addr_text(&l->addr, l->text, sizeof(l->text));
		sv->nlisten = i + 1;
		/* Against every address seen so far, this service included. */
		for (int s = 0; s < c->nservices + 1; s++) {
			const struct conf_service *o = &c->services[s];
			int m = (o == sv) ? i : o->nlisten;
			for (int j = 0; j < m; j++) {
				if (!addr_clash(&l->addr, &o->listen[j].addr))
					continue;
				return bad(x, ls, "listen address %s clashes "
				    "with %s of service '%s' (line %d)",
				    l->text, o->listen[j].text, o->name,
				    o->line);
			}
		}
	}
	return 0;
}

/* A NULL-terminated copy of an array of strings; NULL when absent. */
static int
get_strings(struct ctx *x, const config_setting_t *g, const char *name,
    char ***out)
{
	const config_setting_t	*s = config_setting_get_member(g, name);
	const config_setting_t	*e;
	char			**v;
	int			 n;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return bad(x, s, "'%s' must be a list of strings, like "
		    "[ \"a\", \"b\" ]", name);
	n = config_setting_length(s);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return bad(x, s, "out of memory");
	*out = v;
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return bad(x, s, "'%s' entries must be strings", name);
		if ((v[i] = strdup(config_setting_get_string(e))) == NULL)
			return bad(x, s, "out of memory");
	}
	return 0;
}

static void
free_strings(char **v)
{
	for (char **p = v; p != NULL && *p != NULL; p++)
		free(*p);
	free(v);
}

/*
 * exec and env: a program only for the exec handler, which needs one
 * that exists and can run, checked now rather than at each connection.
 */
static int
load_program(struct ctx *x, struct conf_service *sv, const config_setting_t *g)
{
	const config_setting_t	*s = config_setting_get_member(g, "exec");
	struct stat		 st;

	if (get_strings(x, g, "exec", &sv->argv) == -1 ||
	    get_strings(x, g, "env", &sv->env) == -1)
		return -1;
	if (!sv->handler->program) {
		if (sv->argv != NULL)
			return bad(x, s, "'exec' needs handler = \"exec\"");
		if (sv->env != NULL)
			return bad(x, config_setting_get_member(g, "env"),
			    "'env' needs handler = \"exec\"");
		return 0;
	}
	if (sv->argv == NULL)
		return bad(x, g, "service '%s' has handler exec but no 'exec'",
		    sv->name);
	if (sv->argv[0] == NULL)
		return bad(x, s, "'exec' of service '%s' is empty", sv->name);
	if (sv->argv[0][0] != '/')
		return bad(x, s, "program '%s' must be an absolute path",
		    sv->argv[0]);
	if (stat(sv->argv[0], &st) == -1)
		return bad(x, s, "program %s: %s", sv->argv[0],
		    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bad(x, s, "program %s is not a regular file",
		    sv->argv[0]);
	if (access(sv->argv[0], X_OK) == -1)
		return bad(x, s, "program %s is not executable: %s",
		    sv->argv[0], strerror(errno));
	for (char **e = sv->env; e != NULL && *e != NULL; e++) {
		const char *p = *e;
		if (!isalpha((unsigned char)*p) && *p != '_')
			goto badenv;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (*p != '=')
			goto badenv;
		continue;
badenv:
		return bad(x, config_setting_get_member(g, "env"),
		    "bad 'env' entry '%s': expected NAME=value", *e);
	}
	return 0;
}

static int
load_service(struct ctx *x, struct conf *c, const config_setting_t *g)
{
	struct conf_service	*sv = &c->services[c->nservices];
	const char		*name = NULL, *handler = NULL;
	char			 where[128];
	long			 ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	sv->line = config_setting_source_line(g);
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return bad(x, g, "each service must be a group { ... }");
	if (get_string(x, g, "name", &name) == -1)
		return -1;
	if (name == NULL)
		return bad(x, g, "service has no 'name'");
	if ((sv->name = strdup(name)) == NULL)
		return bad(x, g, "out of memory");
	snprintf(where, sizeof(where), " in service '%s'", name);
	if (check_keys(x, g, service_keys, where) == -1)
		return -1;
	for (int i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return bad(x, g, "duplicate service name '%s' "
			    "(first at line %d)", name, c->services[i].line);
	if (get_string(x, g, "handler", &handler) == -1)
		return -1;
	if (handler == NULL)
		return bad(x, g, "service '%s' has no 'handler'", name);
	if ((sv->handler = service_find(handler)) == NULL)
		return bad(x, config_setting_get_member(g, "handler"),
		    "unknown handler '%s' (known: %s)", handler,
		    service_names());

	sv->workers = ncpu > 0 ? (ncpu > 256 ? 256 : (int)ncpu) : 1;
	sv->backlog = 4096;
	sv->idle_timeout = 300;
	if (get_int(x, g, "workers", 1, 256, &sv->workers) == -1 ||
	    get_int(x, g, "backlog", 1, 65535, &sv->backlog) == -1 ||
	    get_int(x, g, "idle_timeout", 0, 2000000, &sv->idle_timeout) == -1 ||
	    get_int(x, g, "max_connections", 0, 1000000,
	    &sv->max_connections) == -1 ||
	    load_program(x, sv, g) == -1)
		return -1;
	return load_listen(x, c, sv, g);
}

static int
load_user(struct ctx *x, struct conf *c, const config_setting_t *root)
{
	const char	*user = NULL, *group = NULL;
	struct passwd	*pw;
	struct group	*gr;

	if (get_string(x, root, "user", &user) == -1 ||
	    get_string(x, root, "group", &group) == -1)
		return -1;
	if (user == NULL && group != NULL)
		return bad(x, config_setting_get_member(root, "group"),
		    "'group' needs 'user'");
	if (user == NULL)
		return 0;
	if ((pw = getpwnam(user)) == NULL)
		return bad(x, config_setting_get_member(root, "user"),
		    "unknown user '%s'", user);
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	if ((c->user = strdup(user)) == NULL)
		return bad(x, root, "out of memory");
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL)
			return bad(x, config_setting_get_member(root, "group"),
			    "unknown group '%s'", group);
		c->gid = gr->gr_gid;
		if ((c->group = strdup(group)) == NULL)
			return bad(x, root, "out of memory");
	}
	return 0;
}

/* A relative pid_file is taken from the configuration file's directory. */
static int
load_pid_file(struct ctx *x, struct conf *c, const config_setting_t *root)
{
	const char	*pf = NULL;
	char		*dir, *copy;
	size_t		 len;

	if (get_string(x, root, "pid_file", &pf) == -1)
		return -1;
	if (pf == NULL)
		return 0;
	if (pf[0] == '/') {
		c->pid_file = strdup(pf);
	} else {
		if ((copy = strdup(c->path)) == NULL)
			return bad(x, root, "out of memory");
		dir = dirname(copy);
		len = strlen(dir) + 1 + strlen(pf) + 1;
		if ((c->pid_file = malloc(len)) != NULL)
			snprintf(c->pid_file, len, "%s/%s", dir, pf);
		free(copy);
	}
	return c->pid_file ? 0 : bad(x, root, "out of memory");
}

static int
load_top(struct ctx *x, struct conf *c, const config_setting_t *root)
{
	const config_setting_t	*svs, *s;
	const char		*fac = "daemon", *lvl = "info";
	int			 n;

	if (check_keys(x, root, top_keys, "") == -1 ||
	    load_user(x, c, root) == -1 ||
	    load_pid_file(x, c, root) == -1 ||
	    get_string(x, root, "log_facility", &fac) == -1 ||
	    get_string(x, root, "log_level", &lvl) == -1)
		return -1;
	if ((c->log_facility = log_facility_parse(fac)) == -1)
		return bad(x, config_setting_get_member(root, "log_facility"),
		    "unknown log_facility '%s'", fac);
	if ((c->log_level = log_level_parse(lvl)) == -1)
		return bad(x, config_setting_get_member(root, "log_level"),
		    "unknown log_level '%s' (err, warning, notice, info, "
		    "debug)", lvl);
	c->shutdown_timeout = 10;
	c->respawn_window = 5;
	c->respawn_limit = 5;
	c->watchdog_timeout = 10;
	if (get_int(x, root, "watchdog_timeout", 0, 3600,
	    &c->watchdog_timeout) == -1 ||
	    get_int(x, root, "shutdown_timeout", 0, 86400,
	    &c->shutdown_timeout) == -1 ||
	    get_int(x, root, "retire_timeout", 0, 2000000,
	    &c->retire_timeout) == -1 ||
	    get_int(x, root, "respawn_window", 1, 3600,
	    &c->respawn_window) == -1 ||
	    get_int(x, root, "respawn_limit", 1, 1000,
	    &c->respawn_limit) == -1)
		return -1;

	if ((svs = config_setting_get_member(root, "services")) == NULL)
		return bad(x, NULL, "no 'services' defined");
	if (config_setting_type(svs) != CONFIG_TYPE_LIST)
		return bad(x, svs, "'services' must be a list ( { ... }, ... )");
	if ((n = config_setting_length(svs)) == 0)
		return bad(x, svs, "'services' is empty");
	if ((c->services = calloc(n, sizeof(*c->services))) == NULL)
		return bad(x, svs, "out of memory");
	for (int i = 0; i < n; i++) {
		s = config_setting_get_elem(svs, i);
		if (load_service(x, c, s) == -1) {
			c->nservices++;	/* so conf_free sees it */
			return -1;
		}
		c->nservices++;
	}
	return 0;
}

/*
 * Read and check path.  On failure return NULL with "FILE:LINE: message"
 * (or "FILE: message") in err.
 */
struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct ctx	 x = { path, NULL, err, errlen };
	struct conf	*c;
	config_t	 cfg;
	FILE		*fp;
	char		*abs, *copy;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	fclose(fp);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (abs = realpath(path, NULL)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(c);
		return NULL;
	}
	c->path = abs;
	x.abs = abs;

	config_init(&cfg);
	if ((copy = strdup(abs)) != NULL)
		config_set_include_dir(&cfg, dirname(copy));
	if (!config_read_file(&cfg, abs)) {
		snprintf(err, errlen, "%s:%d: %s",
		    ctx_file(&x, config_error_file(&cfg)),
		    config_error_line(&cfg), config_error_text(&cfg));
		goto fail;
	}
	if (load_top(&x, c, config_root_setting(&cfg)) == -1)
		goto fail;
	config_destroy(&cfg);
	free(copy);
	return c;
fail:
	config_destroy(&cfg);
	free(copy);
	conf_free(c);
	return NULL;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->nservices; i++) {
		free(c->services[i].name);
		free(c->services[i].listen);
		free_strings(c->services[i].argv);
		free_strings(c->services[i].env);
	}
	free(c->services);
	free(c->path);
	free(c->user);
	free(c->group);
	free(c->pid_file);
	free(c);
}

int
conf_workers_total(const struct conf *c)
{
	int	 n = 0;

	for (int i = 0; i < c->nservices; i++)
		n += c->services[i].workers;
	return n;
}

const struct conf_service *
conf_service_find(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}
