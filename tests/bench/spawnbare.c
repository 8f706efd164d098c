/*
 * spawnbare: a bare preforked spawn server: accept, vfork, exec the
 * program on the socket, reap.  With -t, tcpd's shape and nothing else
 * (spawnthread): an acceptor thread blocked in accept4() hands each
 * connection to the worker's epoll loop over a queue and an eventfd; the
 * loop gives the program a pipe as its stderr and reads it to EOF, and
 * reaps from a signalfd.
 */
#define _GNU_SOURCE

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
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

/* -t: the acceptor's queue to the loop, and the eventfd that wakes it. */
static struct {
	pthread_mutex_t	 lock;
	int		 fds[4096];
	int		 n;
	int		 efd;
	int		 lfd;
} q = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void *
acceptor(void *arg)
{
	uint64_t	 one = 1;
	int		 fd, wake;

	(void)arg;
	for (;;) {
		if ((fd = accept4(q.lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		pthread_mutex_lock(&q.lock);
		wake = q.n == 0;
		if (q.n < (int)(sizeof(q.fds) / sizeof(q.fds[0])))
			q.fds[q.n++] = fd;
		else
			close(fd);
		pthread_mutex_unlock(&q.lock);
		if (wake && write(q.efd, &one, sizeof(one)) == -1)
			perror("spawnbare: eventfd");
	}
	return NULL;
}

/* -t: a program on fd, its stderr a pipe the loop reads. */
static void
spawn_one(int ep, int fd, char **argv)
{
	struct epoll_event	 ev = { .events = EPOLLIN };
	int			 p[2];

	if (pipe2(p, O_CLOEXEC) == -1) {
		close(fd);
		return;
	}
	if (vfork() == 0) {
		if (dup2(fd, 0) == -1 || dup2(fd, 1) == -1 ||
		    dup2(p[1], 2) == -1)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	close(p[1]);
	ev.data.fd = p[0];
	if (epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == -1)
		close(p[0]);
}

static void
serve_threaded(int lfd, char **argv)
{
	struct epoll_event	 ev = { .events = EPOLLIN }, evs[64];
	pthread_t		 t;
	sigset_t		 set;
	uint64_t		 n64;
	char			 buf[4096];
	int			 ep, sfd, fds[4096], n;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	q.lfd = lfd;
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (q.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1) {
		perror("spawnbare");
		exit(1);
	}
	ev.data.fd = q.efd;
	epoll_ctl(ep, EPOLL_CTL_ADD, q.efd, &ev);
	ev.data.fd = sfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	pthread_create(&t, NULL, acceptor, NULL);
	for (;;) {
		int nev = epoll_wait(ep, evs, 64, -1);

		for (int i = 0; i < nev; i++) {
			int	 fd = evs[i].data.fd;

			if (fd == q.efd) {
				if (read(q.efd, &n64, sizeof(n64)) == -1 &&
				    errno != EAGAIN)
					perror("spawnbare: eventfd");
				pthread_mutex_lock(&q.lock);
				n = q.n;
				memcpy(fds, q.fds, n * sizeof(fds[0]));
				q.n = 0;
				pthread_mutex_unlock(&q.lock);
				for (int j = 0; j < n; j++)
					spawn_one(ep, fds[j], argv);
			} else if (fd == sfd) {
				struct signalfd_siginfo	 si;

				while (read(sfd, &si, sizeof(si)) > 0)
					if (si.ssi_signo != SIGCHLD)
						return;
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
			} else if (!(evs[i].events & EPOLLIN) ||
			    read(fd, buf, sizeof(buf)) <= 0) {
				/* A child in execve() may hold a copy yet. */
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: spawnbare [-t] [-a addr] [-p port] "
	    "[-w workers] program [arg...]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 addr;
	struct sigaction	 sa;
	pid_t			 pids[MAX_WORKERS];
	const char		*host = "127.0.0.1";
	int			 ch, port = 7, workers = 1, st, threaded = 0;

	while ((ch = getopt(argc, argv, "+a:p:tw:")) != -1) {
		switch (ch) {
		case 'a': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 't': threaded = 1; break;
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
			if (threaded)
				serve_threaded(lfd, argv + optind);
			else
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
