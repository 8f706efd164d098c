/* Logging to syslog(3), or to stderr in the foreground. */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

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
static int	log_journal;		/* stderr is systemd's journal */

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
}, targets[] = {
	{ "auto", LOG_TARGET_AUTO }, { "stderr", LOG_TARGET_STDERR },
	{ "syslog", LOG_TARGET_SYSLOG }, { "both", LOG_TARGET_BOTH },
}, levels[] = {
	{ "err", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

/*
 * Is stderr the journal?  systemd names the stream it gives a service in
 * JOURNAL_STREAM, as "device:inode"; the journal stamps each line itself,
 * and reads a "<priority>" prefix.
 */
static int
stderr_is_journal(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;

	return js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 && st.st_dev == (dev_t)dev &&
	    st.st_ino == (ino_t)ino;
}

/* Before the configuration is read: stderr only. */
void
log_init(int to_stderr)
{
	log_stderr = to_stderr;
	log_syslog = 0;
	log_journal = stderr_is_journal();
}

/*
 * Can syslog(3) reach a syslog daemon?  It says nothing when it cannot:
 * every line would be lost without a word.
 */
int
log_syslog_reachable(void)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd, rc;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return rc == 0;
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
log_target_parse(const char *name)
{
	for (size_t i = 0; i < nitems(targets); i++)
		if (strcasecmp(name, targets[i].name) == 0)
			return targets[i].value;
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
 * What starts a line on stderr: the time, to the millisecond, with the
 * zone's offset; for the journal, which has the time, the priority.
 */
static void
log_stamp(int pri, char *buf, size_t len)
{
	struct timeval	 tv;
	struct tm	 tm;
	char		 date[32], zone[8];

	if (log_journal) {
		snprintf(buf, len, "<%d>", pri);
		return;
	}
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(zone, sizeof(zone), "%z", &tm);
	snprintf(buf, len, "%.20s.%03d%.6s ", date, (int)(tv.tv_usec / 1000),
	    zone);
}

/*
 * Format once, then hand the whole line to syslog and to stderr with a
 * single write, so lines from several processes never interleave.
 */
static void
vlog(int pri, const char *err, const char *fmt, va_list ap)
{
	char	 msg[1024], line[1200], stamp[48];
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
		log_stamp(pri, stamp, sizeof(stamp));
		n = snprintf(line, sizeof(line), "%stcpd[%ld]: %s%s%s\n",
		    stamp, (long)getpid(), msg, err ? ": " : "",
		    err ? err : "");
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
