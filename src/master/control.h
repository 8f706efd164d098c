/*
 * The control socket: a unix stream socket on which the master answers
 * one request per connection ("status", "status json", "reload", "quit",
 * "stop").
 */
#ifndef TCPD_CONTROL_H
#define TCPD_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct loop;

/*
 * The answer to a request: malloc'd text and its length, or NULL (with
 * *hold 0: an unknown request).  Setting *hold holds the client, with no
 * deadline: until control_release() names its *tag, or (tag 0) until
 * the master closes the socket at its end; text given too is sent first.
 */
typedef char	*(*control_answer)(void *arg, const char *request,
		    size_t *len, int *hold, uint64_t *tag);

struct control;

/* In the master. */
struct control	*control_open(struct loop *, const char *path,
		    control_answer, void *arg, char *err, size_t errlen);
void		 control_close(struct control *);
int		 control_timeout(const struct control *);
void		 control_expire(struct control *);
void		 control_release(struct control *, uint64_t from,
		    uint64_t upto, const char *text);

/* In tcpd -s: ask, and copy the answer to out. */
int		 control_ask(const char *path, const char *request, FILE *out,
		    char *err, size_t errlen);

#endif
