/*
 * xinetd entries as tcpd services: who the program runs as, what it may
 * take, its environment, who may connect, and what is only noted.
 */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "convert.h"
#include "xinetd.h"
#include "xmap.h"

/* tcpd sets these itself for every connection. */
static const char *const reserved[] = {
	"PROTO", "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP", "TCPLOCALPORT",
};

/* xinetd's rlimit_* and tcpd's names for them; sizes take K and M. */
static const struct {
	int		 attr;
	const char	*name;
	int		 size;
} rlimits[] = {
	{ XA_RLIMIT_AS, "as", 1 },
	{ XA_RLIMIT_CPU, "cpu", 0 },
	{ XA_RLIMIT_DATA, "data", 1 },
	{ XA_RLIMIT_FILES, "nofile", 0 },
	{ XA_RLIMIT_RSS, "rss", 1 },
	{ XA_RLIMIT_STACK, "stack", 1 },
};

static int
slot_error(struct xmap *m, int k, const char *what)
{
	const struct xslot	*s = xm_slot(m, k);

	return cv_error(m->x, s->file, s->line, "'%s' must be %s, not '%s'",
	    x_attr_name(k), what, s->v.v[0]);
}

/* user, group, groups. */
int
xm_identity(struct xmap *m)
{
	const char	*user = xm_value(m, XA_USER);
	const char	*group = xm_value(m, XA_GROUP);
	int		 groups;

	if (xm_bool(m, XA_GROUPS, &groups) == -1)
		return -1;
	if (m->internal) {
		if ((user != NULL && strcmp(user, "root") != 0) || group)
			cv_add(&m->s->notes, "user and group are not carried: "
			    "xinetd serves internal services itself, tcpd in "
			    "its workers, as its global user");
		return 0;
	}
	if (user == NULL) {
		cv_svc_off(m->s, "no user: xinetd does not start a service "
		    "without one");
		return 0;
	}
	if ((m->s->user = cv_ident(user, 0)) == NULL)
		cv_svc_off(m->s, "user '%s' does not exist here", user);
	if (group != NULL && (m->s->group = cv_ident(group, 1)) == NULL)
		cv_svc_off(m->s, "group '%s' does not exist here", group);
	/* xinetd gives no supplementary groups unless groups = yes. */
	m->s->groups_none = groups != 1;
	return 0;
}

/* UNLIMITED, or a count from 1 to max: 0 for UNLIMITED. */
static int
count(struct xmap *m, int k, long max, long *out)
{
	const char	*v = xm_value(m, k);

	*out = 0;
	if (v == NULL || strcmp(v, "UNLIMITED") == 0)
		return 0;
	if (cv_number(v, 1, LONG_MAX, out) == -1)
		return slot_error(m, k, "UNLIMITED or a number from 1");
	if (*out > max) {
		cv_add(&m->s->notes, "%s = %ld is above tcpd's largest, %ld: "
		    "no limit", x_attr_name(k), *out, max);
		*out = 0;
	}
	return 0;
}

/* One rlimit_*: "unlimited", a number, or a size with K or M. */
static int
rlimit(struct xmap *m, size_t i)
{
	const char	*v = xm_value(m, rlimits[i].attr);
	size_t		 len;
	long		 n;
	char		*num;

	if (v == NULL)
		return 0;
	if (strcmp(v, "UNLIMITED") == 0) {
		cv_add(&m->s->rlimits, "%s = \"unlimited\"", rlimits[i].name);
		return 0;
	}
	len = strlen(v);
	if (rlimits[i].size && len > 1 &&
	    (v[len - 1] == 'K' || v[len - 1] == 'M')) {
		num = cv_strdup(v);
		num[len - 1] = '\0';
		if (cv_number(num, 0, INT_MAX, &n) == -1) {
			free(num);
			return slot_error(m, rlimits[i].attr, "UNLIMITED or "
			    "a number of bytes, with K or M after it");
		}
		free(num);
		cv_add(&m->s->rlimits, "%s = \"%ld%c\"", rlimits[i].name, n,
		    v[len - 1]);
		return 0;
	}
	if (cv_number(v, 0, LONG_MAX, &n) == -1)
		return slot_error(m, rlimits[i].attr, rlimits[i].size ?
		    "UNLIMITED or a number of bytes, with K or M after it" :
		    "UNLIMITED or a number");
	cv_add(&m->s->rlimits, "%s = %ld%s", rlimits[i].name, n,
	    n > INT_MAX ? "L" : "");
	return 0;
}

