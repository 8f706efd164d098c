/*
 * xinetd entries as tcpd services: what the service is (its kind, its
 * program, where it listens, whether it is on), after defaults are
 * expanded into it.  The limits and the environment are in xlimits.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "convert.h"
#include "xinetd.h"
#include "xmap.h"

/* Attributes a service takes from defaults when it does not set them. */
static const int inherited[] = {
	XA_INSTANCES, XA_BIND, XA_PER_SOURCE, XA_GROUPS, XA_CPS,
	XA_MAX_LOAD, XA_V6ONLY, XA_UMASK, XA_LOG_TYPE,
};

/* The slot in effect for attribute k: the service's, or the default. */
const struct xslot *
xm_slot(const struct xmap *m, int k)
{
	if (m->e->a[k].set)
		return &m->e->a[k];
	if (m->def != NULL && m->def->a[k].set)
		for (size_t i = 0; i < nitems(inherited); i++)
			if (inherited[i] == k)
				return &m->def->a[k];
	return NULL;
}

/* The one value of a set single-valued attribute, or NULL. */
const char *
xm_value(const struct xmap *m, int k)
{
	const struct xslot	*s = xm_slot(m, k);

	return s != NULL && s->v.n > 0 ? s->v.v[0] : NULL;
}

/* "yes" or "no": 1 or 0; -1 unset; an error otherwise. */
int
xm_bool(struct xmap *m, int k, int *out)
{
	const struct xslot	*s = xm_slot(m, k);

	*out = -1;
	if (s == NULL)
		return 0;
	if (strcmp(s->v.v[0], "yes") == 0)
		*out = 1;
	else if (strcmp(s->v.v[0], "no") == 0)
		*out = 0;
	else
		return cv_error(m->x, s->file, s->line, "'%s' must be yes "
		    "or no, not '%s'", x_attr_name(k), s->v.v[0]);
	return 0;
}

/* A list attribute holds v. */
static int
has(const struct xmap *m, int k, const char *v)
{
	const struct xslot	*s = xm_slot(m, k);

	return s != NULL && cv_has(&s->v, v);
}

/* type = RPC INTERNAL TCPMUX TCPMUXPLUS UNLISTED. */
static int
map_type(struct xmap *m)
{
	const struct xslot	*s = xm_slot(m, XA_TYPE);
	static const char *const known[] = {
		"RPC", "INTERNAL", "TCPMUX", "TCPMUXPLUS", "UNLISTED",
	};
	size_t			 i, k;

	for (i = 0; s != NULL && i < s->v.n; i++) {
		for (k = 0; k < nitems(known); k++)
			if (strcmp(s->v.v[i], known[k]) == 0)
				break;
		if (k == nitems(known))
			return cv_error(m->x, s->file, s->line, "unknown type "
			    "'%s' (known: RPC, INTERNAL, TCPMUX, TCPMUXPLUS, "
			    "UNLISTED)", s->v.v[i]);
	}
	m->internal = has(m, XA_TYPE, "INTERNAL");
	m->unlisted = has(m, XA_TYPE, "UNLISTED");
	if (has(m, XA_TYPE, "RPC") || xm_slot(m, XA_RPC_VERSION) ||
	    xm_slot(m, XA_RPC_NUMBER))
		cv_svc_off(m->s, "an RPC service (type = RPC): tcpd has no "
		    "portmapper registration");
	if (has(m, XA_TYPE, "TCPMUX") || has(m, XA_TYPE, "TCPMUXPLUS"))
		cv_svc_off(m->s, "a TCPMUX service (RFC 1078): tcpd has no "
		    "TCPMUX port");
	if (m->internal && cv_builtin(m->e->name) == NULL)
		cv_svc_off(m->s, "xinetd's internal service '%s' has no tcpd "
		    "equivalent (tcpd's own: echo, discard, chargen, "
		    "daytime, time)", m->e->name);
	else if (m->internal)
		m->s->handler = cv_builtin(m->e->name);
	return 0;
}

