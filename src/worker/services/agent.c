/*
 * agent: one line for HAProxy's agent-check, then close.  The line says
 * what the master says (health.c): "drain" while tcpd drains or stops,
 * "down" while a slot has no worker serving (new connections hashed to
 * it would wait), else "ready up N%", N the capacity free.  What the
 * balancer sends (agent-send) is read and dropped.  With no answer from
 * the master, nothing is written: the balancer keeps what it knew.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "health.h"
#include "worker.h"
#include "service.h"

enum {
	AG_WAITING,	/* for the master's line */
	AG_DONE,
};

/* Ask the master first: every answer is about now. */
static void
agent_open(struct conn *c)
{
	c->state = AG_WAITING;
	c->set->want(c->set->want_arg, c, WORKER_HEALTH);
}

/* The line for h, as HAProxy's agent-check reads it. */
static int
agent_line(const struct health *h, char *line, size_t len)
{
	if (strcmp(h->state, "serving") != 0)
		return snprintf(line, len, "drain\n");
	if (h->out > 0)
		return snprintf(line, len, "down\n");
	return snprintf(line, len, "ready up %d%%\n", h->weight);
}

/* The master's line came (NULL: none did). */
static void
agent_answer(struct conn *c, const char *text, size_t len)
{
	struct health	 h;
	char		 line[32];
	int		 n;

	if ((c->flags & CONN_CLOSED) || c->state != AG_WAITING)
		return;
	c->state = AG_DONE;
	if (health_parse(text, len, &h) == -1) {
		conn_finish(c, "no answer from the master");
		return;
	}
	n = agent_line(&h, line, sizeof(line));
	conn_write(c, line, n);
	conn_finish(c, "answered");
}

/* Whatever the balancer sends goes. */
static void
agent_input(struct conn *c)
{
	size_t	 len;
	char	*buf = conn_scratch(c, &len);

	(void)conn_read(c, buf, len);
}

const struct service service_agent = {
	.name = "agent",
	.open = agent_open,
	.input = agent_input,
	.answer = agent_answer,
};
