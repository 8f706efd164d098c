/*
 * Connections from a trusted balancer wait on the worker's loop for
 * their PROXY header, never in an acceptor thread: peeked at (MSG_PEEK)
 * as it comes, parsed, then read to its last byte and not one past it,
 * so what follows is the handler's or the program's.  Then the header's
 * client is checked against the access rules and per_source, as the
 * peer is for other services, and the connection goes to its handler
 * as that client.  A missing, malformed, cut or late header is refused.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "admission.h"
#include "conf.h"
#include "conn.h"
#include "conn_int.h"
#include "conn_proxy.h"
#include "conn_timer.h"
#include "connlog.h"
#include "proxy.h"
#include "worker.h"

/* The most waiting at once: CONN_PROXY_WAITING_MAX, or a test's. */
static unsigned
waiting_max(void)
{
#ifdef TCPD_TEST_HOOKS
	const char	*s = getenv("TCPD_TEST_PROXY_WAITING");

	if (s != NULL && atoi(s) > 0)
		return (unsigned)atoi(s);
#endif
	return CONN_PROXY_WAITING_MAX;
}

/* A worker's set, before its first connection. */
void
conn_proxy_init(struct conn_set *s)
{
	s->proxy_ms = (int64_t)s->conf->net.proxy_timeout * 1000;
	s->proxy_max = waiting_max();
}

/* Refused, for why: counted, logged (client as known, proxy), ended. */
static void
refuse(struct conn *c, const struct sockaddr_storage *client, int kind,
    const char *why)
{
	struct conn_set	*s = c->set;

	if (s->beat != NULL)
		atomic_fetch_add_explicit(&s->beat->refused[kind], 1,
		    memory_order_relaxed);
	connlog_refused(s->name, c->io.fd, client, &c->peer, why);
	if (c->flags & CONN_PROXY_WAIT) {
		c->flags &= ~CONN_PROXY_WAIT;
		s->proxy_waiting--;
	}
	/* Off the proxy list: ended by the refusal's own timers. */
	if (s->idle_ms > 0)
		conn_timer_set(&s->idle, c, s->loop->now + s->idle_ms);
	else
		conn_timer_set(&s->untimed, c, 0);
	conn_refuse_late(c);
}

static void	conn_proxy_input(struct conn *, uint32_t);

/*
 * The loop's callback while the header is awaited: the handler sees
 * nothing before it is read.  Once it is (or the connection is refused),
 * the connection's events go where any connection's go.
 */
static void
proxy_io(struct io *io, uint32_t ev)
{
	struct conn	*c = (struct conn *)io;

	conn_ref(c);
	conn_proxy_input(c, ev);
	if (!(c->flags & CONN_PROXY_WAIT)) {
		c->io.cb = conn_io;
		if (!(c->flags & CONN_CLOSED))
			conn_io(io, ev);
	}
	conn_unref(c);
}

/*
 * A connection from a trusted proxy, holding what it was admitted with
 * (its max_connections unit): on the loop, its header awaited until proxy_timeout; or refused at
 * once when proxy_max wait already.  -1: it could not be set up (the
 * caller drops fd).
 */
int
conn_proxy_wait(struct conn_set *s, int fd,
    const struct sockaddr_storage *peer, socklen_t len,
    const struct admitted *held)
{
	struct conn	*c;

	/* The longest header there is, once a worker. */
	if (s->proxy_buf == NULL &&
	    (s->proxy_buf = malloc(PROXY_V2_MAX)) == NULL)
		return -1;
	if ((c = conn_make(s, fd, peer, len, proxy_io, 1)) == NULL)
		return -1;
	c->held = *held;
	c->flags |= CONN_PROXY_WAIT;
	s->proxy_waiting++;
	conn_timer_set(&s->proxy, c, s->loop->now + s->proxy_ms);
	if (s->proxy_waiting > s->proxy_max) {
		refuse(c, peer, REFUSED_PROXY, "too many connections waiting "
		    "for their PROXY header");
		return 0;
	}
	/* Edge-triggered from now: a peek leaves the bytes readable. */
	if (loop_set(s->loop, &c->io, EPOLLIN | EPOLLET | EPOLLRDHUP) == -1)
		conn_close(c, "epoll");
	return 0;
}

/* The header's client and the rest of what it says, into c. */
static int
take_header(struct conn *c, const struct proxy_hdr *h,
    struct sockaddr_storage *client, socklen_t *clientlen)
{
	struct conn_proxy	*px;
	static const char	 hex[] = "0123456789abcdef";

