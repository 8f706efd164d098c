/*
 * The network settings of the configuration: access, per_source,
 * refuse_message, keepalive, user_timeout, defer_accept, nodelay,
 * log_connections, proxy_protocol, trusted_proxies, proxy_timeout.  Read once globally, then for each service on top of
 * a copy of the global ones.
 */
#include "config.h"

#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "conf.h"
#include "conf_get.h"
#include "conf_net.h"
#include "freeze.h"
#include "log.h"
#include "proxy.h"

const char *const conf_net_keys[] = {
	"access", "per_source", "refuse_message", "keepalive", "user_timeout",
	"defer_accept", "nodelay", "log_connections", "proxy_protocol",
	"trusted_proxies", "proxy_timeout", NULL
};

static const char *const per_source_keys[] = {
	"max_connections", "rate", "burst", "ipv4_prefix", "ipv6_prefix",
	"sources", NULL
};

static const char *const keepalive_keys[] = {
	"idle", "interval", "count", NULL
};

/* Nothing refused, nothing set: the kernel's sockets as they come. */
void
conf_net_defaults(struct conf_net *n)
{
	memset(n, 0, sizeof(*n));
	n->log_connections = 1;
	n->proxy_timeout = 3;
}

/*
 * An 'access' list of group g into n.  An empty list is an error: "deny
 * all" says it.
 */
static int
load_access(struct conf_ctx *x, const config_setting_t *s, struct conf_net *n)
{
	const config_setting_t	*e;
	struct access_rule	*r;
	const char		*text;
	char			 why[128];
	int			 len;

	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return conf_err(x, s, "'access' must be a list of rules, like "
		    "[ \"allow 192.0.2.0/24\", \"deny all\" ]");
	if ((len = config_setting_length(s)) == 0)
		return conf_err(x, s, "'access' is empty: to refuse every "
		    "client, say [ \"deny all\" ]");
	if ((r = calloc(len, sizeof(*r))) == NULL)
		return conf_err(x, s, "out of memory");
	free(n->access);
	n->access = r;		/* conf_net_free frees it, whatever follows */
	n->naccess = 0;
	for (int i = 0; i < len; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_err(x, s, "'access' entries must be "
			    "strings");
		text = config_setting_get_string(e);
		if (conf_has_control(text))
			return conf_err(x, e, "'access' entry %d must not "
			    "contain control characters", i + 1);
		if (access_parse(text, &r[i], why, sizeof(why)) == -1)
			return conf_err(x, e, "bad access rule '%s': %s", text,
			    why);
	}
	n->naccess = len;
	return 0;
}

/*
 * per_source = { ... }: replaces what was inherited as a whole; an empty
 * group means no per-source limits.
 */
static int
load_per_source(struct conf_ctx *x, const config_setting_t *g,
    struct per_source *p)
{
	memset(p, 0, sizeof(*p));
	p->ipv4_prefix = 32;
	p->ipv6_prefix = 64;
	p->sources = 16384;
	if (config_setting_type(g) != CONFIG_TYPE_GROUP)
		return conf_err(x, g, "'per_source' must be a group, like "
		    "{ max_connections = 8; rate = 20; }");
	if (conf_get_keys(x, g, per_source_keys, NULL, " in 'per_source'") ==
	    -1 ||
	    conf_get_int(x, g, "max_connections", 0, 1000000,
	    &p->max_connections) == -1 ||
	    conf_get_int(x, g, "rate", 0, 1000000, &p->rate) == -1 ||
	    conf_get_int(x, g, "ipv4_prefix", 0, 32, &p->ipv4_prefix) == -1 ||
	    conf_get_int(x, g, "ipv6_prefix", 0, 128, &p->ipv6_prefix) == -1 ||
	    conf_get_int(x, g, "sources", 16, 1048576, &p->sources) == -1)
		return -1;
	p->burst = p->rate;
	if (conf_get_int(x, g, "burst", 1, 10000000, &p->burst) == -1)
		return -1;
	if (p->rate == 0 && config_setting_get_member(g, "burst") != NULL)
		return conf_err(x, config_setting_get_member(g, "burst"),
		    "'burst' needs a 'rate'");
	return 0;
}

/*
 * keepalive = true | false | { idle = S; interval = S; count = N; }: a
 * member left out keeps the kernel's value (net.ipv4.tcp_keepalive_*).
 */
