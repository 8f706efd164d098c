/* The configuration file, parsed and validated into an immutable struct. */
#include "config.h"

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_get.h"
#include "conf_merge.h"
#include "conf_net.h"
#include "conf_peek.h"
#include "conf_src.h"
#include "log.h"
#include "services/service.h"

static const char *const top_keys[] = {
	"user", "group", "groups", "pid_file", "control_socket",
	"log_facility", "log_level", "log_target",
	"shutdown_timeout", "retire_timeout", "respawn_window", "respawn_limit",
	"watchdog_timeout", "drain_delay", "services", "include_dir", NULL
};
static const char *const service_keys[] = {
	"name", "handler", "listen", "workers", "backlog", "idle_timeout",
	"max_connections", "user", "group", "groups", "disable", NULL
};

/*
 * Where another setting is, for a message about s: "line N" in the same
 * file, else at ("FILE:LINE") as it is.
 */
static const char *
where_else(const struct conf_ctx *x, const config_setting_t *s,
    const char *at, char *buf, size_t len)
{
	const char	*file = conf_ctx_file(x, config_setting_source_file(s));
	size_t		 n = strlen(file);

	if (strncmp(at, file, n) != 0 || at[n] != ':')
		return at;
	snprintf(buf, len, "line %s", at + n + 1);
	return buf;
}

