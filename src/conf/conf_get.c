/* Typed, checked reads of libconfig settings, with FILE:LINE errors. */
#include "config.h"

#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_get.h"
#include "conf_src.h"

/* libconfig names no file for the one it read from a stream: the user's. */
const char *
conf_ctx_file(const struct conf_ctx *x, const char *file)
{
	return file != NULL ? file : x->path;
}

/* "FILE:LINE" of setting s, allocated, for a later message; NULL: ENOMEM. */
char *
conf_where(const struct conf_ctx *x, const config_setting_t *s)
{
	const char	*file = conf_ctx_file(x, config_setting_source_file(s));
	size_t		 len = strlen(file) + 16;
	char		*w;

	if ((w = malloc(len)) != NULL)
		snprintf(w, len, "%s:%d", file, config_setting_source_line(s));
	return w;
}

/* Record "FILE:LINE: message" and fail. */
int
conf_err(struct conf_ctx *x, const config_setting_t *s, const char *fmt, ...)
{
	va_list		 ap;
	char		 msg[512];
	const char	*file = NULL;
	int		 line = 0;

	if (s != NULL) {
		file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	file = conf_ctx_file(x, file);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(x->err, x->errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(x->err, x->errlen, "%s: %s", file, msg);
	return -1;
}

/* Is name one of the NULL-ended keys? */
int
conf_key_in(const char *const *keys, const char *name)
{
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, name) == 0)
			return 1;
	return 0;
}

/* Reject any member of group g that is neither in keys nor one more allows. */
int
conf_get_keys(struct conf_ctx *x, const config_setting_t *g,
    const char *const *keys, int (*more)(const char *), const char *where)
{
	const config_setting_t	*s;
	const char		*name;

	for (int i = 0; (s = config_setting_get_elem(g, i)) != NULL; i++) {
		name = config_setting_name(s);
		if (!conf_key_in(keys, name) && (more == NULL || !more(name)))
			return conf_err(x, s, "unknown key '%s'%s", name,
			    where);
	}
	return 0;
}

/*
 * A byte below 0x20 or DEL?  Strings reach log lines, where a newline
 * would forge another line.
 */
int
conf_has_control(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 1;
	return 0;
}

/* An optional string member; *out stays as it is when absent. */
int
conf_get_string(struct conf_ctx *x, const config_setting_t *g,
    const char *name, const char **out)
{
	const config_setting_t	*s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return conf_err(x, s, "'%s' must be a string", name);
	*out = config_setting_get_string(s);
	if (**out == '\0')
		return conf_err(x, s, "'%s' must not be empty", name);
	if (conf_has_control(*out))
		return conf_err(x, s, "'%s' must not contain control "
		    "characters", name);
	return 0;
}

/*
 * An optional integer member within [min, max], inside the int range: a
 * literal libconfig truncated into it is out of range as written.
 */
int
conf_get_int(struct conf_ctx *x, const config_setting_t *g, const char *name,
    long long min, long long max, int *out)
{
	const config_setting_t	*s = config_setting_get_member(g, name);
	long long		 v;
	char			 lit[64];

	if (s == NULL)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
		v = config_setting_get_int(s);
		break;
	case CONFIG_TYPE_INT64:
		v = config_setting_get_int64(s);
		break;
	default:
		return conf_err(x, s, "'%s' must be an integer", name);
	}
	if (x->src != NULL && conf_src_int(x->src,
	    config_setting_source_file(s), config_setting_source_line(s),
	    name, v, lit, sizeof(lit)))
		return conf_err(x, s, "'%s' must be between %lld and %lld, "
		    "not %s", name, min, max, lit);
	if (v < min || v > max)
		return conf_err(x, s, "'%s' must be between %lld and %lld, "
		    "not %lld", name, min, max, v);
	*out = (int)v;
	return 0;
}

/*
 * A NULL-terminated copy of an array of strings; NULL when absent.  The
 * first nplain entries (-1: all) must hold no control characters.
 */
int
conf_get_strings(struct conf_ctx *x, const config_setting_t *g,
    const char *name, int nplain, char ***out)
{
	const config_setting_t	*s = config_setting_get_member(g, name);
	const config_setting_t	*e;
	char			**v;
	int			 n;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST)
		return conf_err(x, s, "'%s' must be a list of strings, like "
		    "[ \"a\", \"b\" ]", name);
	n = config_setting_length(s);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return conf_err(x, s, "out of memory");
	*out = v;
	for (int i = 0; i < n; i++) {
		e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return conf_err(x, s, "'%s' entries must be strings",
			    name);
		if ((nplain < 0 || i < nplain) &&
		    conf_has_control(config_setting_get_string(e)))
			return conf_err(x, s, "'%s' entry %d must not contain "
			    "control characters", name, i + 1);
		if ((v[i] = strdup(config_setting_get_string(e))) == NULL)
			return conf_err(x, s, "out of memory");
	}
	return 0;
}

/* Free what conf_get_strings made. */
void
conf_strings_free(char **v)
{
	for (char **p = v; p != NULL && *p != NULL; p++)
		free(*p);
	free(v);
}

/* An optional boolean member; *out stays as it is when absent. */
int
conf_get_bool(struct conf_ctx *x, const config_setting_t *g, const char *name,
    int *out)
{
	const config_setting_t	*s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return conf_err(x, s, "'%s' must be true or false", name);
	*out = config_setting_get_bool(s);
	return 0;
}
