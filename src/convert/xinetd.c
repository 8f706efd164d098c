/*
 * Reading xinetd's files: service and defaults entries, include and
 * includedir, and the assignment operators, as xinetd.conf(5) has them;
 * but where xinetd warns and goes on, this is an error with FILE:LINE.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "convert.h"
#include "xinetd.h"

enum { OP_SET, OP_ADD, OP_DEL };

#define IN_SVC	1	/* may be set in a service entry */
#define IN_DEF	2	/* may be set in the defaults entry */
#define MODIF	(-2)	/* any number of values; +=, -= and repeats */
#define ANY	(-1)	/* any number of values */

/* Every attribute xinetd 2.3.15 reads; a service's must be among them. */
static const struct {
	const char	*name;
	int		 id;
	int		 nvalues;
	int		 where;
} xattrs[] = {
	{ "id", XA_ID, 1, IN_SVC },
	{ "type", XA_TYPE, ANY, IN_SVC },
	{ "flags", XA_FLAGS, ANY, IN_SVC },
	{ "disable", XA_DISABLE, 1, IN_SVC },
	{ "socket_type", XA_SOCKET_TYPE, 1, IN_SVC },
	{ "protocol", XA_PROTOCOL, 1, IN_SVC },
	{ "wait", XA_WAIT, 1, IN_SVC },
	{ "user", XA_USER, 1, IN_SVC },
	{ "group", XA_GROUP, 1, IN_SVC },
	{ "instances", XA_INSTANCES, 1, IN_SVC | IN_DEF },
	{ "nice", XA_NICE, 1, IN_SVC },
	{ "server", XA_SERVER, 1, IN_SVC },
	{ "server_args", XA_SERVER_ARGS, ANY, IN_SVC },
	{ "libwrap", XA_LIBWRAP, 1, IN_SVC },
	{ "only_from", XA_ONLY_FROM, MODIF, IN_SVC | IN_DEF },
	{ "no_access", XA_NO_ACCESS, MODIF, IN_SVC | IN_DEF },
	{ "access_times", XA_ACCESS_TIMES, ANY, IN_SVC },
	{ "log_type", XA_LOG_TYPE, ANY, IN_SVC | IN_DEF },
	{ "log_on_success", XA_LOG_ON_SUCCESS, MODIF, IN_SVC | IN_DEF },
	{ "log_on_failure", XA_LOG_ON_FAILURE, MODIF, IN_SVC | IN_DEF },
	{ "rpc_version", XA_RPC_VERSION, 1, IN_SVC },
	{ "rpc_number", XA_RPC_NUMBER, 1, IN_SVC },
	{ "env", XA_ENV, MODIF, IN_SVC },
	{ "passenv", XA_PASSENV, MODIF, IN_SVC | IN_DEF },
	{ "port", XA_PORT, 1, IN_SVC },
	{ "redirect", XA_REDIRECT, 2, IN_SVC },
	{ "bind", XA_BIND, 1, IN_SVC | IN_DEF },
	{ "interface", XA_BIND, 1, IN_SVC | IN_DEF },
	{ "banner", XA_BANNER, 1, IN_SVC | IN_DEF },
	{ "banner_success", XA_BANNER_SUCCESS, 1, IN_SVC | IN_DEF },
	{ "banner_fail", XA_BANNER_FAIL, 1, IN_SVC | IN_DEF },
	{ "per_source", XA_PER_SOURCE, 1, IN_SVC | IN_DEF },
	{ "cps", XA_CPS, 2, IN_SVC | IN_DEF },
	{ "max_load", XA_MAX_LOAD, 1, IN_SVC | IN_DEF },
	{ "groups", XA_GROUPS, 1, IN_SVC | IN_DEF },
	{ "mdns", XA_MDNS, 1, IN_SVC },
	{ "umask", XA_UMASK, 1, IN_SVC | IN_DEF },
	{ "enabled", XA_ENABLED, MODIF, IN_DEF },
	{ "disabled", XA_DISABLED, MODIF, IN_DEF },
	{ "rlimit_as", XA_RLIMIT_AS, 1, IN_SVC },
	{ "rlimit_files", XA_RLIMIT_FILES, 1, IN_SVC },
	{ "rlimit_cpu", XA_RLIMIT_CPU, 1, IN_SVC },
	{ "rlimit_data", XA_RLIMIT_DATA, 1, IN_SVC },
	{ "rlimit_rss", XA_RLIMIT_RSS, 1, IN_SVC },
	{ "rlimit_stack", XA_RLIMIT_STACK, 1, IN_SVC },
	{ "deny_time", XA_DENY_TIME, 1, IN_SVC },
	{ "v6only", XA_V6ONLY, 1, IN_SVC | IN_DEF },
};

