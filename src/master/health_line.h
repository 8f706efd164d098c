/* The master's health line, for the agent handler and GET /ready. */
#ifndef TCPD_HEALTH_LINE_H
#define TCPD_HEALTH_LINE_H

#include <stddef.h>

struct status_in;

char	*health_build(const struct status_in *, size_t *len);

#endif
