/* A growing text buffer, for answers built piece by piece. */
#ifndef TCPD_BUF_H
#define TCPD_BUF_H

#include <stddef.h>

struct buf {
	char	*p;
	size_t	 len, cap;
	int	 failed;	/* out of memory: p holds what fitted */
};

void	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_json_string(struct buf *, const char *);
void	buf_free(struct buf *);

#endif
