/* Workers' heartbeats: a shared cell each, carved from a few mappings. */
#ifndef TCPD_BEAT_H
#define TCPD_BEAT_H

struct heartbeat;

struct heartbeat	*beat_new(void);
void			 beat_free(struct heartbeat *);
void			 beat_only(const struct heartbeat *);

#endif