static int
load_keepalive(struct conf_ctx *x, const config_setting_t *s,
    struct conf_net *n)
{
	n->keepalive_idle = n->keepalive_interval = n->keepalive_count = 0;
	if (config_setting_type(s) == CONFIG_TYPE_BOOL) {
		n->keepalive = config_setting_get_bool(s);
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return conf_err(x, s, "'keepalive' must be true, false, or a "
		    "group like { idle = 60; interval = 10; count = 5; }");
	n->keepalive = 1;
	/* The kernel's own bounds: MAX_TCP_KEEPIDLE, _KEEPINTVL, _KEEPCNT. */
	return conf_get_keys(x, s, keepalive_keys, NULL, " in 'keepalive'") ==
	    -1 ||
	    conf_get_int(x, s, "idle", 1, 32767, &n->keepalive_idle) == -1 ||
	    conf_get_int(x, s, "interval", 1, 32767,
	    &n->keepalive_interval) == -1 ||
	    conf_get_int(x, s, "count", 1, 127, &n->keepalive_count) == -1 ?
	    -1 : 0;
}

/* Sent as it is, never logged: control characters (\r\n) are fine. */
static int
load_refuse_message(struct conf_ctx *x, const config_setting_t *s,
    struct conf_net *n)
{
	const char	*m;

	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_err(x, s, "'refuse_message' must be a string");
	m = config_setting_get_string(s);
	if (strlen(m) > CONF_REFUSE_MAX)
		return conf_err(x, s, "'refuse_message' is %zu bytes, more "
		    "than %d", strlen(m), CONF_REFUSE_MAX);
	free(n->refuse_message);
	n->refuse_message = NULL;
	n->refuse_len = strlen(m);
	if (n->refuse_len > 0 && (n->refuse_message = strdup(m)) == NULL)
		return conf_err(x, s, "out of memory");
	return 0;
}

/* proxy_protocol = "v1" | "v2" | "any" | "off". */
static int
load_proxy_protocol(struct conf_ctx *x, const config_setting_t *s,
    struct conf_net *n)
{
	static const struct {
		const char	*name;
		int		 versions;
	} names[] = {
		{ "off", 0 }, { "v1", PROXY_V1 }, { "v2", PROXY_V2 },
		{ "any", PROXY_V1 | PROXY_V2 },
	};
	const char	*v;

	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		v = config_setting_get_string(s);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (strcmp(v, names[i].name) == 0) {
				n->proxy_protocol = names[i].versions;
				return 0;
			}
	}
	return conf_err(x, s, "'proxy_protocol' must be \"v1\", \"v2\", "
	    "\"any\" or \"off\"");
}

/*
 * trusted_proxies = [ "10.0.0.0/8", "::1" ]: the peers whose PROXY
 * header is believed, kept as "allow" rules to match with the access
 * trie.  "all" is not an address: trusting everyone lets anyone say
 * who they are, so it takes "0.0.0.0/0" and "::/0" written out.
 */
static int
load_trusted(struct conf_ctx *x, const config_setting_t *s,
    struct conf_net *n)
{
	const config_setting_t	*e;
	struct access_rule	*r;
	const char		*text;
	char			 rule[ACCESS_TEXT_MAX + 8], why[128];
	int			 len;

	if ((config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) ||
	    (len = config_setting_length(s)) == 0)
		return conf_err(x, s, "'trusted_proxies' must be a list of "
		    "addresses or CIDRs, like [ \"10.0.0.0/8\", \"::1\" ]");
	if ((r = calloc(len, sizeof(*r))) == NULL)
		return conf_err(x, s, "out of memory");
	free(n->trusted);
	n->trusted = r;		/* conf_net_free frees it, whatever follows */
	n->ntrusted = 0;
	for (int i = 0; i < len; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_err(x, s, "'trusted_proxies' entries must "
			    "be strings");
		text = config_setting_get_string(e);
		if (conf_has_control(text) || strchr(text, ' ') != NULL ||
		    strcmp(text, "all") == 0)
			return conf_err(x, e, "'trusted_proxies' entry %d must "
			    "be one address or CIDR", i + 1);
		snprintf(rule, sizeof(rule), "allow %s", text);
		if (access_parse(rule, &r[i], why, sizeof(why)) == -1)
			return conf_err(x, e, "bad trusted proxy '%s': %s",
			    text, why);
	}
	n->ntrusted = len;
	return 0;
}

/* The PROXY protocol settings, and that one is not on without the other. */
static int
load_proxy(struct conf_ctx *x, const config_setting_t *g, int service,
    struct conf_net *n)
{
	const config_setting_t	*s;

	if ((s = config_setting_get_member(g, "proxy_protocol")) != NULL &&
	    load_proxy_protocol(x, s, n) == -1)
		return -1;
	if ((s = config_setting_get_member(g, "trusted_proxies")) != NULL &&
	    load_trusted(x, s, n) == -1)
		return -1;
	if (conf_get_int(x, g, "proxy_timeout", 1, 3600, &n->proxy_timeout) ==
	    -1)
		return -1;
	/* A service's, or the top level's set for every service. */
	if ((service || config_setting_get_member(g, "proxy_protocol") !=
	    NULL) && n->proxy_protocol != 0 && n->ntrusted == 0)
		return conf_err(x, g, "'proxy_protocol' needs 'trusted_proxies':"
		    " the balancers whose PROXY header is believed");
	if (n->ntrusted > 0 &&
	    (n->trusted_index = access_index_new(n->trusted, n->ntrusted)) ==
	    NULL)
		return conf_err(x, g, "out of memory");
	return 0;
}

