/*
 * metrics: GET /metrics over HTTP/1.0 or 1.1, answered with the
 * master's figures in the Prometheus text format (the same figures as
 * tcpd -s status); GET /ready, 200 while tcpd serves with every slot
 * served, else 503, for a balancer or a readiness probe.  One request
 * per connection; anything else gets a 400, 404, 405 or 431, and every
 * answer ends the connection.  A request
 * that cannot become whole (a NUL byte, a bare CR, mixed line ends) gets
 * its 400 as soon as that is seen, not at the idle timeout.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "health.h"
#include "worker.h"
#include "service.h"

/* The most a request (its line and headers) may take. */
#define REQUEST_MAX	8192

enum {
	M_READING,	/* the request, into hbuf */
	M_WAITING,	/* for the master's figures */
	M_WRITING,	/* the answer, from hbuf */
	M_DONE,
};

/* Send what is left of the answer; all sent, finish. */
static void
metrics_flush(struct conn *c)
{
	size_t	 n;

	n = conn_write(c, c->hbuf + c->hoff, c->hlen - c->hoff);
	c->hoff += n;
	if (c->hoff < c->hlen && !(c->flags & (CONN_CLOSED | CONN_SHUT_WR))) {
		conn_want_write(c, 1);
		return;
	}
	c->state = M_DONE;
	conn_want_write(c, 0);
	conn_finish(c, "answered");
}

