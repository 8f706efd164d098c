/*
 * The converted services, checked as tcpd -t would check them (names,
 * programs, addresses), then written out as tcpd configuration text:
 * a services list, with what was not carried said in comments.
 */
#include "config.h"

#include <sys/stat.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"

#define NAME_MAX_LEN	64

/* A name tcpd takes: letters, digits, _ - and ., unique in the file. */
static void
check_name(struct cv_ctx *x, struct cv_svc *s)
{
	char	 base[NAME_MAX_LEN - 4 + 1], *name;
	size_t	 i, len = strlen(s->name);
	int	 k = 1, clash;

	if (len > NAME_MAX_LEN - 4)
		len = NAME_MAX_LEN - 4;
	for (i = 0; i < len; i++) {
		char c = s->name[i];

		base[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.' ? c : '-';
	}
	base[len] = '\0';
	if (len == 0)
		strcpy(base, "service");
	for (;;) {
		name = k == 1 ? cv_strdup(base) : cv_printf("%s-%d", base, k);
		clash = 0;
		for (struct cv_svc *o = x->svcs; o != s; o = o->next)
			if (strcmp(o->name, name) == 0)
				clash = 1;
		if (!clash)
			break;
		free(name);
		k++;
	}
	free(s->name);
	s->name = name;
}

/* The program exists and may be run, as tcpd -t asks. */
static void
check_program(struct cv_svc *s)
{
	struct stat	 st;

	if (strcmp(s->handler, "exec") != 0 || s->exec.n == 0)
		return;
	if (stat(s->exec.v[0], &st) == 0 && S_ISREG(st.st_mode) &&
	    access(s->exec.v[0], X_OK) == 0)
		return;
	if (s->off == NULL)
		cv_svc_off(s, "%s is not installed here (or not executable)",
		    s->exec.v[0]);
	else if (s->disabled)
		cv_add(&s->notes, "%s is not installed here (or not "
		    "executable)", s->exec.v[0]);
}

/* "host:port" with the port as a number, to compare addresses. */
static char *
addr_key(const char *a, int *wild)
{
	const char	*colon = strrchr(a, ':');
	struct servent	*se;
	long		 port;
	int		 v6 = a[0] == '[';

	if (cv_number(colon + 1, 1, 65535, &port) == -1)
		port = (se = getservbyname(colon + 1, "tcp")) ?
		    ntohs(se->s_port) : 0;
	*wild = strncmp(a, "0.0.0.0:", 8) == 0 || strncmp(a, "[::]:", 5) == 0;
	return cv_printf("%d %ld %.*s", v6, port, (int)(colon - a), a);
}

/* Two addresses tcpd would refuse together: same family and port, and
 * equal or one the wildcard. */
static int
clash(const char *a, const char *b)
{
	char	*ka, *kb;
	int	 wa, wb, r;
	size_t	 la, lb;

	ka = addr_key(a, &wa);
	kb = addr_key(b, &wb);
	la = strchr(strchr(ka, ' ') + 1, ' ') - ka;
	lb = strchr(strchr(kb, ' ') + 1, ' ') - kb;
	r = la == lb && strncmp(ka, kb, la) == 0 &&
	    (wa || wb || strcmp(ka, kb) == 0);
	free(ka);
	free(kb);
	return r;
}

/* No address of s is taken by a service before it that is served. */
static void
check_listen(struct cv_ctx *x, struct cv_svc *s)
{
	for (struct cv_svc *o = x->svcs; o != s && s->off == NULL;
	    o = o->next) {
		if (o->off != NULL)
			continue;
		for (size_t i = 0; i < s->listen.n; i++)
			for (size_t j = 0; j < o->listen.n; j++)
				if (clash(s->listen.v[i], o->listen.v[j])) {
					cv_svc_off(s, "%s is taken by '%s' "
					    "above", s->listen.v[i], o->name);
					return;
				}
	}
}

/* Everything tcpd -t would refuse becomes a comment with its reason. */
void
cv_check(struct cv_ctx *x)
{
	for (struct cv_svc *s = x->svcs; s != NULL; s = s->next) {
		check_name(x, s);
		check_program(s);
		check_listen(x, s);
	}
}

/* A libconfig string: quotes and backslashes escaped. */
static void
put_str(FILE *o, const char *s)
{
	fputc('"', o);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', o);
		fputc(*s, o);
	}
	fputc('"', o);
}

/* name = [ "a", "b" ]; */
static void
put_array(FILE *o, const char *pfx, const char *name,
    const struct cv_list *l)
{
	size_t	 len = strlen(pfx) + strlen(name) + 8;
	int	 fold;

	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]) + 4;
	fold = len > 76 && l->n > 1;
	fprintf(o, "%s%s = [%s", pfx, name, fold ? "" : " ");
	for (size_t i = 0; i < l->n; i++) {
		if (fold)
			fprintf(o, "%s\n%s  ", i > 0 ? "," : "", pfx);
		else if (i > 0)
			fputs(", ", o);
		put_str(o, l->v[i]);
	}
	if (fold)
		fprintf(o, "\n%s];\n", pfx);
	else
		fputs(l->n > 0 ? " ];\n" : "];\n", o);
}

