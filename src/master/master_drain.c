/*
 * The master's drain for a balancer: -s drain and -s undrain, and the
 * drain_delay a graceful stop begins with.  While draining, everything is
 * accepted and served as usual; only what a balancer polls (the agent
 * handler, GET /ready) and status say so.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "master_int.h"

/* "serving", "draining" or "stopping": what status and balancers see. */
const char *
master_state(const struct master *m)
{
	if (m->stopping != STOP_NONE)
		return "stopping";
	if (m->drained || m->request != STOP_NONE)
		return "draining";
	return "serving";
}

/* Milliseconds until a graceful stop's drain ends; -1: none is under way. */
int64_t
master_stop_in(const struct master *m)
{
	if (m->stop_at == 0 || m->stopping != STOP_NONE)
		return -1;
	return m->stop_at > m->loop.now ? m->stop_at - m->loop.now : 0;
}

/*
 * A stop was asked for: is it due now (1), or still draining (0)?  A
 * graceful one first drains for drain_delay seconds, counted from
 * -s drain when that came earlier, so that a balancer polling tcpd takes
 * it out before its sockets close; a fast one, or one asked during that
 * drain, stops now.
 */
int
master_stop_due(struct master *m)
{
	int64_t	 delay = (int64_t)m->conf->drain_delay * 1000;

	if (m->request == STOP_DRAIN && m->stopping == STOP_NONE &&
	    delay > 0) {
		/* stop_at 0: not set yet (the monotonic clock is past it). */
		if (m->stop_at == 0) {
			m->stop_at = (m->drained ? m->drained_at : m->loop.now) +
			    delay;
			if (m->stop_at <= m->loop.now)
				m->stop_at = m->loop.now;
			else
				log_info("draining for %lld ms, then stopping "
				    "(graceful)",
				    (long long)(m->stop_at - m->loop.now));
		}
		if (m->loop.now < m->stop_at)
			return 0;
	}
	return 1;
}

/* The loop's timeout, ms: the sooner of other's and the drain's end. */
int
master_drain_timeout(const struct master *m, int other)
{
	int64_t	 left = master_stop_in(m);

	if (left < 0 || m->request == STOP_NONE)
		return other;
	return other == -1 || left < other ? (int)left : other;
}

/* "drain", "undrain": on the control socket only; the answer's text. */
const char *
master_drain_command(struct master *m, const char *request)
{
	if (strcmp(request, "drain") == 0) {
		if (!m->drained) {
			m->drained = 1;
			m->drained_at = m->loop.now;
			log_info("draining: told so (-s drain); serving as "
			    "usual until stopped or told -s undrain");
		}
		return "ok: draining\n";
	}
	if (m->drained) {
		m->drained = 0;
		log_info("serving again: told so (-s undrain)");
	}
	return "ok: serving\n";
}
