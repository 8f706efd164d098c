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

#include "conf.h"
#include "conf_freeze.h"
#include "conf_get.h"
#include "conf_merge.h"
#include "conf_net.h"
#include "conf_peek.h"
#include "conf_service.h"
#include "conf_src.h"
#include "log.h"

static const char *const top_keys[] = {
	"user", "group", "groups", "pid_file", "control_socket",
	"log_facility", "log_level", "log_target",
	"shutdown_timeout", "retire_timeout", "respawn_window", "respawn_limit",
	"watchdog_timeout", "drain_delay", "services", "include_dir", NULL
};
/* What the top level takes besides its own: every service's default. */
static int
top_key(const char *name)
{
	return conf_net_key(name) || conf_default_key(name);
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
	for (c->names_size = 16; c->names_size < 4 * n; c->names_size *= 2)
		;
	if ((c->names = calloc(c->names_size, sizeof(*c->names))) == NULL)
		return conf_err(x, svs, "out of memory");
	for (int i = 0; i < n; i++) {
		s = config_setting_get_elem(svs, i);
		if ((rc = conf_service_disabled(x, s)) == 1)
			continue;
		if (rc == -1 || conf_service_load(x, c, s) == -1) {
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
	struct conf	*c = NULL, *frozen;
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
	free(c->port_head);
	free(c->port_refs);
	c->port_head = NULL;
	c->port_refs = NULL;
	config_destroy(&cfg);
	conf_merged_free(&merged);
	conf_src_free(&src);
	/*
	 * Kept in a mapping no fork copies (conf_freeze.c); should that
	 * fail, where it was read, which serves as well.
	 */
	if ((frozen = conf_freeze(c)) == NULL)
		return c;
	conf_free(c);
	return frozen;
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
	if (c->frozen_len != 0) {
		conf_frozen_free(c);
		return;
	}
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
	free(c->names);
	free(c->port_head);
	free(c->port_refs);
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
