/* A worker's accept threads, one per slot socket. */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "acceptor.h"
#include "admission.h"
#include "conf_net.h"
#include "connlog.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "util.h"

/* Interrupts a blocked accept4() when the worker stops accepting. */
#define WAKE_SIGNAL	SIGUSR2
/* "At max_connections" is said at most this often per socket. */
#define FULL_SAY_MS	10000
/* How long the acceptor rests when the system is out of fds or memory. */
#define BACKOFF_MS	100
/* The most connections shed in one go when out of fds. */
#define SHED_MAX	256

static void
wake_handler(int sig)
{
	(void)sig;
}

static int
reserve_fd(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/*
 * Out of fds, the queue would only grow, its clients waiting for nothing.
 * Give back the fd kept in reserve, take each queued connection with it
 * and end it at once with a FIN, then take the reserve again.
 */
static void
shed(struct acceptor *a)
{
	struct pollfd	 pfd = { .fd = a->fd, .events = POLLIN };
	int		 n = 0, fd;

	if (a->reserve != -1) {
		close(a->reserve);
		while (n < SHED_MAX && poll(&pfd, 1, 0) == 1) {
			if ((fd = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC)) ==
			    -1)
				break;
			admission_drop(a->adm, NULL, fd, NULL, NULL);
			n++;
		}
	}
	a->shed += n;
	a->reserve = reserve_fd();	/* if taken meanwhile: next time */
}

/*
 * Whether to accept now.  Not while the event loop leaves what it was
 * handed (it is hung: the watchdog will replace the worker, and what this
 * thread took would die with it, so new connections stay queued in the
 * socket the master holds); not while the service is at max_connections.
 */
static int
wait_turn(struct acceptor *a, struct admitted *held)
{
	if (a->stalled != NULL && a->stalled(a->arg)) {
		if (!a->paused)
			log_warnx("accept on %s: paused, the event loop has not "
			    "taken connections for %d ms", a->text,
			    HANDOFF_STALL_MS);
		a->paused = 1;
		sleep_ms(50);
		return 0;
	}
	if (a->paused) {
		log_notice("accept on %s: resumed", a->text);
		a->paused = 0;
	}
	if (admission_full(a->adm) &&
	    (a->full_said == 0 || loop_now_ms() - a->full_said >= FULL_SAY_MS)) {
		log_notice("%s: at max_connections (%d): new connections on %s "
		    "wait in its accept queue", a->name, a->adm->limit.max,
		    a->text);
		a->full_said = loop_now_ms();
	}
	return admission_take(a->adm, a->fd, &a->stop, &a->behind, held);
}

/*
 * Refuse peer: say so in the log, give back its max_connections unit,
 * and hand it to the loop to be given refuse_message and ended gently.
 */
static void
refuse(struct acceptor *a, struct accepted *c, int kind, const char *why)
{
	atomic_fetch_add_explicit(&a->refused[kind], 1, memory_order_relaxed);
	connlog_refused(a->name, c->fd, &c->peer, NULL, why);
	admission_give_back(a->adm, &c->held);
	c->refused = 1;
	a->handoff(a->arg, c);
}

/*
 * A connection: after saying a shortage is over, checked against the
 * access rules, then to the event loop.
 */
static void
took(struct acceptor *a, struct accepted *c)
{
	const struct conf_net	*net = a->net;
	char			 why[ACCESS_TEXT_MAX + 32];
	int			 kind, i;

	/* A reserve lost to a shortage comes back first. */
	if (a->reserve == -1)
		a->reserve = reserve_fd();
	if (a->starved) {
		log_notice("accept on %s: recovered; %ld connection%s shed "
		    "meanwhile", a->text, a->shed, a->shed == 1 ? "" : "s");
		a->starved = 0;
		a->shed = 0;
	}
	/*
	 * Behind a balancer: the peer must be one trusted, and the client
	 * is checked once its header is read, on the loop.
	 */
	if (net->proxy_protocol != 0) {
		if (!access_match(net->trusted_index, net->trusted,
		    net->ntrusted, &c->peer, &i))
			refuse(a, c, REFUSED_PROXY, "not a trusted proxy");
		else {
			c->proxy = 1;
			a->handoff(a->arg, c);
		}
		return;
	}
	if (admission_admit(a->adm, &c->peer, &c->held, &kind, why,
	    sizeof(why)))
		a->handoff(a->arg, c);
	else
		refuse(a, c, kind, why);
}

