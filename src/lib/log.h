/* Logging to syslog(3), or to stderr in the foreground. */
#ifndef TCPD_LOG_H
#define TCPD_LOG_H

#include <syslog.h>

/* log_target: where lines go ("auto": stderr with -f, else syslog). */
enum log_target {
	LOG_TARGET_AUTO,
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
	LOG_TARGET_BOTH,
};

void	log_init(int to_stderr);
void	log_open(int facility, int level, int to_syslog, int to_stderr);
void	log_detach(void);
void	log_to_fd(int fd, int max);
void	log_reopen(void);
int	log_level(void);
int	log_facility_parse(const char *);
int	log_level_parse(const char *);
int	log_target_parse(const char *);
int	log_syslog_reachable(void);

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* Cheap test before formatting anything for the debug level. */
#define log_debugging()	(log_level() >= LOG_DEBUG)

#endif
