/* Socket addresses: parsed from the configuration, formatted for logs. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

/*
 * A port: 1-65535, or a TCP service name from /etc/services ("rsync").
 * -1 with errno ENOENT for a name it does not know, EINVAL otherwise.
 */
static int
addr_port(const char *port, unsigned *out)
{
	struct servent	 se, *r = NULL;
	char		 buf[1024], *end;
	unsigned long	 p;

	errno = EINVAL;
	if (*port >= '0' && *port <= '9') {
		errno = 0;
		p = strtoul(port, &end, 10);
		if (errno != 0 || *end != '\0' || p == 0 || p > 65535) {
			errno = EINVAL;
			return -1;
		}
		*out = (unsigned)p;
		return 0;
	}
	if (*port == '\0' || strspn(port, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+") != strlen(port))
		return -1;
	/* The _r form: a reload reads the file in a thread of the master. */
	if (getservbyname_r(port, "tcp", &se, buf, sizeof(buf), &r) != 0 ||
	    r == NULL) {
		errno = ENOENT;
		return -1;
	}
	*out = ntohs((uint16_t)r->s_port);
	return 0;
}

/*
 * "a.b.c.d:port" or "[v6]:port", port 1-65535 or a service name, into
 * ss.  Returns -1 for anything else, with errno ENOENT for an unknown
 * service name.
 */
int
addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*end_host, *port;
	size_t		 hlen;
	unsigned	 p;
	int		 v6 = (s[0] == '[');

	memset(ss, 0, sizeof(*ss));
	errno = EINVAL;
	if (v6) {
		if ((end_host = strchr(s, ']')) == NULL || end_host[1] != ':')
			return -1;
		s++;
		port = end_host + 2;
	} else {
		if ((end_host = strrchr(s, ':')) == NULL)
			return -1;
		port = end_host + 1;
	}
	hlen = end_host - s;
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (addr_port(port, &p) == -1)
		return -1;
	errno = EINVAL;
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		*len = sizeof(*sin6);
		return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		*len = sizeof(*sin);
		return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : -1;
	}
}

/*
 * p in decimal at buf, unterminated, within len; returns how many
 * characters.  A program's start writes four numbers and two addresses.
 */
static size_t
decimal(unsigned p, char *buf, size_t len)
{
	char	 d[12];
	size_t	 n = 0, i = 0;

	do
		d[n++] = (char)('0' + p % 10);
	while ((p /= 10) != 0 && n < sizeof(d));
	for (; n > 0 && i < len; i++)
		buf[i] = d[--n];
	return i;
}

/* p in decimal into buf, len > 5. */
static void
port_text(unsigned p, char *buf, size_t len)
{
	buf[decimal(p, buf, len - 1)] = '\0';
}

/* a.b.c.d into buf, len >= INET_ADDRSTRLEN: inet_ntop() without printf. */
static void
ip4_text(const struct in_addr *a, char *buf, size_t len)
{
	const unsigned char	*b = (const unsigned char *)&a->s_addr;
	size_t			 n = 0;

	for (int i = 0; i < 4; i++) {
		if (i > 0)
			buf[n++] = '.';
		n += decimal(b[i], buf + n, len - 1 - n);
	}
	buf[n] = '\0';
}

/* The address and the port as two strings, as programs' variables want. */
void
addr_parts(const struct sockaddr_storage *ss, char *ip, size_t iplen,
    char *port, size_t portlen)
{
	unsigned	 p = 0;

	if (iplen >= 2)
		memcpy(ip, "?", 2);
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, iplen);
		p = ntohs(s6->sin6_port);
	} else if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		if (iplen >= INET_ADDRSTRLEN)
			ip4_text(&s4->sin_addr, ip, iplen);
		else
			inet_ntop(AF_INET, &s4->sin_addr, ip, iplen);
		p = ntohs(s4->sin_port);
	}
	if (portlen > 0)
		port_text(p, port, portlen);
}

/* "a.b.c.d:port" or "[v6]:port": the one form logs and ps show. */
void
addr_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char	 ip[INET6_ADDRSTRLEN], port[8];

	addr_parts(ss, ip, sizeof(ip), port, sizeof(port));
	if (ss->ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", ip, port);
	else
		snprintf(buf, len, "%s:%s", ip, port);
}

/* The same address and port. */
int
addr_same(const struct sockaddr_storage *a, socklen_t alen,
    const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * Two addresses clash when a connection could reach either: the same
 * address, or the same port and family where one is the wildcard.
 * SO_REUSEPORT would otherwise let both bind and split the traffic.
 */
int
addr_clash(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;
		return x->sin_port == y->sin_port &&
		    (x->sin_addr.s_addr == y->sin_addr.s_addr ||
		    x->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    y->sin_addr.s_addr == htonl(INADDR_ANY));
	} else {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;
		return x->sin6_port == y->sin6_port &&
		    (IN6_ARE_ADDR_EQUAL(&x->sin6_addr, &y->sin6_addr) ||
		    IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) ||
		    IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr));
	}
}
