/*
 * The control socket: a unix stream socket, mode 0600, on which the
 * master answers one request per connection.  Nothing a client does can
 * hold the master: every read and write is non-blocking, a client has
 * CONTROL_DEADLINE_MS to send its request and take its answer, and at
 * most CONTROL_CLIENTS are served at once: a new one makes the oldest
 * expire, so that clients that say nothing cannot keep others out.
 */
#include "config.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define CONTROL_CLIENTS		8
/* Clients waiting for an outcome (a reload, the end): no deadline. */
#define CONTROL_HELD		8
/* Room for those, and for as many expired, freed between two waits. */
#define CONTROL_ROOM		(2 * CONTROL_CLIENTS + CONTROL_HELD)
#define CONTROL_DEADLINE_MS	2000
#define CONTROL_REQUEST_MAX	64

struct client {
	struct io	 io;
	struct control	*ctl;
	int64_t		 deadline;	/* INT64_MAX: held */
	uint64_t	 tag;		/* held for control_release(); 0: the end */
	char		 in[CONTROL_REQUEST_MAX];
	size_t		 inlen;
	char		*out;
	size_t		 outlen, outoff;
};

struct control {
	struct io	 io;
	struct loop	*loop;
	char		*path;
	control_answer	 answer;
	void		*arg;
	struct client	*clients[CONTROL_ROOM];
};

static void
client_free(struct client *c)
{
	struct control	*ctl = c->ctl;

	for (int i = 0; i < CONTROL_ROOM; i++)
		if (ctl->clients[i] == c)
			ctl->clients[i] = NULL;
	loop_del(ctl->loop, &c->io);
	close(c->io.fd);
	free(c->out);
	free(c);
}

/*
 * Throw away what the client sent beyond its request: a unix socket
 * closed with unread input makes the peer's next read fail with
 * ECONNRESET, before it has read the answer.
 */
static void
client_drain(int fd)
{
	char	 buf[4096];

	for (int i = 0; i < 16 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >
	    0; i++)
		;
}

/* Does the client wait for an outcome, with no deadline? */
static int
client_held(const struct client *c)
{
	return c->deadline == INT64_MAX;
}

/*
 * Send what is left of the answer; done, the connection closes, unless
 * the client is held to the master's end: then it stays open until the
 * master closes it (its exit), or the client does.
 */
static void
client_write(struct client *c)
{
	ssize_t	 n;

	while (c->outoff < c->outlen) {
		n = send(c->io.fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			client_free(c);
			return;
		}
		c->outoff += n;
	}
	if (client_held(c)) {
		free(c->out);
		c->out = NULL;
		c->outlen = c->outoff = 0;
		if (loop_set(c->ctl->loop, &c->io, EPOLLIN) == -1)
			client_free(c);
		return;
	}
	client_drain(c->io.fd);
	client_free(c);
}

/* Answer with out (NULL: none could be made), then close. */
static void
client_answer(struct client *c, char *out, size_t len)
{
	if ((c->out = out) == NULL) {
		client_free(c);
		return;
	}
	c->outlen = len;
	if (!client_held(c))
		shutdown(c->io.fd, SHUT_RD);
	if (loop_set(c->ctl->loop, &c->io, EPOLLOUT) == -1) {
		client_free(c);
		return;
	}
	client_write(c);
}

/* An error line, in the one style the answers share. */
static void
client_error(struct client *c, const char *what)
{
	char	*out;
	int	 n;

	n = asprintf(&out, "error: %s (status, status json, reload, quit, stop)\n", what);
	client_answer(c, n == -1 ? NULL : out, n == -1 ? 0 : (size_t)n);
}

/* How many clients are held now. */
static int
control_nheld(const struct control *ctl)
{
	int	 n = 0;

	for (int i = 0; i < CONTROL_ROOM; i++)
		if (ctl->clients[i] != NULL && client_held(ctl->clients[i]))
			n++;
	return n;
}

/*
 * A whole line is in: answer it now, or hold the client for the outcome
 * the answer names (then an answer given now is its first line).
 */
static void
client_request(struct client *c, char *line)
{
	struct control	*ctl = c->ctl;
	char		*out;
	size_t		 len = 0;
	int		 hold = 0;

	out = ctl->answer(ctl->arg, line, &len, &hold, &c->tag);
	if (hold && control_nheld(ctl) >= CONTROL_HELD) {
		free(out);
		client_error(c, "too many clients waiting");
		return;
	}
	if (hold)
		c->deadline = INT64_MAX;
	if (out != NULL)
		client_answer(c, out, len);
	else if (!hold)
		client_error(c, "unknown request");
}

/*
 * Read the request.  A line is a request; a NUL byte in it, even before
 * its newline, or a line longer than any request, is a bad one, answered
 * at once rather than left to the deadline.
 */
static void
client_cb(struct io *io, uint32_t ev)
{
	struct client	*c = container_of(io, struct client, io);
	char		*nl;
	size_t		 len;
	ssize_t		 n;

	if (c->out != NULL) {
		client_write(c);
		return;
	}
	(void)ev;
	if (client_held(c)) {
		/* Nothing more is asked of a held client: it left, or errs. */
		client_free(c);
		return;
	}
	n = recv(io->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen,
	    MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_free(c);
		return;
	}
	c->inlen += n;
	c->in[c->inlen] = '\0';
	nl = memchr(c->in, '\n', c->inlen);
	len = nl != NULL ? (size_t)(nl - c->in) : c->inlen;
	if (memchr(c->in, '\0', len) != NULL)
		client_error(c, "bad request");
	else if (nl != NULL) {
		*nl = '\0';
		client_request(c, c->in);
	} else if (c->inlen == sizeof(c->in) - 1)
		client_error(c, "bad request");	/* no request is that long */
}

