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

/* Is the socket with this inode the caller's own? */
typedef int (*sockdiag_ours_fn)(void *, unsigned long inode);

/*
 * Is a TCP socket listening on an address that clashes with addr (the
 * same family and port, and the same address or either one the
 * wildcard; for an IPv4 addr also an IPv6 wildcard that takes IPv4, and
 * a v4-mapped IPv6 address), other than the caller's own (ours says)?
 * Returns 1 and fills *who with the first such socket, 0 if there is
 * none, or -1 with errno if the kernel could not be asked
 * (EPROTONOSUPPORT, EAFNOSUPPORT or ENOENT where sock_diag is missing).
 */
int	sockdiag_foreign(const struct sockaddr_storage *addr,
	    sockdiag_ours_fn ours, void *arg, struct sockdiag_sock *who);
/* The same for many addresses at once (sorted here by port). */
int	sockdiag_foreign_any(const struct sockaddr_storage **addrs, size_t n,
	    sockdiag_ours_fn ours, void *arg, struct sockdiag_sock *who,
	    size_t *which);

int	sockdiag_group(const struct sockaddr_storage *addr, ino_t *ino,
	    int max);
int	sockdiag_handshakes(const struct sockaddr_storage *addr,
	    uint64_t *cookie, int max);

#endif
