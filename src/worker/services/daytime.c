/* daytime (RFC 867): one line with the local date and time, then close. */
#include "config.h"

#include <time.h>

#include "conn.h"
#include "service.h"

/* Send the date and time as text, then end the connection. */
static void
daytime_open(struct conn *c)
{
	char		 line[64];
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 n;

	/* The form inetd has always sent: ctime(3)'s, ending in CRLF. */
	localtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "%a %b %e %H:%M:%S %Y\r\n", &tm);
	conn_write(c, line, n);
	conn_finish(c, "answer sent");
}

const struct service service_daytime = {
	.name = "daytime",
	.open = daytime_open,
};
