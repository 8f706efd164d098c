/* Where a master is, read from a file that may not load as a whole. */
#ifndef TCPD_CONF_PEEK_H
#define TCPD_CONF_PEEK_H

int	conf_peek(const char *path, char **pid_file, char **control_socket);
char	*conf_socket_beside(const char *pid_file);

#endif