/* instances, per_source, cps, nice, umask, rlimit_*. */
int
xm_limits(struct xmap *m)
{
	const struct xslot	*cps = xm_slot(m, XA_CPS);
	const char		*v;
	long			 n, wait;
	char			*end;

	if (count(m, XA_INSTANCES, 1000000, &m->s->max_conn) == -1 ||
	    count(m, XA_PER_SOURCE, 1000000, &m->s->ps_max) == -1)
		return -1;
	if (m->s->max_conn > 0)
		cv_add(&m->s->notes, "instances = %ld is max_connections: "
		    "past it a client waits in the accept queue rather than "
		    "being refused", m->s->max_conn);
	if (cps != NULL) {
		if (cv_number(cps->v.v[0], 1, 1000000, &n) == -1 ||
		    cv_number(cps->v.v[1], 0, INT_MAX, &wait) == -1)
			return cv_error(m->x, cps->file, cps->line, "cps must "
			    "be two numbers: connections a second (1 to "
			    "1000000) and seconds");
		m->s->ps_rate = m->s->ps_burst = n;
		cv_add(&m->s->notes, "cps = %ld %ld is per_source rate %ld, "
		    "burst %ld: xinetd turns the whole service off for %ld s "
		    "past %ld connections a second; tcpd refuses only the "
		    "source over its rate, and the service stays on",
		    n, wait, n, n, wait, n);
	}
	if ((v = xm_value(m, XA_NICE)) != NULL) {
		if (cv_number(v, INT_MIN, INT_MAX, &n) == -1)
			return slot_error(m, XA_NICE, "a number");
		m->s->has_nice = 1;
		m->s->nice = n < -20 ? -20 : n > 19 ? 19 : (int)n;
	}
	if ((v = xm_value(m, XA_UMASK)) != NULL) {
		n = strtol(v, &end, 8);
		if (*v < '0' || *v > '7' || *end != '\0' || n > 0777 ||
		    strlen(v) > 4)
			return slot_error(m, XA_UMASK, "octal, up to 0777");
		m->s->umask = cv_printf("%03lo", n);
	}
	for (size_t i = 0; i < nitems(rlimits); i++)
		if (rlimit(m, i) == -1)
			return -1;
	if (m->internal && (m->s->has_nice || m->s->umask ||
	    m->s->rlimits.n > 0)) {
		cv_add(&m->s->notes, "nice, umask and rlimit_* are not "
		    "carried: they are for programs, and this service is "
		    "internal");
		m->s->has_nice = 0;
		free(m->s->umask);
		m->s->umask = NULL;
		cv_list_free(&m->s->rlimits);
	}
	return 0;
}

static int
is_reserved(const char *name, size_t len)
{
	for (size_t i = 0; i < nitems(reserved); i++)
		if (strlen(reserved[i]) == len &&
		    strncmp(reserved[i], name, len) == 0)
			return 1;
	return 0;
}

/* A variable name: a letter or _, then letters, digits and _. */
static int
var_name(const char *s, size_t len)
{
	if (len == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	return 1;
}

/* env and passenv. */
int
xm_env(struct xmap *m)
{
	const struct xslot	*s;
	const char		*v, *eq;

	if ((s = xm_slot(m, XA_ENV)) != NULL)
		for (size_t i = 0; i < s->v.n; i++) {
			v = s->v.v[i];
			if ((eq = strchr(v, '=')) == NULL ||
			    !var_name(v, eq - v))
				return cv_error(m->x, s->file, s->line, "env "
				    "'%s' is not NAME=value", v);
			if (is_reserved(v, eq - v))
				cv_add(&m->s->notes, "env %.*s is not "
				    "carried: tcpd sets it", (int)(eq - v), v);
			else
				cv_add(&m->s->env, "%s", v);
		}
	if ((s = xm_slot(m, XA_PASSENV)) != NULL)
		for (size_t i = 0; i < s->v.n; i++) {
			v = s->v.v[i];
			if (!var_name(v, strlen(v)))
				return cv_error(m->x, s->file, s->line,
				    "passenv '%s' is not a variable name", v);
			if (is_reserved(v, strlen(v)))
				cv_add(&m->s->notes, "passenv %s is not "
				    "carried: tcpd sets it", v);
			else
				cv_add(&m->s->passenv, "%s", v);
		}
	if (m->internal && (m->s->env.n > 0 || m->s->passenv.n > 0)) {
		cv_list_free(&m->s->env);
		cv_list_free(&m->s->passenv);
		cv_add(&m->s->notes, "env and passenv are not carried: the "
		    "service is internal");
	}
	return 0;
}

/* only_from and no_access, defaults included. */
int
xm_access(struct xmap *m)
{
	const struct xslot	*of = &m->e->a[XA_ONLY_FROM];
	const struct xslot	*na = &m->e->a[XA_NO_ACCESS];

	return cv_access(m->s, &of->v, of->set, &na->v, na->set);
}

/* What has no equivalent, said once each. */
int
xm_notes(struct xmap *m)
{
	const struct xslot	*s;
	struct cv_list		*n = &m->s->notes;

	if (xm_slot(m, XA_ACCESS_TIMES) != NULL)
		cv_add(n, "access_times is not carried: tcpd has no hours; "
		    "the service is open at all times");
	if ((s = xm_slot(m, XA_LOG_TYPE)) != NULL && s->v.n > 0 &&
	    strcmp(s->v.v[0], "SYSLOG") != 0)
		cv_add(n, "log_type %s is not carried: tcpd logs to syslog",
		    s->v.v[0]);
	else if (s != NULL && m->e->a[XA_LOG_TYPE].set)
		cv_add(n, "log_type is not carried: tcpd has one syslog "
		    "facility, the global log_facility");
	if (xm_slot(m, XA_LOG_ON_SUCCESS) || xm_slot(m, XA_LOG_ON_FAILURE))
		cv_add(n, "log_on_success and log_on_failure are not needed: "
		    "tcpd logs every connection's end and every refusal "
		    "(log_connections), but no USERID");
	if (xm_slot(m, XA_BANNER) || xm_slot(m, XA_BANNER_SUCCESS) ||
	    xm_slot(m, XA_BANNER_FAIL))
		cv_add(n, "banner, banner_success and banner_fail are not "
		    "carried: tcpd sends no file; refuse_message is a "
		    "string for refused clients");
	if (xm_slot(m, XA_MAX_LOAD))
		cv_add(n, "max_load is not carried: tcpd does not look at "
		    "the load average; max_connections bounds the service");
	if (xm_slot(m, XA_DENY_TIME))
		cv_add(n, "deny_time is not carried: it goes with SENSOR");
	if (xm_slot(m, XA_LIBWRAP))
		cv_add(n, "libwrap is not carried: tcpd does not read "
		    "/etc/hosts.allow or /etc/hosts.deny");
	if (xm_slot(m, XA_MDNS))
		cv_add(n, "mdns is not carried: tcpd registers nothing");
	return 0;
}