/* flags = ...: each mapped, noted, or the reason it cannot be. */
static int
map_flags(struct xmap *m)
{
	const struct xslot	*s = xm_slot(m, XA_FLAGS);
	const char		*f;

	for (size_t i = 0; s != NULL && i < s->v.n; i++) {
		f = s->v.v[i];
		if (strcmp(f, "NODELAY") == 0)
			m->s->nodelay = 1;
		else if (strcmp(f, "KEEPALIVE") == 0)
			m->s->keepalive = 1;
		else if (strcmp(f, "IPv4") == 0)
			m->v4 = 1;
		else if (strcmp(f, "IPv6") == 0)
			m->v6 = 1;
		else if (strcmp(f, "NAMEINARGS") == 0)
			m->nameinargs = 1;
		else if (strcmp(f, "DISABLE") == 0)
			m->disabled = "flags = DISABLE";
		else if (strcmp(f, "REUSE") == 0 ||
		    strcmp(f, "NOLIBWRAP") == 0)
			;	/* what tcpd does anyway */
		else if (strcmp(f, "SENSOR") == 0)
			cv_svc_off(m->s, "flags = SENSOR: tcpd has no sensor "
			    "that bans whoever connects");
		else if (strcmp(f, "INTERCEPT") == 0)
			cv_add(&m->s->notes, "flags = INTERCEPT is not "
			    "carried: tcpd checks access once, at accept");
		else if (strcmp(f, "NORETRY") == 0)
			cv_add(&m->s->notes, "flags = NORETRY is not carried: "
			    "tcpd never retries a program that failed to "
			    "start; the client is let go");
		else if (strcmp(f, "IDONLY") == 0)
			cv_add(&m->s->notes, "flags = IDONLY is not carried: "
			    "tcpd asks no ident server (RFC 1413)");
		else if (strcmp(f, "LABELED") == 0)
			cv_add(&m->s->notes, "flags = LABELED is not carried: "
			    "tcpd sets no SELinux context per connection");
		else
			return cv_error(m->x, s->file, s->line, "unknown flag "
			    "'%s'", f);
	}
	return 0;
}

/* socket_type, protocol and wait: a TCP stream, one program each. */
static int
map_socket(struct xmap *m)
{
	const char	*st = xm_value(m, XA_SOCKET_TYPE);
	const char	*pr = xm_value(m, XA_PROTOCOL);
	int		 wait;

	if (st == NULL)
		cv_svc_off(m->s, "no socket_type: xinetd does not start a "
		    "service without one");
	else if (strcmp(st, "dgram") == 0 || strcmp(st, "raw") == 0 ||
	    strcmp(st, "seqpacket") == 0)
		cv_svc_off(m->s, "socket_type = %s: tcpd serves TCP streams "
		    "only", st);
	else if (strcmp(st, "stream") != 0)
		return cv_error(m->x, m->e->a[XA_SOCKET_TYPE].file,
		    m->e->a[XA_SOCKET_TYPE].line, "unknown socket_type '%s'",
		    st);
	if (pr != NULL && strcmp(pr, "tcp") != 0)
		cv_svc_off(m->s, "protocol = %s: tcpd serves TCP only", pr);
	if (xm_bool(m, XA_WAIT, &wait) == -1)
		return -1;
	if (wait == -1)
		cv_svc_off(m->s, "no wait: xinetd does not start a service "
		    "without one");
	else if (wait == 1)
		cv_svc_off(m->s, "wait = yes: the program would accept "
		    "connections itself; tcpd runs one program per "
		    "connection (a systemd socket unit with Accept=no "
		    "does the former)");
	return 0;
}

/* server, server_args, redirect: what serves a connection. */
static int
map_server(struct xmap *m)
{
	const struct xslot	*args = xm_slot(m, XA_SERVER_ARGS);
	const char		*server = xm_value(m, XA_SERVER);

	if (xm_slot(m, XA_REDIRECT) != NULL)
		cv_svc_off(m->s, "redirect: tcpd forwards no connections to "
		    "another host");
	if (m->internal) {
		if (server != NULL)
			cv_add(&m->s->notes, "server is not carried: the "
			    "service is internal");
		return 0;
	}
	if (server == NULL) {
		cv_svc_off(m->s, "no server: xinetd does not start a service "
		    "without one");
		return 0;
	}
	return cv_program(m->s, server, args ? args->v.v : NULL,
	    args ? args->v.n : 0, m->nameinargs);
}

