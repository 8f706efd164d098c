/* A reload's parse, in a thread of its own so that supervision goes on. */
#ifndef TCPD_RELOAD_H
#define TCPD_RELOAD_H

#include <stddef.h>

struct conf;
struct reload;

struct reload	*reload_start(const char *path, int efd);
struct conf	*reload_finish(struct reload *, char *err, size_t errlen);

#endif