/* The settings of one service, each line after pfx. */
static void
put_settings(FILE *o, const char *pfx, const struct cv_svc *s)
{
	put_array(o, pfx, "listen", &s->listen);
	if (strcmp(s->handler, "exec") == 0)
		put_array(o, pfx, "exec", &s->exec);
	if (s->user != NULL) {
		fprintf(o, "%suser = ", pfx);
		put_str(o, s->user);
		if (s->group != NULL) {
			fputs("; group = ", o);
			put_str(o, s->group);
		}
		fprintf(o, ";%s\n", s->groups_none ? " groups = [ ];" : "");
	}
	if (s->env.n > 0)
		put_array(o, pfx, "env", &s->env);
	if (s->passenv.n > 0)
		put_array(o, pfx, "passenv", &s->passenv);
	if (s->umask != NULL)
		fprintf(o, "%sumask = \"%s\";\n", pfx, s->umask);
	if (s->has_nice)
		fprintf(o, "%snice = %d;\n", pfx, s->nice);
	if (s->rlimits.n > 0) {
		fprintf(o, "%srlimits = {", pfx);
		for (size_t i = 0; i < s->rlimits.n; i++)
			fprintf(o, " %s;", s->rlimits.v[i]);
		fputs(" };\n", o);
	}
	if (s->access.n > 0)
		put_array(o, pfx, "access", &s->access);
	if (s->max_conn > 0)
		fprintf(o, "%smax_connections = %ld;\n", pfx, s->max_conn);
	if (s->ps_max > 0 || s->ps_rate > 0) {
		fprintf(o, "%sper_source = {", pfx);
		if (s->ps_max > 0)
			fprintf(o, " max_connections = %ld;", s->ps_max);
		if (s->ps_rate > 0)
			fprintf(o, " rate = %ld; burst = %ld;", s->ps_rate,
			    s->ps_burst);
		fputs(" };\n", o);
	}
	if (s->nodelay)
		fprintf(o, "%snodelay = true;\n", pfx);
	if (s->keepalive)
		fprintf(o, "%skeepalive = true;\n", pfx);
}

/* A comment, folded before column 76; lines after the first indented. */
static void
put_comment(FILE *o, const char *indent, const char *lead, const char *t)
{
	size_t	 start = strlen(indent) + 2, col, len;
	int	 empty = 1;

	fprintf(o, "%s# %s", indent, lead);
	col = start + strlen(lead);
	for (;;) {
		t += strspn(t, " ");
		if (*t == '\0')
			break;
		len = strcspn(t, " ");
		if (!empty && col + 1 + len > 76) {
			fprintf(o, "\n%s#   ", indent);
			col = start + 2;
			empty = 1;
		}
		if (!empty) {
			fputc(' ', o);
			col++;
		}
		fwrite(t, 1, len, o);
		col += len;
		t += len;
		empty = 0;
	}
	fputc('\n', o);
}

/* One service: a group, or a comment block saying why not. */
static void
put_service(FILE *o, const struct cv_svc *s, int before, int after)
{
	/* Never folded: its FILE:LINE stays whole, for grep and editors. */
	fprintf(o, "  # %s, %s\n", s->title, s->origin);
	if (s->off != NULL)
		put_comment(o, "  ", s->disabled ? "" : "NOT CARRIED OVER: ",
		    s->off);
	for (size_t i = 0; i < s->notes.n; i++)
		put_comment(o, "  ", "", s->notes.v[i]);
	if (s->off != NULL && !s->disabled)
		return;
	fprintf(o, "  { name = ");
	put_str(o, s->name);
	fprintf(o, "; handler = \"%s\";\n", s->handler);
	if (s->disabled)
		fputs("    disable = true;\n", o);
	put_settings(o, "    ", s);
	fprintf(o, "  }%s\n", after ? "," : "");
	(void)before;
}

/* The whole output. */
int
cv_emit(struct cv_ctx *x, const char *path, const char *format)
{
	FILE		*o = stdout;
	size_t		 total = 0, done = 0, serving = 0;
	struct cv_svc	*s;

	for (s = x->svcs; s != NULL; s = s->next) {
		total += s->off == NULL || s->disabled;
		serving += s->off == NULL;
	}
	fprintf(o, "# tcpd services converted by tcpd-convert from %s "
	    "(%s).\n", path, format);
	fputs("# No pid_file: include it from a tcpd.conf that has one,\n"
	    "# or check it as it is with tcpd -t -c FILE.\n", o);
	for (size_t i = 0; i < x->head.n; i++)
		put_comment(o, "", "", x->head.v[i]);
	for (size_t i = 0; i < x->top.n; i++)
		fprintf(o, "%s\n", x->top.v[i]);
	fputs("services = (\n", o);
	for (s = x->svcs; s != NULL; s = s->next) {
		done += s->off == NULL || s->disabled;
		if (s != x->svcs)
			fputc('\n', o);
		put_service(o, s, done > 0, done < total);
	}
	fputs(");\n", o);
	if (fflush(o) == EOF || ferror(o))
		return -1;
	if (serving == 0)
		fprintf(stderr, "tcpd-convert: %s: no service carried over%s; "
		    "tcpd needs at least one to start\n", path, total > 0 ?
		    " that is not disabled" : "");
	return 0;
}