/* What defaults give a service at the point it is read (cumulative). */
static const int cumulative[] = {
	XA_LOG_ON_SUCCESS, XA_LOG_ON_FAILURE, XA_ONLY_FROM, XA_NO_ACCESS,
	XA_PASSENV, XA_BANNER, XA_BANNER_SUCCESS, XA_BANNER_FAIL,
};

/* The parse of one run: the entries in the order read. */
struct xparse {
	struct cv_ctx	*x;
	struct xent	*def;
	struct xent	*list;
	struct xent	**tail;
};

static int	x_file(struct xparse *, const char *, int);

const char *
x_attr_name(int id)
{
	for (size_t i = 0; i < nitems(xattrs); i++)
		if (xattrs[i].id == id)
			return xattrs[i].name;
	return "?";
}

static struct xent *
x_ent_new(const char *name, const char *file, size_t line)
{
	struct xent	*e = cv_malloc(sizeof(*e));

	e->name = cv_strdup(name);
	e->file = file;
	e->line = line;
	return e;
}

static void
x_ent_free(struct xent *e)
{
	if (e == NULL)
		return;
	for (int i = 0; i < XA_N; i++)
		cv_list_free(&e->a[i].v);
	free(e->name);
	free(e);
}

/* Apply one "name op values" line to an entry. */
static int
x_assign(struct xparse *p, struct xent *e, int isdef, const char *file,
    size_t line, char **w, size_t n)
{
	struct xslot	*s;
	char		*name = w[0];
	size_t		 i, k;
	int		 op;

	for (i = 0; i < nitems(xattrs); i++)
		if (strcmp(xattrs[i].name, name) == 0)
			break;
	if (i == nitems(xattrs))
		return cv_error(p->x, file, line, "unknown attribute '%s'",
		    name);
	if (!(xattrs[i].where & (isdef ? IN_DEF : IN_SVC)))
		return cv_error(p->x, file, line, "'%s' cannot be set in %s",
		    name, isdef ? "defaults" : "a service");
	op = strcmp(w[1], "=") == 0 ? OP_SET :
	    strcmp(w[1], "+=") == 0 ? OP_ADD : OP_DEL;
	s = &e->a[xattrs[i].id];
	w += 2;
	n -= 2;
	if (xattrs[i].nvalues != MODIF) {
		if (op != OP_SET)
			return cv_error(p->x, file, line, "'%s' takes '=', "
			    "not '%s'", name, op == OP_ADD ? "+=" : "-=");
		if (s->set && (!isdef || xattrs[i].id != XA_LOG_TYPE))
			return cv_error(p->x, file, line, "'%s' is set twice "
			    "(first at line %zu)", name, s->line);
		if (xattrs[i].nvalues > 0 && n != (size_t)xattrs[i].nvalues)
			return cv_error(p->x, file, line, "'%s' takes %d "
			    "value%s, not %zu", name, xattrs[i].nvalues,
			    xattrs[i].nvalues == 1 ? "" : "s", n);
		cv_list_free(&s->v);
	} else {
		if (xattrs[i].id == XA_ENV && op == OP_DEL)
			return cv_error(p->x, file, line, "'env' takes '=' or "
			    "'+=', not '-='");
		/* In defaults '=' adds, as in xinetd. */
		if (op == OP_SET && !isdef)
			cv_list_free(&s->v);
	}
	for (k = 0; k < n; k++) {
		if (op == OP_DEL) {
			for (size_t j = s->v.n; j-- > 0;)
				if (strcmp(s->v.v[j], w[k]) == 0)
					cv_del(&s->v, j);
		} else if (xattrs[i].nvalues != MODIF || !cv_has(&s->v, w[k]))
			cv_add(&s->v, "%s", w[k]);
	}
	s->set = 1;
	s->file = file;
	s->line = line;
	return 0;
}

