/* What systemd hears of tcpd, in its notify protocol, spoken by hand. */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "supervise.h"

/* The longest message systemd reads whole. */
#define NOTIFY_MAX	4096
/* A ping due while a slot is down: look again this soon, at the latest. */
#define RECHECK_MS	100

/*
 * What the service manager hears, and what it was told: one per
 * process, made before the master (whose parent, as a daemon's, may speak
 * for it) and then the master's.
 */
struct notifier {
	int			 fd;		/* -1: nobody to notify */
	struct sockaddr_un	 addr;
	socklen_t		 len;
	int			 send_failed;	/* said once, until one works */
	/* What was said: from READY=1 at start to STOPPING=1. */
	int			 started;
	int			 reload_owed;	/* READY=1, to a RELOADING=1 */
	char			 refused[1100];	/* why that reload was */
	char			 last_status[256];
	int64_t			 ping_every;	/* ms; 0: no watchdog */
	int64_t			 ping_at;	/* the next ping is due then */
	int			 ping_paused;	/* a slot is down */
	/*
	 * The variables taken out of the environment.  Their strings are
	 * kept for good, as environ's are: unsetenv() frees none, since
	 * they may be the process's original ones or copies (proctitle.c).
	 */
	char			*taken[3];
};

/*
 * A variable's value, n->taken out of the environment: workers inherit it,
 * and whatever reads it there would speak to the service manager as if
 * it were tcpd.
 */
static const char *
env_take(const char *name, char **keep)
{
	size_t	 len = strlen(name);

	for (char **e = environ; *e != NULL; e++)
		if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
			*keep = *e;
			break;
		}
	unsetenv(name);
	return *keep != NULL ? *keep + len + 1 : NULL;
}

