/*
 * What the main file's services are made of besides themselves: the
 * services of each file in include_dir, the Debian way, and the top
 * level's defaults for per-service settings.  Both are merged into the
 * main file's settings before they are read, each copied setting keeping
 * the file and line it came from, so that every message names them.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_get.h"
#include "conf_handler.h"
#include "conf_merge.h"
#include "conf_src.h"

/* Settings a service may take from the top level: its defaults. */
static const char *const default_keys[] = {
	"workers", "backlog", "idle_timeout", "max_connections", NULL
};

/* Copy from, with what it holds, as a new member of to (name: from's). */
static int
setting_copy(config_setting_t *to, const config_setting_t *from,
    const char *file)
{
	config_setting_t	*c;
	const config_setting_t	*e;
	int			 ok = 1;

	c = config_setting_add(to, config_setting_type(to) ==
	    CONFIG_TYPE_GROUP ? config_setting_name(from) : NULL,
	    config_setting_type(from));
	if (c == NULL)
		return -1;
	switch (config_setting_type(from)) {
	case CONFIG_TYPE_INT:
		ok = config_setting_set_int(c, config_setting_get_int(from));
		break;
	case CONFIG_TYPE_INT64:
		ok = config_setting_set_int64(c,
		    config_setting_get_int64(from));
		break;
	case CONFIG_TYPE_FLOAT:
		ok = config_setting_set_float(c,
		    config_setting_get_float(from));
		break;
	case CONFIG_TYPE_BOOL:
		ok = config_setting_set_bool(c, config_setting_get_bool(from));
		break;
	case CONFIG_TYPE_STRING:
		ok = config_setting_set_string(c,
		    config_setting_get_string(from));
		break;
	default:	/* group, list, array */
		for (int i = 0; ok && (e = config_setting_get_elem(from, i)) !=
		    NULL; i++)
			ok = setting_copy(c, e, file) == 0;
	}
	c->format = from->format;
	c->line = from->line;
	c->file = file != NULL ? file : from->file;
	return ok ? 0 : -1;
}

/* Is name a setting a service may take from the top level? */
int
conf_default_key(const char *name)
{
	return conf_key_in(default_keys, name) ||
	    (conf_handler_owner(name) != NULL && strcmp(name, "exec") != 0);
}

/*
 * Give each service of services the top-level defaults it does not set
 * itself; a handler's own settings go only to that handler's services.
 */
int
conf_merge_defaults(struct conf_ctx *x, const config_setting_t *root,
    config_setting_t *services)
{
	const config_setting_t	*d, *h;
	config_setting_t	*sv;
	const struct conf_handler *owner, *handler;
	const char		*name;

	for (int i = 0; (sv = config_setting_get_elem(services, i)) != NULL;
	    i++) {
		if (config_setting_type(sv) != CONFIG_TYPE_GROUP)
			continue;	/* said when it is read */
		h = config_setting_get_member(sv, "handler");
		handler = h != NULL && config_setting_type(h) ==
		    CONFIG_TYPE_STRING ? conf_handler_find(
		    config_setting_get_string(h)) : NULL;
		for (int j = 0; (d = config_setting_get_elem(root, j)) != NULL;
		    j++) {
			name = config_setting_name(d);
			if (!conf_default_key(name) ||
			    config_setting_get_member(sv, name) != NULL)
				continue;
			owner = conf_handler_owner(name);
			if (owner != NULL && owner != handler)
				continue;
			if (setting_copy(sv, d, NULL) == -1)
				return conf_err(x, d, "out of memory");
		}
	}
	return 0;
}

/* A file include_dir takes: NAME.conf, not hidden. */
static int
dir_takes(const char *name)
{
	size_t	 n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".conf") == 0;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of dir that it takes, sorted as the C locale sorts; -1: errno. */
