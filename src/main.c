/* tcpd: command line, configuration check, start; -s is command.c's. */
#include "config.h"

#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "command.h"
#include "conf.h"
#include "conf_dump.h"
#include "log.h"
#include "master.h"
#include "notify.h"
#include "paths.h"
#include "proctitle.h"
#include "util.h"

/* Print the usage to fp and exit with status. */
static void __attribute__((noreturn))
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: tcpd [-ftT] [-c file]\n"
	    "       tcpd [-c file] [-p pidfile] [-S socket] -s reload|quit|stop "
	    "[-w]\n"
	    "       tcpd [-c file] [-p pidfile] [-S socket] -s drain|undrain\n"
	    "       tcpd [-c file] [-p pidfile] [-S socket] -s status [--json]\n"
	    "  -c, --config=file      configuration file (default %s)\n"
	    "  -f, --foreground       stay in the foreground, log to stderr\n"
	    "  -t, --test             check the configuration file and exit\n"
	    "  -T, --test-dump        print the configuration in effect, every\n"
	    "                         default filled in, and exit\n"
	    "  -s, --signal=cmd       tell the running master: reload (and wait\n"
	    "                         for its outcome), quit (graceful stop),\n"
	    "                         stop (fast stop), drain (tell balancers\n"
	    "                         to send nothing new), undrain; or ask\n"
	    "                         for its status\n"
	    "  -w, --wait             with quit or stop: wait until it is gone\n"
	    "  -p, --pid-file=file    with -s: the master's pid file\n"
	    "  -S, --control-socket=path\n"
	    "                         with -s: the master's control socket\n"
	    "      --json             with -s status: one JSON object\n"
	    "  -V, --version          print the version and exit\n"
	    "  -h, --help             print this help and exit\n",
	    TCPD_CONF_PATH);
	exit(status);
}

/* Open and lock the pid file: one master per pid file. */
static int
pidfile_open(const char *path)
{
	int	 fd;
	pid_t	 other;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		log_warn("cannot open pid file %s", path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			other = pidfile_pid(fd);
			log_warnx("already running as pid %ld (pid file %s)",
			    (long)other, path);
		} else
			log_warn("cannot lock pid file %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Write our pid into the locked pid file. */
static int
pidfile_write(int fd, const char *path)
{
	char	 buf[32];
	int	 n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, n, 0) != n) {
		log_warn("cannot write pid file %s", path);
		return -1;
	}
	return 0;
}

/* The caller's stderr, for a starting daemon's errors; -1 once started. */
static int	daemon_errfd = -1;

/*
 * The parent, started by a service manager, names the master as the
 * service's main process, and says it is ready: the manager listens to
 * its main process only (NotifyAccess=main), which the master is not
 * until this is read.
 */
static void
daemon_announce(struct notifier *n, pid_t master, const char *status)
{
	char	 state[64];

	snprintf(state, sizeof(state), "MAINPID=%ld\nREADY=1", (long)master);
	notify_send(n, state, status);
}

/*
 * Detach.  The parent waits until every worker accepts, so the exit
 * status of `tcpd -c FILE` tells an init system whether the start
 * worked.  Errors until then still reach the caller's stderr, through a
 * copy only the master logs to: workers, forked meanwhile, get
 * /dev/null, and so cannot keep the caller's pipe open.
 */
static int
daemon_start(struct notifier *notifier)
{
	int	 p[2], null;
	char	 ok[512];
	ssize_t	 n;
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	switch ((pid = fork())) {
	case -1:
		fatal("fork");
	case 0:
		break;
	default:
		close(p[1]);
		do {
			n = read(p[0], ok, sizeof(ok) - 1);
		} while (n == -1 && errno == EINTR);
		if (n < 1 || ok[0] != '1')
			_exit(1);
		ok[n] = '\0';
		daemon_announce(notifier, pid, ok + 1);
		_exit(0);
	}
	close(p[0]);
	if (setsid() == -1)
		fatal("setsid");
	if (chdir("/") == -1)
		fatal("chdir /");
	if ((daemon_errfd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3)) != -1)
		log_to_fd(daemon_errfd, LOG_WARNING);
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		if (null > STDERR_FILENO)
			close(null);
	}
	return p[1];
}

/*
 * Started: the parent may exit 0 (after passing status on to a service
 * manager), and the caller's stderr is let go.
 */
