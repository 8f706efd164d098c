/* Keeping new connections off listening sockets that are about to close. */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <linux/filter.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "steer.h"

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF	51
#endif
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF		68
#endif
#ifndef SKF_AD_RANDOM
#define SKF_AD_RANDOM			56
#endif

/* The TCP header's flags byte, and the two flags looked at. */
#define TCP_FLAGS_OFF	13
#define TH_SYN		0x02
#define TH_ACK		0x10

/*
 * Drop a SYN without ACK, keep anything else.  A socket filter on a
 * listener sees the packet from its TCP header on (after the IP header
 * is pulled), both the SYNs that would make new connections on it and
 * the last ACKs of handshakes already under way, which must get through.
 */
static struct sock_filter syn_drop[] = {
	BPF_STMT(BPF_LD | BPF_B | BPF_ABS, TCP_FLAGS_OFF),
	BPF_STMT(BPF_ALU | BPF_AND | BPF_K, TH_SYN | TH_ACK),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TH_SYN, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, 0),
	BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
};

/*
 * No new connection on fd: a client whose SYN the kernel's reuseport
 * hash still sends to it sends it again a second later, and finds
 * another socket of the group, or none and is refused, rather than
 * being queued on a socket that closes and reset.  What is queued or in
 * its handshake is left alone.  A connection accepted from fd inherits
 * the filter, which lets everything but a bare SYN through.
 */
int
steer_block(int fd)
{
	struct sock_fprog	 prog = {
		.len = sizeof(syn_drop) / sizeof(syn_drop[0]),
		.filter = syn_drop,
	};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
	    sizeof(prog));
}

/* New connections on fd again. */
int
steer_unblock(int fd)
{
	int	 unused = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused,
	    sizeof(unused)) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

/* Does fd take no new connection (steer_block)?  For a draining worker. */
int
steer_blocked(int fd)
{
	socklen_t	 len = 0;

	/* With no room given, the kernel says how long the filter is. */
	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &len) == -1)
		return 0;
	return len > 0;
}

/*
 * New connections to fd's reuseport group only to the sockets at
 * index[0..n) of the group's array: a random one of them each.  The
 * kernel keeps the group's sockets in an array in the order they joined
 * (listen()); one that leaves has the last one moved into its place.
 * The program returns an index into it; for an index past its end, the
 * kernel hashes as it does with no program, so n must be at least 1.
 * The index table is a chain of tests, 2 instructions a socket.
 */
int
steer_group(int fd, const int *index, int n)
{
	struct sock_filter	*f;
	struct sock_fprog	 prog;
	int			 k = 0, rc, saved;

	if (n < 1 || n > (BPF_MAXINSNS - 4) / 2) {
		errno = EINVAL;
		return -1;
	}
	if ((f = calloc(3 + 2 * n + 1, sizeof(*f))) == NULL)
		return -1;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    SKF_AD_OFF + SKF_AD_RANDOM);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, n);
	for (int i = 0; i < n; i++) {
		/* A == i: return index[i]; else on to the next test. */
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ |
		    BPF_K, i, 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
		    index[i]);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, index[0]);
	/* Its padding too: the kernel is given every byte. */
	memset(&prog, 0, sizeof(prog));
	prog.len = k;
	prog.filter = f;
	rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
	    sizeof(prog));
	saved = errno;
	free(f);
	errno = saved;
	return rc;
}

/*
 * The group's kernel hash again.  Before Linux 5.3 a program cannot be
 * taken off: one that returns an index past any array's end does the same.
 */
int
steer_group_off(int fd)
{
	struct sock_filter	 past[] = {
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog	 prog = { .len = 1, .filter = past };
	int			 unused = 0;

	if (setsockopt(fd, SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused,
	    sizeof(unused)) == 0 || errno == ENOENT)
		return 0;
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
	    sizeof(prog));
}
