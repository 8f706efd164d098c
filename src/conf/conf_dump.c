/*
 * tcpd -T: the whole configuration in effect, as a file tcpd reads:
 * every default filled in, include_dir's services and the top level's
 * defaults merged, each service headed by the file and line it came
 * from (as nginx -T shows what nginx would run).
 */
#include "config.h"

#include <sys/resource.h>

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "access.h"
#include "conf.h"
#include "conf_handler.h"
#include "conf_dump.h"
#include "proxy.h"

/* s as a libconfig string literal, escaped. */
static void
put_string(FILE *fp, const char *s, size_t len)
{
	fputc('"', fp);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", fp);
		else if (c == '\r')
			fputs("\\r", fp);
		else if (c == '\t')
			fputs("\\t", fp);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void
put_str(FILE *fp, const char *s)
{
	put_string(fp, s, strlen(s));
}

/* NAME = [ "a", "b" ]; for a NULL-ended list, if any. */
static void
put_strings(FILE *fp, const char *in, const char *name, char **list)
{
	if (list == NULL)
		return;
	fprintf(fp, "%s%s = [", in, name);
	for (int i = 0; list[i] != NULL; i++) {
		fputs(i == 0 ? " " : ", ", fp);
		put_str(fp, list[i]);
	}
	fputs(" ];\n", fp);
}

static const char *
level_name(int level)
{
	static const char *const names[] = {
		"emerg", "alert", "crit", "err", "warning", "notice", "info",
		"debug"
	};

	return level >= 0 && level <= LOG_DEBUG ? names[level] : "info";
}

static const char *
facility_name(int fac)
{
	static const struct { int v; const char *n; } f[] = {
		{ LOG_AUTH, "auth" }, { LOG_AUTHPRIV, "authpriv" },
		{ LOG_CRON, "cron" }, { LOG_DAEMON, "daemon" },
		{ LOG_FTP, "ftp" }, { LOG_KERN, "kern" }, { LOG_LPR, "lpr" },
		{ LOG_MAIL, "mail" }, { LOG_NEWS, "news" },
		{ LOG_SYSLOG, "syslog" }, { LOG_USER, "user" },
		{ LOG_UUCP, "uucp" }, { LOG_LOCAL0, "local0" },
		{ LOG_LOCAL1, "local1" }, { LOG_LOCAL2, "local2" },
		{ LOG_LOCAL3, "local3" }, { LOG_LOCAL4, "local4" },
		{ LOG_LOCAL5, "local5" }, { LOG_LOCAL6, "local6" },
		{ LOG_LOCAL7, "local7" },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].v == fac)
			return f[i].n;
	return "daemon";
}

/* user, group and groups, when they name anyone. */
static void
put_ident(FILE *fp, const char *in, const struct conf_ident *id)
{
	struct group	*gr;

	if (id->user == NULL)
		return;
	fprintf(fp, "%suser = ", in);
	put_str(fp, id->user);
	fputs(";\n", fp);
	if ((gr = getgrgid(id->gid)) != NULL) {
		fprintf(fp, "%sgroup = ", in);
		put_str(fp, gr->gr_name);
		fputs(";\n", fp);
	}
	if (!id->groups_given)
		return;
	fprintf(fp, "%sgroups = [", in);
	/* The first is the primary group, given with the others. */
	for (int i = 1; i < id->ngroups; i++) {
		fputs(i == 1 ? " " : ", ", fp);
		if ((gr = getgrgid(id->groups[i])) != NULL)
			put_str(fp, gr->gr_name);
		else
			fprintf(fp, "\"%ld\"", (long)id->groups[i]);
	}
	fputs(" ];\n", fp);
}

/* The network settings, every one, as the service has them. */
static void
put_net(FILE *fp, const char *in, const struct conf_net *n)
{
	const struct per_source	*p = &n->per_source;

	if (n->naccess > 0) {
		fprintf(fp, "%saccess = [", in);
		for (int i = 0; i < n->naccess; i++) {
			fputs(i == 0 ? " " : ", ", fp);
			put_str(fp, n->access[i].text);
		}
		fputs(" ];\n", fp);
	}
	if (PER_SOURCE_ON(p))
		fprintf(fp, "%sper_source = { max_connections = %d; "
		    "rate = %d; burst = %d; ipv4_prefix = %d; ipv6_prefix = %d; "
		    "sources = %d; };\n", in, p->max_connections, p->rate,
		    p->burst, p->ipv4_prefix, p->ipv6_prefix, p->sources);
	if (n->refuse_message != NULL) {
		fprintf(fp, "%srefuse_message = ", in);
		put_string(fp, n->refuse_message, n->refuse_len);
		fputs(";\n", fp);
	}
	if (n->keepalive && (n->keepalive_idle || n->keepalive_interval ||
	    n->keepalive_count)) {
		fprintf(fp, "%skeepalive = {", in);
		if (n->keepalive_idle)
			fprintf(fp, " idle = %d;", n->keepalive_idle);
		if (n->keepalive_interval)
			fprintf(fp, " interval = %d;", n->keepalive_interval);
		if (n->keepalive_count)
			fprintf(fp, " count = %d;", n->keepalive_count);
		fputs(" };\n", fp);
	} else
		fprintf(fp, "%skeepalive = %s;\n", in, n->keepalive ? "true" :
		    "false");
	fprintf(fp, "%suser_timeout = %d;\n%sdefer_accept = %d;\n"
	    "%snodelay = %s;\n%slog_connections = %s;\n", in, n->user_timeout,
	    in, n->defer_accept, in, n->nodelay ? "true" : "false", in,
	    n->log_connections ? "true" : "false");
	if (n->proxy_protocol == 0)
		return;
	fprintf(fp, "%sproxy_protocol = \"%s\";\n%strusted_proxies = [", in,
	    n->proxy_protocol == PROXY_V1 ? "v1" : n->proxy_protocol ==
	    PROXY_V2 ? "v2" : "any", in);
	/* Each kept as "allow ADDRESS": the address alone. */
	for (int i = 0; i < n->ntrusted; i++) {
		fputs(i == 0 ? " " : ", ", fp);
		put_str(fp, n->trusted[i].text + strlen("allow "));
	}
	fprintf(fp, " ];\n%sproxy_timeout = %d;\n", in, n->proxy_timeout);
}