static void
daemon_ready(int parent, const char *status)
{
	char	 ok[512];
	int	 n = snprintf(ok, sizeof(ok), "1%s", status);

	if (n < 0)
		n = 1;
	else if ((size_t)n >= sizeof(ok))
		n = sizeof(ok) - 1;
	/* One write, under PIPE_BUF: the parent reads it whole. */
	if (write(parent, ok, n) == -1)
		log_warn("cannot tell the parent we started");
	close(parent);
	log_to_fd(STDERR_FILENO, LOG_DEBUG);
	if (daemon_errfd != -1)
		close(daemon_errfd);
	daemon_errfd = -1;
}

/* As many fds as the hard limit allows: each connection takes one. */
static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("cannot raise the fd limit");
	}
}

/*
 * -t: would start refuse for want of fds or processes (-1, said), and
 * can a reload hold its sockets (a warning)?  At start tcpd raises its
 * soft fd limit to the hard one, so the hard one counts here.
 */
static int
check_limits(const struct conf *conf)
{
	struct rlimit	 rl;
	char		 err[512];
	int		 reload = master_fds_needed(conf, 1);

	if (master_check_limits(conf, 0, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: tcpd would not start: %s\n", conf->path,
		    err);
		return -1;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_max != RLIM_INFINITY && rl.rlim_max < (rlim_t)reload)
		fprintf(stderr, "%s: warning: a reload needs %d file "
		    "descriptors in the master (per slot one more, for the "
		    "new worker), but the limit here is %llu (ulimit -Hn)\n",
		    conf->path, reload, (unsigned long long)rl.rlim_max);
	return 0;
}

/*
 * Start the master (detached unless foreground) and run it to its end.
 */
static int
run(struct conf *conf, int foreground, int argc, char *argv[])
{
	struct master	*m;
	struct notifier	*n;
	char		*pid_file = NULL, err[512];
	const char	*at;
	int		 pidfd = -1, parent = -1, rc;

	/*
	 * The title first: it moves the environment to the heap, so that
	 * notify_init() removes its variables from what workers inherit and
	 * the title then covers the original (/proc/PID/environ) too.
	 */
	proctitle_init(argc, argv);
	n = notify_init();
	if (!foreground)
		parent = daemon_start(n);
	/* A daemon's caller sees its warnings until it has started. */
	log_open(conf->log_facility, conf->log_level, !foreground ||
	    conf->log_target == LOG_TARGET_SYSLOG ||
	    conf->log_target == LOG_TARGET_BOTH, foreground ?
	    conf->log_target != LOG_TARGET_SYSLOG : 1);
	if (!foreground && conf->log_target == LOG_TARGET_STDERR)
		log_warnx("log_target \"stderr\" needs -f: a daemon logs to "
		    "syslog");
	if (!foreground && !log_syslog_reachable())
		log_warnx("syslog cannot be reached (%s): every log line is "
		    "lost until a syslog daemon listens there; or run tcpd "
		    "-f, which logs to stderr", _PATH_LOG);
	if (conf->ident.user != NULL && geteuid() != 0)
		log_notice("not started as root: user %s is ignored",
		    conf->ident.user);
	if (conf_ident_check(conf, &at, err, sizeof(err)) == -1) {
		log_warnx("%s: %s", at, err);
		conf_free(conf);
		notify_free(n);
		return 1;
	}
	if (conf->pid_file != NULL) {
		if ((pid_file = strdup(conf->pid_file)) == NULL)
			fatal("strdup");
		if ((pidfd = pidfile_open(pid_file)) == -1) {
			conf_free(conf);
			notify_free(n);
			free(pid_file);
			return 1;
		}
	}
	raise_nofile();
	if ((m = master_new(conf, pidfd, foreground, n)) == NULL)
		fatal("calloc");
	if (master_listen(m) == -1 ||
	    (pidfd != -1 && pidfile_write(pidfd, pid_file) == -1) ||
	    master_start(m) == -1) {
		if (pid_file != NULL)
			unlink(pid_file);
		master_free(m);
		notify_free(n);
		free(pid_file);
		return 1;
	}
	if (parent != -1) {
		daemon_ready(parent, notify_status(n));
		conf_log_open(conf, 0);
	}
	rc = master_run(m);
	master_free(m);
	notify_free(n);
	if (pid_file != NULL)
		unlink(pid_file);
	free(pid_file);
	return rc;
}

/* What the command line asks for. */
struct args {
	const char	*path;
	const char	*cmd;		/* -s, or NULL */
	int		 sig;		/* 0: -s status */
	int		 foreground;
	int		 test;		/* 1: -t, 2: -T */
	int		 json;
	int		 wait;
	const char	*pid_file;	/* -p */
	const char	*control_socket; /* -S */
};