/* The whole answer into hbuf, then out. */
static void
metrics_reply(struct conn *c, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	char	 head[256];
	int	 n;

	n = snprintf(head, sizeof(head), "HTTP/1.%d %d %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", (c->state >> 8) & 1, code, reason,
	    type, len);
	free(c->hbuf);
	c->hlen = c->hoff = 0;
	if ((c->hbuf = malloc(n + len)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	memcpy(c->hbuf, head, n);
	/* HEAD: the length of what GET would send, and no body. */
	if (!(c->state & 0x200))
		memcpy(c->hbuf + n, body, len);
	c->hlen = n + ((c->state & 0x200) ? 0 : len);
	c->state = M_WRITING | (c->state & 0x300);
	metrics_flush(c);
}

static void
metrics_error(struct conn *c, int code, const char *reason)
{
	char	 body[64];
	int	 n;

	n = snprintf(body, sizeof(body), "%d %s\n", code, reason);
	metrics_reply(c, code, reason, "text/plain; charset=utf-8", body, n);
}

/* The master's health line came: ready or not, and why not. */
static void
metrics_ready(struct conn *c, const char *text, size_t len)
{
	struct health	 h;
	char		 body[64];
	int		 n;

	if (health_parse(text, len, &h) == -1) {
		metrics_error(c, 503, "Service Unavailable");
		return;
	}
	if (health_ready(&h)) {
		metrics_reply(c, 200, "OK", "text/plain; charset=utf-8",
		    "ready\n", 6);
		return;
	}
	if (strcmp(h.state, "serving") != 0)
		n = snprintf(body, sizeof(body), "%s\n", h.state);
	else
		n = snprintf(body, sizeof(body), "%d slot%s down\n", h.out,
		    h.out == 1 ? "" : "s");
	metrics_reply(c, 503, "Service Unavailable",
	    "text/plain; charset=utf-8", body, n);
}

/* The master's figures, or its health line, came (NULL: none did). */
static void
metrics_answer(struct conn *c, const char *text, size_t len)
{
	if ((c->flags & CONN_CLOSED) || (c->state & 0xff) != M_WAITING)
		return;
	if (c->state & 0x400) {
		metrics_ready(c, text, len);
		return;
	}
	if (text == NULL) {
		metrics_error(c, 503, "Service Unavailable");
		return;
	}
	metrics_reply(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
	    text, len);
}

/*
 * A whole request is in hbuf: its first line says what.  The state's
 * bit 0x100 keeps the minor version, 0x200 a HEAD, 0x400 GET /ready.
 */
static void
metrics_request(struct conn *c)
{
	char	*line = c->hbuf, *sp1, *sp2, *end;

	end = strpbrk(line, "\r\n");
	*end = '\0';
	if ((sp1 = strchr(line, ' ')) == NULL ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL) {
		metrics_error(c, 400, "Bad Request");
		return;
	}
	*sp1++ = '\0';
	*sp2++ = '\0';
	if (strcmp(sp2, "HTTP/1.1") == 0)
		c->state |= 0x100;
	else if (strcmp(sp2, "HTTP/1.0") != 0) {
		metrics_error(c, 400, "Bad Request");
		return;
	}
	if (strcmp(line, "HEAD") == 0)
		c->state |= 0x200;
	else if (strcmp(line, "GET") != 0) {
		metrics_error(c, 405, "Method Not Allowed");
		return;
	}
	if (strcmp(sp1, "/ready") == 0 || strncmp(sp1, "/ready?", 7) == 0)
		c->state |= 0x400;
	else if (strcmp(sp1, "/metrics") != 0 &&
	    strncmp(sp1, "/metrics?", 9) != 0) {
		metrics_error(c, 404, "Not Found");
		return;
	}
	c->state = M_WAITING | (c->state & 0x700);
	c->set->want(c->set->want_arg, c, (c->state & 0x400) ?
	    WORKER_HEALTH : WORKER_METRICS);
}

/*
 * Where the request in buf stands: 1 its head is whole (it ends with an
 * empty line), 0 not yet, -1 malformed: a NUL byte, a CR with something
 * other than LF after it, or lines ending with CRLF and bare LF both (the
 * first line's end sets which).  What follows the head is not looked at.
 * Rescanned from the start on each read: it is at most REQUEST_MAX.
 */
static int
metrics_head(const char *buf, size_t len)
{
	size_t	 i, start = 0;
	int	 crlf = -1, cr;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\0')
			return -1;
		if (buf[i] == '\r') {
			if (i + 1 == len)
				return 0;	/* its LF may come next */
			if (buf[i + 1] != '\n')
				return -1;
			continue;
		}
		if (buf[i] != '\n')
			continue;
		cr = i > start && buf[i - 1] == '\r';
		if (crlf == -1)
			crlf = cr;
		else if (cr != crlf)
			return -1;
		if (i - start == (size_t)cr)
			return 1;		/* an empty line */
		start = i + 1;
	}
	return 0;
}

static void
metrics_input(struct conn *c)
{
	size_t	 len;
	char	*buf = conn_scratch(c, &len), *p;
	ssize_t	 n;

	if ((n = conn_read(c, buf, len)) <= 0) {
		/* A client that ends before its request is whole: done. */
		if (n == 0 && (c->state & 0xff) == M_READING)
			conn_finish(c, "client EOF");
		return;
	}
	if ((c->state & 0xff) != M_READING)
		return;		/* one request per connection: the rest goes */
	if (c->hlen + n > REQUEST_MAX) {
		metrics_error(c, 431, "Request Header Fields Too Large");
		return;
	}
	if ((p = realloc(c->hbuf, c->hlen + n + 1)) == NULL) {
		conn_close(c, "out of memory");
		return;
	}
	c->hbuf = p;
	memcpy(c->hbuf + c->hlen, buf, n);
	c->hlen += n;
	c->hbuf[c->hlen] = '\0';
	switch (metrics_head(c->hbuf, c->hlen)) {
	case 1:
		metrics_request(c);
		break;
	case -1:
		metrics_error(c, 400, "Bad Request");
		break;
	}
}

static void
metrics_writable(struct conn *c)
{
	if ((c->state & 0xff) == M_WRITING)
		metrics_flush(c);
}

const struct service service_metrics = {
	.name = "metrics",
	.input = metrics_input,
	.writable = metrics_writable,
	.answer = metrics_answer,
};
