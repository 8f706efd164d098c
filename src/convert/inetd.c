/*
 * inetd.conf lines as tcpd services, as openbsd-inetd(8) reads them:
 *   [host[,host]:]service socket_type protocol[,opts] wait|nowait[.max]
 *   user[.group] server [argv0 args...]
 * and "host:" alone, which sets the host of the lines after it.  Lines
 * update-inetd(8) disabled ("#<off># ...") come out disabled.
 */
#include "config.h"

#include <arpa/inet.h>

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

#define OFF_MARK	"#<off>#"

/* The run's state across lines: the host of "host:" lines. */
struct iparse {
	struct cv_ctx	*x;
	struct cv_file	*f;
	char		 host[256];
};

/* One host of a host list: an address, or * for all of a family. */
static void
i_host(struct cv_svc *s, const char *h, const char *port, int v4, int v6)
{
	unsigned char	 a[16];
	char		 buf[64];
	size_t		 len = strlen(h);

	if (strcmp(h, "*") == 0) {
		cv_listen_all(s, port, v4, v6);
		return;
	}
	if (len > 2 && h[0] == '[' && h[len - 1] == ']' && len < sizeof(buf)) {
		memcpy(buf, h + 1, len - 2);
		buf[len - 2] = '\0';
		h = buf;
	}
	if (inet_pton(AF_INET, h, a) == 1 && v4)
		cv_add(&s->listen, "%s:%s", h, port);
	else if (inet_pton(AF_INET6, h, a) == 1 && v6)
		cv_add(&s->listen, "[%s]:%s", h, port);
	else if (inet_pton(AF_INET, h, a) == 1 ||
	    inet_pton(AF_INET6, h, a) == 1)
		cv_add(&s->notes, "address %s is left out: not of the "
		    "protocol's family", h);
	else
		cv_svc_off(s, "host '%s' is not an address: tcpd listens on "
		    "addresses, and all of them would be more than inetd "
		    "listened on", h);
}

/* protocol[,sndbuf=N][,rcvbuf=N]: the families, or why not TCP. */
static int
i_proto(struct iparse *p, size_t line, struct cv_svc *s, char *proto,
    int *v4, int *v6)
{
	char	*opt = strchr(proto, ',');

	if (opt != NULL) {
		*opt++ = '\0';
		cv_add(&s->notes, "'%s' is not carried: tcpd leaves the "
		    "socket buffers to the kernel", opt);
	}
	*v4 = *v6 = 0;
	if (strcmp(proto, "tcp") == 0 || strcmp(proto, "tcp46") == 0)
		*v4 = *v6 = 1;
	else if (strcmp(proto, "tcp4") == 0)
		*v4 = 1;
	else if (strcmp(proto, "tcp6") == 0)
		*v6 = 1;
	else if (strncmp(proto, "udp", 3) == 0 || strcmp(proto, "unix") == 0)
		cv_svc_off(s, "protocol %s: tcpd serves TCP only", proto);
	else if (strncmp(proto, "rpc/", 4) == 0)
		cv_svc_off(s, "an RPC service (%s): tcpd has no portmapper "
		    "registration", proto);
	else
		return cv_error(p->x, p->f->path, line, "unknown protocol "
		    "'%s'", proto);
	return 0;
}

/* wait|nowait[.max]: max a minute is the closest per_source rate. */
static int
i_wait(struct iparse *p, size_t line, struct cv_svc *s, char *w)
{
	char	*dot = strchr(w, '.');
	long	 max = 0;

	if (dot != NULL) {
		*dot++ = '\0';
		if (cv_number(dot, 1, 60000000, &max) == -1)
			return cv_error(p->x, p->f->path, line, "'%s.%s': the "
			    "number after the dot must be from 1 up", w, dot);
	}
	if (strcmp(w, "wait") == 0)
		cv_svc_off(s, "wait: the program would accept connections "
		    "itself; tcpd runs one program per connection (a systemd "
		    "socket unit with Accept=no does the former)");
	else if (strcmp(w, "nowait") != 0)
		return cv_error(p->x, p->f->path, line, "expected wait or "
		    "nowait, not '%s'", w);
	else if (max > 0) {
		s->ps_rate = (max + 59) / 60;
		s->ps_burst = max;
		cv_add(&s->notes, "nowait.%ld is per_source rate %ld, burst "
		    "%ld: inetd stops the whole service for 10 minutes past "
		    "%ld starts a minute; tcpd refuses only the source over "
		    "its rate, and the service stays on", max, s->ps_rate,
		    max, max);
	}
	return 0;
}

/* user[.group] or user[:group]. */
static void
i_user(struct cv_svc *s, char *u)
{
	char	*g = strpbrk(u, ".:");

	if (g != NULL)
		*g++ = '\0';
	if (strcmp(s->handler, "exec") != 0) {
		if (strcmp(u, "root") != 0 || g != NULL)
			cv_add(&s->notes, "the user is not carried: inetd "
			    "serves internal services itself, tcpd in its "
			    "workers, as its global user");
		return;
	}
	if ((s->user = cv_ident(u, 0)) == NULL)
		cv_svc_off(s, "user '%s' does not exist here", u);
	if (g != NULL && (s->group = cv_ident(g, 1)) == NULL)
		cv_svc_off(s, "group '%s' does not exist here", g);
}

