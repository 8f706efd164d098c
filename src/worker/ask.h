/*
 * A worker asking its master for a text (the metrics, the health line),
 * on behalf of its connections: one question at a time, however many
 * wait.
 */
#ifndef TCPD_ASK_H
#define TCPD_ASK_H

#include <stddef.h>
#include <stdint.h>

struct conn;

/* How long a question may wait for its answer. */
#define ASK_DEADLINE_MS	2000
/* The longest answer taken. */
#define ASK_MAX		(8 * 1024 * 1024)

/* Where an answer (NULL: none came) goes, for each connection waiting. */
typedef void	(*ask_done)(struct conn *, const char *text, size_t len);

struct ask {
	int		 ctl;		/* the control socket */
	uint8_t		 type;		/* WORKER_METRICS, WORKER_HEALTH */
	const char	*what;		/* "metrics", for the log */
	ask_done	 done;
	struct conn	**wait;		/* each holds a reference */
	size_t		 nwait, capwait;
	int64_t		 deadline;	/* of the question out; 0: none */
	uint16_t	 seq;		/* its number, echoed in the answer */
	char		*text;		/* the answer so far */
	size_t		 len;
};

void	ask_want(struct ask *, struct conn *, int64_t now);
void	ask_piece(struct ask *, const void *msg, size_t n);
int	ask_timeout(const struct ask *, int64_t now);
void	ask_expire(struct ask *, int64_t now);

#endif
