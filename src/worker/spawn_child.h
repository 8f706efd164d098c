/* A program's start: its environment, and its process from vfork to execve. */
#ifndef TCPD_SPAWN_CHILD_H
#define TCPD_SPAWN_CHILD_H

#include <sys/types.h>

struct conn;
struct conf_exec;

/*
 * What the child is started with.  The child writes err and step, in
 * the memory it shares with the worker until it calls execve().
 */
struct spawn_req {
	const struct conf_exec	*x;
	char			**env;
	int			 sock;		/* becomes fds 0 and 1 */
	int			 errfd;		/* becomes fd 2 */
	pid_t			 parent;	/* the worker */
	volatile int		 err;		/* errno of the step that failed */
	const char *volatile	 step;		/* which: "chdir", ... */
	volatile int		 rlimit;	/* for "setrlimit": which */
};

char	**spawn_env(const struct conn *, const struct conf_exec *);
void	  spawn_env_free(char **);
pid_t	  spawn_child(struct spawn_req *);

#endif
