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
#include "log.h"
#include "sockdiag.h"
#include "steer.h"
#include "tcpopt.h"
#include "util.h"

/* Tries at an address another master binds at the same moment. */
#define CLAIM_TRIES	5
/* The least pause between those tries, in ms. */
#define CLAIM_PAUSE_MS	5

/*
 * One listening socket: one address in one slot.  A socket whose address
 * or slot left the configuration is leaving: no worker is given it any
 * more, but the master holds it until no worker does (listeners_release),
 * so that the master's close is the last, and a reload that brings the
 * address back takes it again, queue and all.
 */
struct lsock {
	struct conf_listen	 l;
	int			 slot;
	int			 fd;
	ino_t			 ino;
	int			 backlog;
	struct tcpopt		 opt;	/* what it was given */
	int			 used;	/* by the configuration being applied */
	int			 leaving;	/* 2: being made to */
	int			 pos;	/* in its reuseport group's array */
	int			 steered; /* its group has a program */
};

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
	const unsigned char	*p = (const unsigned char *)&l->addr;
	unsigned		 h = 2166136261u ^ (unsigned)slot;

	for (socklen_t i = 0; i < l->addrlen; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
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

/* Empty the index: a socket went, so positions changed. */
static void
lsock_unindex(struct listeners *ls)
{
	ls->indexed = 0;
	if (ls->index != NULL)
		memset(ls->index, 0, ls->index_size * sizeof(*ls->index));
}

/* Bring the index up to ls->n sockets; -1 (memory): scan instead. */
static int
lsock_index(struct listeners *ls)
{
	int	*c, size = 64;

	if (ls->indexed > ls->n)
		lsock_unindex(ls);
	if (ls->index == NULL || ls->index_size < 4 * ls->n) {
		while (size < 4 * ls->n)
			size *= 2;
		if ((c = calloc(size, sizeof(*c))) == NULL)
			return -1;
		free(ls->index);
		ls->index = c;
		ls->index_size = size;
		ls->indexed = 0;
	}
	for (; ls->indexed < ls->n; ls->indexed++) {
		struct lsock *s = &ls->socks[ls->indexed];
		if (*(c = lsock_cell(ls, &s->l, s->slot)) == 0)
			*c = ls->indexed + 1;
		if (*(c = lsock_cell(ls, &s->l, -1)) == 0)
			*c = ls->indexed + 1;
	}
	return 0;
}

/*
 * The socket of address l in a slot (-1: any slot), leaving or not, or
 * NULL.
 */
static struct lsock *
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
static void
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
 * Does the kernel's group of s hold exactly the sockets the master's
 * picture has?  If not (a close that was not the last, a socket of
 * another process), the picture cannot steer.
 */
static int
lsock_group_checked(const struct listeners *ls, const struct lsock *s)
{
	ino_t	 kernel[256];
	int	 n, found;

	n = sockdiag_group(&s->l.addr, kernel, 256);
	if (n != lsock_group_size(ls, s))
		return 0;
	for (int i = 0; i < ls->n; i++) {
		if (!lsock_peer(&ls->socks[i], s))
			continue;
		found = 0;
		for (int k = 0; k < n && !found; k++)
			found = kernel[k] == ls->socks[i].ino;
		if (!found)
			return 0;
	}
	return 1;
}

/*
 * Steer the group of s: while some of its sockets leave and some stay,
 * new connections go to those that stay only; otherwise the kernel's
 * hash spreads them as usual.
 */
static void
lsock_steer(struct listeners *ls, struct lsock *s)
{
	int	 index[256], n = 0, leaving = 0, on, fd = -1;

	for (int i = 0; i < ls->n; i++) {
		struct lsock *p = &ls->socks[i];
		if (!lsock_peer(p, s))
			continue;
		if (p->leaving)
			leaving++;
		else if (n < 256) {
			index[n++] = p->pos;
			fd = p->fd;
		}
	}
	on = leaving > 0 && n > 0;
	if (on && !lsock_group_checked(ls, s)) {
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
	for (int i = 0; i < ls->n; i++)
		if (lsock_peer(&ls->socks[i], s))
			ls->socks[i].steered = on;
}

/* Steer every group as its sockets now stand. */
static void
listeners_steer(struct listeners *ls)
{
	for (int i = 0; i < ls->n; i++) {
		int first = 1;
		for (int k = 0; k < i && first; k++)
			first = !lsock_peer(&ls->socks[k], &ls->socks[i]);
		if (first)
			lsock_steer(ls, &ls->socks[i]);
	}
}

static int
addr_known(const struct listeners *ls, const struct conf_listen *l)
{
	return lsock_find(ls, l, -1) != NULL;
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
static int
listener_slots(struct listeners *ls, const struct conf_listen *l, int n,
    const struct conf_service *sv, char *err, size_t errlen)
{
	struct lsock	*s;
	struct stat	 st;
	const char	*what = NULL;
	int		 backlog = sv->backlog;

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
		/* listen() put it at the end of its group's array. */
		s->pos = lsock_group_size(ls, s);
		s->slot = k;
		s->backlog = backlog;
		s->used = 1;
		ls->n++;
	}
	return 0;
}

/*
 * Does a process other than this one listen on an address that clashes
 * with l?  1 (and which socket in who), 0, or -1 with errno when the
 * kernel cannot tell.  Ours are all the sockets in ls.
 */
static int
listener_foreign(const struct listeners *ls, const struct conf_listen *l,
    struct sockdiag_sock *who)
{
	ino_t		*ours;
	int		 rc, saved;

	if ((ours = calloc(ls->n ? ls->n : 1, sizeof(*ours))) == NULL)
		return -1;
	for (int i = 0; i < ls->n; i++)
		ours[i] = ls->socks[i].ino;
	rc = sockdiag_foreign(&l->addr, ours, ls->n, who);
	saved = errno;
	free(ours);
	errno = saved;
	return rc;
}

/* "address already in use", and by whom when another process listens. */
static void
listener_in_use(const struct conf_listen *l, const struct sockdiag_sock *who,
    char *err, size_t errlen)
{
	char	 text[ADDR_STRLEN];

	if (who == NULL) {
		snprintf(err, errlen, "cannot listen on %s: address already "
		    "in use", l->text);
		return;
	}
	addr_text(&who->addr, text, sizeof(text));
	if (strcmp(text, l->text) == 0)
		snprintf(err, errlen, "cannot listen on %s: address already "
		    "in use by another process (uid %lu)", l->text,
		    (unsigned long)who->uid);
	else
		snprintf(err, errlen, "cannot listen on %s: address already "
		    "in use by another process (uid %lu, listening on %s)",
		    l->text, (unsigned long)who->uid, text);
}

/*
 * sock_diag could not be asked.  Where the kernel lacks it, the probe is
 * all there is: say so once, and go on.  Any other failure is an error.
 */
static int
listener_unchecked(const struct conf_listen *l, char *err, size_t errlen)
{
	static int	 told;

	if (errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT ||
	    errno == ENOENT || errno == EOPNOTSUPP || errno == EPERM ||
	    errno == EACCES) {
		if (!told)
			log_notice("cannot ask the kernel who listens where "
			    "(sock_diag: %s): only a bind probe checks that "
			    "no other process listens on an address, and a "
			    "second tcpd started at the same moment could "
			    "share one unseen", strerror(errno));
		told = 1;
		return 0;
	}
	snprintf(err, errlen, "cannot listen on %s: cannot tell whether "
	    "another process listens there: %s", l->text, strerror(errno));
	return -1;
}

/* A random pause before try number n, so that two masters part ways. */
static long
claim_pause(int n)
{
	struct timespec	 ts;
	unsigned	 r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = ((unsigned)ts.tv_nsec ^ (unsigned)getpid()) * 2654435761u;
	return CLAIM_PAUSE_MS + (r >> 8) % (CLAIM_PAUSE_MS * 4 * n);
}

/*
 * Tests only, and a no-op without test hooks: at the first try, pause
 * before step 0 (binding), 1 (checking) or 2 (letting go) for as many
 * ms as $TCPD_TEST_CLAIM_DELAY_MS says ("bind[,check[,letgo]]"), as a
 * master preempted there would.
 */
static void
claim_test_delay(int try, int step, const struct conf_listen *l)
{
#ifdef TCPD_TEST_HOOKS
	static const char	*const names[] = {
		"binding", "checking", "letting go"
	};
	const char		*s = getenv("TCPD_TEST_CLAIM_DELAY_MS");
	long			 ms[3] = { 0, 0, 0 };

	if (try != 1 || s == NULL)
		return;
	sscanf(s, "%ld,%ld,%ld", &ms[0], &ms[1], &ms[2]);
	if (ms[step] > 0) {
		log_debug("test hook: %ld ms before %s %s", ms[step],
		    names[step], l->text);
		sleep_ms(ms[step]);
	}
#else
	(void)try;
	(void)step;
	(void)l;
#endif
}

/*
 * The slot sockets of an address none of ours is on yet, and no other
 * process's either.  The probe finds a listener that is already there.
 * Another master that probed at the same moment shows only once it has
 * bound, so the kernel is asked after listen(): of two masters racing,
 * the one that asks second sees the other, lets go, and fails at its
 * next probe.  When both see each other, both let go; their random
 * pauses before the next try let one of them have the address.
 */
static int
listener_claim(struct listeners *ls, const struct conf_listen *l, int n,
    const struct conf_service *sv, char *err, size_t errlen)
{
	struct sockdiag_sock	 who;
	int			 first = ls->n, rc;

	for (int try = 1; ; try++) {
		if (listener_probe(l) == -1) {
			if (errno != EADDRINUSE) {
				snprintf(err, errlen, "cannot listen on %s: %s",
				    l->text, strerror(errno));
				return -1;
			}
			/*
			 * In use by none but our own sockets, then: ones the
			 * configuration no longer has (it cannot have two that
			 * clash), leaving; new ones may bind beside them.
			 */
			if ((rc = listener_foreign(ls, l, &who)) != 0) {
				listener_in_use(l, rc == 1 ? &who : NULL, err,
				    errlen);
				return -1;
			}
		}
		claim_test_delay(try, 0, l);
		if (listener_slots(ls, l, n, sv, err, errlen) == -1)
			return -1;
		claim_test_delay(try, 1, l);
		if ((rc = listener_foreign(ls, l, &who)) != 1)
			return rc == 0 ? 0 : listener_unchecked(l, err, errlen);
		claim_test_delay(try, 2, l);
		while (ls->n > first)
			lsock_drop(ls, ls->n - 1);
		if (try == CLAIM_TRIES) {
			listener_in_use(l, &who, err, errlen);
			return -1;
		}
		log_debug("%s: another process listens there too: letting "
		    "go, trying again", l->text);
		sleep_ms(claim_pause(try));
	}
}

/*
 * Make sure every address of c has a socket for each of its slots
 * (counts[i] for service i, or the file's workers when counts is NULL):
 * existing ones are kept, with the new backlog and TCP options; the rest
 * are bound.  Kept and new ones are marked used.  On failure, what this
 * call bound is closed again and -1 returned with the reason in err; kept
 * sockets may hold some new options until a call with the running
 * configuration sets its own again.
 */
int
listeners_bind(struct listeners *ls, const struct conf *c, const int *counts,
    char *err, size_t errlen)
{
	int		 first_new = ls->n, total = ls->n, n, rc;
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
			if (addr_known(ls, l))
				rc = listener_slots(ls, l, n, sv, err, errlen);
			else
				rc = listener_claim(ls, l, n, sv, err, errlen);
			if (rc == -1)
				goto fail;
		}
	}
	return 0;
fail:
	while (ls->n > first_new)
		lsock_drop(ls, ls->n - 1);
	return -1;
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
 * Does process pid hold s?  A worker has its slot's sockets at the
 * numbers the master has them at.  When /proc does not say, it does.
 */
static int
lsock_held_by(const struct lsock *s, pid_t pid)
{
	char	 path[64], link[64], want[64];
	ssize_t	 n;

	snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)pid, s->fd);
	if ((n = readlink(path, link, sizeof(link) - 1)) == -1)
		return errno != ENOENT && errno != ESRCH;
	link[n] = '\0';
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)s->ino);
	return strcmp(link, want) == 0;
}

/*
 * Close each leaving socket that none of the processes in pids[] (the
 * workers, of every generation) holds any more: the master's close is
 * then the last one.  Returns how many still wait.
 */
int
listeners_release(struct listeners *ls, const pid_t *pids, int npids)
{
	int	 held, left = 0, closed = 0;

	for (int i = 0; i < ls->n; i++) {
		struct lsock *s = &ls->socks[i];
		if (!s->leaving)
			continue;
		held = 0;
		for (int k = 0; k < npids && !held; k++)
			held = lsock_held_by(s, pids[k]);
		if (held) {
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

/* The socket of an address in a slot, or -1 (none, or leaving). */
int
listeners_fd(const struct listeners *ls, const struct conf_listen *l,
    int slot)
{
	const struct lsock	*s = lsock_find(ls, l, slot);

	return s != NULL && !s->leaving ? s->fd : -1;
}

void
listeners_free(struct listeners *ls)
{
	listeners_close_all(ls);
	free(ls->socks);
	ls->socks = NULL;
	free(ls->index);
	ls->index = NULL;
	ls->index_size = 0;
}
