/* What the kernel measured on a connection: TCP_INFO, the part logged. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include <string.h>

#include "tcpinfo.h"
#include "util.h"

/* TCP_INFO of fd into ti; -1 if the kernel gives none. */
int
tcpinfo_get(int fd, struct tcpinfo *ti)
{
	struct tcp_info	 k;
	socklen_t	 len = sizeof(k);

	memset(&k, 0, sizeof(k));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &k, &len) == -1)
		return -1;
	ti->state = k.tcpi_state;
	ti->rtt_us = k.tcpi_rtt;
	ti->rttvar_us = k.tcpi_rttvar;
	ti->retrans = k.tcpi_total_retrans;
	ti->lost = k.tcpi_lost;
	ti->cwnd = k.tcpi_snd_cwnd;
	/* Older kernels fill less; what they leave is 0. */
	ti->delivery_rate = k.tcpi_delivery_rate;
	return 0;
}

/* The state's name, as ss(8) writes it. */
const char *
tcpinfo_state(int state)
{
	static const char *const names[] = {
		[1] = "ESTABLISHED", [2] = "SYN-SENT", [3] = "SYN-RECV",
		[4] = "FIN-WAIT-1", [5] = "FIN-WAIT-2", [6] = "TIME-WAIT",
		[7] = "CLOSE", [8] = "CLOSE-WAIT", [9] = "LAST-ACK",
		[10] = "LISTEN", [11] = "CLOSING",
	};

	if (state > 0 && (size_t)state < nitems(names))
		return names[state];
	return "UNKNOWN";
}
