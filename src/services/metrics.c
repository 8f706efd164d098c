/*
 * metrics: GET /metrics over HTTP/1.0 or 1.1, answered with the
 * master's figures in the Prometheus text format (the same figures as
 * tcpd -s status).  One request per connection; anything else gets a
 * 400, 404 or 405, and every answer ends the connection.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../conn.h"
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

/* The master's figures came (NULL: none did). */
void
metrics_answer(struct conn *c, const char *text, size_t len)
{
	if (c->flags & CONN_CLOSED)
		return;
	if (text == NULL) {
		metrics_error(c, 503, "Service Unavailable");
		return;
	}
	metrics_reply(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
	    text, len);
}

/*
 * A whole request is in hbuf: its first line says what.  The state's
 * bit 0x100 keeps the minor version, 0x200 a HEAD.
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
	if (strcmp(sp1, "/metrics") != 0 && strncmp(sp1, "/metrics?", 9) != 0) {
		metrics_error(c, 404, "Not Found");
		return;
	}
	c->state = M_WAITING | (c->state & 0x300);
	c->set->want(c->set->want_arg, c);
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
	if (strstr(c->hbuf, "\r\n\r\n") != NULL ||
	    strstr(c->hbuf, "\n\n") != NULL)
		metrics_request(c);
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
};
