/* spawnbare: a bare preforked spawn server: accept, vfork, exec the program on the socket, reap. */
#define _GNU_SOURCE

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_WORKERS	64

static volatile sig_atomic_t	 stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Only there so that a blocked accept4() returns EINTR, to reap. */
static void
on_child(int sig)
{
	(void)sig;
}

/* A blocking listening socket on addr, sharing its port with the others. */
static int
listen_on(const struct sockaddr_in *addr)
{
	int	 fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
	    bind(fd, (const struct sockaddr *)addr, sizeof(*addr)) == -1 ||
	    listen(fd, 4096) == -1) {
		perror("spawnbare: listen");
		exit(1);
	}
	return fd;
}

/* One worker: accept, vfork, exec argv with the socket as fd 0 and 1. */
static void
serve(int lfd, char **argv)
{
	struct sigaction	 sa;
	pid_t			 pid;
	int			 fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child;	/* no SA_RESTART */
	sigaction(SIGCHLD, &sa, NULL);
	while (!stopping) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		pid = vfork();
		if (pid == 0) {
			/* dup2() clears close-on-exec on fds 0 and 1. */
			if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1)
				_exit(126);
			execv(argv[0], argv);
			_exit(127);
		}
		close(fd);
	}
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
}

static void
usage(void)
{
	fprintf(stderr, "usage: spawnbare [-a addr] [-p port] [-w workers] "
	    "program [arg...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 addr;
	struct sigaction	 sa;
	pid_t			 pids[MAX_WORKERS];
	const char		*host = "127.0.0.1";
	int			 ch, port = 7, workers = 1, st;

	while ((ch = getopt(argc, argv, "+a:p:w:")) != -1) {
		switch (ch) {
		case 'a': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'w': workers = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc || workers < 1 || workers > MAX_WORKERS ||
	    port < 1 || port > 65535)
		usage();
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
		usage();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < workers; i++) {
		int lfd = listen_on(&addr);

		if ((pids[i] = fork()) == -1) {
			perror("spawnbare: fork");
			exit(1);
		}
		if (pids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			serve(lfd, argv + optind);
			_exit(0);
		}
		close(lfd);
	}
	while (!stopping)
		pause();
	for (int i = 0; i < workers; i++)
		kill(pids[i], SIGTERM);
	while (wait(&st) > 0 || errno == EINTR)
		;
	return 0;
}
