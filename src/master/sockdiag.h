/* Who listens where: TCP listening sockets as the kernel's sock_diag reports them. */
#ifndef TCPD_SOCKDIAG_H
#define TCPD_SOCKDIAG_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/* A listening TCP socket, of any process. */
struct sockdiag_sock {
	struct sockaddr_storage	 addr;		/* bound address and port */
	unsigned long		 inode;
	uid_t			 uid;		/* its owner */
	int			 v6only;	/* IPv6: takes no IPv4 */
};

/*
 * Is a TCP socket listening on an address that clashes with addr (the
 * same family and port, and the same address or either one the
 * wildcard; for an IPv4 addr also an IPv6 wildcard that takes IPv4, and
 * a v4-mapped IPv6 address), other than the sockets whose inodes are
 * ours[0..nours)?  Returns 1 and fills *who with the first such socket,
 * 0 if there is none, or -1 with errno if the kernel could not be asked
 * (EPROTONOSUPPORT, EAFNOSUPPORT or ENOENT where sock_diag is missing).
 */
int	sockdiag_foreign(const struct sockaddr_storage *addr,
	    const ino_t *ours, size_t nours, struct sockdiag_sock *who);

int	sockdiag_group(const struct sockaddr_storage *addr, ino_t *ino,
	    int max);
int	sockdiag_handshakes(const struct sockaddr_storage *addr,
	    uint64_t *cookie, int max);

#endif
