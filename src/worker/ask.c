/*
 * A worker asking its master for a text (the metrics, the health line),
 * on behalf of its connections: one question at a time, however many
 * wait; the answer, or none after ASK_DEADLINE_MS, goes to each of them.
 */
#include "config.h"

#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include "ask.h"
#include "conn.h"
#include "log.h"
#include "worker.h"

/* Give the answer (NULL: none) to every connection waiting. */
static void
ask_answer(struct ask *a, const char *text, size_t len)
{
	struct conn	**wait = a->wait;
	size_t		  n = a->nwait;

	a->wait = NULL;
	a->nwait = a->capwait = 0;
	a->deadline = 0;
	for (size_t i = 0; i < n; i++) {
		a->done(wait[i], text, len);
		conn_unref(wait[i]);
	}
	free(wait);
	free(a->text);
	a->text = NULL;
	a->len = 0;
}

/* c wants the text: it waits for the question out, or asks one. */
void
ask_want(struct ask *a, struct conn *c, int64_t now)
{
	struct worker_msg	 msg = { .type = a->type };
	struct conn		**w;


	if (a->nwait == a->capwait) {
		size_t cap = a->capwait ? a->capwait * 2 : 8;
		if ((w = realloc(a->wait, cap * sizeof(*w))) == NULL) {
			a->done(c, NULL, 0);
			return;
		}
		a->wait = w;
		a->capwait = cap;
	}
	conn_ref(c);
	a->wait[a->nwait++] = c;
	if (a->deadline != 0)
		return;
	a->deadline = now + ASK_DEADLINE_MS;
	msg.seq = ++a->seq;
	if (send(a->ctl, &msg, sizeof(msg), MSG_DONTWAIT | MSG_NOSIGNAL) ==
	    -1) {
		log_warn("%s: cannot ask the master", a->what);
		ask_answer(a, NULL, 0);
	}
}

/* A piece of the answer came. */
void
ask_piece(struct ask *a, const void *msg, size_t n)
{
	struct worker_piece	 h;
	char			*text;

	if (n < sizeof(h) || a->deadline == 0)
		return;
	memcpy(&h, msg, sizeof(h));
	if (h.seq != a->seq)
		return;		/* late, for a question given up */
	if (h.len != n - sizeof(h) || a->len + h.len > ASK_MAX ||
	    (text = realloc(a->text, a->len + h.len + 1)) == NULL) {
		ask_answer(a, NULL, 0);
		return;
	}
	memcpy(text + a->len, (const char *)msg + sizeof(h), h.len);
	a->text = text;
	a->len += h.len;
	a->text[a->len] = '\0';
	if (!h.more)
		ask_answer(a, a->text, a->len);
}

/* Milliseconds until the question out is given up; -1: none is out. */
int
ask_timeout(const struct ask *a, int64_t now)
{
	if (a->deadline == 0)
		return -1;
	return a->deadline > now ? (int)(a->deadline - now) : 0;
}

void
ask_expire(struct ask *a, int64_t now)
{
	if (a->deadline != 0 && now >= a->deadline) {
		log_warnx("%s: no answer from the master in %d ms", a->what,
		    ASK_DEADLINE_MS);
		ask_answer(a, NULL, 0);
	}
}
