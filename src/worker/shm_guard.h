/* A worker's shared heartbeat kept a window on its own cell alone. */
#ifndef TCPD_SHM_GUARD_H
#define TCPD_SHM_GUARD_H

#include <stddef.h>

int	shm_guard(const void *cell, size_t len);

#endif