/* inherit's lists and strings, copied so that n owns its own. */
static int
copy_net(struct conf_ctx *x, const config_setting_t *g,
    const struct conf_net *inherit, struct conf_net *n)
{
	*n = *inherit;
	n->access = NULL;
	n->access_index = NULL;
	n->refuse_message = NULL;
	n->trusted = NULL;
	n->trusted_index = NULL;
	if (inherit->ntrusted > 0) {
		if ((n->trusted = calloc(inherit->ntrusted,
		    sizeof(*n->trusted))) == NULL)
			return conf_err(x, g, "out of memory");
		memcpy(n->trusted, inherit->trusted,
		    inherit->ntrusted * sizeof(*n->trusted));
	}
	if (inherit->naccess > 0) {
		if ((n->access = calloc(inherit->naccess,
		    sizeof(*n->access))) == NULL)
			return conf_err(x, g, "out of memory");
		memcpy(n->access, inherit->access,
		    inherit->naccess * sizeof(*n->access));
	}
	if (inherit->refuse_message != NULL &&
	    (n->refuse_message = strdup(inherit->refuse_message)) == NULL)
		return conf_err(x, g, "out of memory");
	return 0;
}

/*
 * The network settings of group g into n: what g sets, over a copy of
 * inherit (NULL: the defaults).  n is the caller's to conf_net_free(),
 * whatever happens.
 */
int
conf_net_load(struct conf_ctx *x, const config_setting_t *g,
    const struct conf_net *inherit, struct conf_net *n)
{
	const config_setting_t	*s;

	conf_net_defaults(n);
	if (inherit != NULL && copy_net(x, g, inherit, n) == -1)
		return -1;
	if ((s = config_setting_get_member(g, "access")) != NULL &&
	    load_access(x, s, n) == -1)
		return -1;
	if ((s = config_setting_get_member(g, "per_source")) != NULL &&
	    load_per_source(x, s, &n->per_source) == -1)
		return -1;
	if ((s = config_setting_get_member(g, "refuse_message")) != NULL &&
	    load_refuse_message(x, s, n) == -1)
		return -1;
	if ((s = config_setting_get_member(g, "keepalive")) != NULL &&
	    load_keepalive(x, s, n) == -1)
		return -1;
	if (conf_get_int(x, g, "user_timeout", 0, 2147483,
	    &n->user_timeout) == -1 ||
	    conf_get_int(x, g, "defer_accept", 0, 3600, &n->defer_accept) ==
	    -1 ||
	    conf_get_bool(x, g, "nodelay", &n->nodelay) == -1 ||
	    conf_get_bool(x, g, "log_connections", &n->log_connections) == -1 ||
	    load_proxy(x, g, inherit != NULL, n) == -1)
		return -1;
	if (n->naccess > 0 &&
	    (n->access_index = access_index_new(n->access, n->naccess)) ==
	    NULL)
		return conf_err(x, g, "out of memory");
	return 0;
}

void
conf_net_free(struct conf_net *n)
{
	free(n->access);
	access_index_free(n->access_index);
	free(n->refuse_message);
	free(n->trusted);
	access_index_free(n->trusted_index);
	n->access = NULL;
	n->access_index = NULL;
	n->refuse_message = NULL;
	n->trusted = NULL;
	n->trusted_index = NULL;
}

/* Copy what n points to into f, for the conf_net at offset at. */
void
conf_net_freeze(struct freeze *f, size_t at, const struct conf_net *n)
{
	freeze_link(f, at + offsetof(struct conf_net, access), n->access,
	    n->naccess * sizeof(*n->access));
	access_index_freeze(f, at + offsetof(struct conf_net, access_index),
	    n->access_index);
	freeze_str(f, at + offsetof(struct conf_net, refuse_message),
	    n->refuse_message);
	freeze_link(f, at + offsetof(struct conf_net, trusted), n->trusted,
	    n->ntrusted * sizeof(*n->trusted));
	access_index_freeze(f, at + offsetof(struct conf_net, trusted_index),
	    n->trusted_index);
}

/* One of the network settings, taken globally and per service? */
int
conf_net_key(const char *name)
{
	return conf_key_in(conf_net_keys, name);
}

/* Does an access list, set, allow anyone? */
int
conf_access_allows(const struct conf_net *n)
{
	if (n->naccess == 0)
		return 1;
	for (int i = 0; i < n->naccess; i++)
		if (n->access[i].allow)
			return 1;
	return 0;
}

/* The warning for a service whose access list refuses every client. */
void
conf_access_warning(const struct conf_service *sv, char *buf, size_t len)
{
	snprintf(buf, len, "%s: warning: service '%s': access has no allow "
	    "rule, so every client is refused (no rule matching is a "
	    "refusal); to refuse only those denied, end the list with "
	    "\"allow all\"", sv->at, sv->name);
}

/* At start and at each reload: that warning, in the log. */
void
conf_access_log(const struct conf *c)
{
	char	 text[512];

	for (int i = 0; i < c->nservices; i++)
		if (!conf_access_allows(&c->services[i].net)) {
			conf_access_warning(&c->services[i], text, sizeof(text));
			log_warnx("%s", text);
		}
}
