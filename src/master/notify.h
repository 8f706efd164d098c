/* What systemd hears of tcpd, in its notify protocol, spoken by hand. */
#ifndef TCPD_NOTIFY_H
#define TCPD_NOTIFY_H

#include <stdint.h>

struct notifier;
struct sup;

struct notifier *
	notify_init(void);
void	notify_free(struct notifier *);
void	notify_send(struct notifier *, const char *state, const char *status);
void	notify_started(struct notifier *, int say, const struct sup *);
const char *
	notify_status(const struct notifier *);
void	notify_reloading(struct notifier *, const char *path);
void	notify_refused(struct notifier *, const char *why);
void	notify_stopping(struct notifier *, const char *status);
int	notify_timeout(const struct notifier *, int64_t now, int other);
void	notify_tick(struct notifier *, int64_t now, const struct sup *,
	    int reading, int draining);

#endif
