/*
 * A connection's life on the loop: given to its handler (or refused),
 * its bytes read, the output queue and its flush, the gentle end (our
 * FIN, then read to the peer's), its deadlines, and what it asks of the
 * loop.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "admission.h"
#include "conf.h"
#include "conn.h"
#include "conn_int.h"
#include "conn_timer.h"
#include "log.h"
#include "services/service.h"
#include "util.h"

#define NOW(s)	((s)->loop->now)

/* Bytes moved: the idle clock starts again. */
static void
touch(struct conn *c)
{
	struct conn_set	*s = c->set;

	if (c->list == &s->idle && c->deadline != NOW(s) + s->idle_ms)
		conn_timer_set(&s->idle, c, NOW(s) + s->idle_ms);
}

static size_t
pending(const struct conn *c)
{
	return c->outlen - c->outoff;
}

/* A read or write failed: the peer reset, or worse. */
static void
conn_fail(struct conn *c, const char *op)
{
	if (errno == ECONNRESET || errno == EPIPE) {
		if (c->closer == NULL)
			c->closer = "client";
		c->flags |= CONN_RESET;
		conn_close(c, "reset by peer");
		return;
	}
	c->error = errno;
	conn_close(c, op);
}

/* Our FIN is out: read what the peer still sends, until its FIN. */
static void
conn_linger(struct conn *c)
{
	struct conn_set	*s = c->set;

	if (c->flags & CONN_PEER_EOF) {
		conn_close(c, c->reason);
		return;
	}
	if (shutdown(c->io.fd, SHUT_WR) == -1 && errno != ENOTCONN) {
		conn_fail(c, "shutdown");
		return;
	}
	c->flags |= CONN_SHUT_WR | CONN_LINGERING;
	c->flags &= ~(CONN_FINISHING | CONN_WANT_WRITE);
	if (c->closer == NULL)
		c->closer = "server";
	conn_timer_set(&s->linger, c, NOW(s) + CONN_LINGER_MS);
	conn_update(c);
}

static void
conn_linger_read(struct conn *c)
{
	ssize_t	 n;

	n = conn_read(c, c->set->scratch, c->set->scratchlen);
	if (n == 0)
		conn_close(c, c->reason);
}

/*
 * Read into buf.  Returns the byte count; 0 at the peer's FIN (reading
 * then stops); -1 when nothing is there, or on an error, which has
 * closed the connection.
 */
ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	ssize_t	 n;

	do {
		n = read(c->io.fd, buf, len);
	} while (n == -1 && errno == EINTR);
	if (n > 0) {
		c->bytes_in += n;
		touch(c);
		return n;
	}
	if (n == 0) {
		/* conn_io stops reading after the callback, if still open. */
		c->flags |= CONN_PEER_EOF;
		if (c->closer == NULL)
			c->closer = "client";
		return 0;
	}
	if (errno != EAGAIN)
		conn_fail(c, "read");
	return -1;
}

/* Send what is queued; called when the socket has room. */
static void
conn_flush(struct conn *c)
{
	ssize_t	 n;

	n = send(c->io.fd, c->out + c->outoff, pending(c), MSG_NOSIGNAL);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(c, "write");
		return;
	}
	c->outoff += n;
	c->bytes_out += n;
	touch(c);
	if (pending(c) > 0)
		return;
	/* Drained: an idle connection holds no buffer. */
	free(c->out);
	c->out = NULL;
	c->outoff = c->outlen = 0;
	if (c->flags & CONN_FINISHING)
		conn_linger(c);
}

/*
 * Send len bytes, queueing what the kernel does not take now.  Returns
 * how many were taken: fewer than len only when the queue is full (or
 * the connection has ended).  Reading pauses while anything is queued,
 * so a peer that does not read cannot make tcpd buffer without bound.
 */
