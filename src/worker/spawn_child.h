/* A program's start: its environment, and its process from vfork to execve. */
#ifndef TCPD_SPAWN_CHILD_H
#define TCPD_SPAWN_CHILD_H

#include <sys/types.h>

#include <sys/socket.h>

#include <signal.h>

struct conn;
struct conf_exec;
struct conf_service;

/* PROTO, TCPREMOTEIP, ...: the variables set for each program. */
#define SPAWN_ENV_TCP	9

/*
 * Programs' environment: what all of a service's share, made once, and
 * room for each one's own, which a program reads before the worker
 * makes the next one's (vfork(): the worker waits for its execve()).
 */
struct spawn_env {
	char			**fixed;	/* PATH, passenv, env */
	int			  nfixed;
	char			**v;		/* fixed, then a program's own */
	struct sockaddr_storage	  local;	/* family 0: getsockname() */
	size_t			  used;
	char			  buf[1024];	/* the text of its own */
};

/*
 * What the worker's signal dispositions ask of each program's start,
 * found at its first program (they are all set before it accepts): the
 * signals whose disposition is not the default, which the child resets,
 * and whether the worker must block every signal around vfork() because
 * a handler's signal is not blocked already in its loop's thread.
 */
struct spawn_sigs {
	int	 known;			/* 0: not looked at yet */
	int	 block;
	int	 n;
	int	 sig[NSIG];
};

/*
 * What the child is started with.  The child writes err and step, in
 * the memory it shares with the worker until it calls execve().
 */
struct spawn_req {
	const struct conf_exec	*x;
	char			**env;
	int			 sock;		/* becomes fds 0 and 1 */
	int			 pass;		/* -1, or where sock waits in
						   flight (fd passing), and
						   where it goes back if the
						   program does not start */
	int			 errfd;		/* becomes fd 2 */
	pid_t			 parent;	/* the worker */
	const struct spawn_sigs	*sigs;
	volatile int		 err;		/* errno of the step that failed */
	const char *volatile	 step;		/* which: "chdir", ... */
	volatile int		 rlimit;	/* for "setrlimit": which */
};

int	  spawn_env_init(struct spawn_env *, const struct conf_service *);
void	  spawn_env_free(struct spawn_env *);
char	**spawn_env(struct spawn_env *, const struct conn *);
void	  spawn_sigs_find(struct spawn_sigs *);
pid_t	  spawn_child(struct spawn_req *);

#endif
