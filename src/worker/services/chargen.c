/*
 * chargen (RFC 864): lines of 72 printable characters, each starting one
 * character further along the 95 printable ASCII characters, written only
 * as fast as the client reads them.  Input is read and dropped.
 */
#include "config.h"

#include <string.h>

#include "conn.h"
#include "service.h"

#define RING		95	/* ' ' to '~' */
#define LINE		72
#define LINE_CRLF	(LINE + 2)
#define CHUNK_LINES	128	/* per turn: about 9 KiB */

static void
chargen_open(struct conn *c)
{
	c->state = 0;		/* the next line's first character */
	conn_want_write(c, 1);
}

static void
chargen_input(struct conn *c)
{
	size_t	 len;
	char	*buf = conn_scratch(c, &len);

	/* After the client's FIN, keep sending: it may still read. */
	conn_read(c, buf, len);
}

/* The socket has room: one chunk per turn, so other clients get theirs. */
static void
chargen_writable(struct conn *c)
{
	size_t	 len, n = 0;
	char	*buf = conn_scratch(c, &len);

	for (int i = 0; i < CHUNK_LINES && n + LINE_CRLF <= len; i++) {
		for (int k = 0; k < LINE; k++)
			buf[n + k] = ' ' + (char)((c->state + k) % RING);
		buf[n + LINE] = '\r';
		buf[n + LINE + 1] = '\n';
		n += LINE_CRLF;
		c->state = (c->state + 1) % RING;
	}
	conn_write(c, buf, n);	/* what the kernel does not take is queued */
}

const struct service service_chargen = {
	.name = "chargen",
	.open = chargen_open,
	.input = chargen_input,
	.writable = chargen_writable,
};
