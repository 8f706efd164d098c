/* echo (RFC 862): send back exactly the bytes that arrive. */
#include "config.h"

#include "conn.h"
#include "service.h"

/* Send back what came; at the client's EOF, finish. */
static void
echo_input(struct conn *c)
{
	size_t	 len;
	char	*buf = conn_scratch(c, &len);
	ssize_t	 n;

	n = conn_read(c, buf, len);
	if (n > 0)
		conn_write(c, buf, n);	/* reading pauses until it is sent */
	else if (n == 0)
		conn_finish(c, "client EOF");	/* send the rest, then FIN */
}

const struct service service_echo = {
	.name = "echo",
	.input = echo_input,
};
