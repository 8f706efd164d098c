/*
 * A program's stderr, read by its worker and logged line by line at
 * notice, tagged "service[pid]"; never sent to the client.  At most
 * ERRLOG_RATE lines a second per service, shared evenly by its workers:
 * a program that floods its stderr must not flood the log; what is
 * dropped is counted and said in one line.
 */
#include "config.h"

#include <sys/epoll.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errlog.h"
#include "log.h"
#include "loop.h"

/* Longest stderr line logged as one; longer ones are split. */
#define LINE_MAX_LOG	1024
/* Lines logged a second, per service; the rest are counted. */
#define ERRLOG_RATE	100

/* The read end of a program's stderr. */
struct errlog {
	struct io	 io;
	struct loop	*loop;
	struct errlogs	*all;		/* its worker's */
	struct errlog	*prev, *next;
	const char	*service;	/* tagged "service[pid]" when logged */
	pid_t		 pid;
	size_t		 len;
	char		 buf[LINE_MAX_LOG];
};

/* Say how many lines went unlogged, if any. */
static void
errlog_say_dropped(struct errlogs *rate)
{
	if (rate->dropped == 0)
		return;
	log_notice("%s[%ld]: %lu line%s of programs' stderr not logged (over "
	    "%d a second: the service's %d, shared by its %d worker%s)",
	    rate->service, (long)rate->pid, rate->dropped,
	    rate->dropped == 1 ? "" : "s", rate->max, ERRLOG_RATE,
	    rate->workers, rate->workers == 1 ? "" : "s");
	rate->dropped = 0;
}

static void
errlog_flush(struct errlog *e)
{
	struct errlogs	*rate = e->all;
	int64_t		 now;

	if (e->len == 0)
		return;
	now = loop_now_ms() / 1000;
	if (now != rate->second) {
		rate->second = now;
		rate->lines = 0;
		errlog_say_dropped(rate);
	}
	if (rate->lines < (unsigned)rate->max) {
		rate->lines++;
		log_notice("%s[%ld]: %.*s", e->service, (long)e->pid,
		    (int)e->len, e->buf);
	} else {
		rate->dropped++;
		rate->service = e->service;
		rate->pid = e->pid;
	}
	e->len = 0;
}

/* Log each whole line of what was read; keep the rest for later. */
static void
errlog_take(struct errlog *e, const char *chunk, ssize_t n)
{
	for (ssize_t i = 0; i < n; i++) {
		if (chunk[i] == '\n') {
			errlog_flush(e);
			continue;
		}
		if (e->len == sizeof(e->buf))
			errlog_flush(e);
		e->buf[e->len++] = chunk[i];
	}
}

/*
 * Off epoll first: close() alone would not take it off while another
 * copy of the read end lives, and one does for a moment in a child
 * that is in execve(): vfork() lets the worker go on before the
 * close-on-exec fds are closed.  Its next event would find e freed.
 */
static void
errlog_close(struct errlog *e)
{
	errlog_flush(e);
	errlog_say_dropped(e->all);
	loop_del(e->loop, &e->io);
	close(e->io.fd);
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		e->all->open = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	free(e);
}

/*
 * The pipe holds something (EPOLLIN: one read cannot block, though the
 * fd does), or every writer is gone and it is empty (EPOLLHUP alone, a
 * program that wrote nothing: closed without a read).
 */
static void
errlog_cb(struct io *io, uint32_t ev)
{
	struct errlog	*e = (struct errlog *)io;
	char		 chunk[65536];
	ssize_t		 n;

	if (!(ev & EPOLLIN)) {
		errlog_close(e);
		return;
	}
	n = read(io->fd, chunk, sizeof(chunk));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		errlog_close(e);
		return;
	}
	errlog_take(e, chunk, n);
}

/* None open yet, and this worker's share of its service's lines a second. */
void
errlogs_init(struct errlogs *rate, int workers)
{
	memset(rate, 0, sizeof(*rate));
	rate->workers = workers > 0 ? workers : 1;
	rate->max = ERRLOG_RATE / rate->workers;
	if (rate->max < 1)
		rate->max = 1;
}

/*
 * Made before the program starts, so that once it runs, nothing is
 * left to fail for want of memory.
 */
struct errlog *
errlog_new(struct errlogs *all)
{
	struct errlog	*e;

	/* Not calloc(): its line buffer needs no zeroing. */
	if ((e = malloc(sizeof(*e))) != NULL) {
		e->all = all;
		e->prev = e->next = NULL;
		e->len = 0;
	}
	return e;
}

void
errlog_free(struct errlog *e)
{
	free(e);
}

/* Log what comes out of fd, the read end of pid's stderr; e takes fd. */
void
errlog_start(struct errlog *e, struct loop *loop, int fd, const char *service,
    pid_t pid)
{
	/* Formatted only when a line is logged. */
	e->service = service;
	e->pid = pid;
	e->loop = loop;
	if (loop_add(loop, &e->io, fd, EPOLLIN, errlog_cb) == -1) {
		close(fd);
		free(e);
		return;
	}
	e->next = e->all->open;
	if (e->next != NULL)
		e->next->prev = e;
	e->all->open = e;
}

/*
 * At a worker's end: log what the programs wrote to stderr and was not
 * logged yet, bounded, since a child a program left behind may write on.
 */
void
errlogs_drain(struct errlogs *all)
{
	struct errlog	*e;
	char		 chunk[4096];
	ssize_t		 n;

	while ((e = all->open) != NULL) {
		/* A child left behind may hold the write end: never wait. */
		fcntl(e->io.fd, F_SETFL, O_NONBLOCK);
		for (int i = 0; i < 16 &&
		    (n = read(e->io.fd, chunk, sizeof(chunk))) > 0; i++)
			errlog_take(e, chunk, n);
		errlog_close(e);
	}
}