static void
control_accept_cb(struct io *io, uint32_t ev)
{
	struct control	*ctl = container_of(io, struct control, io);
	struct client	*c, *oldest = NULL;
	int		 fd, slot = -1, live = 0;

	(void)ev;
	if ((fd = accept4(io->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1)
		return;
	for (int i = 0; i < CONTROL_ROOM; i++) {
		if ((c = ctl->clients[i]) == NULL) {
			slot = i;
			continue;
		}
		if (c->deadline <= ctl->loop->now || client_held(c))
			continue;	/* expired (freed after this batch), held */
		live++;
		if (oldest == NULL || c->deadline < oldest->deadline)
			oldest = c;
	}
	if (live >= CONTROL_CLIENTS)
		oldest->deadline = ctl->loop->now;
	if (slot == -1 || (c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->deadline = ctl->loop->now + CONTROL_DEADLINE_MS;
	if (loop_add(ctl->loop, &c->io, fd, EPOLLIN, client_cb) == -1) {
		close(fd);
		free(c);
		return;
	}
	ctl->clients[slot] = c;
}

/* Is something answering on path?  Then it is another master's. */
static int
in_use(const struct sockaddr_un *sun)
{
	int	 fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	return rc == 0;
}

static int
make_addr(const char *path, struct sockaddr_un *sun, char *err, size_t errlen)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "control socket %s: path too long (at "
		    "most %zu bytes)", path, sizeof(sun->sun_path) - 1);
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

/*
 * Listen on path: a socket file left by a master that is gone is
 * replaced, one that answers is another master's and refused.
 */
struct control *
control_open(struct loop *loop, const char *path, control_answer answer,
    void *arg, char *err, size_t errlen)
{
	struct control		*ctl;
	struct sockaddr_un	 sun;
	struct stat		 st;
	mode_t			 old;
	int			 fd, rc;

	if (make_addr(path, &sun, err, errlen) == -1)
		return NULL;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || in_use(&sun)) {
			snprintf(err, errlen, "control socket %s: %s", path,
			    S_ISSOCK(st.st_mode) ? "in use by another tcpd" :
			    "exists and is not a socket");
			return NULL;
		}
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		goto fail;
	old = umask(0177);		/* 0600: its owner only */
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || listen(fd, CONTROL_CLIENTS) == -1)
		goto fail;
	if ((ctl = calloc(1, sizeof(*ctl))) == NULL ||
	    (ctl->path = strdup(path)) == NULL) {
		free(ctl);
		goto fail;
	}
	ctl->loop = loop;
	ctl->answer = answer;
	ctl->arg = arg;
	if (loop_add(loop, &ctl->io, fd, EPOLLIN, control_accept_cb) == -1) {
		free(ctl->path);
		free(ctl);
		goto fail;
	}
	return ctl;
fail:
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	if (fd != -1) {
		close(fd);
		unlink(path);
	}
	return NULL;
}

/* Stop answering, and take the socket file away. */
void
control_close(struct control *ctl)
{
	if (ctl == NULL)
		return;
	for (int i = 0; i < CONTROL_ROOM; i++)
		if (ctl->clients[i] != NULL)
			client_free(ctl->clients[i]);
	loop_del(ctl->loop, &ctl->io);
	close(ctl->io.fd);
	unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}

/*
 * The outcome held clients wait for is known: answer text to each held
 * with a tag from from to upto, and close.
 */
void
control_release(struct control *ctl, uint64_t from, uint64_t upto,
    const char *text)
{
	for (int i = 0; ctl != NULL && i < CONTROL_ROOM; i++) {
		struct client *c = ctl->clients[i];
		char *out;

		if (c == NULL || !client_held(c) || c->tag < from ||
		    c->tag > upto || c->tag == 0 || c->out != NULL)
			continue;
		c->deadline = ctl->loop->now + CONTROL_DEADLINE_MS;
		out = strdup(text);
		client_answer(c, out, out != NULL ? strlen(out) : 0);
	}
}

/* Milliseconds until the next client's deadline; -1: none. */
int
control_timeout(const struct control *ctl)
{
	int64_t	 next = -1;

	for (int i = 0; ctl != NULL && i < CONTROL_ROOM; i++) {
		struct client *c = ctl->clients[i];
		if (c != NULL && !client_held(c) &&
		    (next == -1 || c->deadline < next))
			next = c->deadline;
	}
	if (next == -1)
		return -1;
	return next <= ctl->loop->now ? 0 : (int)(next - ctl->loop->now);
}

/* Close the clients that took too long; between two waits of the loop. */
void
control_expire(struct control *ctl)
{
	for (int i = 0; ctl != NULL && i < CONTROL_ROOM; i++) {
		struct client *c = ctl->clients[i];
		if (c != NULL && c->deadline <= ctl->loop->now)
			client_free(c);
	}
}

/*
 * tcpd -s: send request to the master on path, copy its answer to out.
 * -1 with err set when it cannot be asked.
 */
int
control_ask(const char *path, const char *request, FILE *out, char *err,
    size_t errlen)
{
	struct sockaddr_un	 sun;
	char			 buf[8192];
	ssize_t			 n;
	size_t			 got = 0;
	int			 fd;

	if (make_addr(path, &sun, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot reach the master on %s: %s",
		    path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	dprintf(fd, "%s\n", request);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, n, out);
		got += n;
	}
	close(fd);
	if (n == -1 || got == 0) {
		snprintf(err, errlen, "no answer from the master on %s: %s",
		    path, n == -1 ? strerror(errno) : "it closed the connection");
		return -1;
	}
	return 0;
}
