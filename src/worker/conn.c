/* One connection: made, referenced, closed and released, one close path. */
#include "config.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "conn.h"
#include "conn_int.h"
#include "conn_timer.h"
#include "connlog.h"
#include "log.h"
#include "services/service.h"
#include "tcpinfo.h"
#include "worker.h"
#include "util.h"

#define NOW(s)	((s)->loop->now)


/* The connections of a worker serving sv: none yet. */
void
conn_set_init(struct conn_set *s, struct loop *loop,
    const struct conf_service *sv, const struct admission *adm,
    char *scratch, size_t scratchlen)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->adm = adm;
	s->conf = sv;
	s->svc = sv->handler;
	s->name = sv->name;
	s->idle_ms = (int64_t)sv->idle_timeout * 1000;
	s->scratch = scratch;
	s->scratchlen = scratchlen;
}

/*
 * A connection with its timer, not yet shown to anyone, whose events go
 * to cb: on the loop, or (watch 0) off it until conn_update() first asks
 * for an event.
 */
struct conn *
conn_make(struct conn_set *s, int fd, const struct sockaddr_storage *peer,
    socklen_t peerlen, io_cb cb, int watch)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->set = s;
	c->refs = 1;			/* the loop's */
	c->started = NOW(s);
	c->held = ADMITTED_NONE;
	memcpy(&c->peer, peer, peerlen);
	c->peerlen = peerlen;
	c->io.fd = fd;
	c->io.cb = cb;
	/*
	 * A service whose handler gives the socket to a program has it
	 * accepted blocking, as the program wants it, which spares a system
	 * call a program; only what goes on the loop is made non-blocking.
	 */
	if (s->svc->detaches)
		c->flags |= CONN_BLOCKING;
	if (!watch)
		c->flags |= CONN_OFF_LOOP;
	else if (conn_nonblock(c) == -1 ||
	    loop_add(s->loop, &c->io, fd, EPOLLIN, cb) == -1) {
		free(c);
		return NULL;
	}
	if (s->idle_ms > 0)
		conn_timer_set(&s->idle, c, NOW(s) + s->idle_ms);
	else
		conn_timer_set(&s->untimed, c, 0);
	s->live++;
	return c;
}

/* The socket made non-blocking, for the loop, if it blocks. */
int
conn_nonblock(struct conn *c)
{
	int	 on = 1;

	if (!(c->flags & CONN_BLOCKING))
		return 0;
	if (ioctl(c->io.fd, FIONBIO, &on) == -1)
		return -1;
	c->flags &= ~CONN_BLOCKING;
	return 0;
}

void
conn_ref(struct conn *c)
{
	c->refs++;
}

/* Whether the connection log wants c's end: refusals have their line. */
static int
conn_logged(const struct conn *c)
{
	return c->set->conf->net.log_connections &&
	    log_level() >= LOG_INFO && !(c->flags & CONN_REFUSED);
}

/*
 * What close() is about to put on the wire, in the connection log's
 * words.  The kernel sends a FIN when the last reference to the socket
 * goes, but an RST instead when input is still unread (RFC 2525); after
 * shutdown() the FIN has left already; after the peer's RST, or an error
 * that ended the connection, there is nothing left to send.
 */
static const char *
wire_on_close(const struct conn *c, const struct tcpinfo *ti)
{
	int	 unread = 0;

	if (c->flags & CONN_RESET)
		return "peer-RST";
	if (c->error != 0 && ti != NULL && ti->state == TCPINFO_CLOSE)
		return "none";
	if (ioctl(c->io.fd, FIONREAD, &unread) == 0 && unread > 0)
		return "RST";
	if (c->flags & CONN_SHUT_WR)
		return "shutdown-FIN";
	return "FIN";
}

/*
 * The one place the worker closes its copy of a connection's socket, and
 * logs what that put on the wire: a FIN only if no other process holds
 * a copy.  A program's connection is logged when the program lets go.
 */
