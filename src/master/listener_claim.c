/*
 * Binding a configuration's addresses, with no one else on them: a plain
 * bind probe before the first slot socket of an address, sock_diag after
 * binding, and tries apart when another master binds the same address at
 * the same moment.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "listener.h"
#include "listener_int.h"
#include "log.h"
#include "nofork.h"
#include "sockdiag.h"
#include "util.h"

/* Tries at an address another master binds at the same moment. */
#define CLAIM_TRIES	5
/* The least pause between those tries, in ms. */
#define CLAIM_PAUSE_MS	5
/* From this many new addresses on, they are checked all at once. */
#define CLAIM_MANY	32

/*
 * Is the address free?  SO_REUSEPORT lets any process of the same user
 * join a group and take a share of the connections, a second tcpd
 * included, so before the first slot socket of an address is made, a
 * plain bind checks that nobody listens there yet.
 */
static int
listener_probe(const struct conf_listen *l)
{
	int	 fd, on = 1, rc, saved;

	fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (l->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	rc = bind(fd, (const struct sockaddr *)&l->addr, l->addrlen);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

/*
 * Does a process other than this one listen on an address that clashes
 * with l?  1 (and which socket in who), 0, or -1 with errno when the
 * kernel cannot tell.  Ours are all the sockets in ls.
 */
static int
listener_foreign(struct listeners *ls, const struct conf_listen *l,
    struct sockdiag_sock *who)
{
	return sockdiag_foreign(&l->addr, lsock_ours, ls, who);
}

/* "address already in use", and by whom when another process listens. */
static void
listener_in_use(const struct conf_listen *l, const struct sockdiag_sock *who,
    char *err, size_t errlen)
{
	char	 text[ADDR_STRLEN];

	if (who == NULL) {
		snprintf(err, errlen, "cannot listen on %s: address already "
		    "in use", l->text);
		return;
	}
	addr_text(&who->addr, text, sizeof(text));
	if (strcmp(text, l->text) == 0)
		snprintf(err, errlen, "cannot listen on %s: address already "
		    "in use by another process (uid %lu)", l->text,
		    (unsigned long)who->uid);
	else
		snprintf(err, errlen, "cannot listen on %s: address already "
		    "in use by another process (uid %lu, listening on %s)",
		    l->text, (unsigned long)who->uid, text);
}

/*
 * sock_diag could not be asked.  Where the kernel lacks it, the probe is
 * all there is: say so once, and go on.  Any other failure is an error.
 */
static int
listener_unchecked(const struct conf_listen *l, char *err, size_t errlen)
{
	static int	 told;

	if (errno == EPROTONOSUPPORT || errno == EAFNOSUPPORT ||
	    errno == ENOENT || errno == EOPNOTSUPP || errno == EPERM ||
	    errno == EACCES) {
		if (!told)
			log_notice("cannot ask the kernel who listens where "
			    "(sock_diag: %s): only a bind probe checks that "
			    "no other process listens on an address, and a "
			    "second tcpd started at the same moment could "
			    "share one unseen", strerror(errno));
		told = 1;
		return 0;
	}
	snprintf(err, errlen, "cannot listen on %s: cannot tell whether "
	    "another process listens there: %s", l->text, strerror(errno));
	return -1;
}

/* A random pause before try number n, so that two masters part ways. */
static long
claim_pause(int n)
{
	struct timespec	 ts;
	unsigned	 r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = ((unsigned)ts.tv_nsec ^ (unsigned)getpid()) * 2654435761u;
	return CLAIM_PAUSE_MS + (r >> 8) % (CLAIM_PAUSE_MS * 4 * n);
}

/*
 * Tests only, and a no-op without test hooks: at the first try, pause
 * before step 0 (binding), 1 (checking) or 2 (letting go) for as many
 * ms as $TCPD_TEST_CLAIM_DELAY_MS says ("bind[,check[,letgo[,many]]]"),
 * as a master preempted there would; step 3: before checking many
 * addresses at once.
 */
static void
claim_test_delay(int try, int step, const struct conf_listen *l)
{
#ifdef TCPD_TEST_HOOKS
	static const char	*const names[] = {
		"binding", "checking", "letting go", "checking all from"
	};
	const char		*s = getenv("TCPD_TEST_CLAIM_DELAY_MS");
	long			 ms[4] = { 0, 0, 0, 0 };

	if (try != 1 || s == NULL)
		return;
	sscanf(s, "%ld,%ld,%ld,%ld", &ms[0], &ms[1], &ms[2], &ms[3]);
	if (ms[step] > 0) {
		log_debug("test hook: %ld ms before %s %s", ms[step],
		    names[step], l->text);
		sleep_ms(ms[step]);
	}
#else
	(void)try;
	(void)step;
	(void)l;
#endif
}

/*
 * The slot sockets of an address none of ours is on yet, and no other
 * process's either.  The probe finds a listener that is already there.
 * Another master that probed at the same moment shows only once it has
 * bound, so the kernel is asked after listen(): of two masters racing,
 * the one that asks second sees the other, lets go, and fails at its
 * next probe.  When both see each other, both let go; their random
 * pauses before the next try let one of them have the address.
 */
static int
listener_claim(struct listeners *ls, const struct conf_listen *l, int n,
    const struct conf_service *sv, char *err, size_t errlen)
{
	struct sockdiag_sock	 who;
	int			 first = ls->n, rc;

	for (int try = 1; ; try++) {
		if (listener_probe(l) == -1) {
			if (errno != EADDRINUSE) {
				snprintf(err, errlen, "cannot listen on %s: %s",
				    l->text, strerror(errno));
				return -1;
			}
			/*
			 * In use by none but our own sockets, then: ones the
			 * configuration no longer has (it cannot have two that
			 * clash), leaving; new ones may bind beside them.
			 */
			if ((rc = listener_foreign(ls, l, &who)) != 0) {
				listener_in_use(l, rc == 1 ? &who : NULL, err,
				    errlen);
				return -1;
			}
		}
		claim_test_delay(try, 0, l);
		if (listener_slots(ls, l, n, sv, err, errlen) == -1)
			return -1;
		claim_test_delay(try, 1, l);
		if ((rc = listener_foreign(ls, l, &who)) != 1)
			return rc == 0 ? 0 : listener_unchecked(l, err, errlen);
		claim_test_delay(try, 2, l);
		while (ls->n > first)
			lsock_drop(ls, ls->n - 1);
		if (try == CLAIM_TRIES) {
			listener_in_use(l, &who, err, errlen);
			return -1;
		}
		log_debug("%s: another process listens there too: letting "
		    "go, trying again", l->text);
		sleep_ms(claim_pause(try));
	}
}

/*
 * The slot sockets of an address none of ours is on yet, checked later
 * with others (listener_claim_check): the probe, then the binds.  An
 * address the probe finds taken is claimed at once, the one-by-one way,
 * which tells by whom.
 */
static int
listener_claim_unchecked(struct listeners *ls, const struct conf_listen *l,
    int n, const struct conf_service *sv, char *err, size_t errlen)
{
	if (listener_probe(l) == -1) {
		if (errno == EADDRINUSE)
			return listener_claim(ls, l, n, sv, err, errlen);
		snprintf(err, errlen, "cannot listen on %s: %s", l->text,
		    strerror(errno));
		return -1;
	}
	return listener_slots(ls, l, n, sv, err, errlen);
}

/*
 * After listener_claim_unchecked() of the addresses in ls[0..n): does
 * another process listen on any of them?  One dump of every listener
 * tells for all: the kernel walks them all for each request, so one
 * request per address would make a start with thousands of addresses
 * take the square of their number.  0: none; 1: one does (its address
 * in err), and they must be claimed one by one; -1: the kernel could
 * not be asked (the reason in err).
 */
static int
listener_claim_check(struct listeners *ls, const struct conf_listen **l,
    int n, char *err, size_t errlen)
{
	const struct sockaddr_storage	**addrs;
	struct sockdiag_sock		 who;
	size_t				 which = 0;
	int				 rc;

	if (n == 0)
		return 0;
	if ((addrs = calloc(n, sizeof(*addrs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++)
		addrs[i] = &l[i]->addr;
	claim_test_delay(1, 3, l[0]);
	rc = sockdiag_foreign_any(addrs, n, lsock_ours, ls, &who, &which);
	if (rc == 1) {
		for (int i = 0; i < n; i++)
			if (&l[i]->addr == addrs[which])
				listener_in_use(l[i], &who, err, errlen);
	} else if (rc == -1)
		rc = listener_unchecked(l[0], err, errlen);
	free(addrs);
	return rc;
}

static int
addr_known(const struct listeners *ls, const struct conf_listen *l)
{
	return lsock_find(ls, l, -1) != NULL;
}

/*
 * Make sure every address of c has a socket for each of its slots
 * (counts[i] for service i, or the file's workers when counts is NULL):
 * existing ones are kept, with the new backlog and TCP options; the rest
 * are bound.  Kept and new ones are marked used.  On failure, what this
 * call bound is closed again and -1 returned with the reason in err; kept
 * sockets may hold some new options until a call with the running
 * configuration sets its own again.
 */
int
listeners_bind(struct listeners *ls, const struct conf *c, const int *counts,
    char *err, size_t errlen)
{
	const struct conf_listen	**fresh = NULL;
	int				 first_new = ls->n, total = ls->n;
	int				 nfresh = 0, n, rc, many;
	struct lsock			*s;

	for (int i = 0; i < ls->n; i++)
		ls->socks[i].used = 0;
	for (int i = 0; i < c->nservices; i++)
		total += c->services[i].nlisten *
		    (counts ? counts[i] : c->services[i].workers);
	if ((s = nofork_reallocarray(ls->socks, total ? total : 1,
	    sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ls->socks = s;
	/*
	 * Many new addresses are checked for other processes all at once,
	 * after their binds; should one be found, all are let go and
	 * claimed again one by one, which tells which and by whom.
	 */
	for (int i = 0; i < c->nservices; i++)
		for (int a = 0; a < c->services[i].nlisten; a++)
			nfresh += !addr_known(ls, &c->services[i].listen[a]);
	many = nfresh >= CLAIM_MANY;
	if (many && (fresh = calloc(nfresh, sizeof(*fresh))) == NULL)
		many = 0;
again:
	nfresh = 0;
	for (int i = 0; i < c->nservices; i++) {
		const struct conf_service *sv = &c->services[i];
		n = counts ? counts[i] : sv->workers;
		for (int a = 0; a < sv->nlisten; a++) {
			const struct conf_listen *l = &sv->listen[a];
			if (addr_known(ls, l))
				rc = listener_slots(ls, l, n, sv, err, errlen);
			else if (many) {
				fresh[nfresh++] = l;
				rc = listener_claim_unchecked(ls, l, n, sv, err,
				    errlen);
			} else
				rc = listener_claim(ls, l, n, sv, err, errlen);
			if (rc == -1)
				goto fail;
		}
	}
	if (many && (rc = listener_claim_check(ls, fresh, nfresh, err,
	    errlen)) != 0) {
		if (rc == -1)
			goto fail;
		log_debug("%s: one by one, then", err);
		while (ls->n > first_new)
			lsock_drop(ls, ls->n - 1);
		many = 0;
		goto again;
	}
	free(fresh);
	return 0;
fail:
	free(fresh);
	while (ls->n > first_new)
		lsock_drop(ls, ls->n - 1);
	return -1;
}