/* "/path", or "@name" for an abstract socket (a leading NUL). */
static int
notify_address(struct notifier *n, const char *s)
{
	size_t	 slen = strlen(s);

	if ((s[0] != '/' && s[0] != '@') || slen < 2 ||
	    slen > sizeof(n->addr.sun_path))
		return -1;
	memset(&n->addr, 0, sizeof(n->addr));
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, s, slen);
	if (s[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->len = offsetof(struct sockaddr_un, sun_path) + slen;
	return 0;
}

/*
 * WATCHDOG_USEC asks for a ping at least that often; WATCHDOG_PID, when
 * set, says which process it asks.  Ping at half the interval.
 */
static void
watchdog_init(struct notifier *n, const char *usec, const char *pid)
{
	unsigned long long	 us;
	char			*end;

	if (usec == NULL)
		return;
	if (pid != NULL && strtol(pid, &end, 10) != (long)getpid())
		return;
	errno = 0;
	us = strtoull(usec, &end, 10);
	if (errno != 0 || end == usec || *end != '\0' || us == 0) {
		log_warnx("WATCHDOG_USEC=%s is not a number of microseconds: "
		    "no watchdog pings", usec);
		return;
	}
	n->ping_every = us / 2000 > 0 ? (int64_t)(us / 2000) : 1;
}

/*
 * Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, and take all three
 * out of the environment.  Before daemonizing: the parent may have to
 * speak for the master, and WATCHDOG_PID names the process n->started.
 */
struct notifier *
notify_init(void)
{
	struct notifier	*n;
	const char	*sock, *usec, *pid;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatal("calloc");
	n->fd = -1;
	sock = env_take("NOTIFY_SOCKET", &n->taken[0]);
	usec = env_take("WATCHDOG_USEC", &n->taken[1]);
	pid = env_take("WATCHDOG_PID", &n->taken[2]);
	if (sock == NULL)
		return n;
	if (notify_address(n, sock) == -1) {
		log_warnx("NOTIFY_SOCKET=%s is neither an absolute path nor "
		    "@name: not notifying", sock);
		return n;
	}
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (n->fd == -1) {
		log_warn("NOTIFY_SOCKET: socket");
		return n;
	}
	watchdog_init(n, usec, pid);
	return n;
}

/* At the end: its socket and itself (the taken strings stay, as said). */
void
notify_free(struct notifier *n)
{
	if (n == NULL)
		return;
	if (n->fd != -1)
		close(n->fd);
	free(n);
}

/*
 * Send state ("READY=1", ...; or NULL) and, unless NULL, STATUS=status,
 * in one datagram.  Never waits: a manager that does not read loses
 * messages, not the master's time.  Control characters in status become
 * spaces, since a newline would start another assignment.
 */
void
notify_send(struct notifier *n, const char *state, const char *status)
{
	char	 msg[NOTIFY_MAX];
	size_t	 len, from;

	if (n->fd == -1)
		return;
	len = snprintf(msg, sizeof(msg), "%s%s", state != NULL ? state : "",
	    state != NULL && status != NULL ? "\n" : "");
	from = len + strlen("STATUS=");
	if (status != NULL && len < sizeof(msg))
		len += snprintf(msg + len, sizeof(msg) - len, "STATUS=%s",
		    status);
	if (len >= sizeof(msg))
		len = sizeof(msg) - 1;
	for (size_t i = from; status != NULL && i < len; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	if (sendto(n->fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&n->addr, n->len) == -1) {
		if (!n->send_failed)
			log_warn("cannot notify the service manager");
		n->send_failed = 1;
		return;
	}
	if (n->send_failed)
		log_info("notifying the service manager again");
	n->send_failed = 0;
}

/*
 * Every slot's worker accepts: READY=1 and what s serves, unless say is
 * 0 (the parent of a daemon says it, main.c).  Then STATUS= follows
 * changes, and the watchdog's pings start.
 */
void
notify_started(struct notifier *n, int say, const struct sup *s)
{
	sup_status(s, n->last_status, sizeof(n->last_status));
	if (say)
		notify_send(n, "READY=1", n->last_status);
	n->started = 1;
}

/* The last STATUS= given. */
const char *
notify_status(const struct notifier *n)
{
	return n->last_status;
}

/*
 * SIGHUP: RELOADING=1 with the monotonic time it began, which
 * Type=notify-reload requires; READY=1 is owed until notify_tick() finds
 * the reload done.  A reload asked for during one owes the same READY=1.
 */
void
notify_reloading(struct notifier *n, const char *path)
{
	struct timespec	 ts;
	char		 state[64], status[sizeof(n->last_status)];

	n->refused[0] = '\0';
	if (!n->started || n->reload_owed)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof(state), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
	snprintf(status, sizeof(status), "reloading %s", path);
	notify_send(n, state, status);
	n->reload_owed = 1;
}

/* The reload changed nothing: its READY=1 says why, in STATUS=. */
void
notify_refused(struct notifier *n, const char *why)
{
	snprintf(n->refused, sizeof(n->refused), "%s", why);
}

/* STOPPING=1: nothing more but STATUS= until the exit. */
void
notify_stopping(struct notifier *n, const char *status)
{
	notify_send(n, "STOPPING=1", n->started ? status : NULL);
	n->started = 0;
}

/* The loop's timeout: ms, the sooner of other's and the next ping's. */
int
notify_timeout(const struct notifier *n, int64_t now, int other)
{
	int	 ping;

	if (!n->started || n->fd == -1 || n->ping_every == 0)
		return other;
	ping = n->ping_at <= now ? 0 : (int)(n->ping_at - now);
	return other == -1 || ping < other ? ping : other;
}

/*
 * Ping if one is due and no slot is down (healthy).  Otherwise hold the
 * ping, and look again soon: a ping is due at half the interval, so a
 * slot served again within the other half costs no restart.
 */
static void
notify_ping(struct notifier *n, int64_t now, int healthy)
{
	int64_t	 again = n->ping_every / 4 < RECHECK_MS ? n->ping_every / 4 :
	    RECHECK_MS;

	if (n->ping_every == 0 || now < n->ping_at)
		return;
	if (!healthy) {
		if (!n->ping_paused)
			log_notice("watchdog: not pinging the service manager "
			    "while a slot is down");
		n->ping_paused = 1;
		n->ping_at = now + (again > 0 ? again : 1);
		return;
	}
	if (n->ping_paused)
		log_info("watchdog: pinging the service manager again");
	n->ping_paused = 0;
	notify_send(n, "WATCHDOG=1", NULL);
	n->ping_at = now + n->ping_every;
}

/*
 * Between two of the master's waits: the READY=1 a reload is owed once
 * it is done (no file being read, every slot settled), STATUS= when what
 * s serves changed (or whether it drains for a balancer), the watchdog's
 * ping while no slot is down.  A refusal stays shown until the summary
 * changes.
 */
void
notify_tick(struct notifier *n, int64_t now, const struct sup *s,
    int reading, int draining)
{
	char	 status[sizeof(n->last_status)];
	size_t	 off = 0;

	if (!n->started || n->fd == -1)
		return;
	if (draining)
		off = snprintf(status, sizeof(status), "draining: ");
	sup_status(s, status + off, sizeof(status) - off);
	if (n->reload_owed && !reading && sup_settled(s)) {
		n->reload_owed = 0;
		notify_send(n, "READY=1", n->refused[0] != '\0' ? n->refused : status);
		snprintf(n->last_status, sizeof(n->last_status), "%s", status);
	} else if (!n->reload_owed && strcmp(status, n->last_status) != 0) {
		notify_send(n, NULL, status);
		snprintf(n->last_status, sizeof(n->last_status), "%s", status);
	}
	notify_ping(n, now, !sup_down(s));
}
