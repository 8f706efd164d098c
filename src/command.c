/*
 * tcpd -s: find the running master, from the file when it loads, from
 * its pid_file and control_socket lines when it does not, or from -p
 * and -S; then tell it, over its control socket, or by a signal where
 * there is none.
 */
#include "config.h"

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "command.h"
#include "conf.h"
#include "conf_peek.h"
#include "control.h"
#include "paths.h"
#include "util.h"

static const struct {
	const char	*name;
	int		 sig;
} commands[] = {
	{ "reload", SIGHUP },
	{ "quit", SIGQUIT },
	{ "stop", SIGTERM },
	/* No signal says these: the control socket only. */
	{ "drain", CMD_NO_SIGNAL },
	{ "undrain", CMD_NO_SIGNAL },
};

/* The signal of -s name, or 0 (status, or unknown). */
int
command_signal(const char *name)
{
	for (size_t i = 0; i < nitems(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return commands[i].sig;
	return 0;
}

/* The pid in a pid file, or -1. */
pid_t
pidfile_pid(int fd)
{
	char	 buf[32];
	ssize_t	 n;
	long	 pid;
	char	*end;

	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	if (end == buf || (*end != '\n' && *end != '\0') || pid <= 1)
		return -1;
	return (pid_t)pid;
}

/* Until no process holds the lock of the pid file at path. */
static void
pidfile_wait(const char *path)
{
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;		/* gone already */
	while (flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK)
		sleep_ms(10);
	close(fd);
}

/*
 * -s without a control socket: send sig to the master named in the pid
 * file; with wait, until it is gone (it holds the file's lock to its end).
 */
static int
signal_master(const char *pid_file, int sig, const char *cmd, int wait)
{
	pid_t	 pid;
	int	 fd;

	if ((fd = open(pid_file, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "tcpd: not running (%s: %s)\n", pid_file,
		    strerror(errno));
		return 1;
	}
	/* A running master holds the lock; a stale file names a dead pid. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		fprintf(stderr, "tcpd: not running (stale pid file %s)\n",
		    pid_file);
		close(fd);
		return 1;
	}
	if ((pid = pidfile_pid(fd)) == -1) {
		fprintf(stderr, "tcpd: %s: no pid in it\n", pid_file);
		close(fd);
		return 1;
	}
	if (kill(pid, sig) == -1) {
		fprintf(stderr, "tcpd: cannot send %s to pid %ld: %s\n", cmd,
		    (long)pid, strerror(errno));
		close(fd);
		return 1;
	}
	if (sig == SIGHUP)
		fprintf(stderr, "tcpd: reload signalled to pid %ld; with no "
		    "control socket, its outcome is in the log only\n",
		    (long)pid);
	while (wait && flock(fd, LOCK_SH | LOCK_NB) == -1)
		sleep_ms(50);
	close(fd);
	return 0;
}

/* Where the running master is: its pid file and control socket. */
struct where {
	char	*pid_file;
	char	*control_socket;
};

/*
 * Find the master for -s: from -p and -S; else from the file, loaded in
 * full; else, when it does not load, from its pid_file and
 * control_socket lines, with a warning: a broken file must not keep an
 * administrator from stopping or asking the master.
 */
static int
find_master(const struct command *a, struct where *w)
{
	struct conf	*conf;
	char		 err[1024];

	w->pid_file = a->pid_file != NULL ? strdup(a->pid_file) : NULL;
	w->control_socket = a->control_socket != NULL ?
	    strdup(a->control_socket) : NULL;
	if (a->pid_file != NULL && a->control_socket == NULL)
		w->control_socket = conf_socket_beside(a->pid_file);
	if (w->pid_file != NULL || w->control_socket != NULL)
		return 0;
	if ((conf = conf_load(a->path, err, sizeof(err))) != NULL) {
		if (conf->pid_file != NULL)
			w->pid_file = strdup(conf->pid_file);
		if (conf->control_socket != NULL)
			w->control_socket = strdup(conf->control_socket);
		conf_free(conf);
	} else {
		fprintf(stderr, "tcpd: warning: %s\n", err);
		if (conf_peek(a->path, &w->pid_file, &w->control_socket) == 0 &&
		    (w->pid_file != NULL || w->control_socket != NULL))
			fprintf(stderr, "tcpd: warning: finding the master by "
			    "the file's %s line anyway\n", w->pid_file != NULL ?
			    "pid_file" : "control_socket");
	}
	if (w->pid_file != NULL || w->control_socket != NULL)
		return 0;
	/* Last, where the installed configuration keeps it. */
	if (access(TCPD_PID_PATH, F_OK) == 0) {
		fprintf(stderr, "tcpd: warning: %s names no pid_file: trying "
		    "the installed one, %s\n", a->path, TCPD_PID_PATH);
		w->pid_file = strdup(TCPD_PID_PATH);
		w->control_socket = conf_socket_beside(TCPD_PID_PATH);
		return 0;
	}
	fprintf(stderr, "tcpd: %s names neither pid_file nor control_socket "
	    "(or cannot be read), and %s is not there: cannot find the "
	    "master; name it with -p PIDFILE or -S SOCKET\n", a->path,
	    TCPD_PID_PATH);
	return -1;
}

/*
 * Ask the master request on its control socket; its answer into *ans
 * (malloc'd).  -1 with err set when it cannot be reached, *unreached set
 * when there is nobody there to ask (no socket file, nobody listening).
 */
static int
ask_master(const char *sock, const char *request, char **ans, int *unreached,
    char *err, size_t errlen)
{
	FILE	*mem;
	size_t	 len;
	int	 rc;

	*ans = NULL;
	if ((mem = open_memstream(ans, &len)) == NULL) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	rc = control_ask(sock, request, mem, err, errlen);
	*unreached = rc == -1 && strstr(err, "cannot reach") != NULL;
	fclose(mem);
	return rc;
}

/* -s status: ask the master on its control socket, print the answer. */
static int
status_master(const struct where *w, int json)
{
	char	 err[512];

	if (w->control_socket == NULL) {
		fprintf(stderr, "tcpd: no control socket to ask (set "
		    "control_socket or pid_file, or give -S)\n");
		return 1;
	}
	if (control_ask(w->control_socket, json ? "status json" : "status",
	    stdout, err, sizeof(err)) == -1) {
		fprintf(stderr, "tcpd: %s\n", err);
		return 1;
	}
	return 0;
}

/*
 * -s reload, quit, stop: on the control socket, which says how a reload
 * ended (exit 1 with the master's reason when refused) and, with wait,
 * is held open to the master's end; by signal where there is none.
 */
static int
command_master(const struct where *w, const struct command *a)
{
	char	 req[32], err[512], *ans = NULL;
	int	 unreached = 1, rc;

	snprintf(req, sizeof(req), "%s%s", a->cmd, a->wait && a->sig !=
	    SIGHUP ? " wait" : "");
	if (w->control_socket != NULL && ask_master(w->control_socket, req,
	    &ans, &unreached, err, sizeof(err)) == 0) {
		rc = strncmp(ans, "ok:", 3) == 0 ? 0 : 1;
		if (rc != 0 || a->sig == SIGHUP || a->sig == CMD_NO_SIGNAL)
			fputs(ans, rc == 0 ? stdout : stderr);
		free(ans);
		/*
		 * The socket closes as the master finishes; it is gone once
		 * it lets go of its pid file's lock, at its exit.
		 */
		if (rc == 0 && a->wait && w->pid_file != NULL)
			pidfile_wait(w->pid_file);
		return rc;
	}
	free(ans);
	if (a->sig == CMD_NO_SIGNAL && w->control_socket == NULL) {
		fprintf(stderr, "tcpd: -s %s goes over the control socket, "
		    "and there is none to ask (no signal says it)\n", a->cmd);
		return 1;
	}
	if (!unreached || w->pid_file == NULL || a->sig == CMD_NO_SIGNAL) {
		fprintf(stderr, "tcpd: %s\n", w->control_socket != NULL ? err :
		    "no pid file to find the master by");
		return 1;
	}
	return signal_master(w->pid_file, a->sig, a->cmd, a->wait);
}

/* Run what a asks of the master; the exit status. */
int
command_run(const struct command *a)
{
	struct where	 w;
	int		 rc;

	if (find_master(a, &w) == -1)
		return 1;
	rc = a->sig == 0 ? status_master(&w, a->json) : command_master(&w, a);
	free(w.pid_file);
	free(w.control_socket);
	return rc;
}
