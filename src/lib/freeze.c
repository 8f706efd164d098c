/* A tree of structs copied into one block that is mapped elsewhere. */
#include "config.h"

#include <string.h>

#include "freeze.h"

#define FREEZE_ALIGN	16

/* Copy size bytes of p to the block; their offset in it. */
size_t
freeze_put(struct freeze *f, const void *p, size_t size)
{
	size_t	 at = f->len;

	f->len += (size + FREEZE_ALIGN - 1) & ~(size_t)(FREEZE_ALIGN - 1);
	if (f->buf != NULL && size > 0)
		memcpy(f->buf + at, p, size);
	return at;
}

/*
 * Copy size bytes of p to the block and make the pointer at offset at
 * point to the copy, as mapped (NULL for p NULL).  The copy's offset,
 * 0 for none.
 */
size_t
freeze_link(struct freeze *f, size_t at, const void *p, size_t size)
{
	size_t	 to;
	void	*addr;

	if (p == NULL) {
		addr = NULL;
		to = 0;
	} else {
		to = freeze_put(f, p, size);
		addr = (void *)(f->base + to);
	}
	if (f->buf != NULL)
		memcpy(f->buf + at, &addr, sizeof(addr));
	return to;
}

/* The same for a string. */
void
freeze_str(struct freeze *f, size_t at, const char *s)
{
	freeze_link(f, at, s, s != NULL ? strlen(s) + 1 : 0);
}

/* The same for a NULL-terminated array of strings, and each of them. */
void
freeze_strv(struct freeze *f, size_t at, char *const *v)
{
	size_t	 n = 0, to;

	if (v != NULL)
		while (v[n] != NULL)
			n++;
	to = freeze_link(f, at, v, (n + 1) * sizeof(*v));
	for (size_t i = 0; i < n; i++)
		freeze_str(f, to + i * sizeof(*v), v[i]);
}
