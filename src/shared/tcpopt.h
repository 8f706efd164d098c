/* The TCP options a service's listening sockets pass on to connections. */
#ifndef TCPD_TCPOPT_H
#define TCPD_TCPOPT_H

struct conf_net;

/*
 * What one listening socket was last given.  All zero for a new socket:
 * nothing set, the kernel's defaults.  A keepalive timing of -1 was set
 * back to its sysctl's value (see tcpopt.c).
 */
struct tcpopt {
	int	 keepalive;
	int	 idle;		/* seconds */
	int	 interval;	/* seconds */
	int	 count;		/* probes */
	int	 user_timeout;	/* seconds */
	int	 defer_accept;	/* seconds */
	int	 nodelay;
};

int	tcpopt_listener(int fd, struct tcpopt *, const struct conf_net *,
	    const char **what);

#endif