/* Parse the options into a; exits on -h, -V and usage errors. */
static void
parse_args(int argc, char *argv[], struct args *a)
{
	static const struct option	 longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "control-socket", required_argument, NULL, 'S' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "signal", required_argument, NULL, 's' },
		{ "test", no_argument, NULL, 't' },
		{ "test-dump", no_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "wait", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	int				 ch;

	while ((ch = getopt_long(argc, argv, "c:fhp:S:s:tTVw", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->path = optarg;
			break;
		case 'p':
			a->pid_file = optarg;
			break;
		case 'S':
			a->control_socket = optarg;
			break;
		case 'w':
			a->wait = 1;
			break;
		case 'f':
			a->foreground = 1;
			break;
		case 'h':
			usage(stdout, 0);
		case 'j':
			a->json = 1;
			break;
		case 's':
			a->cmd = optarg;
			if ((a->sig = command_signal(a->cmd)) == 0 &&
			    strcmp(a->cmd, "status") != 0) {
				fprintf(stderr, "tcpd: unknown -s command "
				    "'%s': use reload, quit, stop, drain, "
				    "undrain or status\n",
				    a->cmd);
				exit(2);
			}
			break;
		case 't':
			a->test = 1;
			break;
		case 'T':
			a->test = 2;
			break;
		case 'V':
#ifdef TCPD_TEST_HOOKS
			printf("tcpd %s (with test hooks)\n", PACKAGE_VERSION);
#else
			printf("tcpd %s\n", PACKAGE_VERSION);
#endif
			exit(0);
		default:
			usage(stderr, 2);
		}
	}
	if (a->json && (a->cmd == NULL || a->sig != 0)) {
		fprintf(stderr, "tcpd: --json goes with -s status\n");
		usage(stderr, 2);
	}
	if (a->wait && (a->cmd == NULL || (a->sig != SIGQUIT &&
	    a->sig != SIGTERM))) {
		fprintf(stderr, "tcpd: --wait goes with -s quit or -s stop\n");
		usage(stderr, 2);
	}
	if ((a->pid_file != NULL || a->control_socket != NULL) &&
	    a->cmd == NULL) {
		fprintf(stderr, "tcpd: -p and -S go with -s\n");
		usage(stderr, 2);
	}
	if (optind != argc) {
		fprintf(stderr, "tcpd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr, 2);
	}
}

/*
 * -t: the file, the pid file's directory, the fd and process limits,
 * and whether this user could take each service's identity.  What start
 * would refuse, -t refuses; the identities only warn, since as root
 * they may be taken.
 */
static int
check_only(struct conf *conf, const char *path)
{
	char		 err[1024];
	const char	*at;
	int		 rc = 0;

	if (conf_check_paths(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		rc = 1;
	} else if (check_limits(conf) == -1)
		rc = 1;
	else {
		if (conf_ident_check(conf, &at, err, sizeof(err)) == -1)
			fprintf(stderr, "%s: warning: %s: tcpd would not "
			    "start\n", at, err);
		check_host(conf, stderr);
		printf("%s: configuration OK\n", path);
	}
	conf_free(conf);
	return rc;
}

/* Clean fds, options, the file, then -t, -s or a run. */
int
main(int argc, char *argv[])
{
	struct args	 a = { .path = TCPD_CONF_PATH };
	struct conf	*conf;
	char		 err[1024];

	/*
	 * Whatever descriptors the caller left open are not tcpd's: a worker
	 * would keep them, and whoever waits on their other end would wait
	 * as long as tcpd runs.
	 */
	close_range(STDERR_FILENO + 1, ~0U, 0);
	/*
	 * And what it closed of stdio is /dev/null: a socket opened at 0, 1
	 * or 2 would be taken for stdio, by a worker's log lines and by a
	 * program's stderr.
	 */
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY)
		    != fd)
			return 1;
	log_init(1);
	parse_args(argc, argv, &a);
	if (a.cmd != NULL) {
		struct command c = { a.path, a.cmd, a.sig, a.json, a.wait,
		    a.pid_file, a.control_socket };
		return command_run(&c);
	}
	if ((conf = conf_load(a.path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (a.test == 2) {
		conf_dump(conf, stdout);
		conf_free(conf);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (a.test)
		return check_only(conf, a.path);
	return run(conf, a.foreground, argc, argv);
}
