/*
 * Memory no fork copies: the master's own records (its workers, slots,
 * listening sockets, services, and what it keeps of the memory it shares
 * with them), which its workers never read.
 */
#ifndef TCPD_NOFORK_H
#define TCPD_NOFORK_H

#include <stddef.h>

void	*nofork_calloc(size_t n, size_t size);
void	*nofork_reallocarray(void *p, size_t n, size_t size);
void	 nofork_free(void *p);
char	*nofork_strdup(const char *s);

#endif
