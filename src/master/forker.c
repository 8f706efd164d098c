/* The master's forking thread: workers forked from a small fd table. */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forker.h"

/*
 * A fork copies the forking task's table of open files, and the new
 * worker must then close what it inherited.  The master holds two fds a
 * slot, so each fork costs work in the number of slots, and a start in
 * the square of them: at 5,000 services, two thirds of it.
 *
 * So a thread of the master's, with a table of its own (unshare
 * CLONE_FILES) holding only stdio and its end of a socket pair, does the
 * forking.  For each worker it is sent the few fds the worker needs,
 * puts them at low numbers of its table, forks, and closes them again.
 * A fork from any thread makes a child of the process, so the worker is
 * the master's child as before, with the master's memory; its parent
 * thread, for PR_SET_PDEATHSIG, is this one, which lives as long as the
 * master.
 *
 * The numbers are the master's own, reserved: each holds a placeholder
 * (an eventfd nobody reads) in the master, taken at its start while the
 * table is small, and never anything else.  So nothing in the new worker
 * can take one fd for another: what it closes by a number it learned in
 * the master (the syslog socket, by closelog()) is a number the master
 * has open for something else, so never one of the worker's.  And the
 * fork copies a table as large as the worker's fds, not as large as the
 * master's numbers: put at the numbers they had in the master, the
 * sockets of the last of 5,000 services made each fork copy a table of
 * 10,000 entries, a third of the forking thread's time.  The thread's
 * own end stays open in the master, so that number is never a worker's
 * either.
 */

struct forker {
	int		 fd;		/* the master's end; -1: plain forks */
	int		 peer;		/* the thread's end, held here too */
	pthread_t	 thread;
	int		 at[FORKER_MAX_FDS];	/* the reserved numbers */
	int		 nat;
};

/* One fork asked of the thread; the pointers are into shared memory. */
struct forker_req {
	forker_child_fn	 fn;
	void		*arg;
	const int	*at;		/* where to put them: reserved numbers */
	int		 nfds;
};

/* Its answer: the new pid, or -1 and an errno. */
struct forker_reply {
	pid_t	pid;
	int	err;
	int	placed;		/* 0: fork here instead */
};

static void
close_all(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] != -1)
			close(fds[i]);
}

/* Receive a request and its fds; 0: the master is gone. */
static ssize_t
forker_recv(int fd, struct forker_req *req, int *got, int max)
{
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int) * FORKER_MAX_FDS)];
	} cm;
	struct iovec	 iov = { req, sizeof(*req) };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr	*c;
	ssize_t		 n;
	int		 k = 0;

	while ((n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC)) == -1 &&
	    errno == EINTR)
		;
	for (c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c != NULL;
	    c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; (i + 1) * sizeof(int) <= c->cmsg_len -
		    CMSG_LEN(0); i++) {
			int	 v;

			memcpy(&v, CMSG_DATA(c) + i * sizeof(int), sizeof(v));
			if (k < max)
				got[k++] = v;
			else
				close(v);
		}
	}
	if (n > 0 && (n != sizeof(*req) || k != req->nfds ||
	    (msg.msg_flags & MSG_CTRUNC))) {
		close_all(got, k);
		errno = EPROTO;
		return -1;
	}
	return n;
}

/*
 * Put the received fds at the numbers wanted: each first above every
 * wanted number, so that no move lands on an fd not
 * yet moved, then at its own.  -1 with errno, nothing left open.
 */
static int
forker_place(const int *want, int *got, int n)
{
	int	 top = 0, saved;

	for (int i = 0; i < n; i++)
		if (want[i] > top)
			top = want[i];
	for (int i = 0; i < n; i++) {
		int	 t = fcntl(got[i], F_DUPFD_CLOEXEC, top + 1);

		saved = errno;
		close(got[i]);
		got[i] = t;
		if (t == -1)
			goto fail;
	}
	for (int i = 0; i < n; i++) {
		int	 t = dup3(got[i], want[i], O_CLOEXEC);

		saved = errno;
		close(got[i]);
		got[i] = -1;
		if (t == -1) {
			close_all(want, i);
			goto fail;
		}
	}
	return 0;
fail:
	close_all(got, n);
	errno = saved;
	return -1;
}

