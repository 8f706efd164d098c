/* What a draining worker waits for before it lets go of its sockets. */
#include "config.h"

#include <poll.h>
#include <stdlib.h>

#include "conf.h"
#include "drain.h"
#include "log.h"
#include "sockdiag.h"
#include "steer.h"

/* A socket that stays: its queue is taken for this long at most. */
#define DRAIN_MAX_MS		2000
/* A socket that closes: handshakes under way are waited for this long. */
#define DRAIN_HANDSHAKE_MS	3000
/* ... and its queue taken for this long at most (max_connections). */
#define DRAIN_CLOSING_MS	60000
/* The handshakes remembered per address; more are waited for by time. */
#define DRAIN_HANDSHAKES	4096

struct drain_sock {
	int				 fd;
	const struct conf_listen	*l;
	uint64_t			*hs;	/* cookies at the start */
	int				 nhs;	/* -1: too many, or unknown */
	int				 settled;
};

struct drain {
	struct drain_sock	*s;
	int			 n;
	int64_t			 start;
	int			 said;
};

/* Is a connection waiting in fd's accept queue? */
static int
drain_queued(int fd)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/*
 * The handshakes under way to d's address now: they may end in its
 * queue, and it closes only once they have ended one way or another.
 */
static void
drain_snapshot(struct drain_sock *d)
{
	int	 n;

	d->nhs = -1;
	if ((d->hs = calloc(DRAIN_HANDSHAKES, sizeof(*d->hs))) == NULL)
		return;
	n = sockdiag_handshakes(&d->l->addr, d->hs, DRAIN_HANDSHAKES);
	if (n >= 0 && n <= DRAIN_HANDSHAKES)
		d->nhs = n;
}

/* Have the handshakes of the snapshot all ended? */
static int
drain_settled(struct drain_sock *d, int64_t waited)
{
	uint64_t	*now;
	int		 n, left = 0;

	if (d->settled || d->nhs == 0 || waited >= DRAIN_HANDSHAKE_MS)
		return d->settled = 1;
	if (d->nhs < 0 || (now = calloc(DRAIN_HANDSHAKES,
	    sizeof(*now))) == NULL)
		return 0;	/* wait the time out */
	n = sockdiag_handshakes(&d->l->addr, now, DRAIN_HANDSHAKES);
	for (int i = 0; n >= 0 && i < d->nhs; i++)
		for (int k = 0; k < n && k < DRAIN_HANDSHAKES; k++)
			if (now[k] == d->hs[i]) {
				left++;
				break;
			}
	free(now);
	if (n < 0 || n > DRAIN_HANDSHAKES)
		return 0;
	return d->settled = left == 0;
}

/*
 * A worker told to drain: for each of its n sockets fds[i] (address
 * l[i]), what it waits for.  NULL out of memory: then it drains by time.
 */
struct drain *
drain_start(const int *fds, const struct conf_listen *l, int n, int64_t now)
{
	struct drain	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->s = calloc(n ? n : 1, sizeof(*d->s))) == NULL) {
		free(d);
		return NULL;
	}
	d->n = n;
	d->start = now;
	for (int i = 0; i < n; i++) {
		d->s[i].fd = fds[i];
		d->s[i].l = &l[i];
		if (steer_blocked(fds[i]))
			drain_snapshot(&d->s[i]);
	}
	return d;
}

/*
 * Has the worker taken all it must before it stops accepting?  From a
 * socket that stays (other workers accept on it), what is queued, for
 * DRAIN_MAX_MS at most.  From one that closes, which takes no new
 * connection (steer_block), everything: what is queued, and what the
 * handshakes under way at the start put there.
 */
int
drain_done(struct drain *d, int64_t now)
{
	int64_t	 waited;
	int	 done = 1;

	if (d == NULL)
		return 1;
	waited = now - d->start;
	for (int i = 0; i < d->n && done; i++) {
		struct drain_sock *s = &d->s[i];
		if (!steer_blocked(s->fd))
			done = waited >= DRAIN_MAX_MS || !drain_queued(s->fd);
		else if (waited >= DRAIN_CLOSING_MS) {
			if (!d->said && drain_queued(s->fd))
				log_warnx("%s: connections still queued after "
				    "%d s of draining are reset", s->l->text,
				    DRAIN_CLOSING_MS / 1000);
			d->said = 1;
		} else
			done = drain_settled(s, waited) && !drain_queued(s->fd);
	}
	return done;
}

void
drain_free(struct drain *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->n; i++)
		free(d->s[i].hs);
	free(d->s);
	free(d);
}
