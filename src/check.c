/*
 * tcpd -t: what the file alone cannot tell, found on this host as it is
 * now.  Each is a warning, since the host at start may differ (another
 * user, capabilities, a process gone); a start meets the same and fails.
 * Can each address be bound: on this host, free of other processes, its
 * port open to this user?  Can each program run as its service's user?
 * Does each access list let anyone in?
 */
#include "config.h"

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "conf_net.h"
#include "sockdiag.h"

/* The most socket inodes of a running master taken as its own. */
#define CHECK_OURS_MAX	65536

/*
 * The pid of the master running on c's pid file, if one holds it: the
 * addresses it listens on are busy, but not for a reload of c.
 */
static pid_t
check_master(const struct conf *c)
{
	char	 buf[32];
	ssize_t	 n;
	pid_t	 pid = 0;
	int	 fd;

	if (c->pid_file == NULL ||
	    (fd = open(c->pid_file, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == -1 &&
	    (n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		pid = (pid_t)strtol(buf, NULL, 10);
	}
	close(fd);
	return pid > 1 ? pid : 0;
}

/* The running master's sockets, for sockdiag_foreign(). */
struct check_ours {
	const ino_t	*v;
	size_t		 n;
};

static int
check_is_ours(void *arg, unsigned long inode)
{
	const struct check_ours	*o = arg;

	for (size_t i = 0; i < o->n; i++)
		if (o->v[i] == (ino_t)inode)
			return 1;
	return 0;
}

/* The inodes of pid's sockets into ours; how many. */
static size_t
check_inodes(pid_t pid, ino_t *ours, size_t max)
{
	char		 path[300], link[64];
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0;
	ssize_t		 len;
	unsigned long	 ino;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return 0;
	while (n < max && (de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/%ld/fd/%s", (long)pid,
		    de->d_name);
		if ((len = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &ino) == 1)
			ours[n++] = (ino_t)ino;
	}
	closedir(d);
	return n;
}

/* The port of addr. */
static int
check_port(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)a)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

/* The lowest port bound without the privilege, as this kernel has it. */
static int
check_unprivileged_start(void)
{
	FILE	*fp;
	int	 n = 1024;

	if ((fp = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start",
	    "re")) != NULL) {
		if (fscanf(fp, "%d", &n) != 1)
			n = 1024;
		fclose(fp);
	}
	return n;
}

/* Can l be bound here?  A warning to fp if not. */
static int
check_listen(const struct conf *c, const struct conf_service *sv,
    const struct conf_listen *l, const ino_t *ours, size_t nours, FILE *fp)
{
	struct sockdiag_sock	 who;
	int			 fd, on = 1, rc, err;

	if ((fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	rc = bind(fd, (const struct sockaddr *)&l->addr, l->addrlen);
	err = errno;
	close(fd);
	if (rc == 0)
		return 0;
	if (err == EADDRNOTAVAIL)
		fprintf(fp, "%s: warning: service '%s': %s is not an address "
		    "of this host: tcpd would not start\n", sv->at, sv->name,
		    l->text);
	else if (err == EACCES && check_port(&l->addr) <
	    check_unprivileged_start())
		fprintf(fp, "%s: warning: service '%s': port %d of %s needs "
		    "root or the capability CAP_NET_BIND_SERVICE, which uid "
		    "%ld here lacks: tcpd would not start\n", sv->at,
		    sv->name, check_port(&l->addr), l->text, (long)geteuid());
	else if (err == EADDRINUSE) {
		/* Busy: by the master of this very file, or another? */
		struct check_ours o = { ours, nours };
		if (sockdiag_foreign(&l->addr, check_is_ours, &o, &who) != 1)
			return 0;
		fprintf(fp, "%s: warning: service '%s': %s is in use by "
		    "another process (uid %ld): tcpd would not start\n",
		    sv->at, sv->name, l->text, (long)who.uid);
	} else
		fprintf(fp, "%s: warning: service '%s': cannot bind %s: %s\n",
		    sv->at, sv->name, l->text, strerror(err));
	(void)c;
	return 1;
}

/*
 * Can the service's user run its program (and its interpreter)?  Asked
 * in a child that takes the service's identity, as its workers do.
 */
static int
check_program(const struct conf *c, const struct conf_service *sv, FILE *fp)
{
	const struct conf_ident	*id = sv->ident.user != NULL ? &sv->ident :
	    &c->ident;
	const char		*prog = sv->exec.argv[0];
	pid_t			 pid;
	int			 st;

	if (geteuid() != 0 || id->user == NULL || id->uid == 0)
		return 0;	/* the check as loaded: this user's */
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		if (setgroups(id->ngroups, id->groups) == -1 ||
		    setgid(id->gid) == -1 || setuid(id->uid) == -1)
			_exit(2);
		if (access(prog, X_OK) == -1)
			_exit(3);
		_exit(access(sv->exec.cwd, X_OK) == -1 ? 4 : 0);
	}
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) < 3)
		return 0;
	if (WEXITSTATUS(st) == 3)
		fprintf(fp, "%s: warning: service '%s': user %s cannot run "
		    "%s: tcpd would not start\n", sv->at, sv->name, id->user,
		    prog);
	else
		fprintf(fp, "%s: warning: service '%s': user %s cannot enter "
		    "cwd %s: tcpd would not start\n", sv->at, sv->name,
		    id->user, sv->exec.cwd);
	return 1;
}

/* Every check above, warnings to fp; returns how many were said. */
int
check_host(const struct conf *c, FILE *fp)
{
	ino_t	*ours;
	size_t	 nours = 0;
	pid_t	 master;
	char	 text[512];
	int	 n = 0;

	if ((ours = calloc(CHECK_OURS_MAX, sizeof(*ours))) == NULL)
		return 0;
	if ((master = check_master(c)) != 0)
		nours = check_inodes(master, ours, CHECK_OURS_MAX);
	for (int i = 0; i < c->nservices; i++) {
		const struct conf_service *sv = &c->services[i];

		for (int j = 0; j < sv->nlisten; j++)
			n += check_listen(c, sv, &sv->listen[j], ours, nours,
			    fp);
		if (sv->exec.argv != NULL)
			n += check_program(c, sv, fp);
		if (!conf_access_allows(&sv->net)) {
			conf_access_warning(sv, text, sizeof(text));
			fprintf(fp, "%s\n", text);
			n++;
		}
	}
	free(ours);
	return n;
}
