/* The connection log: one line per connection's end, one per refusal. */
#include "config.h"

#include <sys/socket.h>

#include "addr.h"
#include "connlog.h"
#include "log.h"

void
connlog_refused(const char *service, int fd,
    const struct sockaddr_storage *peer, const char *reason)
{
	char	 who[ADDR_STRLEN];

	(void)fd;
	addr_text(peer, who, sizeof(who));
	log_notice("%s: refused %s: %s", service, who, reason);
}
