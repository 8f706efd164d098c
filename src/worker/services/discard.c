/* discard (RFC 863): read everything, answer nothing. */
#include "config.h"

#include "conn.h"
#include "service.h"

static void
discard_input(struct conn *c)
{
	size_t	 len;
	char	*buf = conn_scratch(c, &len);

	if (conn_read(c, buf, len) == 0)
		conn_finish(c, "client EOF");
}

const struct service service_discard = {
	.name = "discard",
	.input = discard_input,
};
