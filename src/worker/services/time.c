/* time (RFC 868): seconds since 1900-01-01 UTC, 32 bits big-endian. */
#include "config.h"

#include <stdint.h>
#include <time.h>

#include "conn.h"
#include "service.h"

/* Seconds from 1900-01-01 to 1970-01-01. */
#define EPOCH_1900	2208988800ULL

/* Send the time as 32 bits, seconds since 1900, then end. */
static void
time_open(struct conn *c)
{
	/* Modulo 2^32: the counter wraps in 2036, as the RFC's does. */
	uint32_t	 t = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900);
	unsigned char	 b[4] = { t >> 24, t >> 16, t >> 8, t };

	conn_write(c, b, sizeof(b));
	conn_finish(c, "answer sent");
}

const struct service service_time = {
	.name = "time",
	.open = time_open,
};
