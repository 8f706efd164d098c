/* tcpd -T: the whole configuration in effect, as a file tcpd reads. */
#ifndef TCPD_CONF_DUMP_H
#define TCPD_CONF_DUMP_H

#include <stdio.h>

struct conf;

void	conf_dump(const struct conf *, FILE *);

#endif
