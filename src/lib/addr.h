/* Socket addresses: parsed from the configuration, formatted for logs. */
#ifndef TCPD_ADDR_H
#define TCPD_ADDR_H

#include <sys/socket.h>

#include <stddef.h>

/* "[v6 address]:port", with its NUL */
#define ADDR_STRLEN	64

int	addr_parse(const char *, struct sockaddr_storage *, socklen_t *);
void	addr_text(const struct sockaddr_storage *, char *, size_t);
void	addr_parts(const struct sockaddr_storage *, char *ip, size_t,
	    char *port, size_t);
int	addr_same(const struct sockaddr_storage *, socklen_t,
	    const struct sockaddr_storage *, socklen_t);
int	addr_clash(const struct sockaddr_storage *,
	    const struct sockaddr_storage *);

#endif
