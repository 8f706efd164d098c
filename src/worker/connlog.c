/*
 * The connection log: one line per connection's end, one per refusal,
 * key=value (logfmt) in a fixed form, and refusals rate-limited per
 * source so that a flood of refused connections cannot flood the log.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "connlog.h"
#include "log.h"
#include "loop.h"
#include "sig.h"
#include "tcpinfo.h"
#include "util.h"

/* The longest reason kept for a summary, with its NUL. */
#define REASON_MAX	160
/* An address as the log writes it: "[v6]:port", with its NUL. */
#define WHO_MAX		(INET6_ADDRSTRLEN + 8)

/* An address as the log shows it, and the key of a source. */
struct who {
	int		 family;	/* AF_INET, AF_INET6; 0: unknown */
	uint8_t		 addr[16];
	unsigned	 port;
};

/* One source's refusals in its interval, or (family 0) a free entry. */
struct source {
	struct who	 who;		/* port unused */
	int64_t		 since;		/* its first refusal, ms */
	unsigned	 logged;	/* lines logged one by one since */
	unsigned long	 missed;	/* refusals not logged one by one */
	char		 reason[REASON_MAX];	/* the last one missed */
};

/*
 * The worker's refusal log.  Acceptor threads refuse, the loop logs the
 * summaries: both under the lock.  due is read without it, by the loop
 * before each wait.
 */
static struct {
	pthread_mutex_t	 lock;
	const char	*service;
	unsigned	 per_source;	/* lines one by one; 0: summaries only */
	int64_t		 window;	/* the worker's interval began */
	unsigned	 lines;		/* refusal lines logged in it */
	struct source	 others;	/* sources that found no entry */
	struct source	 sources[CONNLOG_SOURCES];
	_Atomic int64_t	 due;		/* the next summary; 0: none owed */
} cl = { .lock = PTHREAD_MUTEX_INITIALIZER, .service = "?" };