/* accept4() failed with err: go on, shed, or rest, as it deserves. */
static void
on_error(struct acceptor *a, int err)
{
	switch (err) {
	case EINTR: case EAGAIN: case ECONNABORTED: case EPROTO:
	case EPERM:	/* a firewall said no */
	case ENETDOWN: case ENETUNREACH: case EHOSTDOWN: case EHOSTUNREACH:
	case ENONET: case ENOPROTOOPT: case EOPNOTSUPP: case ETIMEDOUT:
		/* That connection is gone; the next one may not be. */
		return;
	case EMFILE:
	case ENFILE:
		if (!a->starved)
			log_warn("accept on %s: shedding queued connections "
			    "until fds are free", a->text);
		a->starved = 1;
		shed(a);
		sleep_ms(BACKOFF_MS);
		return;
	case ENOBUFS:
	case ENOMEM:
		/* Spinning would not help: rest, then try again. */
		if (!a->starved)
			log_warn("accept on %s, backing off", a->text);
		a->starved = 1;
		sleep_ms(BACKOFF_MS);
		return;
	default:
		log_warn("accept on %s", a->text);
		sleep_ms(1000);
	}
}

/*
 * The accept loop.  It only accepts: the connection goes straight to the
 * worker's event loop, so no client can hold up the next accept.
 */
static void *
acceptor_main(void *arg)
{
	struct acceptor		*a = arg;
	struct accepted		 c;
	sigset_t		 set;

	sigemptyset(&set);
	sigaddset(&set, WAKE_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	a->reserve = reserve_fd();
	while (!atomic_load(&a->stop)) {
		c.held = ADMITTED_NONE;
		if (!wait_turn(a, &c.held))
			continue;
		c.len = sizeof(c.peer);
		c.refused = 0;
		c.proxy = 0;
		c.fd = accept4(a->fd, (struct sockaddr *)&c.peer, &c.len,
		    a->blocking ? SOCK_CLOEXEC : SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c.fd >= 0) {
			took(a, &c);
			continue;
		}
		admission_give_back(a->adm, &c.held);
		on_error(a, errno);
	}
	if (a->reserve != -1)
		close(a->reserve);
	atomic_store(&a->running, 0);
	return NULL;
}

/* Start accepting on a->fd, in a thread of its own. */
int
acceptor_start(struct acceptor *a)
{
	static int		 installed;
	struct sigaction	 sa;
	int			 rc;

	if (!installed) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = wake_handler;	/* no SA_RESTART: EINTR */
		sigemptyset(&sa.sa_mask);
		if (sigaction(WAKE_SIGNAL, &sa, NULL) == -1)
			return -1;
		installed = 1;
	}
	atomic_store(&a->stop, 0);
	atomic_store(&a->running, 1);
	if ((rc = pthread_create(&a->thread, NULL, acceptor_main, a)) != 0) {
		atomic_store(&a->running, 0);
		errno = rc;
		return -1;
	}
	return 0;
}

/*
 * Stop accepting.  The socket is shared with the master and with other
 * generations, so it is neither shut down nor given new flags: the thread
 * is woken out of accept4() by a signal, sent again until it has seen the
 * stop flag (one may land just before it blocks).
 */
void
acceptor_stop(struct acceptor *a)
{
	atomic_store(&a->stop, 1);
	for (int i = 0; atomic_load(&a->running) && i < 5000; i++) {
		pthread_kill(a->thread, WAKE_SIGNAL);
		sleep_ms(1);
	}
	if (atomic_load(&a->running))
		pthread_cancel(a->thread);
	pthread_join(a->thread, NULL);
}