/* The thread: a table of its own, then one fork per request. */
static void *
forker_main(void *arg)
{
	struct forker		*f = arg;
	struct forker_req	 req;
	struct forker_reply	 rep = { 0, 0, 1 };
	int			*got;
	ssize_t			 n;

	/*
	 * A worker's malloc() starts in this thread's arena.  Allocating
	 * here first gives the thread an arena of its own, small and clean,
	 * before another thread's (a reload's parse) is left free for it to
	 * pick up: each worker would sort through that one's free chunks,
	 * copying its pages, at its first allocation.
	 */
	if ((got = calloc(FORKER_MAX_FDS, sizeof(*got))) == NULL) {
		rep = (struct forker_reply){ -1, errno, 0 };
		send(f->peer, &rep, sizeof(rep), MSG_NOSIGNAL);
		return NULL;
	}

	/* Nothing is closed unless the table is this thread's alone. */
	if (unshare(CLONE_FILES) == -1) {
		rep = (struct forker_reply){ -1, errno, 0 };
		send(f->peer, &rep, sizeof(rep), MSG_NOSIGNAL);
		free(got);
		return NULL;
	}
	if (f->peer > STDERR_FILENO + 1)
		close_range(STDERR_FILENO + 1, f->peer - 1, 0);
	close_range(f->peer + 1, ~0U, 0);
	if (send(f->peer, &rep, sizeof(rep), MSG_NOSIGNAL) == -1) {
		free(got);
		return NULL;
	}
	while ((n = forker_recv(f->peer, &req, got, FORKER_MAX_FDS)) != 0) {
		rep = (struct forker_reply){ -1, errno, 0 };
		if (n > 0 && forker_place(req.at, got, req.nfds) == 0) {
			rep.placed = 1;
			if ((rep.pid = fork()) == 0) {
				/* Stdio and the fds it was given, nothing else. */
				close(f->peer);
				req.fn(req.arg, 1, req.at);
			}
			rep.err = errno;
			close_all(req.at, req.nfds);
		} else
			rep.err = errno;
		if (send(f->peer, &rep, sizeof(rep), MSG_NOSIGNAL) == -1)
			break;
	}
	free(got);
	return NULL;
}

/*
 * Reserve numbers until there are n: copies of a placeholder, at the
 * lowest numbers free in the master.  -1 with errno when it cannot.
 */
static int
forker_reserve(struct forker *f, int n)
{
	while (f->nat < n) {
		int	 fd = f->nat > 0 ?
		    fcntl(f->at[0], F_DUPFD_CLOEXEC, 0) :
		    eventfd(0, EFD_CLOEXEC);

		if (fd == -1)
			return -1;
		f->at[f->nat++] = fd;
	}
	return 0;
}

/*
 * The numbers, taken before the master binds its listening sockets,
 * while its table is small: the socket pair's, and nfds reserved, as
 * many fds as a worker is given (more are reserved when a worker needs
 * them).  NULL when they cannot be, with errno set (0: no forking thread
 * is wanted here).
 */