size_t
conn_write(struct conn *c, const void *data, size_t len)
{
	size_t	 done = 0, room, keep;
	ssize_t	 n;
	char	*out;

	if (c->flags & (CONN_CLOSED | CONN_SHUT_WR))
		return 0;
	if (pending(c) == 0) {
		n = send(c->io.fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			done = n;
			c->bytes_out += n;
			touch(c);
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			conn_fail(c, "write");
			return 0;
		}
		if (done == len)
			return len;
	}
	room = CONN_OUT_MAX - pending(c);
	keep = len - done < room ? len - done : room;
	if (keep == 0)
		return done;
	if (c->outoff > 0 && pending(c) > 0) {
		memmove(c->out, c->out + c->outoff, pending(c));
		c->outlen -= c->outoff;
		c->outoff = 0;
	}
	if ((out = realloc(c->out, c->outlen + keep)) == NULL) {
		conn_close(c, "out of memory");
		return done;
	}
	memcpy(out + c->outlen, (const char *)data + done, keep);
	c->out = out;
	c->outlen += keep;
	conn_update(c);
	return done + keep;
}

void *
conn_scratch(struct conn *c, size_t *len)
{
	*len = c->set->scratchlen;
	return c->set->scratch;
}

void
conn_want_write(struct conn *c, int on)
{
	if (on)
		c->flags |= CONN_WANT_WRITE;
	else
		c->flags &= ~CONN_WANT_WRITE;
	conn_update(c);
}

/*
 * End from our side, gently: send what is queued, then our FIN, then
 * read and drop what the peer still sends until its FIN (or a deadline),
 * and only then close.  Closing with its input unread would send an RST
 * that can destroy our last bytes before the peer reads them.
 */
void
conn_finish(struct conn *c, const char *reason)
{
	if (c->flags & (CONN_CLOSED | CONN_FINISHING | CONN_LINGERING))
		return;
	c->reason = reason;
	c->flags |= CONN_FINISHING;
	c->flags &= ~CONN_WANT_WRITE;
	if (pending(c) == 0)
		conn_linger(c);
	else
		conn_update(c);
}

/* Ask the loop for what the connection can use now, and nothing more. */
void
conn_update(struct conn *c)
{
	uint32_t	 ev = 0;

	if (c->flags & CONN_CLOSED)
		return;
	/* Peeked at, not read: edge-triggered, or woken for ever. */
	if (c->flags & CONN_PROXY_WAIT)
		ev |= EPOLLET | EPOLLRDHUP;
	if (!(c->flags & CONN_PEER_EOF) && pending(c) == 0)
		ev |= EPOLLIN;
	if (pending(c) > 0 || (c->flags & CONN_WANT_WRITE))
		ev |= EPOLLOUT;
	if (c->flags & CONN_OFF_LOOP) {
		if (conn_nonblock(c) == -1 ||
		    loop_add(c->set->loop, &c->io, c->io.fd, ev, c->io.cb) == -1)
			conn_fail(c, "epoll");
		else
			c->flags &= ~CONN_OFF_LOOP;
		return;
	}
	if (loop_set(c->set->loop, &c->io, ev) == -1)
		conn_fail(c, "epoll");
}

/* A connection on the loop with its timer, not yet shown to anyone. */
static struct conn *
conn_alloc(struct conn_set *s, int fd, const struct sockaddr_storage *peer,
    socklen_t peerlen)
{
	return conn_make(s, fd, peer, peerlen, conn_io, 1);
}

/*
 * A freshly accepted connection, handed to its handler; it holds what
 * it was admitted with until released.  A handler that gives the
 * socket away as it opens (exec) finds it off the loop, which spares an
 * epoll_ctl() to add it and one to take it off again.
 */
struct conn *
conn_new(struct conn_set *s, int fd, const struct sockaddr_storage *peer,
    socklen_t peerlen, const struct admitted *held)
{
	struct conn	*c;

	if ((c = conn_make(s, fd, peer, peerlen, conn_io,
	    !s->svc->detaches)) == NULL)
		return NULL;
	c->held = *held;
	conn_start(c);
	return c;
}

/* c, on the loop with its timer, to its handler. */
void
conn_start(struct conn *c)
{
	struct conn_set	*s = c->set;
	char		 who[ADDR_STRLEN];

	if (log_debugging()) {
		addr_text(&c->peer, who, sizeof(who));
		log_debug("%s %s: connected", s->name, who);
	}
	if (s->svc->open != NULL) {
		conn_ref(c);
		s->svc->open(c);
		conn_update(c);
		conn_unref(c);
	}
}

