/* What the kernel measured on a connection: TCP_INFO, the part logged. */
#ifndef TCPD_TCPINFO_H
#define TCPD_TCPINFO_H

#include <stdint.h>

struct tcpinfo {
	int		 state;		/* TCP_ESTABLISHED ... (the kernel's) */
	uint32_t	 rtt_us;	/* smoothed round-trip time */
	uint32_t	 rttvar_us;	/* its mean deviation */
	uint32_t	 retrans;	/* segments retransmitted, in all */
	uint32_t	 lost;		/* segments thought lost, now */
	uint32_t	 cwnd;		/* congestion window, in segments */
	uint64_t	 delivery_rate;	/* bytes a second, lately */
};

int		 tcpinfo_get(int fd, struct tcpinfo *);
const char	*tcpinfo_state(int);

/* The kernel's number for CLOSE: the connection is gone. */
#define TCPINFO_CLOSE	7

#endif
