/* Signals as events: blocked, then read from a signalfd by the loop. */
#ifndef TCPD_SIG_H
#define TCPD_SIG_H

#include <signal.h>
#include <stddef.h>

int	sig_open(const int *signals);
int	sig_read(int fd);
void	sig_exit_text(int status, char *, size_t);

#endif
