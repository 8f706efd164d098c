/* A worker's connection timers: lists kept sorted by appending, O(1) each. */
#ifndef TCPD_CONN_TIMER_H
#define TCPD_CONN_TIMER_H

#include <stdint.h>

struct conn;
struct conn_list;
struct conn_set;

void	conn_timer_set(struct conn_list *, struct conn *, int64_t deadline);
void	conn_timer_clear(struct conn *);
int	conn_timer_next(const struct conn_set *);

#endif