/* sa as the log shows it. */
static void
who_of(const struct sockaddr *sa, struct who *w)
{
	memset(w, 0, sizeof(*w));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;
		w->family = AF_INET;
		memcpy(w->addr, &s4->sin_addr, 4);
		w->port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		w->port = ntohs(s6->sin6_port);
		/* Mapped IPv4 (tcpd's own [::] sockets are V6ONLY): IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			w->family = AF_INET;
			memcpy(w->addr, s6->sin6_addr.s6_addr + 12, 4);
			return;
		}
		w->family = AF_INET6;
		memcpy(w->addr, &s6->sin6_addr, 16);
	}
}

/* "a.b.c.d:port" or "[v6]:port"; without ":port" when port is 0. */
static void
who_text(const struct who *w, int port, char *buf, size_t len)
{
	char	 ip[INET6_ADDRSTRLEN];

	if (w->family == 0 ||
	    inet_ntop(w->family, w->addr, ip, sizeof(ip)) == NULL) {
		snprintf(buf, len, "-");
		return;
	}
	if (w->family == AF_INET6 && port)
		snprintf(buf, len, "[%s]:%u", ip, w->port);
	else if (w->family == AF_INET6)
		snprintf(buf, len, "[%s]", ip);
	else if (port)
		snprintf(buf, len, "%s:%u", ip, w->port);
	else
		snprintf(buf, len, "%s", ip);
}

/* " proxy=IP:PORT", the balancer a connection came through, or "". */
static void
proxy_text(const struct sockaddr_storage *proxy, char *buf, size_t len)
{
	struct who	 w;
	char		 t[WHO_MAX];

	buf[0] = '\0';
	if (proxy == NULL)
		return;
	who_of((const struct sockaddr *)proxy, &w);
	who_text(&w, 1, t, sizeof(t));
	snprintf(buf, len, " proxy=%s", t);
}

/*
 * s as a logfmt value: in double quotes, with '"' and '\' escaped and
 * control characters as \xHH, so that no reason can end the value, nor
 * the line, early.
 */
static void
quote(const char *s, char *buf, size_t len)
{
	size_t	 n = 0;

	buf[n++] = '"';
	for (; *s != '\0' && n + 6 < len; s++) {
		unsigned char ch = *s;

		if (ch == '"' || ch == '\\') {
			buf[n++] = '\\';
			buf[n++] = ch;
		} else if (ch < 0x20 || ch == 0x7f)
			n += snprintf(buf + n, len - n, "\\x%02x", ch);
		else
			buf[n++] = ch;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

/* A signal's name, for exit=; the usual ones by name, others by number. */
static void
signal_text(int sig, char *buf, size_t len)
{
	static const struct {
		int		 sig;
		const char	*name;
	} names[] = {
		{ SIGHUP, "HUP" }, { SIGINT, "INT" }, { SIGQUIT, "QUIT" },
		{ SIGILL, "ILL" }, { SIGTRAP, "TRAP" }, { SIGABRT, "ABRT" },
		{ SIGBUS, "BUS" }, { SIGFPE, "FPE" }, { SIGKILL, "KILL" },
		{ SIGUSR1, "USR1" }, { SIGSEGV, "SEGV" }, { SIGUSR2, "USR2" },
		{ SIGPIPE, "PIPE" }, { SIGALRM, "ALRM" }, { SIGTERM, "TERM" },
		{ SIGXCPU, "XCPU" }, { SIGXFSZ, "XFSZ" }, { SIGSYS, "SYS" },
	};

	for (size_t i = 0; i < nitems(names); i++)
		if (names[i].sig == sig) {
			snprintf(buf, len, "SIG%s", names[i].name);
			return;
		}
	snprintf(buf, len, "SIG%d", sig);
}

/* " program=PID exit=STATUS", and the reason: how the program ended. */
static void
program_text(const struct conn *c, char *prog, size_t plen, char *why,
    size_t wlen)
{
	char	 how[64], st[16];

	if (WIFEXITED(c->status))
		snprintf(st, sizeof(st), "%d", WEXITSTATUS(c->status));
	else if (WIFSIGNALED(c->status))
		signal_text(WTERMSIG(c->status), st, sizeof(st));
	else
		snprintf(st, sizeof(st), "-");
	snprintf(prog, plen, " program=%ld exit=%s", (long)c->holder, st);
	sig_exit_text(c->status, how, sizeof(how));
	snprintf(why, wlen, "program %s%s", how, c->flags & CONN_GROUP_LEFT ?
	    "; the rest of its process group ended later" : "");
}

/*
 * What the kernel measured (TCP_INFO just before the close): " rtt_ms=
 * ... tcp_state=...", or "" for a program's connection.
 */
static void
tcpinfo_text(const struct tcpinfo *ti, char *buf, size_t len)
{
	if (ti == NULL) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, len, " rtt_ms=%u.%03u rttvar_ms=%u.%03u retrans=%u "
	    "lost=%u cwnd=%u delivery_Bps=%llu tcp_state=%s",
	    ti->rtt_us / 1000, ti->rtt_us % 1000, ti->rttvar_us / 1000,
	    ti->rttvar_us % 1000, ti->retrans, ti->lost, ti->cwnd,
	    (unsigned long long)ti->delivery_rate, tcpinfo_state(ti->state));
}

void
connlog_closed(const struct conn *c, const char *end,
    const struct tcpinfo *ti)
{
	struct who	 peer, local;
	char		 client[WHO_MAX], here[WHO_MAX], in[24], out[24];
	char		 prog[64] = "", why[REASON_MAX], q[2 * REASON_MAX];
	char		 tcp[192], px[WHO_MAX + 8];
	int64_t		 ms = c->set->loop->now - c->started;

	who_of((const struct sockaddr *)&c->peer, &peer);
	who_of((const struct sockaddr *)&c->local, &local);
	who_text(&peer, 1, client, sizeof(client));
	who_text(&local, 1, here, sizeof(here));
	proxy_text(c->px != NULL ? &c->px->proxy : NULL, px, sizeof(px));
	if (c->holder != 0) {
		/* The program moved the bytes: the worker never saw them. */
		snprintf(in, sizeof(in), "-");
		snprintf(out, sizeof(out), "-");
		program_text(c, prog, sizeof(prog), why, sizeof(why));
	} else {
		snprintf(in, sizeof(in), "%llu",
		    (unsigned long long)c->bytes_in);
		snprintf(out, sizeof(out), "%llu",
		    (unsigned long long)c->bytes_out);
		snprintf(why, sizeof(why), "%s%s%s",
		    c->reason != NULL ? c->reason : "-",
		    c->error ? " error: " : "",
		    c->error ? strerror(c->error) : "");
	}
	quote(why, q, sizeof(q));
	tcpinfo_text(ti, tcp, sizeof(tcp));
	log_info("closed service=%s client=%s local=%s%s duration=%lld.%03lld "
	    "in=%s out=%s first=%s end=%s%s reason=%s%s", c->set->name, client,
	    here, px, (long long)(ms / 1000), (long long)(ms % 1000), in, out,
	    c->holder != 0 ? "-" : c->closer != NULL ? c->closer : "server",
	    end, prog, q, tcp);
}

/* The refusal's own line. */
static void
refused_line(const char *service, int fd, const struct who *w,
    const struct sockaddr_storage *proxy, const char *reason)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct who		 local = { 0 };
	char			 client[WHO_MAX], here[WHO_MAX];
	char			 q[2 * REASON_MAX], px[WHO_MAX + 8];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		who_of((const struct sockaddr *)&ss, &local);
	who_text(w, 1, client, sizeof(client));
	who_text(&local, 1, here, sizeof(here));
	proxy_text(proxy, px, sizeof(px));
	quote(reason, q, sizeof(q));
	log_notice("refused service=%s client=%s local=%s%s reason=%s",
	    service, client, here, px, q);
}

/* The summary of a source's refusals that had no line of their own. */
static void
summary_line(const struct source *s, int64_t now)
{
	char	 client[WHO_MAX], q[2 * REASON_MAX];
	int64_t	 ms = now - s->since;

	who_text(&s->who, 0, client, sizeof(client));
	quote(s->reason, q, sizeof(q));
	log_notice("refused service=%s client=%s count=%lu "
	    "seconds=%lld.%03lld reason=%s note=\"not logged one by one\"",
	    cl.service, client, s->missed, (long long)(ms / 1000),
	    (long long)(ms % 1000), q);
}

static struct source *
source_find(const struct who *w)
{
	for (size_t i = 0; i < nitems(cl.sources); i++) {
		struct source *s = &cl.sources[i];
		if (s->who.family == w->family &&
		    memcmp(s->who.addr, w->addr, sizeof(w->addr)) == 0)
			return s;
	}
	return NULL;
}

/*
 * An entry for a new source: a free one; else one whose interval is
 * over (its summary, if owed, copied to *owed); else the oldest that
 * owes nothing.  NULL if every entry owes a summary still to come.
 */
static struct source *
source_slot(int64_t now, struct source *owed)
{
	struct source	*s, *best = NULL;

	for (size_t i = 0; i < nitems(cl.sources); i++) {
		s = &cl.sources[i];
		if (s->who.family == 0)
			return s;
		if (now - s->since >= CONNLOG_INTERVAL_MS) {
			if (s->missed > 0)
				*owed = *s;
			return s;
		}
		if (s->missed == 0 && (best == NULL || s->since < best->since))
			best = s;
	}
	return best;
}

/* One more refusal of s without a line of its own; its summary is owed. */
static void
source_miss(struct source *s, const char *reason, int64_t now)
{
	int64_t	 at, due;

	if (s->missed++ == 0 && s == &cl.others)
		s->since = now;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	at = s->since + CONNLOG_INTERVAL_MS;
	due = atomic_load(&cl.due);
	if (due == 0 || at < due)
		atomic_store(&cl.due, at);
}

/*
 * Under the lock: whether this refusal of w gets a line of its own;
 * if not, it is counted.  A summary that becomes owed on the way (an
 * entry's interval found over) is copied to *owed.
 */
static int
rate_take(const struct who *w, const char *reason, int64_t now,
    struct source *owed)
{
	struct source	*s;

	if (now - cl.window >= CONNLOG_INTERVAL_MS) {
		cl.window = now;
		cl.lines = 0;
	}
	/* A new source, or a new interval: an entry starts afresh. */
	if ((s = source_find(w)) == NULL ||
	    now - s->since >= CONNLOG_INTERVAL_MS) {
		if (s == NULL)
			s = source_slot(now, owed);
		else if (s->missed > 0)
			*owed = *s;
		if (s != NULL) {
			memset(s, 0, sizeof(*s));
			s->who = *w;
			s->who.port = 0;
			s->since = now;
		}
	}
	if (cl.lines < CONNLOG_PER_WORKER &&
	    (s == NULL ? cl.per_source > 0 : s->logged < cl.per_source)) {
		if (s != NULL)
			s->logged++;
		cl.lines++;
		return 1;
	}
	source_miss(s != NULL ? s : &cl.others, reason, now);
	return 0;
}

void
connlog_init(const char *service, int enabled)
{
	pthread_mutex_lock(&cl.lock);
	cl.service = service;
	cl.per_source = enabled ? CONNLOG_PER_SOURCE : 0;
	pthread_mutex_unlock(&cl.lock);
}

void
connlog_refused(const char *service, int fd,
    const struct sockaddr_storage *peer,
    const struct sockaddr_storage *proxy, const char *reason)
{
	struct source	 owed;
	struct who	 w;
	int64_t		 now;
	int		 one;

	if (log_level() < LOG_NOTICE)
		return;
	who_of((const struct sockaddr *)peer, &w);
	now = loop_now_ms();
	owed.missed = 0;
	pthread_mutex_lock(&cl.lock);
	one = rate_take(&w, reason, now, &owed);
	pthread_mutex_unlock(&cl.lock);
	/* Logged outside the lock: the other acceptors need not wait. */
	if (owed.missed > 0)
		summary_line(&owed, now);
	if (one)
		refused_line(service, fd, &w, proxy, reason);
}

/*
 * Under the lock: take the summary of s if one is owed by now (any
 * owed, when all): into *out, and s starts afresh.
 */
static int
source_due(struct source *s, int64_t now, int all, struct source *out)
{
	if (s->missed == 0 || (!all && now - s->since < CONNLOG_INTERVAL_MS))
		return 0;
	*out = *s;
	memset(s, 0, sizeof(*s));
	return 1;
}

/* When the next summary is owed, from what the entries hold now. */
static void
due_again(void)
{
	int64_t	 due = 0, at;

	for (size_t i = 0; i <= nitems(cl.sources); i++) {
		const struct source *s = i < nitems(cl.sources) ?
		    &cl.sources[i] : &cl.others;
		if (s->missed == 0)
			continue;
		at = s->since + CONNLOG_INTERVAL_MS;
		if (due == 0 || at < due)
			due = at;
	}
	atomic_store(&cl.due, due);
}

/* Log the summaries owed by now (all: every one owed). */
static void
summaries(int64_t now, int all)
{
	struct source	 out;
	int		 got;

	for (size_t i = 0; i <= nitems(cl.sources); i++) {
		pthread_mutex_lock(&cl.lock);
		got = source_due(i < nitems(cl.sources) ? &cl.sources[i] :
		    &cl.others, now, all, &out);
		pthread_mutex_unlock(&cl.lock);
		if (got)
			summary_line(&out, now);
	}
	pthread_mutex_lock(&cl.lock);
	due_again();
	pthread_mutex_unlock(&cl.lock);
}

void
connlog_tick(int64_t now)
{
	int64_t	 due = atomic_load(&cl.due);

	if (due != 0 && now >= due)
		summaries(now, 0);
}

int
connlog_next(int64_t now)
{
	int64_t	 due = atomic_load(&cl.due);

	if (due == 0)
		return -1;
	return due > now ? (int)(due - now) : 0;
}

void
connlog_flush(int64_t now)
{
	summaries(now, 1);
}
