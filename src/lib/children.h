/* This process's children, as the kernel lists them. */
#ifndef TCPD_CHILDREN_H
#define TCPD_CHILDREN_H

#include <sys/types.h>

/* Who a process is kin to, from /proc/PID/stat. */
struct kin {
	pid_t	 pid;
	pid_t	 ppid;
	pid_t	 pgrp;
	pid_t	 sid;
};

int	children_signal(int sig, int (*skip)(pid_t, void *), void *arg);
int	children_list(pid_t **);
int	kin_read(pid_t, struct kin *);

#endif