/* port, bind, flags IPv4 and IPv6, v6only: the listen addresses. */
static int
map_listen(struct xmap *m)
{
	const char	*port = xm_value(m, XA_PORT);
	const char	*bind = xm_value(m, XA_BIND);
	char		 buf[16];
	unsigned char	 a[16];
	long		 n;
	int		 v6only;

	if (port != NULL) {
		if (cv_number(port, 1, 65535, &n) == -1)
			return cv_error(m->x, m->e->a[XA_PORT].file,
			    m->e->a[XA_PORT].line, "port must be a number "
			    "from 1 to 65535, not '%s'", port);
		snprintf(buf, sizeof(buf), "%ld", n);
		port = buf;
	} else if (!m->unlisted && getservbyname(m->e->name, "tcp") != NULL)
		port = m->e->name;
	else {
		cv_svc_off(m->s, "no port, and '%s' is not a TCP service in "
		    "/etc/services", m->e->name);
		return 0;
	}
	if (xm_bool(m, XA_V6ONLY, &v6only) == -1)
		return -1;
	if (bind != NULL) {
		if (inet_pton(AF_INET, bind, a) == 1)
			cv_add(&m->s->listen, "%s:%s", bind, port);
		else if (inet_pton(AF_INET6, bind, a) == 1)
			cv_add(&m->s->listen, "[%s]:%s", bind, port);
		else
			cv_svc_off(m->s, "bind = %s is not an address (an "
			    "interface or host name?): tcpd listens on "
			    "addresses, and all of them would be more than "
			    "xinetd listened on", bind);
		return 0;
	}
	/* xinetd's IPv6 socket takes IPv4 too, unless v6only = yes. */
	if (!m->v4 && !m->v6)
		cv_listen_all(m->s, port, 1, 1);
	else
		cv_listen_all(m->s, port, m->v4 || (m->v6 && v6only != 1),
		    m->v6);
	return 0;
}

/* disable, and the defaults' enabled and disabled lists of ids. */
static int
map_disabled(struct xmap *m, const char *id)
{
	int	 d;

	if (xm_bool(m, XA_DISABLE, &d) == -1)
		return -1;
	if (d == 1)
		m->disabled = "disable = yes";
	if (m->def != NULL && m->def->a[XA_DISABLED].set &&
	    cv_has(&m->def->a[XA_DISABLED].v, id))
		m->disabled = "listed in the defaults' disabled";
	if (m->def != NULL && m->def->a[XA_ENABLED].set &&
	    !cv_has(&m->def->a[XA_ENABLED].v, id))
		m->disabled = "not listed in the defaults' enabled";
	if (m->disabled != NULL && m->s->off == NULL) {
		cv_svc_off(m->s, "disabled in xinetd (%s): kept with "
		    "disable = true; remove that line to serve it", m->disabled);
		m->s->disabled = 1;
	}
	return 0;
}

/* One service entry. */
static int
map_one(struct cv_ctx *x, struct xent *e, struct xent *def)
{
	struct xmap	 m = { 0 };
	const char	*id;
	char		*title;

	m.x = x;
	m.e = e;
	m.def = def;
	id = e->a[XA_ID].set ? e->a[XA_ID].v.v[0] : e->name;
	title = strcmp(id, e->name) == 0 ? cv_printf("service %s", e->name) :
	    cv_printf("service %s (id %s)", e->name, id);
	m.s = cv_svc_new(x, id, title, e->file, e->line);
	free(title);
	if (map_type(&m) == -1 || map_flags(&m) == -1 ||
	    map_socket(&m) == -1 || map_server(&m) == -1 ||
	    map_listen(&m) == -1 || xm_identity(&m) == -1 ||
	    xm_limits(&m) == -1 || xm_env(&m) == -1 || xm_access(&m) == -1 ||
	    xm_notes(&m) == -1)
		return -1;
	return map_disabled(&m, id);
}

/* defaults' log_type SYSLOG is the global log_facility. */
static int
map_top(struct cv_ctx *x, struct xent *def)
{
	static const char *const fac[] = {
		"auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr",
		"mail", "news", "syslog", "user", "uucp", "local0", "local1",
		"local2", "local3", "local4", "local5", "local6", "local7",
	};
	const struct xslot	*s;

	if (def == NULL || !(s = &def->a[XA_LOG_TYPE])->set || s->v.n < 2 ||
	    strcmp(s->v.v[0], "SYSLOG") != 0)
		return 0;
	for (size_t i = 0; i < nitems(fac); i++)
		if (strcmp(fac[i], s->v.v[1]) == 0) {
			cv_add(&x->top, "log_facility = \"%s\";", fac[i]);
			return 0;
		}
	return cv_error(x, s->file, s->line, "unknown syslog facility '%s'",
	    s->v.v[1]);
}

/* Every service entry of xinetd's configuration, in the order read. */
int
cv_xmap(struct cv_ctx *x, struct xent *list, struct xent *def)
{
	cv_add(&x->head, "xinetd on Debian also asks /etc/hosts.allow and "
	    "/etc/hosts.deny (libwrap); tcpd does not: write what they say "
	    "as 'access' rules.");
	if (map_top(x, def) == -1)
		return -1;
	for (struct xent *e = list; e != NULL; e = e->next)
		if (map_one(x, e, def) == -1)
			return -1;
	return 0;
}
