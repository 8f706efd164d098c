/* The master's listening sockets: one per address per worker slot. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "listener.h"
#include "log.h"

/* One listening socket: one address in one slot. */
struct lsock {
	struct conf_listen	 l;
	int			 slot;
	int			 fd;
	int			 backlog;
	int			 used;	/* by the configuration being applied */
};

/*
 * A socket for one slot of one address.  Every slot of an address joins
 * one SO_REUSEPORT group, so the kernel spreads new connections over them.
 */
static int
listener_open(const struct conf_listen *l, int backlog)
{
	int	 fd, on = 1, saved;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	/* [::]:port must not take IPv4 traffic from 0.0.0.0:port. */
	if (l->addr.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) == -1 ||
	    listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Is the address free?  SO_REUSEPORT lets any process of the same user
 * join a group and take a share of the connections, a second tcpd
 * included, so before the first slot socket of an address is made, a
 * plain bind checks that nobody listens there yet.
 */
static int
listener_probe(const struct conf_listen *l)
{
	int	 fd, on = 1, rc, saved;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	rc = bind(fd, (const struct sockaddr *)&l->addr, l->addrlen);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static struct lsock *
lsock_find(const struct listeners *ls, const struct conf_listen *l, int slot)
{
	for (int i = 0; i < ls->n; i++)
		if (ls->socks[i].slot == slot && addr_same(&ls->socks[i].l.addr, ls->socks[i].l.addrlen, &l->addr, l->addrlen))
			return &ls->socks[i];
	return NULL;
}

static int
addr_known(const struct listeners *ls, const struct conf_listen *l)
{
	for (int i = 0; i < ls->n; i++)
		if (addr_same(&ls->socks[i].l.addr, ls->socks[i].l.addrlen, &l->addr, l->addrlen))
			return 1;
	return 0;
}

/*
 * Make sure every address of c has a socket for each of its slots
 * (counts[i] for service i, or the file's workers when counts is NULL):
 * existing ones are kept, with the new backlog; the rest are bound.
 * Kept and new ones are marked used.  On failure, what this call bound
 * is closed again and -1 returned with the reason in err.
 */
int
listeners_bind(struct listeners *ls, const struct conf *c, const int *counts,
    char *err, size_t errlen)
{
	int		 first_new = ls->n, total = ls->n, n;
	struct lsock	*s;

	for (int i = 0; i < ls->n; i++)
		ls->socks[i].used = 0;
	for (int i = 0; i < c->nservices; i++)
		total += c->services[i].nlisten *
		    (counts ? counts[i] : c->services[i].workers);
	if ((s = realloc(ls->socks, (total ? total : 1) * sizeof(*s))) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ls->socks = s;

	for (int i = 0; i < c->nservices; i++) {
		const struct conf_service *sv = &c->services[i];
		n = counts ? counts[i] : sv->workers;
		for (int a = 0; a < sv->nlisten; a++) {
			const struct conf_listen *l = &sv->listen[a];
			if (!addr_known(ls, l) && listener_probe(l) == -1) {
				snprintf(err, errlen, "cannot listen on %s: %s",
				    l->text, errno == EADDRINUSE ?
				    "address already in use" : strerror(errno));
				goto fail;
			}
			for (int k = 0; k < n; k++) {
				if ((s = lsock_find(ls, l, k)) != NULL) {
					if (s->backlog != sv->backlog &&
					    listen(s->fd, sv->backlog) == 0)
						s->backlog = sv->backlog;
					s->used = 1;
					continue;
				}
				s = &ls->socks[ls->n];
				if ((s->fd = listener_open(l, sv->backlog)) ==
				    -1) {
					snprintf(err, errlen, "cannot listen on "
					    "%s: %s", l->text, strerror(errno));
					goto fail;
				}
				s->l = *l;
				s->slot = k;
				s->backlog = sv->backlog;
				s->used = 1;
				ls->n++;
			}
		}
	}
	return 0;
fail:
	while (ls->n > first_new)
		close(ls->socks[--ls->n].fd);
	return -1;
}

/* Close the sockets the last listeners_bind() did not mark used. */
void
listeners_close_unused(struct listeners *ls)
{
	int	 j = 0;

	for (int i = 0; i < ls->n; i++) {
		if (ls->socks[i].used) {
			ls->socks[j++] = ls->socks[i];
			continue;
		}
		log_info("closing %s slot %d", ls->socks[i].l.text,
		    ls->socks[i].slot);
		close(ls->socks[i].fd);
	}
	ls->n = j;
}

void
listeners_close_all(struct listeners *ls)
{
	for (int i = 0; i < ls->n; i++)
		close(ls->socks[i].fd);
	ls->n = 0;
}

/* The socket of an address in a slot, or -1. */
int
listeners_fd(const struct listeners *ls, const struct conf_listen *l,
    int slot)
{
	const struct lsock	*s = lsock_find(ls, l, slot);

	return s != NULL ? s->fd : -1;
}

void
listeners_free(struct listeners *ls)
{
	listeners_close_all(ls);
	free(ls->socks);
	ls->socks = NULL;
}
