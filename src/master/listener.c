/* The master's listening sockets: one per address per worker slot. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "listener.h"
#include "listener_int.h"
#include "log.h"
#include "nofork.h"
#include "sockdiag.h"
#include "steer.h"
#include "tcpopt.h"
#include "util.h"

/*
 * A socket for one slot of one address.  Every slot of an address joins
 * one SO_REUSEPORT group, so the kernel spreads new connections over them.
 * Its TCP options go on before listen(), so that no connection is made
 * without them; a failed one is named in *what.
 */
static int
listener_open(const struct conf_listen *l, int backlog,
    const struct conf_net *net, struct tcpopt *opt, const char **what)
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
	    tcpopt_listener(fd, opt, net, what) == -1 ||
	    listen(fd, backlog) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Do two sockets share a reuseport group: the same address? */
static int
lsock_peer(const struct lsock *a, const struct lsock *b)
{
	return addr_same(&a->l.addr, a->l.addrlen, &b->l.addr, b->l.addrlen);
}

/* Sockets of the group of s, s included. */
static int
lsock_group_size(const struct listeners *ls, const struct lsock *s)
{
	int	 n = 0;

	for (int i = 0; i < ls->n; i++)
		n += lsock_peer(&ls->socks[i], s);
	return n;
}

/*
 * Close socket i and take it out of the table, keeping the others'
 * order.  The kernel moves the last socket of its reuseport group into
 * its place in the group's array: so does the master's picture of it.
 */
void
lsock_drop(struct listeners *ls, int i)
{
	struct lsock	*s = &ls->socks[i];
	int		 last = lsock_group_size(ls, s) - 1;

	for (int k = 0; k < ls->n; k++)
		if (k != i && lsock_peer(&ls->socks[k], s) &&
		    ls->socks[k].pos == last)
			ls->socks[k].pos = s->pos;
	close(ls->socks[i].fd);
	memmove(&ls->socks[i], &ls->socks[i + 1],
	    (ls->n - i - 1) * sizeof(ls->socks[i]));
	ls->n--;
	lsock_unindex(ls);
}

/* A leaving socket is wanted again: new workers get it, queue and all. */
static void
lsock_take_back(struct lsock *s)
{
	s->leaving = 0;
	if (steer_unblock(s->fd) == -1)
		log_warn("%s slot %d: cannot take new connections again",
		    s->l.text, s->slot);
	log_info("taking back %s slot %d", s->l.text, s->slot);
}

/*
 * A socket leaves: it takes no new connection from now on (its group,
 * steered already, sends them to the others; a SYN the kernel's hash
 * still sends it is dropped, and sent again by the client); what is
 * queued on it and in its handshake its worker still takes.
 */
static void
lsock_leave(struct lsock *s)
{
	if (steer_block(s->fd) == -1)
		log_warn("%s slot %d: cannot keep new connections off it",
		    s->l.text, s->slot);
	log_info("%s slot %d leaves: closing it once its workers let it go",
	    s->l.text, s->slot);
}

/*
 * A reuseport group: its first socket, and the next of each socket in
 * next[] (-1 at the end); built for all groups in one pass.
 */
#define GROUP_EACH(ls, first, next, p, i) \
	for ((i) = (first); (i) != -1 && ((p) = &(ls)->socks[i], 1); \
	    (i) = (next)[i])

/*
 * Does the kernel's group hold exactly the sockets the master's picture
 * has?  If not (a close that was not the last, a socket of another
 * process), the picture cannot steer.
 */
static int
lsock_group_checked(const struct listeners *ls, int first, const int *next)
{
	const struct lsock	*p;
	ino_t			 kernel[256];
	int			 n, found, size = 0, i;

	n = sockdiag_group(&ls->socks[first].l.addr, kernel, 256);
	GROUP_EACH(ls, first, next, p, i) {
		size++;
		found = 0;
		for (int k = 0; k < n && !found; k++)
			found = kernel[k] == p->ino;
		if (!found)
			return 0;
	}
	return n == size;
}

/*
 * Steer the group that begins at first: while some of its sockets leave
 * and some stay, new connections go to those that stay only; otherwise
 * the kernel's hash spreads them as usual.
 */
