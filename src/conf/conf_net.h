/*
 * What a service shows the network: who may connect, how much one source
 * may take, the TCP options of its sockets, its connection log, and the
 * PROXY protocol from the balancers it trusts.  Set
 * globally and per service, a service's own setting replacing the global.
 */
#ifndef TCPD_CONF_NET_H
#define TCPD_CONF_NET_H

struct conf;
struct conf_service;

#include <libconfig.h>
#include <stddef.h>

struct access_index;
struct access_rule;
struct conf_ctx;
struct freeze;

/* The longest refuse_message, in bytes. */
#define CONF_REFUSE_MAX	512

/* What one source (an address, or the prefix it falls in) may take. */
struct per_source {
	int		 max_connections;	/* open at once; 0: no cap */
	int		 rate;		/* new per second; 0: no rate */
	int		 burst;		/* the bucket's depth */
	int		 ipv4_prefix;	/* a source is this prefix ... */
	int		 ipv6_prefix;	/* ... of its address */
	int		 sources;	/* the table holds this many at once */
};

struct conf_net {
	struct access_rule	*access;	/* NULL: every peer allowed */
	int			 naccess;
	struct access_index	*access_index;	/* access, for matching */
	struct per_source	 per_source;
	char			*refuse_message;	/* NULL: none */
	size_t			 refuse_len;
	int			 keepalive;	/* SO_KEEPALIVE on */
	int			 keepalive_idle;	/* seconds; 0: the kernel's */
	int			 keepalive_interval;
	int			 keepalive_count;
	int			 user_timeout;	/* seconds; 0: the kernel's */
	int			 defer_accept;	/* seconds; 0: off */
	int			 nodelay;	/* TCP_NODELAY */
	int			 log_connections;
	int			 proxy_protocol;	/* PROXY_V1 | PROXY_V2;
							   0: off */
	struct access_rule	*trusted;	/* trusted_proxies, as "allow" */
	int			 ntrusted;
	struct access_index	*trusted_index;
	int			 proxy_timeout;	/* seconds for the header */
};

/* Any per-source limit at all? */
#define PER_SOURCE_ON(p)	((p)->max_connections > 0 || (p)->rate > 0)

extern const char *const conf_net_keys[];

void	conf_net_defaults(struct conf_net *);
int	conf_net_key(const char *);
int	conf_access_allows(const struct conf_net *);
void	conf_access_warning(const struct conf_service *, char *, size_t);
void	conf_access_log(const struct conf *);
int	conf_net_load(struct conf_ctx *, const config_setting_t *,
	    const struct conf_net *inherit, struct conf_net *);
void	conf_net_free(struct conf_net *);
void	conf_net_freeze(struct freeze *, size_t at, const struct conf_net *);

#endif
