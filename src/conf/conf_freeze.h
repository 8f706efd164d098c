/* A configuration, once read, copied into one read-only mapping. */
#ifndef TCPD_CONF_FREEZE_H
#define TCPD_CONF_FREEZE_H

struct conf;

struct conf	*conf_freeze(const struct conf *);
void		 conf_frozen_free(struct conf *);

#endif
