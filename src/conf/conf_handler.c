/* The handlers as the configuration knows them, looked up by name. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "conf_handler.h"
#include "util.h"

static const char *const exec_keys[] = {
	"exec", "env", "passenv", "cwd", "umask", "nice", "rlimits", "timeout",
	NULL
};

static const struct conf_handler handlers[] = {
	{ .name = "echo" },
	{ .name = "discard" },
	{ .name = "chargen" },
	{ .name = "daytime" },
	{ .name = "time" },
	{ .name = "exec", .keys = exec_keys, .program = 1 },
	{ .name = "metrics", .reports = 1 },
	{ .name = "agent", .reports = 1 },
};

#define NHANDLERS	nitems(handlers)

/* The handler called name, or NULL. */
const struct conf_handler *
conf_handler_find(const char *name)
{
	for (size_t i = 0; i < NHANDLERS; i++)
		if (strcmp(handlers[i].name, name) == 0)
			return &handlers[i];
	return NULL;
}

/* The handler that declares key among its own settings, or NULL. */
const struct conf_handler *
conf_handler_owner(const char *key)
{
	for (size_t i = 0; i < NHANDLERS; i++)
		for (const char *const *k = handlers[i].keys;
		    k != NULL && *k != NULL; k++)
			if (strcmp(*k, key) == 0)
				return &handlers[i];
	return NULL;
}

/* "echo, discard, ...", for error messages. */
const char *
conf_handler_names(void)
{
	static char	 names[128];

	if (names[0] == '\0') {
		for (size_t i = 0; i < NHANDLERS; i++) {
			if (i > 0)
				strncat(names, ", ",
				    sizeof(names) - strlen(names) - 1);
			strncat(names, handlers[i].name,
			    sizeof(names) - strlen(names) - 1);
		}
	}
	return names;
}