/* An exec service's program and what it is started with. */
static void
put_exec(FILE *fp, const char *in, const struct conf_exec *e)
{
	put_strings(fp, in, "exec", e->argv);
	put_strings(fp, in, "env", e->env);
	put_strings(fp, in, "passenv", e->passenv);
	if (e->cwd != NULL) {
		fprintf(fp, "%scwd = ", in);
		put_str(fp, e->cwd);
		fputs(";\n", fp);
	}
	if (e->umask_set)
		fprintf(fp, "%sumask = \"%03o\";\n", in, (unsigned)e->umask);
	if (e->nice_set)
		fprintf(fp, "%snice = %d;\n", in, e->nice);
	if (e->nrlimits > 0) {
		fprintf(fp, "%srlimits = {", in);
		for (int i = 0; i < e->nrlimits; i++) {
			fprintf(fp, " %s = ", conf_rlimit_name(
			    e->rlimits[i].resource));
			if (e->rlimits[i].value == RLIM_INFINITY)
				fputs("\"unlimited\";", fp);
			else
				fprintf(fp, "%lluL;", (unsigned long long)
				    e->rlimits[i].value);
		}
		fputs(" };\n", fp);
	}
	fprintf(fp, "%stimeout = %d;\n", in, e->timeout);
}

/* One service, headed by where it came from. */
static void
put_service(FILE *fp, const struct conf_service *sv, int last)
{
	const char	*in = "    ";

	fprintf(fp, "  # %s\n  {\n%sname = ", sv->at, in);
	put_str(fp, sv->name);
	fprintf(fp, ";\n%shandler = \"%s\";\n%slisten = [", in,
	    sv->kind->name, in);
	for (int i = 0; i < sv->nlisten; i++)
		fprintf(fp, "%s\"%s\"", i == 0 ? " " : ", ", sv->listen[i].text);
	fprintf(fp, " ];\n%sworkers = %d;\n%sbacklog = %d;\n"
	    "%sidle_timeout = %d;\n%smax_connections = %d;\n", in,
	    sv->workers, in, sv->backlog, in, sv->idle_timeout, in,
	    sv->max_connections);
	put_ident(fp, in, &sv->ident);
	put_net(fp, in, &sv->net);
	if (sv->exec.argv != NULL)
		put_exec(fp, in, &sv->exec);
	fprintf(fp, "  }%s\n", last ? "" : ",");
}

/* The whole configuration c, to fp. */
void
conf_dump(const struct conf *c, FILE *fp)
{
	static const char *const targets[] = { "auto", "stderr", "syslog",
	    "both" };

	fprintf(fp, "# The configuration in effect, from %s\n", c->path);
	if (c->include_dir != NULL)
		fprintf(fp, "# and the *.conf files of %s\n", c->include_dir);
	put_ident(fp, "", &c->ident);
	if (c->pid_file != NULL) {
		fputs("pid_file = ", fp);
		put_str(fp, c->pid_file);
		fputs(";\n", fp);
	}
	if (c->control_socket != NULL) {
		fputs("control_socket = ", fp);
		put_str(fp, c->control_socket);
		fputs(";\n", fp);
	}
	fprintf(fp, "log_facility = \"%s\";\nlog_level = \"%s\";\n"
	    "log_target = \"%s\";\nshutdown_timeout = %d;\n"
	    "retire_timeout = %d;\nrespawn_window = %d;\nrespawn_limit = %d;\n"
	    "watchdog_timeout = %d;\ndrain_delay = %d;\n", facility_name(c->log_facility),
	    level_name(c->log_level), c->log_target >= 0 && c->log_target < 4 ?
	    targets[c->log_target] : "auto", c->shutdown_timeout,
	    c->retire_timeout, c->respawn_window, c->respawn_limit,
	    c->watchdog_timeout, c->drain_delay);
	fputs("services = (\n", fp);
	for (int i = 0; i < c->nservices; i++)
		put_service(fp, &c->services[i], i == c->nservices - 1);
	fputs(");\n", fp);
}
