/* Logging to syslog(3), mirrored to stderr in the foreground. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static int	log_stderr = 1;
static int	log_fd = STDERR_FILENO;	/* where "stderr" lines go */
static int	log_fd_max = LOG_DEBUG;	/* and up to which priority */
static int	log_syslog;
static int	log_max = LOG_INFO;
static int	log_fac = LOG_DAEMON;

static const struct {
	const char	*name;
	int		 value;
} facilities[] = {
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "cron", LOG_CRON }, { "daemon", LOG_DAEMON },
	{ "ftp", LOG_FTP }, { "kern", LOG_KERN }, { "lpr", LOG_LPR },
	{ "mail", LOG_MAIL }, { "news", LOG_NEWS }, { "syslog", LOG_SYSLOG },
	{ "user", LOG_USER }, { "uucp", LOG_UUCP },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
}, levels[] = {
	{ "err", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

/* Before the configuration is read: stderr only. */
void
log_init(int to_stderr)
{
	log_stderr = to_stderr;
	log_syslog = 0;
}

/* Once the configuration is read, and again at each reload. */
void
log_open(int facility, int level, int to_syslog, int to_stderr)
{
	if (log_syslog)
		closelog();
	log_max = level;
	log_fac = facility;
	log_stderr = to_stderr;
	log_syslog = to_syslog;
	if (to_syslog) {
		openlog("tcpd", LOG_PID | LOG_NDELAY, facility);
		setlogmask(LOG_UPTO(level));
	}
}

/*
 * In a new process that is about to close every fd it did not make:
 * let go of the syslog socket first, so that no later write lands on an
 * fd number that something else reuses; log_reopen() makes its own.
 */
void
log_detach(void)
{
	if (log_syslog)
		closelog();
	log_fd = STDERR_FILENO;
	log_fd_max = LOG_DEBUG;
}

/*
 * Write the stderr copy of lines up to priority max to fd instead: a
 * starting daemon tells its caller what went wrong, nothing else.
 */
void
log_to_fd(int fd, int max)
{
	log_fd = fd;
	log_fd_max = max;
}

void
log_reopen(void)
{
	if (log_syslog) {
		openlog("tcpd", LOG_PID | LOG_NDELAY, log_fac);
		setlogmask(LOG_UPTO(log_max));
	}
}

int
log_level(void)
{
	return log_max;
}

int
log_facility_parse(const char *name)
{
	for (size_t i = 0; i < nitems(facilities); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].value;
	return -1;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < nitems(levels); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return levels[i].value;
	return -1;
}

/*
 * Format once, then hand the whole line to syslog and to stderr with a
 * single write, so lines from several processes never interleave.
 */
static void
vlog(int pri, const char *err, const char *fmt, va_list ap)
{
	char	 msg[1024], line[1100];
	int	 saved = errno, n;

	if (pri > log_max)
		goto out;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		if (err != NULL)
			syslog(pri, "%s: %s", msg, err);
		else
			syslog(pri, "%s", msg);
	}
	if (log_stderr && pri <= log_fd_max) {
		n = snprintf(line, sizeof(line), "tcpd[%ld]: %s%s%s\n",
		    (long)getpid(), msg, err ? ": " : "", err ? err : "");
		if (n > (int)sizeof(line) - 1) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		if (write(log_fd, line, n) == -1) {
			/* nowhere left to say so */
		}
	}
out:
	errno = saved;
}

/* A warning, with strerror(errno) appended. */
void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

#define LOG_FN(fn, pri)					\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	vlog(pri, NULL, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_warnx, LOG_WARNING)
LOG_FN(log_notice, LOG_NOTICE)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)

/* Log an error, with strerror(errno) appended, and exit 1. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	const char *err = strerror(errno);

	va_start(ap, fmt);
	vlog(LOG_ERR, err, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log an error and exit 1. */
void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
