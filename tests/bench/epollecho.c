/*
 * epollecho: a bare preforked echo server, one SO_REUSEPORT socket and
 * epoll loop per worker.  With -T, each worker accepts in a thread of its
 * own (blocking accept4, a queue, an eventfd to wake the loop), as tcpd
 * does, and nothing else: what that shape costs by itself.
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUF_SIZE	(64 * 1024)
#define MAX_EVENTS	256
#define MAX_WORKERS	64

/* A connection; out holds what the kernel did not take yet. */
struct conn {
	int		 fd;
	char		*out;
	size_t		 off, len;
};

static char			 buf[BUF_SIZE];
static volatile sig_atomic_t	 stopping;
/* -T: the acceptor thread's queue of fds, and the eventfd that wakes. */
static int			 threaded;
static pthread_mutex_t		 qlock = PTHREAD_MUTEX_INITIALIZER;
static int			*queue;
static size_t			 queued, queuecap;
static int			 efd = -1;
static int			 efd_mark;	/* its epoll data.ptr */

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* A listening socket on addr that shares its port with the other workers. */
static int
listen_on(const struct sockaddr_in *addr)
{
	int	 fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | (threaded ? 0 : SOCK_NONBLOCK) |
	    SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
	    bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == -1 ||
	    listen(fd, 4096) == -1) {
		perror("epollecho: listen");
		exit(1);
	}
	return fd;
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	free(c->out);
	free(c);
}

/* Send what is queued; returns -1 when the connection is gone. */
static int
flush(int ep, struct conn *c)
{
	struct epoll_event	 ev = { .data.ptr = c };
	ssize_t			 n;

	while (c->off < c->len) {
		n = send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN ? 0 : -1;
		c->off += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->off = c->len = 0;
	ev.events = EPOLLIN;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

/* Read once and write it back; keep what is left and stop reading. */
static int
echo(int ep, struct conn *c)
{
	struct epoll_event	 ev = { .events = EPOLLOUT, .data.ptr = c };
	ssize_t			 n, m;

	n = recv(c->fd, buf, sizeof(buf), 0);
	if (n == 0)
		return -1;
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	m = send(c->fd, buf, (size_t)n, MSG_NOSIGNAL);
	if (m == -1) {
		if (errno != EAGAIN)
			return -1;
		m = 0;
	}
	if (m == n)
		return 0;
	if ((c->out = malloc((size_t)(n - m))) == NULL)
		return -1;
	memcpy(c->out, buf + m, (size_t)(n - m));
	c->len = (size_t)(n - m);
	c->off = 0;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

/* Watch a new connection. */
static void
watch(int ep, int fd)
{
	struct epoll_event	 ev = { .events = EPOLLIN };
	struct conn		*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->fd = fd;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		conn_close(c);
}

/* Accept what is queued and watch each new connection. */
static void
accept_all(int ep, int lfd)
{
	int	 fd;

	while ((fd = accept4(lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1)
		watch(ep, fd);
}

/* -T: the acceptor thread: blocking accept4, queue, wake when it was empty. */
static void *
acceptor(void *arg)
{
	int		 lfd = *(int *)arg, fd, *q, wake;
	uint64_t	 one = 1;

	for (;;) {
		if ((fd = accept4(lfd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1)
			continue;
		pthread_mutex_lock(&qlock);
		if (queued == queuecap) {
			queuecap = queuecap ? queuecap * 2 : 64;
			if ((q = realloc(queue, queuecap * sizeof(*q))) == NULL)
				abort();
			queue = q;
		}
		queue[queued++] = fd;
		wake = queued == 1;
		pthread_mutex_unlock(&qlock);
		if (wake && write(efd, &one, sizeof(one)) == -1)
			abort();
	}
	return NULL;
}

/* -T, in the loop: watch what the acceptor queued. */
static void
take_queued(int ep)
{
	static int	*spare;
	static size_t	 sparecap;
	int		*batch;
	size_t		 n, cap;
	uint64_t	 count;

	if (read(efd, &count, sizeof(count)) == -1 && errno != EAGAIN)
		abort();
	pthread_mutex_lock(&qlock);
	batch = queue;
	n = queued;
	cap = queuecap;
	queue = spare;
	queuecap = sparecap;
	queued = 0;
	pthread_mutex_unlock(&qlock);
	for (size_t i = 0; i < n; i++)
		watch(ep, batch[i]);
	spare = batch;
	sparecap = cap;
}

/* One worker: its own socket, its own loop, until the parent goes. */
static void __attribute__((noreturn))
worker(const struct sockaddr_in *addr)
{
	struct epoll_event	 evs[MAX_EVENTS], ev = { .events = EPOLLIN };
	int			 ep, lfd, n;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	lfd = listen_on(addr);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		perror("epollecho: epoll");
		exit(1);
	}
	if (threaded) {
		static int	 arg;
		pthread_t	 t;

		arg = lfd;
		if ((efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
		    pthread_create(&t, NULL, acceptor, &arg) != 0) {
			perror("epollecho: acceptor");
			exit(1);
		}
		ev.data.ptr = &efd_mark;
		epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
	} else {
		ev.data.ptr = NULL;	/* NULL: the listening socket */
		epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	}
	for (;;) {
		n = epoll_wait(ep, evs, MAX_EVENTS, -1);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int rc;

			if (c == NULL) {
				accept_all(ep, lfd);
				continue;
			}
			if ((void *)c == &efd_mark) {
				take_queued(ep);
				continue;
			}
			if (c->len > 0)
				rc = flush(ep, c);
			else if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				rc = echo(ep, c);
			else
				rc = 0;
			if (rc == -1)
				conn_close(c);
		}
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 addr = { .sin_family = AF_INET };
	struct rlimit		 rl;
	struct sigaction	 sa;
	const char		*host = "127.0.0.1";
	pid_t			 pids[MAX_WORKERS];
	int			 ch, port = 7, nworkers = 2;

	while ((ch = getopt(argc, argv, "a:p:w:T")) != -1) {
		switch (ch) {
		case 'a': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'w': nworkers = atoi(optarg); break;
		case 'T': threaded = 1; break;
		default:
			fprintf(stderr, "usage: epollecho [-a addr] [-p port] "
			    "[-w workers] [-T]\n");
			return 2;
		}
	}
	if (nworkers < 1 || nworkers > MAX_WORKERS || port < 1 ||
	    port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
		fprintf(stderr, "epollecho: bad address or worker count\n");
		return 2;
	}
	addr.sin_port = htons((uint16_t)port);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;	/* no SA_RESTART: wait() returns */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (int i = 0; i < nworkers; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("epollecho: fork");
			return 1;
		}
		if (pids[i] == 0)
			worker(&addr);
	}
	/* The parent only waits: a dead worker, or a stop, ends them all. */
	while (!stopping && wait(NULL) == -1 && errno == EINTR)
		;
	for (int i = 0; i < nworkers; i++)
		kill(pids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}