struct forker *
forker_new(int nfds)
{
	struct forker	*f;
	int		 sp[2], saved;

#ifdef __SANITIZE_ADDRESS__
	/*
	 * LeakSanitizer cannot follow a fork from a thread other than the
	 * main one: in the worker, all it inherited would be reported as
	 * leaked at its exit.  Sanitizer builds fork from the main thread.
	 */
	errno = 0;
	return NULL;
#endif
#ifdef TCPD_TEST_HOOKS
	/* Tests only: the fallback, as where no thread can be made. */
	if (getenv("TCPD_TEST_NO_FORKER") != NULL) {
		errno = 0;
		return NULL;
	}
#endif
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		free(f);
		return NULL;
	}
	f->fd = sp[0];
	f->peer = sp[1];
	if (forker_reserve(f, nfds < FORKER_MAX_FDS ? nfds :
	    FORKER_MAX_FDS) == -1) {
		saved = errno;
		close_all(f->at, f->nat);
		close_all(sp, 2);
		free(f);
		errno = saved;
		return NULL;
	}
	return f;
}

/*
 * The thread, made once at the master's start, before the first worker.
 * -1 with errno set when it cannot be: the master then forks workers
 * itself, as the fallback, slower with many slots, the same otherwise.
 */
int
forker_start(struct forker *f)
{
	struct forker_reply	 rep = { -1, 0, 0 };
	pthread_attr_t		 attr;
	int			 rc;

	/* The worker runs on this stack: as large as a main thread's. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 8 << 20);
	rc = pthread_create(&f->thread, &attr, forker_main, f);
	pthread_attr_destroy(&attr);
	if (rc == 0 && recv(f->fd, &rep, sizeof(rep), 0) == sizeof(rep) &&
	    rep.pid == 0)
		return 0;
	if (rc == 0) {
		pthread_join(f->thread, NULL);
		rc = rep.err != 0 ? rep.err : EIO;
	}
	close(f->fd);
	close(f->peer);
	f->fd = f->peer = -1;
	errno = rc;
	return -1;
}

/* The fallback: fork here, the child closing what it should. */
static pid_t
forker_plain(const int *fds, forker_child_fn fn, void *arg)
{
	pid_t	 pid;

	if ((pid = fork()) == 0)
		fn(arg, 0, fds);
	return pid;
}


/*
 * Fork a worker that starts in fn(arg, clean, at) with the nfds fds open
 * (and close-on-exec) at the numbers at[0] to at[nfds - 1], in order,
 * and stdio; clean says it has nothing else, else it must close whatever
 * else it finds open.  The same numbers go to placed[] here.  Returns
 * its pid, or -1 with errno set.
 */
pid_t
forker_fork(struct forker *f, const int *fds, int nfds, forker_child_fn fn,
    void *arg, int *placed)
{
	struct forker_req	 req;
	struct forker_reply	 rep;
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int) * FORKER_MAX_FDS)];
	} cm;
	struct iovec		 iov = { &req, sizeof(req) };
	struct msghdr		 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr		*c;
	ssize_t			 sent, got = -1;

	memcpy(placed, fds, sizeof(*placed) * nfds);
	if (f == NULL || f->fd == -1 || nfds > FORKER_MAX_FDS || nfds < 1 ||
	    forker_reserve(f, nfds) == -1)
		return forker_plain(fds, fn, arg);
	/* No byte of padding goes out unset. */
	memset(&req, 0, sizeof(req));
	memset(&cm, 0, sizeof(cm));
	req.fn = fn;
	req.arg = arg;
	req.at = f->at;
	req.nfds = nfds;
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	while ((sent = sendmsg(f->fd, &msg, MSG_NOSIGNAL)) == -1 &&
	    errno == EINTR)
		;
	if (sent == sizeof(req))
		while ((got = recv(f->fd, &rep, sizeof(rep), 0)) == -1 &&
		    errno == EINTR)
			;
	if (sent != sizeof(req) || got != sizeof(rep)) {
		/* The thread is gone: no more of it. */
		close(f->fd);
		f->fd = -1;
		return forker_plain(fds, fn, arg);
	}
	/* The fds could not be put there (no number free above them). */
	if (!rep.placed)
		return forker_plain(fds, fn, arg);
	if (rep.pid > 0)
		memcpy(placed, f->at, sizeof(*placed) * nfds);
	errno = rep.err;
	return rep.pid;
}
