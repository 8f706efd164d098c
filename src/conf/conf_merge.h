/* include_dir's services and the top level's defaults, merged in. */
#ifndef TCPD_CONF_MERGE_H
#define TCPD_CONF_MERGE_H

#include <libconfig.h>

struct conf_ctx;

/* The most files include_dir may hold. */
#define CONF_DIR_MAX	4096

/* What include_dir read: kept until the merged settings are read. */
struct conf_merged {
	config_t	*cfg;
	char		**path;
	int		 n;
};

int	conf_default_key(const char *name);
int	conf_merge_defaults(struct conf_ctx *, const config_setting_t *root,
	    config_setting_t *services);
int	conf_merge_dir(struct conf_ctx *, const config_setting_t *at,
	    const char *dir, config_setting_t *services, struct conf_merged *);
void	conf_merged_free(struct conf_merged *);

#endif