/* One service line, split into words w[0..n). */
static int
i_service(struct iparse *p, size_t line, char **w, size_t n, int off)
{
	struct cv_svc	*s;
	char		*svc = w[0], *hosts = p->host, *colon, *h, *save;
	char		*title;
	long		 port;
	int		 v4, v6;

	if ((colon = strrchr(svc, ':')) != NULL) {
		*colon = '\0';
		hosts = svc;
		svc = colon + 1;
	}
	if (*svc == '\0' || *hosts == '\0')
		return cv_error(p->x, p->f->path, line, "no service before "
		    "the socket type");
	title = cv_printf("inetd %s/%s", svc, w[2]);
	s = cv_svc_new(p->x, svc, title, p->f->path, line);
	free(title);
	if (strcmp(w[1], "stream") != 0) {
		if (strcmp(w[1], "dgram") != 0 && strcmp(w[1], "raw") != 0 &&
		    strcmp(w[1], "rdm") != 0 && strcmp(w[1], "seqpacket") != 0)
			return cv_error(p->x, p->f->path, line, "unknown "
			    "socket type '%s'", w[1]);
		cv_svc_off(s, "socket type %s: tcpd serves TCP streams only",
		    w[1]);
	}
	if (i_proto(p, line, s, w[2], &v4, &v6) == -1 ||
	    i_wait(p, line, s, w[3]) == -1)
		return -1;
	if (strcmp(w[5], "internal") == 0) {
		if ((s->handler = cv_builtin(svc)) == NULL) {
			s->handler = "exec";
			cv_svc_off(s, "inetd's internal '%s' has no tcpd "
			    "equivalent", svc);
		}
	}
	i_user(s, w[4]);
	if (strcmp(w[5], "internal") != 0 &&
	    cv_program(s, w[5], w + 6, n - 6, 1) == -1)
		return -1;
	if (strchr(svc, '/') != NULL)
		cv_svc_off(s, "an RPC service (%s): tcpd has no portmapper "
		    "registration", svc);
	else if (cv_number(svc, 1, 65535, &port) == -1 &&
	    getservbyname(svc, "tcp") == NULL)
		cv_svc_off(s, "'%s' is neither a port nor a TCP service in "
		    "/etc/services", svc);
	for (h = strtok_r(hosts, ",", &save); h != NULL && s->off == NULL;
	    h = strtok_r(NULL, ",", &save))
		i_host(s, h, svc, v4, v6);
	if (off && s->off == NULL) {
		cv_svc_off(s, "disabled in inetd.conf (%s): kept with "
		    "disable = true; remove that line to serve it", OFF_MARK);
		s->disabled = 1;
	}
	return 0;
}

/* One line that is neither blank nor a plain comment. */
static int
i_line(struct iparse *p, size_t i)
{
	char	*l = p->f->line[i], *w[CV_WORDS_MAX];
	size_t	 n, len;
	int	 off = 0;

	if (strncmp(l, OFF_MARK, strlen(OFF_MARK)) == 0) {
		l += strlen(OFF_MARK);
		off = 1;
	}
	if ((n = cv_words(l, w, CV_WORDS_MAX)) == 0)
		return 0;
	if (n == CV_WORDS_MAX)
		return cv_error(p->x, p->f->path, i + 1, "more than %d words",
		    CV_WORDS_MAX - 1);
	len = strlen(w[0]);
	if (n == 1 && len > 1 && w[0][len - 1] == ':' && !off) {
		if (len >= sizeof(p->host))
			return cv_error(p->x, p->f->path, i + 1, "host list "
			    "longer than %zu bytes", sizeof(p->host) - 1);
		memcpy(p->host, w[0], len - 1);
		p->host[len - 1] = '\0';
		return 0;
	}
	if (n < 6)
		return cv_error(p->x, p->f->path, i + 1, "expected 'service "
		    "socket_type protocol wait user server [args...]' or "
		    "'host:'");
	return i_service(p, i + 1, w, n, off);
}

/* Convert an inetd.conf. */
int
cv_inetd(struct cv_ctx *x, const char *path)
{
	struct iparse	 p = { x, NULL, "*" };
	const char	*l;

	if (cv_read(x, path, &p.f) == -1)
		return -1;
	cv_add(&x->head, "inetd with -l, or a server of /usr/sbin/tcpd, also "
	    "asks /etc/hosts.allow and /etc/hosts.deny; tcpd does not: write "
	    "what they say as 'access' rules.");
	for (size_t i = 0; i < p.f->nlines; i++) {
		l = p.f->line[i];
		if (strncmp(l, OFF_MARK, strlen(OFF_MARK)) != 0 &&
		    cv_blank(l))
			continue;
		if (i_line(&p, i) == -1)
			return -1;
	}
	return 0;
}
