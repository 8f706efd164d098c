/*
 * faultload: open-loop connection load for the fault tests.  Starts R
 * connections a second, each sending S bytes and reading them back, and
 * counts every failure by kind: refused, reset, short read, wrong bytes,
 * no answer in time; and the successes that took 500 ms or more (slow).
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXSIZE	4096

enum result { OK, REFUSED, RESET, SHORT, MISMATCH, TIMEOUT, OTHER, NRESULTS };
static const char *const names[NRESULTS] = {
	"ok", "refused", "reset", "short", "mismatch", "timeout", "other"
};

struct conn {
	int		 fd;
	int		 connected;
	uint32_t	 seed;
	size_t		 sent, got;
	int64_t		 start;
	struct conn	*prev, *next;	/* in start order, for timeouts */
};

static struct sockaddr_in	 addr;
static size_t			 size = 32;
static long			 counts[NRESULTS];
static struct conn		*oldest, *newest;
static long			 inflight;
static int			*lat_ms;
static long			 nlat, latcap;

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The payload of a connection: bytes from its seed. */
static unsigned char
payload(uint32_t seed, size_t i)
{
	uint32_t	 x = seed ^ (uint32_t)(i * 2654435761u);

	x ^= x >> 13;
	x *= 0x5bd1e995;
	return (unsigned char)(x >> 24);
}

static void
finish(int ep, struct conn *c, enum result r, int64_t now)
{
	counts[r]++;
	if (r == OK) {
		if (nlat == latcap) {
			latcap = latcap ? latcap * 2 : 4096;
			lat_ms = realloc(lat_ms, latcap * sizeof(*lat_ms));
		}
		lat_ms[nlat++] = (int)(now - c->start);
	}
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev) c->prev->next = c->next; else oldest = c->next;
	if (c->next) c->next->prev = c->prev; else newest = c->prev;
	inflight--;
	free(c);
}

static enum result
classify(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return REFUSED;
	case ECONNRESET:
	case EPIPE:
		return RESET;
	default:
		return OTHER;
	}
}

static void
start_one(int ep, uint32_t seed, int64_t now)
{
	struct conn		*c = calloc(1, sizeof(*c));
	struct epoll_event	 ev;

	if (c == NULL)
		return;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->seed = seed;
	c->start = now;
	c->prev = newest;
	if (newest) newest->next = c; else oldest = c;
	newest = c;
	inflight++;
	if (c->fd == -1) {
		c->fd = open("/dev/null", O_RDONLY);
		finish(ep, c, OTHER, now);
		return;
	}
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 &&
	    errno != EINPROGRESS) {
		finish(ep, c, classify(errno), now);
		return;
	}
	ev.events = EPOLLOUT | EPOLLIN;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
io(int ep, struct conn *c, int64_t now)
{
	unsigned char	 buf[MAXSIZE];
	struct epoll_event ev;
	socklen_t	 len = sizeof(int);
	int		 err = 0;
	ssize_t		 n;

	if (!c->connected) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			finish(ep, c, classify(err), now);
			return;
		}
		c->connected = 1;
		for (size_t i = 0; i < size; i++)
			buf[i] = payload(c->seed, i);
		n = send(c->fd, buf, size, MSG_NOSIGNAL);
		if (n != (ssize_t)size) {
			finish(ep, c, n == -1 ? classify(errno) : OTHER, now);
			return;
		}
		c->sent = size;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	n = read(c->fd, buf, sizeof(buf));
	if (n == -1) {
		if (errno != EAGAIN)
			finish(ep, c, classify(errno), now);
		return;
	}
	if (n == 0) {
		finish(ep, c, SHORT, now);
		return;
	}
	for (ssize_t i = 0; i < n; i++)
		if (c->got + i >= size || buf[i] != payload(c->seed, c->got + i)) {
			finish(ep, c, MISMATCH, now);
			return;
		}
	c->got += n;
	if (c->got == size)
		finish(ep, c, OK, now);
}

static int
cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 evs[256];
	struct rlimit		 rl;
	double			 rate = 1000;
	long			 target, total;
	int			 seconds = 5, timeout = 5000, port = 0, ch, ep;
	const char		*host = "127.0.0.1";
	int64_t			 t0, now, end;
	uint32_t		 seed = 1;
	long			 failed = 0, slow = 0;

	while ((ch = getopt(argc, argv, "h:p:r:d:s:t:")) != -1) {
		switch (ch) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'd': seconds = atoi(optarg); break;
		case 's': size = (size_t)atoi(optarg); break;
		case 't': timeout = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: faultload -p port [-h host] "
			    "[-r conns/s] [-d seconds] [-s bytes] [-t timeout_ms]\n");
			return 2;
		}
	}
	if (port <= 0 || size == 0 || size > MAXSIZE || rate <= 0 ||
	    seconds <= 0 || seconds > 3600) {
		fprintf(stderr, "faultload: bad arguments\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons(port);
	inet_pton(AF_INET, host, &addr.sin_addr);
	ep = epoll_create1(EPOLL_CLOEXEC);

	t0 = now_ms();
	end = t0 + (int64_t)seconds * 1000;
	/* Start on schedule until the end; then wait for the stragglers. */
	total = (long)(rate * seconds);
	while ((now = now_ms()) < end || (long)(seed - 1) < total ||
	    inflight > 0) {
		/* On an absolute schedule: exactly rate x seconds in all. */
		target = (long)(rate * (double)((now < end ? now : end) - t0) /
		    1000.0);
		while ((long)(seed - 1) < target)
			start_one(ep, seed++, now);
		int n = epoll_wait(ep, evs, 256, 1);
		now = now_ms();
		for (int i = 0; i < n; i++)
			io(ep, evs[i].data.ptr, now);
		while (oldest != NULL && now - oldest->start >= timeout)
			finish(ep, oldest, TIMEOUT, now);
		if (now > end + timeout + 1000)
			break;		/* a hard bound, whatever happens */
	}
	for (int r = 1; r < NRESULTS; r++)
		failed += counts[r];
	qsort(lat_ms, nlat, sizeof(*lat_ms), cmp_int);
	printf("started=%lu", (unsigned long)(seed - 1));
	for (int r = 0; r < NRESULTS; r++)
		printf(" %s=%ld", names[r], counts[r]);
	for (long i = 0; i < nlat; i++)
		slow += lat_ms[i] >= 500;
	printf(" failed=%ld slow=%ld p50_ms=%d p99_ms=%d max_ms=%d "
	    "rate=%.0f/s\n", failed, slow, nlat ? lat_ms[nlat / 2] : 0,
	    nlat ? lat_ms[(nlat * 99) / 100] : 0,
	    nlat ? lat_ms[nlat - 1] : 0,
	    (double)(seed - 1) / seconds);
	return failed == 0 ? 0 : 1;
}
