/*
 * A tree of structs copied into one block, its pointers made to point
 * where the block will be mapped: what conf_load() makes of a
 * configuration (conf_freeze.c).
 */
#ifndef TCPD_FREEZE_H
#define TCPD_FREEZE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The block being made.  A first pass with buf NULL only measures (len);
 * a second copies into buf, for the block to be mapped at base.  Places
 * in it are offsets from its start.
 */
struct freeze {
	char		*buf;
	uintptr_t	 base;
	size_t		 len;
};

size_t	freeze_put(struct freeze *, const void *, size_t);
size_t	freeze_link(struct freeze *, size_t at, const void *, size_t);
void	freeze_str(struct freeze *, size_t at, const char *);
void	freeze_strv(struct freeze *, size_t at, char *const *);

#endif