static int
dir_list(const char *dir, char ***out)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL, **nn;
	int		 n = 0, size = 0;

	*out = NULL;
	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (!dir_takes(de->d_name))
			continue;
		if (n == size) {
			size = size == 0 ? 16 : size * 2;
			if ((nn = realloc(names, size * sizeof(*names))) ==
			    NULL)
				goto fail;
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL)
			goto fail;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	*out = names;
	return n;
fail:
	while (n > 0)
		free(names[--n]);
	free(names);
	closedir(d);
	errno = ENOMEM;
	return -1;
}

/*
 * One file of include_dir: a services = ( ... ) list, and nothing else,
 * its services appended to services.
 */
static int
merge_file(struct conf_ctx *x, struct conf_merged *m, const char *path,
    config_setting_t *services)
{
	struct conf_src		 src;
	config_t		*cfg = &m->cfg[m->n];
	const config_setting_t	*root, *list, *s;
	FILE			*fp;
	int			 fd, ok;

	if ((m->path[m->n] = strdup(path)) == NULL)
		return conf_err(x, NULL, "out of memory");
	if ((fd = conf_src_open(&src, path, x->err, x->errlen)) == -1) {
		free(m->path[m->n]);
		return -1;
	}
	conf_src_free(&src);
	config_init(cfg);
	m->n++;
	if ((fp = fdopen(fd, "r")) == NULL) {
		close(fd);
		return conf_err(x, NULL, "%s: %s", path, strerror(errno));
	}
	ok = config_read(cfg, fp);
	fclose(fp);
	if (!ok) {
		snprintf(x->err, x->errlen, "%s:%d: %s", path,
		    config_error_line(cfg), config_error_text(cfg));
		return -1;
	}
	root = config_root_setting(cfg);
	for (int i = 0; (s = config_setting_get_elem(root, i)) != NULL; i++)
		if (strcmp(config_setting_name(s), "services") != 0) {
			((config_setting_t *)s)->file = m->path[m->n - 1];
			return conf_err(x, s, "unknown key '%s': a file of "
			    "include_dir holds services = ( ... ); only",
			    config_setting_name(s));
		}
	if ((list = config_setting_get_member(root, "services")) == NULL)
		return 0;
	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		((config_setting_t *)list)->file = m->path[m->n - 1];
		return conf_err(x, list,
		    "'services' must be a list ( { ... }, ... )");
	}
	for (int i = 0; (s = config_setting_get_elem(list, i)) != NULL; i++)
		if (setting_copy(services, s, m->path[m->n - 1]) == -1)
			return conf_err(x, NULL, "out of memory");
	return 0;
}

/*
 * include_dir: each NAME.conf in dir (hidden files, editor backups and
 * package managers' leftovers such as .dpkg-old, .dpkg-dist or ~ do not
 * end in .conf), in C-locale order, its services appended to those of
 * the main file.  What was read is kept in m until the settings are.
 */
int
conf_merge_dir(struct conf_ctx *x, const config_setting_t *at,
    const char *dir, config_setting_t *services, struct conf_merged *m)
{
	char	**names, path[4096];
	int	 n, rc = 0;

	memset(m, 0, sizeof(*m));
	if ((n = dir_list(dir, &names)) == -1)
		return conf_err(x, at, "include_dir %s: %s", dir,
		    strerror(errno));
	if (n > CONF_DIR_MAX) {
		rc = conf_err(x, at, "include_dir %s: %d files, more than %d",
		    dir, n, CONF_DIR_MAX);
		n = 0;
	}
	if (n > 0 && ((m->cfg = calloc(n, sizeof(*m->cfg))) == NULL ||
	    (m->path = calloc(n, sizeof(*m->path))) == NULL))
		rc = conf_err(x, at, "out of memory");
	for (int i = 0; rc == 0 && i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = merge_file(x, m, path, services);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Forget what include_dir read, once its settings have been. */
void
conf_merged_free(struct conf_merged *m)
{
	for (int i = 0; i < m->n; i++) {
		config_destroy(&m->cfg[i]);
		free(m->path[i]);
	}
	free(m->cfg);
	free(m->path);
	memset(m, 0, sizeof(*m));
}
