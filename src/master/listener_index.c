/*
 * The master's listening sockets by address and slot, hashed: a lookup
 * per worker forked and per address bound, among thousands of sockets,
 * must not scan them all.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "listener.h"
#include "listener_int.h"
#include "nofork.h"
#include "util.h"

/*
 * The index: a lookup per worker forked and per address bound, among
 * thousands of sockets, must not scan them all.  Sockets are only ever
 * appended between two removals, so the index takes the new ones at the
 * next lookup; a removal makes it start over (lsock_unindex).
 */
/* FNV-1a over the address, from the slot. */
static unsigned
lsock_hash(const struct conf_listen *l, int slot)
{
	return fnv1a(&l->addr, l->addrlen, FNV1A_SEED ^ (unsigned)slot);
}

/* The slot of address l in the index, with sock i + 1 or 0 (empty). */
static int *
lsock_cell(const struct listeners *ls, const struct conf_listen *l, int slot)
{
	unsigned	 mask = ls->index_size - 1, at = lsock_hash(l, slot);
	int		*c;

	for (;; at++) {
		c = &ls->index[at & mask];
		if (*c == 0)
			return c;
		const struct lsock *s = &ls->socks[*c - 1];
		if ((slot == -1 || s->slot == slot) &&
		    addr_same(&s->l.addr, s->l.addrlen, &l->addr, l->addrlen))
			return c;
	}
}

/* The slot of inode ino in the inode index, with sock i + 1 or 0. */
static int *
lsock_ino_cell(const struct listeners *ls, ino_t ino)
{
	unsigned	 mask = ls->index_size - 1;
	unsigned	 at = (unsigned)(((uint64_t)ino * 0x9e3779b97f4a7c15ULL)
	    >> 32);
	int		*c;

	for (;; at++) {
		c = &ls->by_ino[at & mask];
		if (*c == 0 || ls->socks[*c - 1].ino == ino)
			return c;
	}
}

/* Empty the index: a socket went, so positions changed. */
void
lsock_unindex(struct listeners *ls)
{
	ls->indexed = 0;
	if (ls->index != NULL) {
		memset(ls->index, 0, ls->index_size * sizeof(*ls->index));
		memset(ls->by_ino, 0, ls->index_size * sizeof(*ls->by_ino));
	}
}

/* Bring the index up to ls->n sockets; -1 (memory): scan instead. */
static int
lsock_index(struct listeners *ls)
{
	int	*c, *ino, size = 64;

	if (ls->indexed > ls->n)
		lsock_unindex(ls);
	if (ls->index == NULL || ls->index_size < 4 * ls->n) {
		while (size < 4 * ls->n)
			size *= 2;
		c = nofork_calloc(size, sizeof(*c));
		ino = nofork_calloc(size, sizeof(*ino));
		if (c == NULL || ino == NULL) {
			nofork_free(c);
			nofork_free(ino);
			return -1;
		}
		nofork_free(ls->index);
		nofork_free(ls->by_ino);
		ls->index = c;
		ls->by_ino = ino;
		ls->index_size = size;
		ls->indexed = 0;
	}
	for (; ls->indexed < ls->n; ls->indexed++) {
		struct lsock *s = &ls->socks[ls->indexed];
		if (*(c = lsock_cell(ls, &s->l, s->slot)) == 0)
			*c = ls->indexed + 1;
		if (*(c = lsock_cell(ls, &s->l, -1)) == 0)
			*c = ls->indexed + 1;
		if (*(c = lsock_ino_cell(ls, s->ino)) == 0)
			*c = ls->indexed + 1;
	}
	return 0;
}

/*
 * Is the socket with this inode one of ls's (sockdiag_ours_fn)?  An
 * inode of 0 (fstat failed) is never known: such a socket passes for
 * another process's, so a check errs towards refusing.
 */
int
lsock_ours(void *arg, unsigned long inode)
{
	return lsock_by_ino(arg, (ino_t)inode) != NULL;
}

/* The socket with this inode, or NULL. */
struct lsock *
lsock_by_ino(const struct listeners *ls, ino_t ino)
{
	int	 c;

	if (ino == 0)
		return NULL;
	/* The index is a cache: filling it changes no socket. */
	if (lsock_index((struct listeners *)(uintptr_t)ls) == 0) {
		c = *lsock_ino_cell(ls, ino);
		return c != 0 ? &ls->socks[c - 1] : NULL;
	}
	for (int i = 0; i < ls->n; i++)
		if (ls->socks[i].ino == ino)
			return &ls->socks[i];
	return NULL;
}

/*
 * The socket of address l in a slot (-1: any slot), leaving or not, or
 * NULL.
 */
struct lsock *
lsock_find(const struct listeners *ls, const struct conf_listen *l, int slot)
{
	int	 c;

	/* The index is a cache: filling it changes no socket. */
	if (lsock_index((struct listeners *)(uintptr_t)ls) == 0) {
		c = *lsock_cell(ls, l, slot);
		return c != 0 ? &ls->socks[c - 1] : NULL;
	}
	for (int i = 0; i < ls->n; i++)
		if ((slot == -1 || ls->socks[i].slot == slot) &&
		    addr_same(&ls->socks[i].l.addr, ls->socks[i].l.addrlen,
		    &l->addr, l->addrlen))
			return &ls->socks[i];
	return NULL;
}

