/* A program's stderr, read by its worker and logged line by line. */
#ifndef TCPD_ERRLOG_H
#define TCPD_ERRLOG_H

#include <sys/types.h>

#include <stdint.h>

struct errlog;
struct loop;

/*
 * A worker's programs' stderr pipes, open now, and this second's count
 * of their lines logged: what went unlogged since the last say, and the
 * worker's share of its service's lines a second.
 */
struct errlogs {
	struct errlog	*open;
	int		 max;		/* this worker's share */
	int		 workers;	/* it is shared by */
	int64_t		 second;
	unsigned	 lines;
	unsigned long	 dropped;
	const char	*service;	/* the last one dropped from */
	pid_t		 pid;
};

void		 errlogs_init(struct errlogs *, int workers);
struct errlog	*errlog_new(struct errlogs *);
void		 errlog_start(struct errlog *, struct loop *, int fd,
		    const char *service, pid_t pid);
void		 errlog_free(struct errlog *);
void		 errlogs_drain(struct errlogs *);

#endif
