/* Who listens where: TCP listening sockets as the kernel's sock_diag reports them. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/inet_diag.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "sockdiag.h"

/* Room for one datagram of a dump, as ss(8) reads them. */
#define DIAG_BUFSIZE	32768
/* How long the kernel may take to answer, in seconds. */
#define DIAG_TIMEOUT	2

/* A netlink socket to sock_diag, whose reads give up after DIAG_TIMEOUT. */
static int
diag_open(void)
{
	struct timeval	 tv = { DIAG_TIMEOUT, 0 };
	int		 fd, saved;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* The port of an address, in network order; 0 with errno if none. */
static in_port_t
diag_port(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)addr)->sin_port;
	if (addr->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)(const void *)addr)->sin6_port;
	errno = EAFNOSUPPORT;
	return 0;
}

static int	diag_ask(int, int, in_port_t, uint32_t, uint32_t);

/*
 * Ask for the TCP sockets of a family listening on a port (network
 * order).  The kernel itself leaves out listeners on other ports.
 */
static int
diag_request(int fd, int family, in_port_t port, uint32_t seq)
{
	return diag_ask(fd, family, port, 1 << TCP_LISTEN, seq);
}

/* Ask for the TCP sockets of a family in states on a port (network order). */
static int
diag_ask(int fd, int family, in_port_t port, uint32_t states, uint32_t seq)
{
	struct sockaddr_nl	 nl = { .nl_family = AF_NETLINK };
	struct {
		struct nlmsghdr		 h;
		struct inet_diag_req_v2	 r;
	}			 req;
	ssize_t			 n;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = seq;
	req.r.sdiag_family = family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = states;
	req.r.id.idiag_sport = port;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	n = sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&nl,
	    sizeof(nl));
	if (n == -1)
		return -1;
	if (n != (ssize_t)sizeof(req)) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* The socket one answer describes, into s; -1 if it is not one. */
static int
diag_parse(struct nlmsghdr *h, struct sockdiag_sock *s)
{
	struct inet_diag_msg	*m = NLMSG_DATA(h);
	struct rtattr		*a;
	int			 len;

	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -1;
	memset(s, 0, sizeof(*s));
	if (m->idiag_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&s->addr;
		sin->sin_family = AF_INET;
		sin->sin_port = m->id.idiag_sport;
		memcpy(&sin->sin_addr, m->id.idiag_src, sizeof(sin->sin_addr));
	} else if (m->idiag_family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&s->addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = m->id.idiag_sport;
		memcpy(&sin6->sin6_addr, m->id.idiag_src,
		    sizeof(sin6->sin6_addr));
	} else
		return -1;
	s->inode = m->idiag_inode;
	s->uid = m->idiag_uid;
	len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
	a = (struct rtattr *)((char *)m + NLMSG_ALIGN(sizeof(*m)));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(a) >= 1)
			s->v6only = *(uint8_t *)RTA_DATA(a);
	return 0;
}

/* Could a connection meant for addr reach s, or one meant for s reach addr? */
static int
diag_clash(const struct sockaddr_storage *addr, const struct sockdiag_sock *s)
{
	const struct sockaddr_in6	*s6 = (const void *)&s->addr;
	const struct sockaddr_in	*a4 = (const void *)addr;
	struct sockaddr_storage		 v4;
	struct sockaddr_in		*sin = (struct sockaddr_in *)&v4;

	if (s->addr.ss_family != AF_INET6)
		return addr_clash(addr, &s->addr);
	/* [::ffff:a.b.c.d]:port is a.b.c.d:port. */
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		memset(&v4, 0, sizeof(v4));
		sin->sin_family = AF_INET;
		sin->sin_port = s6->sin6_port;
		memcpy(&sin->sin_addr, &s6->sin6_addr.s6_addr[12],
		    sizeof(sin->sin_addr));
		return addr_clash(addr, &v4);
	}
	/* [::]:port without IPV6_V6ONLY takes IPv4 too. */
	if (addr->ss_family == AF_INET)
		return !s->v6only && IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr) &&
		    s6->sin6_port == a4->sin_port;
	return addr_clash(addr, &s->addr);
}

/*
 * Read the answers to request seq up to its end, giving each socket to
 * cb until it returns non-zero: then that value, 0 at the end, -1 with
 * errno if the kernel could not be read.
 */
