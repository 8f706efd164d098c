/* Signals as events: blocked, then read from a signalfd by the loop. */
#include "config.h"

#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sig.h"

/*
 * Block signals (a 0-terminated list) and return a signalfd that reads
 * them.  Nothing runs in signal context.
 */
int
sig_open(const int *signals)
{
	sigset_t	 set;

	sigemptyset(&set);
	for (; *signals != 0; signals++)
		sigaddset(&set, *signals);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* The next pending signal, 0 when none is left, -1 on error. */
int
sig_read(int fd)
{
	struct signalfd_siginfo	 si;
	ssize_t			 n;

	n = read(fd, &si, sizeof(si));
	if (n == (ssize_t)sizeof(si))
		return (int)si.ssi_signo;
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}

/* A wait status as words: "exited with status 0", "killed by signal 9 (Killed)". */
void
sig_exit_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status %#x)", status);
}
