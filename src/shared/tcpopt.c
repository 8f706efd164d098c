/*
 * The TCP options of a service: keepalive, user_timeout, defer_accept,
 * nodelay, set on its listening sockets.
 *
 * Measured on Linux 6.18 (a listener given every option, a connection
 * accepted from it, getsockopt on both): the accepted socket starts with
 * the listener's SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT,
 * TCP_USER_TIMEOUT and TCP_NODELAY, since the kernel makes it as a copy
 * of the listener when the handshake completes (and starts its keepalive
 * timer then).  TCP_DEFER_ACCEPT is the listener's alone, and only
 * matters there.  So all of them are set on the listening sockets, and
 * an accepted connection costs no system call for them.  A connection
 * already queued when a reload changes them keeps the old ones: it was
 * copied before.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_net.h"
#include "tcpopt.h"

/* One keepalive timing, and where the kernel keeps its default. */
struct timing {
	int		 name;
	const char	*text;
	const char	*sysctl;
};

static const struct timing idle = {
	TCP_KEEPIDLE, "TCP_KEEPIDLE", "/proc/sys/net/ipv4/tcp_keepalive_time"
};
static const struct timing interval = {
	TCP_KEEPINTVL, "TCP_KEEPINTVL", "/proc/sys/net/ipv4/tcp_keepalive_intvl"
};
static const struct timing count = {
	TCP_KEEPCNT, "TCP_KEEPCNT", "/proc/sys/net/ipv4/tcp_keepalive_probes"
};

/*
 * Tests only, and a no-op without test hooks: the option named by
 * $TCPD_TEST_TCPOPT_FAIL is refused, as a kernel without it would.
 */
static int
test_refused(const char *text)
{
#ifdef TCPD_TEST_HOOKS
	const char	*s = getenv("TCPD_TEST_TCPOPT_FAIL");

	if (s != NULL && strcmp(s, text) == 0) {
		errno = ENOPROTOOPT;
		return 1;
	}
#else
	(void)text;
#endif
	return 0;
}

/* setsockopt of an int; on failure, which option into *what. */
static int
set_int(int fd, int level, int name, const char *text, int v,
    const char **what)
{
	if (test_refused(text) ||
	    setsockopt(fd, level, name, &v, sizeof(v)) == -1) {
		*what = text;
		return -1;
	}
	return 0;
}

/* An option that takes its "off" or "the kernel's" as 0: set if changed. */
static int
set_plain(int fd, int level, int name, const char *text, int want,
    int *have, const char **what)
{
	if (want == *have)
		return 0;
	if (set_int(fd, level, name, text, want, what) == -1)
		return -1;
	*have = want;
	return 0;
}

/* The value of a sysctl of one integer, read from /proc/sys. */
static int
sysctl_int(const char *path, int *v)
{
	FILE	*fp;
	int	 rc = 0, saved;

	if ((fp = fopen(path, "re")) == NULL)
		return -1;
	if (fscanf(fp, "%d", v) != 1) {
		errno = EINVAL;
		rc = -1;
	}
	saved = errno;
	fclose(fp);
	errno = saved;
	return rc;
}

/*
 * One keepalive timing.  A socket never given one follows its sysctl,
 * even one changed later; but the kernel takes no 0 to mean "back to the
 * sysctl" (EINVAL), so a timing no longer asked for is set to the
 * sysctl's value read now, and read again at each later reload.  The
 * other way, setting these on every accepted socket, would cost three
 * system calls per connection for the sake of a rare reload.
 */
static int
set_timing(int fd, const struct timing *t, int want, int *have,
    const char **what)
{
	int	 v = want;

	if (want == 0 && *have == 0)
		return 0;
	if (want != 0 && want == *have)
		return 0;
	if (want == 0 && sysctl_int(t->sysctl, &v) == -1) {
		*what = t->sysctl;
		return -1;
	}
	if (set_int(fd, IPPROTO_TCP, t->name, t->text, v, what) == -1)
		return -1;
	*have = want != 0 ? want : -1;
	return 0;
}

/*
 * Give listening socket fd the options of net, where they differ from
 * what *have says it has, and note in *have what it now has.  -1 with
 * errno and the option (or sysctl) that failed in *what; what was set
 * before it stays set, and *have says so.
 */
int
tcpopt_listener(int fd, struct tcpopt *have, const struct conf_net *net,
    const char **what)
{
	if (set_plain(fd, SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE",
	    net->keepalive, &have->keepalive, what) == -1 ||
	    set_timing(fd, &idle, net->keepalive_idle, &have->idle,
	    what) == -1 ||
	    set_timing(fd, &interval, net->keepalive_interval,
	    &have->interval, what) == -1 ||
	    set_timing(fd, &count, net->keepalive_count, &have->count,
	    what) == -1)
		return -1;
	if (set_plain(fd, IPPROTO_TCP, TCP_NODELAY, "TCP_NODELAY",
	    net->nodelay, &have->nodelay, what) == -1 ||
	    set_plain(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT",
	    net->defer_accept, &have->defer_accept, what) == -1)
		return -1;
	/* In ms; conf_net.c bounds it so that this fits an int. */
	if (net->user_timeout != have->user_timeout) {
		if (set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT,
		    "TCP_USER_TIMEOUT", net->user_timeout * 1000, what) == -1)
			return -1;
		have->user_timeout = net->user_timeout;
	}
	return 0;
}
