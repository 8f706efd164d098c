/* One fd over a unix socket (SCM_RIGHTS). */
#ifndef TCPD_FDPASS_H
#define TCPD_FDPASS_H

int	fd_send(int sock, int fd);
int	fd_recv(int sock);

#endif
