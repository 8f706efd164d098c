/*
 * No one else on tcpd's addresses: a plain bind probe before the first
 * slot socket of an address, sock_diag after binding, and tries apart
 * when another master binds the same address at the same moment.
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
#include "sockdiag.h"
#include "util.h"

/* Tries at an address another master binds at the same moment. */
#define CLAIM_TRIES	5
/* The least pause between those tries, in ms. */
#define CLAIM_PAUSE_MS	5

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
listener_foreign(const struct listeners *ls, const struct conf_listen *l,
    struct sockdiag_sock *who)
{
	ino_t		*ours;
	int		 rc, saved;

	if ((ours = calloc(ls->n ? ls->n : 1, sizeof(*ours))) == NULL)
		return -1;
	for (int i = 0; i < ls->n; i++)
		ours[i] = ls->socks[i].ino;
	rc = sockdiag_foreign(&l->addr, ours, ls->n, who);
	saved = errno;
	free(ours);
	errno = saved;
	return rc;
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
 * ms as $TCPD_TEST_CLAIM_DELAY_MS says ("bind[,check[,letgo]]"), as a
 * master preempted there would.
 */
static void
claim_test_delay(int try, int step, const struct conf_listen *l)
{
#ifdef TCPD_TEST_HOOKS
	static const char	*const names[] = {
		"binding", "checking", "letting go"
	};
	const char		*s = getenv("TCPD_TEST_CLAIM_DELAY_MS");
	long			 ms[3] = { 0, 0, 0 };

	if (try != 1 || s == NULL)
		return;
	sscanf(s, "%ld,%ld,%ld", &ms[0], &ms[1], &ms[2]);
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
int
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