static void
lsock_steer(struct listeners *ls, int first, const int *next)
{
	struct lsock	*p, *s = &ls->socks[first];
	int		 index[256], n = 0, leaving = 0, steered = 0, on;
	int		 fd = -1, i;

	GROUP_EACH(ls, first, next, p, i) {
		steered |= p->steered;
		if (p->leaving)
			leaving++;
		else if (n < 256) {
			index[n++] = p->pos;
			fd = p->fd;
		}
	}
	on = leaving > 0 && n > 0;
	if (!on && !steered)
		return;
	if (on && !lsock_group_checked(ls, first, next)) {
		log_debug("%s: its reuseport group is not as the master "
		    "pictures it: not steered", s->l.text);
		on = 0;
	}
	if (on && steer_group(fd, index, n) == -1) {
		log_warn("%s: cannot steer new connections to the sockets "
		    "that stay", s->l.text);
		on = 0;
	}
	if (!on && s->steered && steer_group_off(s->fd) == -1)
		log_warn("%s: cannot let the kernel spread new connections "
		    "again", s->l.text);
	GROUP_EACH(ls, first, next, p, i)
		p->steered = on;
}

/*
 * Steer every group as its sockets now stand.  The groups are chained in
 * one pass over the index, so that thousands of addresses cost no more
 * than thousands of sockets.
 */
static void
listeners_steer(struct listeners *ls)
{
	int	*next, *last;

	if (ls->n == 0)
		return;
	next = malloc(ls->n * sizeof(*next));
	last = malloc(ls->n * sizeof(*last));
	if (next == NULL || last == NULL) {
		free(next);
		free(last);
		log_warn("cannot steer the listening sockets");
		return;
	}
	for (int i = 0; i < ls->n; i++) {
		int first = (int)(lsock_find(ls, &ls->socks[i].l, -1) -
		    ls->socks);
		next[i] = -1;
		if (first != i)
			next[last[first]] = i;
		last[first] = i;
	}
	for (int i = 0; i < ls->n; i++)
		if (lsock_find(ls, &ls->socks[i].l, -1) == &ls->socks[i])
			lsock_steer(ls, i, next);
	free(next);
	free(last);
}

/* Why a socket of l could not be made or given its options. */
static void
listener_error(const struct conf_listen *l, const char *what, char *err,
    size_t errlen)
{
	if (what != NULL)
		snprintf(err, errlen, "cannot set TCP options on %s: %s: %s",
		    l->text, what, strerror(errno));
	else
		snprintf(err, errlen, "cannot listen on %s: %s", l->text,
		    strerror(errno));
}

/*
 * The sockets of slots 0 to n-1 of an address: existing ones are kept,
 * with the new backlog and TCP options; the rest are bound.  All are
 * marked used.
 */
int
listener_slots(struct listeners *ls, const struct conf_listen *l, int n,
    const struct conf_service *sv, char *err, size_t errlen)
{
	struct lsock	*s;
	struct stat	 st;
	const char	*what = NULL;
	int		 backlog = sv->backlog, size = -1;

	for (int k = 0; k < n; k++) {
		if ((s = lsock_find(ls, l, k)) != NULL) {
			s->used = 1;
			if (tcpopt_listener(s->fd, &s->opt, &sv->net,
			    &what) == -1) {
				listener_error(l, what, err, errlen);
				return -1;
			}
			if (s->backlog != backlog && listen(s->fd, backlog) == 0)
				s->backlog = backlog;
			continue;
		}
		s = &ls->socks[ls->n];
		memset(s, 0, sizeof(*s));
		if ((s->fd = listener_open(l, backlog, &sv->net, &s->opt,
		    &what)) == -1) {
			listener_error(l, what, err, errlen);
			return -1;
		}
		s->ino = fstat(s->fd, &st) == 0 ? st.st_ino : 0;
		s->l = *l;
		/*
		 * listen() put it at the end of its group's array.  A new
		 * address's group is empty: counted only for a known one.
		 */
		if (size == -1)
			size = lsock_find(ls, l, -1) == NULL ? 0 :
			    lsock_group_size(ls, s);
		s->pos = size++;
		s->slot = k;
		s->backlog = backlog;
		s->used = 1;
		ls->n++;
	}
	return 0;
}

