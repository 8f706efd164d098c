/* This process's children, as the kernel lists them. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "children.h"

/*
 * Send sig (0: none) to each child of this process that skip does not
 * claim, and return how many there were.  A subreaper's children include
 * what its descendants left when they ended; those of the main thread,
 * to which the kernel gives them, are what /proc lists here.  Being
 * unreaped children, their pids cannot have been reused.  Without /proc
 * (or CONFIG_PROC_CHILDREN) there are none to tell.
 */
int
children_signal(int sig, int (*skip)(pid_t))
{
	char	 path[64], buf[4096], *s, *end;
	int	 fd, n = 0;
	ssize_t	 len;
	long	 pid;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
	    (long)getpid());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (s = buf; (pid = strtol(s, &end, 10)) > 0; s = end) {
		if (skip != NULL && skip((pid_t)pid))
			continue;
		if (sig != 0)
			kill((pid_t)pid, sig);
		n++;
	}
	return n;
}
