/* The table of built-in handlers, looked up by name. */
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

const struct service *
service_find(const char *name)
{
	for (size_t i = 0; i < NSERVICES; i++)
		if (strcmp(services[i]->name, name) == 0)
			return services[i];
	return NULL;
}

/* The handler that declares key among its own settings, or NULL. */
const struct service *
service_owner(const char *key)
{
	for (size_t i = 0; i < NSERVICES; i++)
		for (const char *const *k = services[i]->keys;
		    k != NULL && *k != NULL; k++)
			if (strcmp(*k, key) == 0)
				return services[i];
	return NULL;
}

/* "echo, discard, ...", for error messages. */
const char *
service_names(void)
{
	static char	 names[128];

	if (names[0] == '\0') {
		for (size_t i = 0; i < NSERVICES; i++) {
			if (i > 0)
				strncat(names, ", ",
				    sizeof(names) - strlen(names) - 1);
			strncat(names, services[i]->name,
			    sizeof(names) - strlen(names) - 1);
		}
	}
	return names;
}