static int
diag_walk(int fd, uint32_t seq, int (*cb)(struct nlmsghdr *, void *),
    void *arg)
{
	static union {			/* aligned, and off the stack */
		struct nlmsghdr	 h;
		char		 buf[DIAG_BUFSIZE];
	}			 u;
	struct nlmsghdr		*h;
	ssize_t			 n;
	int			*code, rc;

	for (;;) {
		/* MSG_TRUNC: the length of the datagram, even if longer. */
		if ((n = recv(fd, u.buf, sizeof(u.buf), MSG_TRUNC)) == -1)
			return -1;
		if (n == 0 || n > (ssize_t)sizeof(u.buf)) {
			errno = n == 0 ? EIO : EMSGSIZE;
			return -1;
		}
		for (h = &u.h; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			code = NLMSG_DATA(h);
			if (h->nlmsg_type == NLMSG_ERROR ||
			    h->nlmsg_type == NLMSG_DONE) {
				/* Old kernels end a dump with a bare DONE. */
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*code))) {
					if (h->nlmsg_type == NLMSG_DONE)
						return 0;
					errno = EIO;
					return -1;
				}
				if (*code < 0) {
					errno = -*code;
					return -1;
				}
				if (h->nlmsg_type == NLMSG_DONE)
					return 0;
				continue;	/* an acknowledgement */
			}
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    (rc = cb(h, arg)) != 0)
				return rc;
		}
	}
}

/*
 * What diag_scan looks for (a socket not ours that clashes with one of
 * the addresses, sorted by port), and where it says what it found.
 */
struct diag_find {
	const struct sockaddr_storage	*const *addrs;
	size_t				 naddrs;
	sockdiag_ours_fn		 ours;
	void				*arg;
	struct sockdiag_sock		*who;
	size_t				 which;
};

