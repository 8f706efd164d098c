/* What systemd hears of tcpd, in its notify protocol, spoken by hand. */
#ifndef TCPD_NOTIFY_H
#define TCPD_NOTIFY_H

#include <stdint.h>

struct sup;

void	notify_init(void);
void	notify_send(const char *state, const char *status);
void	notify_started(int say, const struct sup *);
const char *
	notify_status(void);
void	notify_reloading(const char *path);
void	notify_refused(const char *why);
void	notify_stopping(const char *status);
int	notify_timeout(int64_t now, int other);
void	notify_tick(int64_t now, const struct sup *, int reading,
	    int draining);

#endif
