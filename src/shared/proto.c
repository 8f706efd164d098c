/* The names master and worker both use for what the protocol counts. */
#include "config.h"

#include <unistd.h>

#include "proto.h"

/* As status, metrics and the logs name each kind of refusal. */
const char *const refusal_names[REFUSED_KINDS] = {
	[REFUSED_ACCESS] = "access", [REFUSED_PER_SOURCE] = "per_source",
	[REFUSED_RATE] = "rate", [REFUSED_TABLE_FULL] = "table_full",
	[REFUSED_PROXY] = "proxy",
};

size_t
beat_cell_size(void)
{
	size_t	 page = (size_t)sysconf(_SC_PAGESIZE);

	return (sizeof(struct heartbeat) + page - 1) / page * page;
}
