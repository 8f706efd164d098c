/*
 * The code of the built-in handlers, found by the name the configuration
 * knows each by (src/conf/conf_handler.c).
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "util.h"
#include "service.h"

static const struct service *const services[] = {
	&service_echo,
	&service_discard,
	&service_chargen,
	&service_daytime,
	&service_time,
	&service_exec,
	&service_metrics,
	&service_agent,
};

#define NSERVICES	nitems(services)

/* The code of the handler called name, or NULL. */
const struct service *
service_find(const char *name)
{
	for (size_t i = 0; i < NSERVICES; i++)
		if (strcmp(services[i]->name, name) == 0)
			return services[i];
	return NULL;
}
