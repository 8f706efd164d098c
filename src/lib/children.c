/* This process's children, as the kernel lists them. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "children.h"

/* All of fd, NUL-terminated, in a buffer of the caller's to free. */
static char *
read_all(int fd, size_t *lenp)
{
	char	*buf = NULL, *nb;
	size_t	 len = 0, size = 0;
	ssize_t	 n;

	for (;;) {
		if (size - len < 4096) {
			size = size == 0 ? 8192 : size * 2;
			if ((nb = realloc(buf, size)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		if ((n = read(fd, buf + len, size - len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * The pids of this process's children, in *out (the caller frees it):
 * returns how many, or -1.  A subreaper's children include what its
 * descendants left when they ended; those of the main thread, to which
 * the kernel gives them, are what /proc lists here.  Being unreaped
 * children, their pids cannot have been reused.  Without /proc (or
 * CONFIG_PROC_CHILDREN) there are none to tell.
 */
int
children_list(pid_t **out)
{
	char	 path[64], *buf, *s, *end;
	pid_t	*pids = NULL, *np;
	int	 fd, n = 0, size = 0;
	size_t	 len;
	long	 pid;

	*out = NULL;
	snprintf(path, sizeof(path), "/proc/self/task/%ld/children",
	    (long)getpid());
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	buf = read_all(fd, &len);
	close(fd);
	if (buf == NULL)
		return -1;
	for (s = buf; (pid = strtol(s, &end, 10)) > 0; s = end) {
		if (n == size) {
			size = size == 0 ? 64 : size * 2;
			if ((np = realloc(pids, size * sizeof(*pids))) == NULL) {
				free(pids);
				free(buf);
				return -1;
			}
			pids = np;
		}
		pids[n++] = (pid_t)pid;
	}
	free(buf);
	*out = pids;
	return n;
}

/*
 * Send sig (0: none) to each child of this process that skip (called
 * with arg) does not claim, and return how many there were.
 */
int
children_signal(int sig, int (*skip)(pid_t, void *), void *arg)
{
	pid_t	*pids;
	int	 n, signalled = 0;

	if ((n = children_list(&pids)) <= 0)
		return 0;
	for (int i = 0; i < n; i++) {
		if (skip != NULL && skip(pids[i], arg))
			continue;
		if (sig != 0)
			kill(pids[i], sig);
		signalled++;
	}
	free(pids);
	return signalled;
}

/*
 * The parent, process group and session of pid, from /proc/PID/stat;
 * -1 when it is gone (or /proc is not there).
 */
int
kin_read(pid_t pid, struct kin *k)
{
	char	 path[64], buf[512], *s;
	int	 fd;
	ssize_t	 len;
	long	 ppid, pgrp, sid;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	/* "pid (comm) state ppid pgrp session ...": comm may hold anything. */
	if ((s = strrchr(buf, ')')) == NULL ||
	    sscanf(s + 1, " %*c %ld %ld %ld", &ppid, &pgrp, &sid) != 3)
		return -1;
	k->pid = pid;
	k->ppid = (pid_t)ppid;
	k->pgrp = (pid_t)pgrp;
	k->sid = (pid_t)sid;
	return 0;
}