/* A service's addresses, each clashing with none seen before. */
static int
load_listen(struct conf_ctx *x, struct conf *c, struct conf_service *sv,
    const config_setting_t *g)
{
	const config_setting_t	*ls = config_setting_get_member(g, "listen");
	const config_setting_t	*e;
	char			 at[32];
	int			 n;

	if (ls == NULL)
		return conf_err(x, g, "service '%s' has no 'listen'", sv->name);
	if (config_setting_type(ls) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(ls) != CONFIG_TYPE_LIST)
		return conf_err(x, ls, "'listen' must be a list of addresses, "
		    "like [ \"127.0.0.1:7007\" ]");
	if ((n = config_setting_length(ls)) == 0)
		return conf_err(x, ls, "'listen' of service '%s' is empty",
		    sv->name);
	if ((sv->listen = calloc(n, sizeof(*sv->listen))) == NULL)
		return conf_err(x, ls, "out of memory");
	for (int i = 0; i < n; i++) {
		struct conf_listen	*l = &sv->listen[i];
		const char		*text;

		e = config_setting_get_elem(ls, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_err(x, ls,
			    "'listen' entries must be strings");
		text = config_setting_get_string(e);
		if (conf_has_control(text))
			return conf_err(x, ls, "'listen' entry %d must not "
			    "contain control characters", i + 1);
		if (addr_parse(text, &l->addr, &l->addrlen) == -1)
			return conf_err(x, ls, errno == ENOENT ?
			    "bad listen address '%s': no such TCP service "
			    "in /etc/services" : "bad listen address '%s': "
			    "expected a.b.c.d:port or [ipv6]:port, "
			    "port 1-65535 or a name from /etc/services", text);
		addr_text(&l->addr, l->text, sizeof(l->text));
		sv->nlisten = i + 1;
		/* Against every address seen so far, this service included. */
		for (int s = 0; s < c->nservices + 1; s++) {
			const struct conf_service *o = &c->services[s];
			int m = (o == sv) ? i : o->nlisten;
			for (int j = 0; j < m; j++) {
				if (!addr_clash(&l->addr, &o->listen[j].addr))
					continue;
				return conf_err(x, ls, "listen address %s "
				    "clashes with %s of service '%s' (%s)",
				    l->text, o->listen[j].text, o->name,
				    where_else(x, ls, o->at, at, sizeof(at)));
			}
		}
	}
	return 0;
}

/*
 * Service names go into logs, process titles and metrics labels: plain
 * ASCII letters, digits, '_', '-' and '.' only.
 */
static int
valid_name(const char *name)
{
	size_t	 n = strlen(name);

	return n <= CONF_NAME_MAX && strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") == n;
}

/* One of the network settings, taken globally and per service. */
static int
net_key(const char *name)
{
	return conf_key_in(conf_net_keys, name);
}

/* What the top level takes besides its own: every service's default. */
static int
top_key(const char *name)
{
	return net_key(name) || conf_default_key(name);
}

/*
 * workers: a number, or "auto", one per online CPU (at most 256).
 * Without it, 1: one worker serves thousands of connections on its
 * event loop, and a handful of idle services cost a handful of
 * processes, as with inetd.
 */
static int
load_workers(struct conf_ctx *x, const config_setting_t *g, int *out)
{
	const config_setting_t	*s = config_setting_get_member(g, "workers");
	long			 ncpu;

	*out = 1;
	if (s == NULL || config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_get_int(x, g, "workers", 1, 256, out);
	if (strcmp(config_setting_get_string(s), "auto") != 0)
		return conf_err(x, s, "'workers' must be an integer or "
		    "\"auto\"");
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	*out = ncpu > 0 ? (ncpu > 256 ? 256 : (int)ncpu) : 1;
	return 0;
}

/* A setting some handler declares as its own, or a network setting. */
static int
service_key(const char *name)
{
	return service_owner(name) != NULL || net_key(name);
}

/*
 * The settings only some handler takes: each must be its handler's, and
 * the handler checks its service.  conf_service holds exec's settings
 * (conf_exec.c).
 */
static int
load_handler(struct conf_ctx *x, struct conf_service *sv,
    const config_setting_t *g)
{
	const struct service	*h = sv->handler, *owner;
	const config_setting_t	*s;
	const char		*key;
	char			 msg[400];

	for (int i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		owner = service_owner(config_setting_name(s));
		if (owner != NULL && owner != h)
			return conf_err(x, s, "'%s' needs handler = \"%s\"",
			    config_setting_name(s), owner->name);
	}
	if (conf_exec_load(x, g, &sv->exec) == -1)
		return -1;
	if (h->check == NULL || h->check(sv, &key, msg, sizeof(msg)) == 0)
		return 0;
	s = key != NULL ? config_setting_get_member(g, key) : NULL;
	return conf_err(x, s != NULL ? s : g, "%s", msg);
}

/* One element of 'services': its name, handler, numbers, addresses. */
static int
load_service(struct conf_ctx *x, struct conf *c, const config_setting_t *g)
{
	struct conf_service	*sv = &c->services[c->nservices];
	const char		*name = NULL, *handler = NULL;
	char			 where[128];

	sv->line = config_setting_source_line(g);
	if ((sv->at = conf_where(x, g)) == NULL)
		return conf_err(x, g, "out of memory");
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return conf_err(x, g, "each service must be a group { ... }");
	if (conf_get_string(x, g, "name", &name) == -1)
		return -1;
	if (name == NULL)
		return conf_err(x, g, "service has no 'name'");
	if (!valid_name(name))
		return conf_err(x, config_setting_get_member(g, "name"),
		    "'name' must be 1 to %d letters, digits, '_', '-' or '.', "
		    "not '%s'", CONF_NAME_MAX, name);
	if ((sv->name = strdup(name)) == NULL)
		return conf_err(x, g, "out of memory");
	snprintf(where, sizeof(where), " in service '%s'", name);
	if (conf_get_keys(x, g, service_keys, service_key, where) == -1)
		return -1;
	for (int i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return conf_err(x, g, "duplicate service name '%s' "
			    "(first at %s)", name, where_else(x, g,
			    c->services[i].at, where, sizeof(where)));
	if (conf_get_string(x, g, "handler", &handler) == -1)
		return -1;
	if (handler == NULL)
		return conf_err(x, g, "service '%s' has no 'handler'", name);
	if ((sv->handler = service_find(handler)) == NULL)
		return conf_err(x, config_setting_get_member(g, "handler"),
		    "unknown handler '%s' (known: %s)", handler,
		    service_names());

	sv->backlog = 4096;
	sv->idle_timeout = 300;
	if (load_workers(x, g, &sv->workers) == -1 ||
	    conf_get_int(x, g, "backlog", 1, 65535, &sv->backlog) == -1 ||
	    conf_get_int(x, g, "idle_timeout", 0, 2000000,
	    &sv->idle_timeout) == -1 ||
	    conf_get_int(x, g, "max_connections", 0, 1000000,
	    &sv->max_connections) == -1 ||
	    conf_net_load(x, g, &c->net, &sv->net) == -1 ||
	    conf_ident_load(x, g, &c->ident, &sv->ident) == -1 ||
	    load_handler(x, sv, g) == -1)
		return -1;
	return load_listen(x, c, sv, g);
}

/*
 * disable = true keeps a service in its file and out of service: 1 when
 * s is one such, 0 when not, -1 when disable is not a boolean.
 */
static int
service_disabled(struct conf_ctx *x, const config_setting_t *s)
{
	int	 off = 0;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return 0;	/* load_service() says what is wrong */
	if (conf_get_bool(x, s, "disable", &off) == -1)
		return -1;
	return off;
}

/* path as written, or from the configuration file's directory. */
static char *
conf_path(const struct conf *c, const char *path)
{
	char	*dir, *copy, *out;
	size_t	 len;

	if (path[0] == '/')
		return strdup(path);
	if ((copy = strdup(c->path)) == NULL)
		return NULL;
	dir = dirname(copy);
	len = strlen(dir) + 1 + strlen(path) + 1;
	if ((out = malloc(len)) != NULL)
		snprintf(out, len, "%s/%s", dir, path);
	free(copy);
	return out;
}

/* A relative pid_file is taken from the configuration file's directory. */
static int
load_pid_file(struct conf_ctx *x, struct conf *c, const config_setting_t *root)
{
	const char	*pf = NULL;

	if (conf_get_string(x, root, "pid_file", &pf) == -1)
		return -1;
	if (pf == NULL)
		return 0;
	if ((c->pid_file_at = conf_where(x,
	    config_setting_get_member(root, "pid_file"))) == NULL)
		return conf_err(x, root, "out of memory");
	c->pid_file = conf_path(c, pf);
	return c->pid_file ? 0 : conf_err(x, root, "out of memory");
}

/*
 * control_socket: as set (relative: from the file's directory), else next
 * to the pid file (tcpd.pid: tcpd.sock), else none.  A unix socket's
 * path has room for 107 bytes.
 */
static int
load_control_socket(struct conf_ctx *x, struct conf *c,
    const config_setting_t *root)
{
	const config_setting_t	*s;
	const char		*cs = NULL;

	if (conf_get_string(x, root, "control_socket", &cs) == -1)
		return -1;
	if (cs != NULL)
		c->control_socket = conf_path(c, cs);
	else if (c->pid_file != NULL)
		c->control_socket = conf_socket_beside(c->pid_file);
	else
		return 0;
	if (c->control_socket == NULL)
		return conf_err(x, root, "out of memory");
	if (strlen(c->control_socket) > 107) {
		s = config_setting_get_member(root, cs != NULL ?
		    "control_socket" : "pid_file");
		return conf_err(x, s, "control socket %s: path too long (at "
		    "most 107 bytes)%s", c->control_socket, cs != NULL ? "" :
		    "; set control_socket");
	}
	return 0;
}

/*
 * Before the settings are read: include_dir's services appended to the
 * main file's, then the top level's defaults given to every service.
 */
static int
merge_in(struct conf_ctx *x, struct conf *c, config_setting_t *root,
    struct conf_merged *m)
{
	config_setting_t	*svs = config_setting_get_member(root, "services");
	const char		*dir = NULL;

	memset(m, 0, sizeof(*m));
	if (svs != NULL && config_setting_type(svs) != CONFIG_TYPE_LIST)
		return conf_err(x, svs,
		    "'services' must be a list ( { ... }, ... )");
	if (conf_get_string(x, root, "include_dir", &dir) == -1)
		return -1;
	if (dir != NULL) {
		if ((c->include_dir = conf_path(c, dir)) == NULL)
			return conf_err(x, root, "out of memory");
		if (svs == NULL && (svs = config_setting_add(root, "services",
		    CONFIG_TYPE_LIST)) == NULL)
			return conf_err(x, root, "out of memory");
		if (conf_merge_dir(x, config_setting_get_member(root,
		    "include_dir"), c->include_dir, svs, m) == -1)
			return -1;
	}
	return svs != NULL ? conf_merge_defaults(x, root, svs) : 0;
}

/* The global settings, then each service. */
static int
load_top(struct conf_ctx *x, struct conf *c, const config_setting_t *root)
{
	const config_setting_t	*svs, *s;
	const char		*fac = "daemon", *lvl = "info", *tgt = "auto";
	int			 n, rc;

	if (conf_get_keys(x, root, top_keys, top_key, "") == -1 ||
	    conf_ident_load(x, root, NULL, &c->ident) == -1 ||
	    load_pid_file(x, c, root) == -1 ||
	    load_control_socket(x, c, root) == -1 ||
	    conf_get_string(x, root, "log_facility", &fac) == -1 ||
	    conf_get_string(x, root, "log_level", &lvl) == -1 ||
	    conf_get_string(x, root, "log_target", &tgt) == -1)
		return -1;
	if ((c->log_target = log_target_parse(tgt)) == -1)
		return conf_err(x, config_setting_get_member(root, "log_target"),
		    "unknown log_target '%s' (auto, stderr, syslog, both)", tgt);
	if ((c->log_facility = log_facility_parse(fac)) == -1)
		return conf_err(x,
		    config_setting_get_member(root, "log_facility"),
		    "unknown log_facility '%s'", fac);
	if ((c->log_level = log_level_parse(lvl)) == -1)
		return conf_err(x, config_setting_get_member(root, "log_level"),
		    "unknown log_level '%s' (err, warning, notice, info, "
		    "debug)", lvl);
	c->shutdown_timeout = 10;
	c->respawn_window = 5;
	c->respawn_limit = 5;
	c->watchdog_timeout = 10;
	if (conf_get_int(x, root, "watchdog_timeout", 0, 3600,
	    &c->watchdog_timeout) == -1 ||
	    conf_get_int(x, root, "shutdown_timeout", 0, 86400,
	    &c->shutdown_timeout) == -1 ||
	    conf_get_int(x, root, "retire_timeout", 0, 2000000,
	    &c->retire_timeout) == -1 ||
	    conf_get_int(x, root, "respawn_window", 1, 3600,
	    &c->respawn_window) == -1 ||
	    conf_get_int(x, root, "respawn_limit", 1, 1000,
	    &c->respawn_limit) == -1 ||
	    conf_get_int(x, root, "drain_delay", 0, 86400,
	    &c->drain_delay) == -1 ||
	    conf_net_load(x, root, NULL, &c->net) == -1)
		return -1;

	svs = config_setting_get_member(root, "services");
	n = svs != NULL ? config_setting_length(svs) : 0;
	if (n > 0 && (c->services = calloc(n, sizeof(*c->services))) == NULL)
		return conf_err(x, svs, "out of memory");
	for (int i = 0; i < n; i++) {
		s = config_setting_get_elem(svs, i);
		if ((rc = service_disabled(x, s)) == 1)
			continue;
		if (rc == -1 || load_service(x, c, s) == -1) {
			c->nservices++;	/* so conf_free sees it */
			return -1;
		}
		c->nservices++;
	}
	if (c->nservices > 0)
		return 0;
	if (n > 0)
		return conf_err(x, svs, "every service is disabled");
	if (c->include_dir != NULL)
		return conf_err(x, NULL, "no service defined, here or in "
		    "include_dir %s", c->include_dir);
	return conf_err(x, svs, svs == NULL ? "no 'services' defined" :
	    "'services' is empty");
}

/*
 * Read and check path.  On failure return NULL with "FILE:LINE: message"
 * (or "FILE: message") in err.
 */
struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf_src	 src;
	struct conf_ctx	 x = { path, &src, err, errlen };
	struct conf	*c = NULL;
	struct conf_merged merged = { NULL, NULL, 0 };
	config_t	 cfg;
	FILE		*fp;
	int		 fd, ok;

	if ((fd = conf_src_open(&src, path, err, errlen)) == -1)
		return NULL;
	config_init(&cfg);
	config_set_include_dir(&cfg, src.dir);
	if ((fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		goto fail;
	}
	ok = config_read(&cfg, fp);
	fclose(fp);
	if (!ok) {
		snprintf(err, errlen, "%s:%d: %s",
		    conf_ctx_file(&x, config_error_file(&cfg)),
		    config_error_line(&cfg), config_error_text(&cfg));
		goto fail;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	c->path = src.abs;	/* a reload reads it again, from anywhere */
	src.abs = NULL;
	if (merge_in(&x, c, config_root_setting(&cfg), &merged) == -1 ||
	    load_top(&x, c, config_root_setting(&cfg)) == -1)
		goto fail;
	config_destroy(&cfg);
	conf_merged_free(&merged);
	conf_src_free(&src);
	return c;
fail:
	config_destroy(&cfg);
	conf_merged_free(&merged);
	conf_src_free(&src);
	conf_free(c);
	return NULL;
}

/* Can this user, by its effective ids, create files in dir?  -1 if not. */
static int
dir_writable(const char *dir)
{
	struct stat	 st;

	if (stat(dir, &st) == -1)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS);
}

/*
 * What -t checks beyond the file itself: the pid file's directory must
 * exist and be writable by this user, the one who creates the pid file.
 */
int
conf_check_paths(const struct conf *c, char *err, size_t errlen)
{
	char		*copy, *dir;
	int		 rc;

	if (c->pid_file == NULL)
		return 0;
	if ((copy = strdup(c->pid_file)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", c->pid_file_at);
		return -1;
	}
	dir = dirname(copy);
	if ((rc = dir_writable(dir)) == -1)
		snprintf(err, errlen, "%s: pid_file %s: directory %s: %s",
		    c->pid_file_at, c->pid_file, dir, strerror(errno));
	free(copy);
	return rc;
}

/* Free a configuration and everything it holds; NULL is fine. */
void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->nservices; i++) {
		free(c->services[i].name);
		free(c->services[i].at);
		free(c->services[i].listen);
		conf_exec_free(&c->services[i].exec);
		conf_net_free(&c->services[i].net);
		conf_ident_free(&c->services[i].ident);
	}
	conf_net_free(&c->net);
	free(c->services);
	free(c->path);
	conf_ident_free(&c->ident);
	free(c->pid_file);
	free(c->pid_file_at);
	free(c->include_dir);
	free(c->control_socket);
	free(c);
}

/*
 * Open the log where c says, as a master in the foreground or not: by
 * default, stderr alone in the foreground (a service manager keeps it),
 * syslog alone as a daemon.  A daemon has no stderr to log to.
 */
void
conf_log_open(const struct conf *c, int foreground)
{
	int	 t = c->log_target;

	if (t == LOG_TARGET_AUTO)
		t = foreground ? LOG_TARGET_STDERR : LOG_TARGET_SYSLOG;
	if (!foreground)
		t = LOG_TARGET_SYSLOG;
	log_open(c->log_facility, c->log_level, t != LOG_TARGET_STDERR,
	    t != LOG_TARGET_SYSLOG);
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
