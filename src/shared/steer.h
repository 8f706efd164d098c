/* Keeping new connections off listening sockets that are about to close. */
#ifndef TCPD_STEER_H
#define TCPD_STEER_H

int	steer_block(int fd);
int	steer_unblock(int fd);
int	steer_blocked(int fd);
int	steer_group(int fd, const int *index, int n);
int	steer_group_off(int fd);

#endif
