/* A worker's connection timers: lists kept sorted by appending, O(1) each. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "conn_timer.h"

/* Take c off its timer list, if it is on one. */
void
conn_timer_clear(struct conn *c)
{
	struct conn_list	*l = c->list;

	if (l == NULL)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	c->list = NULL;
}

/*
 * Put c at the end of l, due at deadline: every deadline in a list is
 * now + the list's one delay, so the end is where it belongs.
 */
void
conn_timer_set(struct conn_list *l, struct conn *c, int64_t deadline)
{
	conn_timer_clear(c);
	c->deadline = deadline;
	c->list = l;
	c->prev = l->tail;
	c->next = NULL;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

/* Milliseconds until the next deadline, or -1 for none. */
int
conn_timer_next(const struct conn_set *s)
{
	int64_t	 next = -1, now = s->loop->now;

	if (s->idle.head != NULL)
		next = s->idle.head->deadline;
	if (s->linger.head != NULL &&
	    (next == -1 || s->linger.head->deadline < next))
		next = s->linger.head->deadline;
	if (s->proxy.head != NULL &&
	    (next == -1 || s->proxy.head->deadline < next))
		next = s->proxy.head->deadline;
	if (next == -1)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}