/* Refused: refuse_message, then ended gently, holding no unit. */
static void
conn_refusing(struct conn *c)
{
	const struct conf_net	*net = &c->set->conf->net;

	c->flags |= CONN_REFUSED;
	c->set->refusing++;
	if (net->refuse_message != NULL)
		conn_write(c, net->refuse_message, net->refuse_len);
	conn_finish(c, "refused");
}

/*
 * A connection refused before any handler: given refuse_message, then
 * ended like any other (our FIN, the peer's leftovers read until its
 * FIN), so that close() sends a FIN, never an RST over what the client
 * sent.  It holds no max_connections unit.  NULL when CONN_REFUSING_MAX
 * are ending already: the caller ends it at once.
 */
struct conn *
conn_refuse(struct conn_set *s, int fd, const struct sockaddr_storage *peer,
    socklen_t peerlen)
{
	struct conn		*c;

	if (s->refusing >= CONN_REFUSING_MAX ||
	    (c = conn_alloc(s, fd, peer, peerlen)) == NULL)
		return NULL;
	conn_refusing(c);
	return c;
}

/*
 * c, on the loop but not yet given to a handler (its PROXY header
 * awaited), is refused: it gives back its max_connections unit and is
 * finished as the heartbeat counts, then ends as a refusal does; at
 * once, its input read first, when CONN_REFUSING_MAX are ending.
 */
void
conn_refuse_late(struct conn *c)
{
	struct conn_set	*s = c->set;

	admission_give_back(s->adm, &c->held);
	s->released++;
	if (s->refusing < CONN_REFUSING_MAX) {
		conn_refusing(c);
		return;
	}
	c->flags |= CONN_REFUSED;
	s->refusing++;
	for (int i = 0; i < 16 && recv(c->io.fd, s->scratch, s->scratchlen,
	    MSG_DONTWAIT) > 0; i++)
		;
	shutdown(c->io.fd, SHUT_WR);
	conn_close(c, "refused");
}

/* End the connections whose deadline has passed. */
void
conn_expire(struct conn_set *s)
{
	struct conn	*c;

	while ((c = s->idle.head) != NULL && c->deadline <= NOW(s)) {
		/* Idle: nothing moves, so queued output never will. */
		free(c->out);
		c->out = NULL;
		c->outoff = c->outlen = 0;
		c->flags &= ~CONN_FINISHING;
		conn_finish(c, "idle timeout");
	}
	while ((c = s->linger.head) != NULL && c->deadline <= NOW(s))
		conn_close(c, c->reason);
}

void
conn_io(struct io *io, uint32_t ev)
{
	struct conn		*c = (struct conn *)io;
	const struct service	*svc = c->set->svc;

	conn_ref(c);
	if ((ev & EPOLLOUT) && pending(c) > 0)
		conn_flush(c);
	if (!(c->flags & CONN_CLOSED) && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    (c->io.events & EPOLLIN)) {
		if (c->flags & (CONN_LINGERING | CONN_REFUSED))
			conn_linger_read(c);
		else if (svc->input != NULL)
			svc->input(c);
		else
			conn_linger_read(c);
	}
	if (!(c->flags & CONN_CLOSED) && (ev & EPOLLOUT) && pending(c) == 0 &&
	    (c->flags & CONN_WANT_WRITE) && svc->writable != NULL)
		svc->writable(c);
	/* Errors and hang-ups nobody read about above. */
	if (!(c->flags & CONN_CLOSED) && (ev & (EPOLLERR | EPOLLHUP)) &&
	    !(c->io.events & EPOLLIN)) {
		int	 err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->io.fd, SOL_SOCKET, SO_ERROR, &err, &len);
		errno = err ? err : ECONNRESET;
		conn_fail(c, "socket");
	}
	if (!(c->flags & CONN_CLOSED))
		conn_update(c);
	conn_unref(c);
}

