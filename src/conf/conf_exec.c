/*
 * The settings of an exec service's program: exec, env, passenv, cwd,
 * umask, nice, rlimits, timeout.  Read and checked here, with FILE:LINE
 * errors; applied by the program's own process between fork and exec,
 * but for timeout, which its worker keeps.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_exec.h"
#include "conf_get.h"
#include "conf_src.h"
#include "freeze.h"
#include "util.h"

/* Every limit the kernel has; sizes take K, M and G after them. */
static const struct {
	const char	*name;
	int		 resource;
	int		 size;
} rlimit_names[] = {
	{ "as", RLIMIT_AS, 1 },
	{ "core", RLIMIT_CORE, 1 },
	{ "cpu", RLIMIT_CPU, 0 },
	{ "data", RLIMIT_DATA, 1 },
	{ "fsize", RLIMIT_FSIZE, 1 },
	{ "locks", RLIMIT_LOCKS, 0 },
	{ "memlock", RLIMIT_MEMLOCK, 1 },
	{ "msgqueue", RLIMIT_MSGQUEUE, 1 },
	{ "nice", RLIMIT_NICE, 0 },
	{ "nofile", RLIMIT_NOFILE, 0 },
	{ "nproc", RLIMIT_NPROC, 0 },
	{ "rss", RLIMIT_RSS, 1 },
	{ "rtprio", RLIMIT_RTPRIO, 0 },
	{ "rttime", RLIMIT_RTTIME, 0 },
	{ "sigpending", RLIMIT_SIGPENDING, 0 },
	{ "stack", RLIMIT_STACK, 1 },
};

/* tcpd sets these for each connection, after env and passenv. */
static const char *const reserved[] = {
	"PROTO", "TCPREMOTEIP", "TCPREMOTEPORT", "TCPLOCALIP",
	"TCPLOCALPORT", NULL
};

/* The lowercase name of an RLIMIT_*, for messages. */
const char *
conf_rlimit_name(int resource)
{
	for (size_t i = 0; i < nitems(rlimit_names); i++)
		if (rlimit_names[i].resource == resource)
			return rlimit_names[i].name;
	return "?";
}

