/* A program's stderr, read by its worker and logged line by line. */
#ifndef TCPD_ERRLOG_H
#define TCPD_ERRLOG_H

#include <sys/types.h>

struct errlog;
struct loop;

void		 errlog_init(int workers);
struct errlog	*errlog_new(void);
void		 errlog_start(struct errlog *, struct loop *, int fd,
		    const char *service, pid_t pid);
void		 errlog_free(struct errlog *);
void		 errlog_drain_all(void);

#endif
