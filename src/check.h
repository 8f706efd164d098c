/* tcpd -t: what the file alone cannot tell, found on this host. */
#ifndef TCPD_CHECK_H
#define TCPD_CHECK_H

#include <stddef.h>
#include <stdio.h>

struct conf;
struct conf_net;
struct conf_service;

int	check_host(const struct conf *, FILE *);
int	check_access_allows(const struct conf_net *);
void	check_access_text(const struct conf_service *, char *, size_t);
void	check_access_log(const struct conf *);

#endif
