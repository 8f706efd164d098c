/* The master: slot sockets, spawning and reaping workers, reload, stop. */
#ifndef TCPD_MASTER_H
#define TCPD_MASTER_H

struct conf;

struct master;

struct master	*master_new(struct conf *, int pidfd, int foreground);
int		 master_listen(struct master *);
int		 master_run(struct master *);
void		 master_free(struct master *);

#endif
