/* tcpd -t: what the file alone cannot tell, found on this host. */
#ifndef TCPD_CHECK_H
#define TCPD_CHECK_H

#include <stddef.h>
#include <stdio.h>

struct conf;
struct conf_net;
struct conf_service;

int	check_host(const struct conf *, FILE *);

#endif
