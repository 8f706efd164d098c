/* This process's children, as the kernel lists them. */
#ifndef TCPD_CHILDREN_H
#define TCPD_CHILDREN_H

#include <sys/types.h>

int	children_signal(int sig, int (*skip)(pid_t));

#endif
