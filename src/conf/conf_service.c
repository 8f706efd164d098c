/*
 * One service of the configuration: its name, handler, numbers, the
 * settings its handler takes, and its addresses, each clashing with none
 * seen before.
 */
#include "config.h"

#include <netinet/in.h>

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conf_get.h"
#include "conf_handler.h"
#include "conf_net.h"
#include "conf_service.h"
#include "util.h"

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

/*
 * The chain of addr's family and port: two addresses can clash only if
 * they share both, so each is checked against those alone, not against
 * every address of thousands of services.  NULL: out of memory.
 */
static int *
port_cell(struct conf *c, const struct sockaddr_storage *addr)
{
	int	 port;

	if (c->port_head == NULL &&
	    (c->port_head = calloc(2 * 65536, sizeof(*c->port_head))) == NULL)
		return NULL;
	port = addr->ss_family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)addr)->sin_port) :
	    ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return &c->port_head[(addr->ss_family == AF_INET ? 0 : 65536) + port];
}

/* Put address idx of service svc at the head of *cell's chain. */
static int
port_add(struct conf *c, int *cell, int svc, int idx)
{
	struct conf_portref	*r;
	int			 n = c->nport_refs;

	/* Room for 64, then doubled each time it is full. */
	if (n == 0 || (n >= 64 && (n & (n - 1)) == 0)) {
		if ((r = realloc(c->port_refs, (n ? 2 * n : 64) *
		    sizeof(*r))) == NULL)
			return -1;
		c->port_refs = r;
	}
	c->port_refs[n] = (struct conf_portref){ svc, idx, *cell };
	*cell = ++c->nport_refs;
	return 0;
}

/* A service's addresses, each clashing with none seen before. */
static int
load_listen(struct conf_ctx *x, struct conf *c, struct conf_service *sv,
    const config_setting_t *g)
{
	const config_setting_t	*ls = config_setting_get_member(g, "listen");
	const config_setting_t	*e;
	char			 at[32];
	int			 n, *cell;

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
		/* Against every address seen so far on its port. */
		if ((cell = port_cell(c, &l->addr)) == NULL)
			return conf_err(x, ls, "out of memory");
		for (int r = *cell; r != 0; r = c->port_refs[r - 1].next) {
			const struct conf_portref *ref = &c->port_refs[r - 1];
			const struct conf_service *o = &c->services[ref->svc];
			const struct conf_listen *ol = &o->listen[ref->idx];
			if (!addr_clash(&l->addr, &ol->addr))
				continue;
			return conf_err(x, ls, "listen address %s clashes with "
			    "%s of service '%s' (%s)", l->text, ol->text,
			    o->name, where_else(x, ls, o->at, at, sizeof(at)));
		}
		if (port_add(c, cell, (int)(sv - c->services), i) == -1)
			return conf_err(x, ls, "out of memory");
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

/*
 * Where name is, or would go, in c->names: looked up per slot, per
 * status line and per reload, among thousands of services.
 */
static int *
conf_name_cell(const struct conf *c, const char *name)
{
	unsigned	 h, mask = c->names_size - 1;
	int		*cell;

	for (h = fnv1a(name, strlen(name), FNV1A_SEED);; h++) {
		cell = &c->names[h & mask];
		if (*cell == 0 ||
		    strcmp(c->services[*cell - 1].name, name) == 0)
			return cell;
	}
}

/* A setting some handler declares as its own, or a network setting. */
static int
service_key(const char *name)
{
	return conf_handler_owner(name) != NULL || conf_net_key(name);
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
	const struct conf_handler *h = sv->kind, *owner;
	const config_setting_t	*s;
	const char		*key;
	char			 msg[400];

	for (int i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		owner = conf_handler_owner(config_setting_name(s));
		if (owner != NULL && owner != h)
			return conf_err(x, s, "'%s' needs handler = \"%s\"",
			    config_setting_name(s), owner->name);
	}
	if (conf_exec_load(x, g, &sv->exec) == -1)
		return -1;
	if (!h->program || conf_exec_check(sv->name, &sv->exec, &key, msg,
	    sizeof(msg)) == 0)
		return 0;
	s = key != NULL ? config_setting_get_member(g, key) : NULL;
	return conf_err(x, s != NULL ? s : g, "%s", msg);
}

/* One element of 'services': its name, handler, numbers, addresses. */
int
conf_service_load(struct conf_ctx *x, struct conf *c, const config_setting_t *g)
{
	struct conf_service	*sv = &c->services[c->nservices];
	const char		*name = NULL, *handler = NULL;
	char			 where[128];
	int			*cell;

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
	if (*(cell = conf_name_cell(c, name)) != 0)
		return conf_err(x, g, "duplicate service name '%s' "
		    "(first at %s)", name, where_else(x, g,
		    c->services[*cell - 1].at, where, sizeof(where)));
	*cell = c->nservices + 1;
	if (conf_get_string(x, g, "handler", &handler) == -1)
		return -1;
	if (handler == NULL)
		return conf_err(x, g, "service '%s' has no 'handler'", name);
	if ((sv->kind = conf_handler_find(handler)) == NULL)
		return conf_err(x, config_setting_get_member(g, "handler"),
		    "unknown handler '%s' (known: %s)", handler,
		    conf_handler_names());

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
int
conf_service_disabled(struct conf_ctx *x, const config_setting_t *s)
{
	int	 off = 0;

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return 0;	/* load_service() says what is wrong */
	if (conf_get_bool(x, s, "disable", &off) == -1)
		return -1;
	return off;
}

/* The service called name in c, or NULL. */
const struct conf_service *
conf_service_find(const struct conf *c, const char *name)
{
	int	 i;

	if (c->names != NULL) {
		i = *conf_name_cell(c, name);
		return i != 0 ? &c->services[i - 1] : NULL;
	}
	for (i = 0; i < c->nservices; i++)
		if (strcmp(c->services[i].name, name) == 0)
			return &c->services[i];
	return NULL;
}
