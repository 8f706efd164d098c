/*
 * The control socket: a unix stream socket on which the master answers
 * one request per connection ("status", "status json").
 */
#ifndef TCPD_CONTROL_H
#define TCPD_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct loop;

/* The answer to a request: malloc'd text and its length, or NULL. */
typedef char	*(*control_answer)(void *arg, const char *request,
		    size_t *len);

struct control;

/* In the master. */
struct control	*control_open(struct loop *, const char *path,
		    control_answer, void *arg, char *err, size_t errlen);
void		 control_close(struct control *);
int		 control_timeout(const struct control *);
void		 control_expire(struct control *);

/* In tcpd -s: ask, and copy the answer to out. */
int		 control_ask(const char *path, const char *request, FILE *out,
		    char *err, size_t errlen);

#endif