/* "unlimited", or a number, with K, M or G after it if size. */
static int
rlimit_text(const char *s, int size, rlim_t *out)
{
	unsigned long long	 v, mult = 1;
	char			*end;

	if (strcmp(s, "unlimited") == 0) {
		*out = RLIM_INFINITY;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (!size || end[1] != '\0')
			return -1;
		switch (*end) {
		case 'K': mult = 1ULL << 10; break;
		case 'M': mult = 1ULL << 20; break;
		case 'G': mult = 1ULL << 30; break;
		default: return -1;
		}
	}
	if (v > (RLIM_INFINITY - 1) / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* One member of 'rlimits': a number, or a string rlimit_text() reads. */
static int
rlimit_value(struct conf_ctx *x, const config_setting_t *s, int size,
    rlim_t *out)
{
	const char	*name = config_setting_name(s);
	long long	 v = -1;
	char		 lit[64];

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		if (rlimit_text(config_setting_get_string(s), size, out) == 0)
			return 0;
		break;
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		/* libconfig reads a plain literal modulo 2^32. */
		if (x->src != NULL && conf_src_int(x->src,
		    config_setting_source_file(s),
		    config_setting_source_line(s), name, v, lit, sizeof(lit)))
			return conf_err(x, s, "'%s' in 'rlimits' is %s: write "
			    "numbers that large with L after them, or as "
			    "strings such as \"4G\"", name, lit);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	}
	if (v >= 0 && (unsigned long long)v < RLIM_INFINITY) {
		*out = (rlim_t)v;
		return 0;
	}
	if (size)
		return conf_err(x, s, "'%s' in 'rlimits' must be a number of "
		    "bytes, or a string such as \"512K\", \"64M\", \"1G\" or "
		    "\"unlimited\"", name);
	return conf_err(x, s, "'%s' in 'rlimits' must be a number, or "
	    "\"unlimited\"", name);
}

/* rlimits = { cpu = 60; as = "512M"; ... }: by name, each once. */
static int
load_rlimits(struct conf_ctx *x, const config_setting_t *g,
    struct conf_exec *e)
{
	const config_setting_t	*rs = config_setting_get_member(g, "rlimits");
	const config_setting_t	*s;
	size_t			 k;
	int			 n;

	if (rs == NULL)
		return 0;
	if (config_setting_type(rs) != CONFIG_TYPE_GROUP)
		return conf_err(x, rs, "'rlimits' must be a group, like "
		    "{ nofile = 256; as = \"512M\"; }");
	n = config_setting_length(rs);
	if ((e->rlimits = calloc(n + 1, sizeof(*e->rlimits))) == NULL)
		return conf_err(x, rs, "out of memory");
	for (int i = 0; i < n; i++) {
		s = config_setting_get_elem(rs, i);
		for (k = 0; k < nitems(rlimit_names); k++)
			if (strcmp(rlimit_names[k].name,
			    config_setting_name(s)) == 0)
				break;
		if (k == nitems(rlimit_names))
			return conf_err(x, s, "unknown limit '%s' in "
			    "'rlimits' (known: as, core, cpu, data, fsize, "
			    "locks, memlock, msgqueue, nice, nofile, nproc, "
			    "rss, rtprio, rttime, sigpending, stack)",
			    config_setting_name(s));
		e->rlimits[i].resource = rlimit_names[k].resource;
		if (rlimit_value(x, s, rlimit_names[k].size,
		    &e->rlimits[i].value) == -1)
			return -1;
		e->nrlimits = i + 1;
	}
	return 0;
}

/* umask = "027": a string, since libconfig reads 027 as twenty-seven. */
static int
load_umask(struct conf_ctx *x, const config_setting_t *g,
    struct conf_exec *e)
{
	const config_setting_t	*s = config_setting_get_member(g, "umask");
	const char		*t;
	size_t			 n;

	if (s == NULL)
		return 0;
	t = config_setting_type(s) == CONFIG_TYPE_STRING ?
	    config_setting_get_string(s) : "";
	n = strlen(t);
	if (n == 0 || n > 4 || strspn(t, "01234567") != n ||
	    strtoul(t, NULL, 8) > 0777)
		return conf_err(x, s, "'umask' must be a string of octal "
		    "digits, up to 0777, like \"027\"");
	e->umask = (mode_t)strtoul(t, NULL, 8);
	e->umask_set = 1;
	return 0;
}

/* cwd: an absolute path to a directory that is there now. */
static int
load_cwd(struct conf_ctx *x, const config_setting_t *g, struct conf_exec *e)
{
	const config_setting_t	*s = config_setting_get_member(g, "cwd");
	const char		*dir = "/";
	struct stat		 st;

	if (conf_get_string(x, g, "cwd", &dir) == -1)
		return -1;
	if ((e->cwd = strdup(dir)) == NULL)
		return conf_err(x, g, "out of memory");
	if (s == NULL)
		return 0;
	if (dir[0] != '/')
		return conf_err(x, s, "'cwd' must be an absolute path, not "
		    "'%s'", dir);
	if (stat(dir, &st) == -1)
		return conf_err(x, s, "cwd %s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return conf_err(x, s, "cwd %s is not a directory", dir);
	return 0;
}

/* NAME, a C identifier, ending at the end or at '='. */
static int
env_name(const char *p, const char **end)
{
	if (!isalpha((unsigned char)*p) && *p != '_')
		return -1;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	*end = p;
	return 0;
}

/* Is the NAME of "NAME..." one tcpd sets itself?  Which, if so. */
static const char *
env_reserved(const char *entry, size_t len)
{
	for (const char *const *r = reserved; *r != NULL; r++)
		if (strlen(*r) == len && strncmp(*r, entry, len) == 0)
			return *r;
	return NULL;
}

/* env: NAME=value entries; passenv: NAMEs; neither of tcpd's own. */
static int
check_env(struct conf_ctx *x, const config_setting_t *g,
    const struct conf_exec *e)
{
	const char	*end, *r;

	for (char **p = e->env; p != NULL && *p != NULL; p++) {
		if (env_name(*p, &end) == -1 || *end != '=')
			return conf_err(x, config_setting_get_member(g, "env"),
			    "bad 'env' entry '%s': expected NAME=value", *p);
		if ((r = env_reserved(*p, end - *p)) != NULL)
			return conf_err(x, config_setting_get_member(g, "env"),
			    "'env' cannot set %s: tcpd sets it for each "
			    "connection", r);
	}
	for (char **p = e->passenv; p != NULL && *p != NULL; p++) {
		if (env_name(*p, &end) == -1 || *end != '\0')
			return conf_err(x,
			    config_setting_get_member(g, "passenv"),
			    "bad 'passenv' entry '%s': expected a NAME", *p);
		if ((r = env_reserved(*p, end - *p)) != NULL)
			return conf_err(x,
			    config_setting_get_member(g, "passenv"),
			    "'passenv' cannot pass %s: tcpd sets it for each "
			    "connection", r);
	}
	return 0;
}

/*
 * The exec settings of service group g.  exec's arguments go to the
 * program only, never to a log line, and may hold any byte.
 */
int
conf_exec_load(struct conf_ctx *x, const config_setting_t *g,
    struct conf_exec *e)
{
	if (conf_get_strings(x, g, "exec", 1, &e->argv) == -1 ||
	    conf_get_strings(x, g, "env", -1, &e->env) == -1 ||
	    conf_get_strings(x, g, "passenv", -1, &e->passenv) == -1 ||
	    check_env(x, g, e) == -1 ||
	    load_cwd(x, g, e) == -1 ||
	    load_umask(x, g, e) == -1 ||
	    load_rlimits(x, g, e) == -1)
		return -1;
	e->nice_set = config_setting_get_member(g, "nice") != NULL;
	return conf_get_int(x, g, "nice", -20, 19, &e->nice) == -1 ||
	    conf_get_int(x, g, "timeout", 0, 2000000, &e->timeout) == -1 ?
	    -1 : 0;
}

void
conf_exec_free(struct conf_exec *e)
{
	conf_strings_free(e->argv);
	conf_strings_free(e->env);
	conf_strings_free(e->passenv);
	free(e->cwd);
	free(e->rlimits);
	memset(e, 0, sizeof(*e));
}

/* Copy what e points to into f, for the conf_exec at offset at. */
void
conf_exec_freeze(struct freeze *f, size_t at, const struct conf_exec *e)
{
	freeze_strv(f, at + offsetof(struct conf_exec, argv), e->argv);
	freeze_strv(f, at + offsetof(struct conf_exec, env), e->env);
	freeze_strv(f, at + offsetof(struct conf_exec, passenv), e->passenv);
	freeze_str(f, at + offsetof(struct conf_exec, cwd), e->cwd);
	freeze_link(f, at + offsetof(struct conf_exec, rlimits), e->rlimits,
	    e->nrlimits * sizeof(*e->rlimits));
}

/*
 * A script's interpreter, from its "#!" line, into interp; 0 when prog
 * is no script (or cannot be read: then execve() says what is wrong).
 */
static int
exec_interpreter(const char *prog, char *interp, size_t len)
{
	char	 line[256];
	ssize_t	 n;
	size_t	 i = 2, j = 0;
	int	 fd;

	if ((fd = open(prog, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return 0;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[n] = '\0';
	while (line[i] == ' ' || line[i] == '\t')
		i++;
	while (j + 1 < len && line[i] != '\0' && strchr(" \t\r\n", line[i]) ==
	    NULL)
		interp[j++] = line[i++];
	interp[j] = '\0';
	return j > 0;
}

/*
 * The program of the service called so must exist and be able to run:
 * checked with the file (at start, -t and reload) rather than failing at
 * each connection.  On error, the message is in err and *key the setting
 * it concerns (NULL: the service as a whole).
 */
int
conf_exec_check(const char *service, const struct conf_exec *e,
    const char **key, char *err, size_t errlen)
{
	const char	*prog;
	struct stat	 st;
	char		 interp[256];

	*key = "exec";
	if (e->argv == NULL) {
		*key = NULL;
		snprintf(err, errlen, "service '%s' has handler exec but no "
		    "'exec'", service);
		return -1;
	}
	if ((prog = e->argv[0]) == NULL)
		snprintf(err, errlen, "'exec' of service '%s' is empty",
		    service);
	else if (prog[0] != '/')
		snprintf(err, errlen, "program '%s' must be an absolute path",
		    prog);
	else if (stat(prog, &st) == -1)
		snprintf(err, errlen, "program %s: %s", prog, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "program %s is not a regular file", prog);
	else if (access(prog, X_OK) == -1)
		snprintf(err, errlen, "program %s is not executable: %s", prog,
		    strerror(errno));
	else if (exec_interpreter(prog, interp, sizeof(interp)) &&
	    access(interp, X_OK) == -1)
		/* Or every client would be closed at once, a failed exec. */
		snprintf(err, errlen, "program %s: its interpreter %s: %s",
		    prog, interp, strerror(errno));
	else
		return 0;
	return -1;
}