	if ((px = calloc(1, sizeof(*px))) == NULL)
		return -1;
	px->proxy = c->peer;
	*client = c->peer;
	*clientlen = c->peerlen;
	if (!h->local) {
		*client = h->src;
		*clientlen = h->addrlen;
		px->dst = h->dst;
	}
	snprintf(px->authority, sizeof(px->authority), "%s", h->authority);
	/* UNIQUE_ID is binary: hex, two digits a byte. */
	for (size_t i = 0; i < h->unique_id_len; i++) {
		px->unique_id[2 * i] = hex[(uint8_t)h->unique_id[i] >> 4];
		px->unique_id[2 * i + 1] = hex[(uint8_t)h->unique_id[i] & 15];
	}
	c->px = px;
	return 0;
}

/*
 * The header is whole in the socket: read exactly its bytes, then the
 * client it names is checked and, if admitted, given to the handler.
 */
static void
header_done(struct conn *c, const struct proxy_hdr *h)
{
	struct conn_set		*s = c->set;
	struct sockaddr_storage	 client;
	socklen_t		 clientlen;
	char			 why[ACCESS_TEXT_MAX + 32];
	int			 kind;
	ssize_t			 n;

	do {
		n = recv(c->io.fd, s->proxy_buf, h->len, MSG_DONTWAIT);
	} while (n == -1 && errno == EINTR);
	if (n != (ssize_t)h->len) {
		refuse(c, &c->peer, REFUSED_PROXY, "PROXY header lost "
		    "between peek and read");
		return;
	}
	if (take_header(c, h, &client, &clientlen) == -1) {
		refuse(c, &c->peer, REFUSED_PROXY, "out of memory");
		return;
	}
	if (!admission_admit(s->adm, &client, &c->held, &kind, why,
	    sizeof(why))) {
		refuse(c, &client, kind, why);
		return;
	}
	c->flags &= ~CONN_PROXY_WAIT;
	s->proxy_waiting--;
	memcpy(&c->peer, &client, clientlen);
	c->peerlen = clientlen;
	if (s->idle_ms > 0)
		conn_timer_set(&s->idle, c, s->loop->now + s->idle_ms);
	else
		conn_timer_set(&s->untimed, c, 0);
	conn_start(c);
}

/*
 * Its socket is readable, or the peer is done: peek at what came, as far
 * as the header can reach, and act on the verdict.
 */
static void
conn_proxy_input(struct conn *c, uint32_t ev)
{
	const struct conf_net	*net = &c->set->conf->net;
	struct proxy_hdr	 h;
	enum proxy_verdict	 v = PROXY_MORE;
	const char		*why = "no PROXY header";
	size_t			 want = 16;
	ssize_t			 n = 0;

	/* At most three peeks: 16 bytes, then as far as the header says. */
	for (int i = 0; i < 3 && v == PROXY_MORE; i++) {
		do {
			n = recv(c->io.fd, c->set->proxy_buf, want, MSG_PEEK |
			    MSG_DONTWAIT);
		} while (n == -1 && errno == EINTR);
		if (n <= 0)
			break;
		v = proxy_parse(c->set->proxy_buf, n, net->proxy_protocol, &h,
		    &why);
		if (v != PROXY_MORE || (size_t)n < want)
			break;
		want = proxy_need(c->set->proxy_buf, n);
	}
	if (v == PROXY_DONE)
		header_done(c, &h);
	else if (v == PROXY_BAD)
		refuse(c, &c->peer, REFUSED_PROXY, why);
	else if (n == -1 && errno != EAGAIN)
		refuse(c, &c->peer, REFUSED_PROXY, errno == ECONNRESET ?
		    "reset before its PROXY header" : "error before its PROXY "
		    "header");
	else if (n == 0 || (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		refuse(c, &c->peer, REFUSED_PROXY, n == 0 ? "closed before "
		    "any PROXY header" : "PROXY header cut short by the "
		    "client's FIN");
}

/* Refuse the connections whose proxy_timeout passed with no whole header. */
void
conn_proxy_expire(struct conn_set *s)
{
	struct conn	*c;
	char		 why[80];

	while ((c = s->proxy.head) != NULL && c->deadline <= s->loop->now) {
		snprintf(why, sizeof(why), "no whole PROXY header within "
		    "%d s", s->conf->net.proxy_timeout);
		refuse(c, &c->peer, REFUSED_PROXY, why);
	}
}
