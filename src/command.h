/* tcpd -s: finding the running master, and telling it. */
#ifndef TCPD_COMMAND_H
#define TCPD_COMMAND_H

#include <sys/types.h>

/* The "signal" of a command that has none: drain, undrain. */
#define CMD_NO_SIGNAL	(-1)

/* What tcpd -s is asked: which command, of which master. */
struct command {
	const char	*path;		/* the configuration file */
	const char	*cmd;		/* reload, quit, stop or status */
	int		 sig;		/* its signal; 0: status */
	int		 json;		/* status --json */
	int		 wait;		/* quit, stop: until it is gone */
	const char	*pid_file;	/* -p, or NULL */
	const char	*control_socket; /* -S, or NULL */
};

int	command_signal(const char *name);
int	command_run(const struct command *);
pid_t	pidfile_pid(int fd);

#endif