/* Split "name op values" where the operator may touch its neighbours. */
static size_t
x_split(char *l, char **w)
{
	static char	 ops[3][3] = { "=", "+=", "-=" };
	char		*p = l + strspn(l, " \t"), *q;
	size_t		 n;

	w[0] = p;
	p += strspn(p, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	if (p == w[0])
		return 0;
	q = p + strspn(p, " \t");
	if (q[0] == '=')
		w[1] = ops[0], q += 1;
	else if (q[0] == '+' && q[1] == '=')
		w[1] = ops[1], q += 2;
	else if (q[0] == '-' && q[1] == '=')
		w[1] = ops[2], q += 2;
	else
		return 1;
	*p = '\0';
	n = cv_words(q, w + 2, CV_WORDS_MAX - 2);
	return 2 + n;
}

/* The lines of one entry, from its '{' to its '}'. */
static int
x_entry(struct xparse *p, struct cv_file *f, size_t *ip, struct xent *e,
    int isdef)
{
	char	*w[CV_WORDS_MAX], *l;
	size_t	 i = *ip, n;

	while (i < f->nlines && cv_blank(f->line[i]))
		i++;
	if (i == f->nlines || cv_words(f->line[i], w, 2) != 1 ||
	    strcmp(w[0], "{") != 0)
		return cv_error(p->x, f->path, i < f->nlines ? i + 1 : e->line,
		    "expected '{' on a line of its own after '%s'",
		    isdef ? "defaults" : e->name);
	for (i++; i < f->nlines; i++) {
		l = f->line[i];
		if (cv_blank(l))
			continue;
		if (strcmp(l + strspn(l, " \t"), "}") == 0 ||
		    (l[strspn(l, " \t")] == '}' &&
		    cv_words(l, w, 2) == 1 && strcmp(w[0], "}") == 0)) {
			*ip = i + 1;
			return 0;
		}
		if ((n = x_split(l, w)) < 2)
			return cv_error(p->x, f->path, i + 1, "expected "
			    "'attribute = value', or '}' to end '%s'",
			    isdef ? "defaults" : e->name);
		if (n == CV_WORDS_MAX)
			return cv_error(p->x, f->path, i + 1, "more than %d "
			    "values", CV_WORDS_MAX - 3);
		if (x_assign(p, e, isdef, f->path, i + 1, w, n) == -1)
			return -1;
	}
	return cv_error(p->x, f->path, e->line, "'%s' has no closing '}'",
	    isdef ? "defaults" : e->name);
}

/* A service entry: what defaults gave so far, then its own lines. */
static int
x_service(struct xparse *p, struct cv_file *f, size_t *ip, const char *name)
{
	struct xent	*e = x_ent_new(name, f->path, *ip);

	if (p->def != NULL) {
		e->got_defaults = 1;
		for (size_t k = 0; k < nitems(cumulative); k++) {
			struct xslot *d = &p->def->a[cumulative[k]];

			if (!d->set)
				continue;
			e->a[cumulative[k]] = *d;
			e->a[cumulative[k]].v.v = NULL;
			e->a[cumulative[k]].v.n = 0;
			cv_list_copy(&e->a[cumulative[k]].v, &d->v);
		}
	}
	*p->tail = e;
	p->tail = &e->next;
	return x_entry(p, f, ip, e, 0);
}

static int
x_namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* includedir: its files in C order, but names with '.' or ending '~'. */
static int
x_dir(struct xparse *p, const char *dir, const char *file, size_t line,
    int depth)
{
	struct cv_list	 names = { 0 };
	struct dirent	*d;
	DIR		*dp;
	char		*path;
	size_t		 len;
	int		 r = 0;

	if ((dp = opendir(dir)) == NULL)
		return cv_error(p->x, file, line, "includedir %s: %s", dir,
		    strerror(errno));
	while ((d = readdir(dp)) != NULL) {
		len = strlen(d->d_name);
		if (strchr(d->d_name, '.') != NULL || len == 0 ||
		    d->d_name[len - 1] == '~')
			continue;
		if (d->d_type != DT_REG && d->d_type != DT_LNK &&
		    d->d_type != DT_UNKNOWN)
			continue;
		cv_add(&names, "%s", d->d_name);
	}
	closedir(dp);
	if (names.n > 0)
		qsort(names.v, names.n, sizeof(*names.v), x_namecmp);
	for (size_t i = 0; i < names.n && r == 0; i++) {
		path = cv_printf("%s/%s", dir, names.v[i]);
		r = x_file(p, path, depth + 1);
		free(path);
	}
	cv_list_free(&names);
	return r;
}

/* A path as given, or relative to the directory of the file naming it. */
static char *
x_path(const char *file, const char *path)
{
	char	*copy, *r;

	if (path[0] == '/')
		return cv_strdup(path);
	copy = cv_strdup(file);
	r = cv_printf("%s/%s", dirname(copy), path);
	free(copy);
	return r;
}

/* One line outside any entry: what starts an entry, or an include. */
static int
x_top(struct xparse *p, struct cv_file *f, size_t *ip, int depth)
{
	char	*w[3], *path;
	size_t	 n, line = *ip + 1;
	int	 r;

	n = cv_words(f->line[*ip], w, 3);
	*ip += 1;
	if (n == 2 && strcmp(w[0], "service") == 0)
		return x_service(p, f, ip, w[1]);
	if (n == 1 && strcmp(w[0], "defaults") == 0) {
		if (p->def != NULL)
			return cv_error(p->x, f->path, line, "a second "
			    "defaults entry (the first is at %s:%zu)",
			    p->def->file, p->def->line);
		p->def = x_ent_new("defaults", f->path, line);
		return x_entry(p, f, ip, p->def, 1);
	}
	if (n == 2 && (strcmp(w[0], "include") == 0 ||
	    strcmp(w[0], "includedir") == 0)) {
		if (depth >= CV_DEPTH_MAX)
			return cv_error(p->x, f->path, line, "includes nest "
			    "more than %d deep", CV_DEPTH_MAX);
		path = x_path(f->path, w[1]);
		if (w[0][7] == '\0')
			r = x_file(p, path, depth + 1);
		else
			r = x_dir(p, path, f->path, line, depth);
		free(path);
		return r;
	}
	return cv_error(p->x, f->path, line, "expected 'service NAME', "
	    "'defaults', 'include FILE' or 'includedir DIR'");
}

/* One file of xinetd's configuration. */
static int
x_file(struct xparse *p, const char *path, int depth)
{
	struct cv_file	*f;
	size_t		 i = 0;

	if (cv_read(p->x, path, &f) == -1)
		return -1;
	while (i < f->nlines) {
		if (cv_blank(f->line[i])) {
			i++;
			continue;
		}
		if (x_top(p, f, &i, depth) == -1)
			return -1;
	}
	return 0;
}

/* Convert an xinetd configuration, starting at path. */
int
cv_xinetd(struct cv_ctx *x, const char *path)
{
	struct xparse	 p = { x, NULL, NULL, NULL };
	struct xent	*e;
	int		 r;

	p.tail = &p.list;
	r = x_file(&p, path, 0);
	if (r == 0)
		r = cv_xmap(x, p.list, p.def);
	while ((e = p.list) != NULL) {
		p.list = e->next;
		x_ent_free(e);
	}
	x_ent_free(p.def);
	return r;
}
