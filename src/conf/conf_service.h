/* One service of the configuration, read and checked. */
#ifndef TCPD_CONF_SERVICE_H
#define TCPD_CONF_SERVICE_H

#include <libconfig.h>

struct conf;
struct conf_ctx;

int	conf_service_load(struct conf_ctx *, struct conf *,
	    const config_setting_t *);
int	conf_service_disabled(struct conf_ctx *, const config_setting_t *);

#endif
