/* One fd over a unix socket, as SCM_RIGHTS: for a moment no process's. */
#ifndef TCPD_FDPASS_H
#define TCPD_FDPASS_H

int	fd_send(int sock, int fd);
int	fd_recv(int sock);

#endif
