/* Workers' heartbeats: a shared cell each, carved from a few mappings. */
#ifndef TCPD_BEAT_H
#define TCPD_BEAT_H

struct chunk;
struct heartbeat;
struct shm;

/* The master's heartbeat cells: the mappings they are carved from. */
struct beats {
	struct chunk	*chunks;
};

struct heartbeat	*beat_new(struct beats *);
void			 beat_free(struct beats *, struct heartbeat *);
void			 beat_shm(struct heartbeat *, struct shm *);

#endif
