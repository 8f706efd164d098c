/*
 * Inside the master's listening sockets: what listener.c,
 * listener_claim.c and listener_index.c share.
 */
#ifndef TCPD_LISTENER_INT_H
#define TCPD_LISTENER_INT_H

#include <sys/types.h>

#include "conf.h"
#include "tcpopt.h"

struct conf_service;
struct listeners;

/*
 * One listening socket: one address in one slot.  A socket whose address
 * or slot left the configuration is leaving: no worker is given it any
 * more, but the master holds it until no worker does (listeners_release),
 * so that the master's close is the last, and a reload that brings the
 * address back takes it again, queue and all.
 */
struct lsock {
	struct conf_listen	 l;
	int			 slot;
	int			 fd;
	ino_t			 ino;
	int			 backlog;
	struct tcpopt		 opt;	/* what it was given */
	int			 used;	/* by the configuration being applied */
	int			 leaving;	/* 2: being made to */
	int			 pos;	/* in its reuseport group's array */
	int			 steered; /* its group has a program */
	int			 held;	/* a worker holds it (release) */
};

int	listener_slots(struct listeners *, const struct conf_listen *, int n,
	    const struct conf_service *, char *err, size_t errlen);
void	lsock_drop(struct listeners *, int i);
struct lsock *
	lsock_find(const struct listeners *, const struct conf_listen *,
	    int slot);
void	lsock_unindex(struct listeners *);
int	lsock_ours(void *, unsigned long inode);
struct lsock *
	lsock_by_ino(const struct listeners *, ino_t);

#endif