/*
 * After listeners_bind(): the sockets it did not mark used leave (no
 * worker is given them from now on, and each closes once no worker
 * holds it any more: listeners_release), and leaving ones it marked
 * used are taken back.
 */
void
listeners_close_unused(struct listeners *ls)
{
	int	 left = 0;

	for (int i = 0; i < ls->n; i++) {
		struct lsock *s = &ls->socks[i];
		if (s->used && s->leaving)
			lsock_take_back(s);
		else if (!s->used && !s->leaving) {
			s->leaving = 2;		/* now: steered first */
			left++;
		}
	}
	listeners_steer(ls);
	for (int i = 0; left > 0 && i < ls->n; i++)
		if (ls->socks[i].leaving == 2) {
			ls->socks[i].leaving = 1;
			lsock_leave(&ls->socks[i]);
		}
}

/*
 * Does process pid still hold s at fd, where it was given it?  When
 * /proc does not say, it does.
 */
static int
lsock_held_by(const struct lsock *s, pid_t pid, int fd)
{
	char	 path[64], link[64], want[64];
	ssize_t	 n;

	snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)pid, fd);
	if ((n = readlink(path, link, sizeof(link) - 1)) == -1)
		return errno != ENOENT && errno != ESRCH;
	link[n] = '\0';
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)s->ino);
	return strcmp(link, want) == 0;
}

/*
 * Close each leaving socket that no worker given it holds any more (h[]:
 * every worker, of every generation, with the sockets it was given): the
 * master's close is then the last one.  A socket is looked for only in
 * the workers given it, a /proc read each, never in every worker: a
 * reload that drops thousands of addresses among thousands of workers
 * would otherwise read /proc millions of times a turn.  Returns how many
 * still wait.
 */
int
listeners_release(struct listeners *ls, const struct lholder *h, int nh)
{
	struct lsock	*s;
	int		 left = 0, closed = 0;

	for (int i = 0; i < ls->n; i++)
		ls->socks[i].held = 0;
	for (int k = 0; k < nh; k++)
		for (int j = 0; j < h[k].n; j++)
			if ((s = lsock_by_ino(ls, h[k].ino[j])) != NULL &&
			    s->leaving && !s->held)
				s->held = lsock_held_by(s, h[k].pid,
				    h[k].fd[j]);
	for (int i = 0; i < ls->n; i++) {
		s = &ls->socks[i];
		if (!s->leaving)
			continue;
		if (s->held) {
			left++;
			continue;
		}
		log_info("closing %s slot %d", s->l.text, s->slot);
		lsock_drop(ls, i--);
		closed = 1;
	}
	if (closed)
		listeners_steer(ls);
	return left;
}

/* How many leaving sockets wait for their workers to let them go. */
int
listeners_leaving(const struct listeners *ls)
{
	int	 n = 0;

	for (int i = 0; i < ls->n; i++)
		n += ls->socks[i].leaving != 0;
	return n;
}

void
listeners_close_all(struct listeners *ls)
{
	for (int i = 0; i < ls->n; i++)
		close(ls->socks[i].fd);
	ls->n = 0;
	lsock_unindex(ls);
}

/*
 * The socket of an address in a slot, or -1 (none, or leaving); its
 * inode (0 with -1) in *ino unless ino is NULL.
 */
int
listeners_fd(const struct listeners *ls, const struct conf_listen *l,
    int slot, ino_t *ino)
{
	const struct lsock	*s = lsock_find(ls, l, slot);

	if (s != NULL && s->leaving)
		s = NULL;
	if (ino != NULL)
		*ino = s != NULL ? s->ino : 0;
	return s != NULL ? s->fd : -1;
}

void
listeners_free(struct listeners *ls)
{
	listeners_close_all(ls);
	nofork_free(ls->socks);
	ls->socks = NULL;
	nofork_free(ls->index);
	nofork_free(ls->by_ino);
	ls->index = NULL;
	ls->by_ino = NULL;
	ls->index_size = 0;
}