/* 1 at a socket that clashes with an address and is not ours. */
static int
diag_foreign_cb(struct nlmsghdr *h, void *arg)
{
	struct diag_find	*f = arg;
	in_port_t		 port;
	size_t			 lo = 0, hi = f->naddrs;

	if (diag_parse(h, f->who) == -1 ||
	    (port = diag_port(&f->who->addr)) == 0)
		return 0;
	/* The first address of the port, then each of it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ntohs(diag_port(f->addrs[mid])) < ntohs(port))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < f->naddrs && diag_port(f->addrs[lo]) == port; lo++)
		if (diag_clash(f->addrs[lo], f->who) &&
		    !f->ours(f->arg, f->who->inode)) {
			f->which = lo;
			return 1;
		}
	return 0;
}

/*
 * Ask for the listeners of a family (on one port, or on all: 0) and read
 * the answers up to their end: 1 at the first that clashes with one of
 * f's addresses and is not ours, 0 if none does, -1 with errno.
 */
static int
diag_scan(int fd, int family, in_port_t port, uint32_t seq,
    struct diag_find *f)
{
	if (diag_request(fd, family, port, seq) == -1)
		return -1;
	return diag_walk(fd, seq, diag_foreign_cb, f);
}

static int
diag_port_cmp(const void *a, const void *b)
{
	in_port_t	 pa = ntohs(diag_port(*(const struct sockaddr_storage
	    *const *)a));
	in_port_t	 pb = ntohs(diag_port(*(const struct sockaddr_storage
	    *const *)b));

	return (pa > pb) - (pa < pb);
}

/*
 * The listeners of port (0: of every port) that f looks for, through
 * one dump per family: for IPv4, IPv4's and then IPv6's, since an IPv6
 * wildcard can take IPv4 connections; for IPv6, IPv6's alone.  1, 0, or
 * -1 with errno, as diag_scan.
 */
static int
diag_foreign(struct diag_find *f, int family, in_port_t port)
{
	int	 fd, rc, saved;

	if ((fd = diag_open()) == -1)
		return -1;
	rc = diag_scan(fd, family, port, 1, f);
	if (rc == 0 && family == AF_INET) {
		rc = diag_scan(fd, AF_INET6, port, 2, f);
		/* A kernel without IPv6 has no IPv6 listeners. */
		if (rc == -1 && (errno == ENOENT || errno == EAFNOSUPPORT))
			rc = 0;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * Is a socket that ours() does not own listening on an address that
 * clashes with one of addrs[0..n)?  One dump of every listener of each
 * family answers for them all, where one request per address would make
 * the kernel walk every listener each time.  1 (the socket in *who, the
 * address it clashes with in *which), 0, or -1 with errno.  addrs is
 * sorted by port.
 */
int
sockdiag_foreign_any(const struct sockaddr_storage **addrs, size_t n,
    sockdiag_ours_fn ours, void *arg, struct sockdiag_sock *who,
    size_t *which)
{
	struct diag_find	 f = { addrs, n, ours, arg, who, 0 };
	int			 rc;

	for (size_t i = 0; i < n; i++)
		if (diag_port(addrs[i]) == 0)
			return -1;
	qsort(addrs, n, sizeof(*addrs), diag_port_cmp);
	if ((rc = diag_foreign(&f, AF_INET, 0)) == 1)
		*which = f.which;
	return rc;
}

/*
 * Is a socket that ours() does not own listening on an address that
 * clashes with addr? 1 (and *who), 0, or -1 with errno.
 */
int
sockdiag_foreign(const struct sockaddr_storage *addr, sockdiag_ours_fn ours,
    void *arg, struct sockdiag_sock *who)
{
	const struct sockaddr_storage	*addrs[1] = { addr };
	struct diag_find		 f = { addrs, 1, ours, arg, who, 0 };
	in_port_t			 port;

	if ((port = diag_port(addr)) == 0)
		return -1;
	return diag_foreign(&f, addr->ss_family, port);
}

/* Is the socket of an answer bound to exactly addr (family, address, port)? */
static int
diag_at(struct nlmsghdr *h, const struct sockaddr_storage *addr,
    struct sockdiag_sock *s)
{
	const struct sockaddr_in	*a4 = (const void *)addr;
	const struct sockaddr_in6	*a6 = (const void *)addr;
	const struct sockaddr_in	*s4 = (const void *)&s->addr;
	const struct sockaddr_in6	*s6 = (const void *)&s->addr;

	if (diag_parse(h, s) == -1 || s->addr.ss_family != addr->ss_family)
		return 0;
	if (addr->ss_family == AF_INET)
		return s4->sin_port == a4->sin_port &&
		    s4->sin_addr.s_addr == a4->sin_addr.s_addr;
	return s6->sin6_port == a6->sin6_port &&
	    IN6_ARE_ADDR_EQUAL(&s6->sin6_addr, &a6->sin6_addr);
}

/* A list of inodes or cookies being filled. */
struct diag_list {
	const struct sockaddr_storage	*addr;
	uint64_t			*v;
	int				 n, max;
	int				 cookies;	/* else inodes */
};

static int
diag_list_cb(struct nlmsghdr *h, void *arg)
{
	struct diag_list	*l = arg;
	struct inet_diag_msg	*m = NLMSG_DATA(h);
	struct sockdiag_sock	 s;
	const struct sockaddr_in6 *a6 = (const void *)l->addr;
	const struct sockaddr_in *a4 = (const void *)l->addr;
	int			 any;

	if (l->cookies) {
		/* A handshake to the address, or to any if it is the wildcard. */
		any = l->addr->ss_family == AF_INET ?
		    a4->sin_addr.s_addr == htonl(INADDR_ANY) :
		    IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
		if (diag_parse(h, &s) == -1 || (!any && !diag_at(h, l->addr, &s)))
			return 0;
	} else if (!diag_at(h, l->addr, &s))
		return 0;
	if (l->n < l->max)
		l->v[l->n] = l->cookies ? ((uint64_t)m->id.idiag_cookie[1] << 32 |
		    m->id.idiag_cookie[0]) : s.inode;
	l->n++;
	return 0;
}

/* Fill l with the sockets of a family on addr's port in states. */
static int
diag_list(struct diag_list *l, uint32_t states)
{
	in_port_t	 port;
	int		 fd, rc, saved;

	if ((port = diag_port(l->addr)) == 0)
		return -1;
	if ((fd = diag_open()) == -1)
		return -1;
	rc = diag_ask(fd, l->addr->ss_family, port, states, 1);
	if (rc == 0)
		rc = diag_walk(fd, 1, diag_list_cb, l);
	saved = errno;
	close(fd);
	errno = saved;
	return rc == -1 ? -1 : l->n;
}

/*
 * The sockets listening on exactly addr: a reuseport group.  Their
 * inodes into ino[0..max); returns how many there are (maybe more than
 * max), or -1 with errno.
 */
int
sockdiag_group(const struct sockaddr_storage *addr, ino_t *ino, int max)
{
	uint64_t		 v[256];
	struct diag_list	 l = { addr, v, 0, max < 256 ? max : 256, 0 };
	int			 n;

	if ((n = diag_list(&l, 1 << TCP_LISTEN)) == -1)
		return -1;
	for (int i = 0; i < l.max && i < n; i++)
		ino[i] = (ino_t)v[i];
	return n;
}

/*
 * The handshakes under way (SYN-RECV) to addr (to any address of its
 * port, for the wildcard): their cookies into cookie[0..max); returns
 * how many there are (maybe more than max), or -1 with errno.
 */
int
sockdiag_handshakes(const struct sockaddr_storage *addr, uint64_t *cookie,
    int max)
{
	struct diag_list	 l = { addr, cookie, 0, max, 1 };

	return diag_list(&l, 1 << TCP_SYN_RECV);
}