static void
conn_close_fd(struct conn *c)
{
	char		 who[ADDR_STRLEN];
	const char	*end = NULL;
	socklen_t	 len = sizeof(c->local);
	struct tcpinfo	 ti, *tip = NULL;

	if (c->io.fd != -1) {
		if (conn_logged(c)) {
			getsockname(c->io.fd, &c->local.sa, &len);
			/* What TCP measured, just before the close ends it. */
			if (c->holder == 0 && tcpinfo_get(c->io.fd, &ti) == 0)
				tip = &ti;
			if (c->holder == 0)
				end = wire_on_close(c, tip);
		}
		close(c->io.fd);
		c->io.fd = -1;
	}
	if (end != NULL)
		connlog_closed(c, end, tip);
	if (c->holder == 0 || !log_debugging())
		return;
	addr_text(&c->peer, who, sizeof(who));
	if (c->flags & CONN_GIVEN)
		log_debug("%s %s: handed to pid %ld; the worker closed its "
		    "copy before the program started, and that close sent "
		    "nothing: pid %ld holds the only copy", c->set->name, who,
		    (long)c->holder, (long)c->holder);
	else
		log_debug("%s %s: handed to pid %ld; the worker closed its "
		    "copy, and close() sent nothing: pid %ld still holds the "
		    "socket", c->set->name, who, (long)c->holder,
		    (long)c->holder);
}

/*
 * The worker lets go of c's socket, in flight to a program (fd passing)
 * that will hold the only copy: what the log wants of it is read first.
 * A program that ends at once then sends the FIN itself, never the
 * worker's close after it.
 */
void
conn_let_go(struct conn *c)
{
	socklen_t	 len = sizeof(c->local);

	if (conn_logged(c))
		getsockname(c->io.fd, &c->local.sa, &len);
	/*
	 * Off epoll first (a PROXY header was read there): once the fd is
	 * closed, only the socket's last close would take it off, and the
	 * program, or what it leaves, may hold the socket past this record.
	 */
	if (!(c->flags & CONN_OFF_LOOP)) {
		loop_del(c->set->loop, &c->io);
		c->flags |= CONN_OFF_LOOP;
	}
	close(c->io.fd);
	c->io.fd = -1;
	c->flags |= CONN_GIVEN;
}

/* The last reference is gone. */
static void
conn_release(struct conn *c)
{
	struct conn_set	*s = c->set;

	/* A program held it to the end: the kernel closed it at its exit. */
	if (c->holder != 0 && conn_logged(c))
		connlog_closed(c, "program", NULL);
	if (c->flags & CONN_REFUSED)
		s->refusing--;
	admission_give_back(s->adm, &c->held);
	if (s->beat != NULL && !(c->flags & CONN_REFUSED)) {
		atomic_fetch_add_explicit(&s->beat->bytes_in, c->bytes_in,
		    memory_order_relaxed);
		atomic_fetch_add_explicit(&s->beat->bytes_out, c->bytes_out,
		    memory_order_relaxed);
	}
	free(c->hbuf);
	free(c->px);
	if (c->flags & CONN_PROXY_WAIT)
		s->proxy_waiting--;
	s->live--;
	if (!(c->flags & CONN_REFUSED))
		s->released++;	/* a refused one was, as it came */
	free(c->out);
	free(c);
}

void
conn_unref(struct conn *c)
{
	if (--c->refs == 0)
		conn_release(c);
}

/*
 * Take c off the loop now, dropping queued output; the socket closes
 * when the last reference goes.
 */
void
conn_close(struct conn *c, const char *reason)
{
	if (c->flags & CONN_CLOSED)
		return;
	c->flags |= CONN_CLOSED;
	if (c->reason == NULL)
		c->reason = reason;
	if (c->closer == NULL)
		c->closer = "server";
	/*
	 * close() of the last fd of a socket takes it out of epoll: only
	 * when a program holds copies must the worker say so itself.  In a
	 * worker that starts programs, a child in execve() may hold a copy
	 * of any fd for a moment (vfork() lets the worker go on before the
	 * close-on-exec ones are closed), so there it always says so.
	 */
	if ((c->holder != 0 || c->set->svc->detaches) &&
	    !(c->flags & CONN_OFF_LOOP))
		loop_del(c->set->loop, &c->io);
	conn_timer_clear(c);
	conn_close_fd(c);
	conn_unref(c);
}

/*
 * Another process (a program) now holds the socket: it takes a reference,
 * given back with conn_unref() when it lets go, and the worker closes
 * its own copy, which sends nothing while the holder has one.
 */
void
conn_detach(struct conn *c, pid_t holder)
{
	c->holder = holder;
	conn_ref(c);
	conn_close(c, "handed to the program");
}

void
conn_close_all(struct conn_set *s, const char *reason)
{
	struct conn_list	*lists[] = { &s->idle, &s->linger, &s->untimed,
				    &s->proxy };

	for (size_t i = 0; i < nitems(lists); i++)
		while (lists[i]->head != NULL)
			conn_close(lists[i]->head, reason);
}
