/* Typed, checked reads of libconfig settings, with FILE:LINE errors. */
#ifndef TCPD_CONF_GET_H
#define TCPD_CONF_GET_H

#include <libconfig.h>
#include <stddef.h>

struct conf_src;

/*
 * What a file is read with: its name as the user gave it, its text, and
 * the caller's buffer for an error.
 */
struct conf_ctx {
	const char		*path;
	const struct conf_src	*src;
	char			*err;
	size_t			 errlen;
};

const char	*conf_ctx_file(const struct conf_ctx *, const char *file);
char		*conf_where(const struct conf_ctx *, const config_setting_t *);
int		 conf_err(struct conf_ctx *, const config_setting_t *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
int		 conf_key_in(const char *const *keys, const char *name);
int		 conf_get_keys(struct conf_ctx *, const config_setting_t *,
		    const char *const *keys, int (*more)(const char *),
		    const char *where);
int		 conf_get_string(struct conf_ctx *, const config_setting_t *,
		    const char *name, const char **out);
int		 conf_get_strings(struct conf_ctx *, const config_setting_t *,
		    const char *name, int nplain, char ***out);
int		 conf_get_int(struct conf_ctx *, const config_setting_t *,
		    const char *name, long long min, long long max, int *out);
int		 conf_get_bool(struct conf_ctx *, const config_setting_t *,
		    const char *name, int *out);
void		 conf_strings_free(char **);
int		 conf_has_control(const char *);

#endif
