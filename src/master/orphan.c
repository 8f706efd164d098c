/*
 * Programs a worker left running when it died (kill -9, the watchdog, a
 * crash): the master ends their process groups, as the worker would have
 * at its stop, and holds their max_connections units until the last
 * process of each is gone.  Being a subreaper, the master is where those
 * processes go when their worker does, and it reaps them.
 */
#include "config.h"

#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "children.h"
#include "limit.h"
#include "log.h"
#include "orphan.h"
#include "proc.h"
#include "svc.h"
#include "util.h"
#include "proto.h"

/* From SIGTERM to SIGKILL, as for a program at its timeout. */
#define ORPHAN_GRACE_MS	2000
/* How often to look whether a group ended, when no SIGCHLD says so. */
#define ORPHAN_LOOK_MS	250
/* After SIGKILL: a process stuck in the kernel is let go after this. */
#define ORPHAN_GIVEUP_MS 10000

struct orphan {
	pid_t		 pgid;
	pid_t		 sid;		/* its dead worker's session */
	const struct svc *svc;		/* its worker's service */
	struct limit	*limit;		/* holding a unit of it, or NULL */
	int		 cell;
	int64_t		 since;
	int64_t		 kill_at;	/* SIGKILL then; 0: sent */
	struct orphan	*next;
};

/* Any process left in the group? */
static int
group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno != ESRCH;
}

/*
 * The master's children, each with its group and session, read once
 * when first needed for a decision and then reused for it.
 */
struct kids {
	struct kin	*kin;
	int		 n;		/* -1: not read yet */
};

static void
kids_load(struct kids *k)
{
	pid_t	*pids;
	int	 n;

	k->n = 0;
	if ((n = children_list(&pids)) <= 0)
		return;
	if ((k->kin = calloc(n, sizeof(*k->kin))) != NULL)
		for (int i = 0; i < n; i++)
			if (kin_read(pids[i], &k->kin[k->n]) == 0)
				k->n++;
	free(pids);
}

static void
kids_free(struct kids *k)
{
	free(k->kin);
	k->kin = NULL;
	k->n = -1;
}

/*
 * Is g the process group of a program of the dead worker whose session
 * is sid, as the master itself sees it?  A heartbeat is written by the
 * worker, and a worker can be made to write anything: the master signals
 * a group only when one of its members is the master's own child (a dead
 * worker's descendants come to the master, their subreaper) in that
 * worker's session.  A worker that runs programs leads a session of its
 * own, and a process joins a group only in its own session, so only that
 * worker's descendants can be in such a group; and the session's id is
 * not given to another process while any of them is left.  Never 0, 1,
 * the master's own group or session, or the worker's own group: so never
 * a process outside that worker's descendants.
 */
static int
group_ours(pid_t g, pid_t sid, struct kids *k)
{
	struct kin	 leader;
	pid_t		 self = getpid();

	if (g <= 1 || sid <= 1 || g == sid || g == self || g == getpgrp() ||
	    g == getsid(0) || sid == getsid(0))
		return 0;
	if (kin_read(g, &leader) == 0 && leader.ppid == self &&
	    leader.pgrp == g && leader.sid == sid)
		return 1;
	if (!group_alive(g))
		return 0;
	/* Its leader is gone; its other members are the master's too. */
	if (k->n == -1)
		kids_load(k);
	for (int i = 0; i < k->n; i++)
		if (k->kin[i].pgrp == g && k->kin[i].sid == sid)
			return 1;
	return 0;
}

/* Is g among the groups being ended already? */
static int
orphan_known(const struct orphan *head, pid_t g)
{
	for (const struct orphan *o = head; o != NULL; o = o->next)
		if (o->pgid == g)
			return 1;
	return 0;
}

static int
cmp_pid(const void *a, const void *b)
{
	pid_t	 x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

/*
 * The groups a dead worker's heartbeat names, each once, sorted, in g[]
 * (BEAT_GROUPS long); returns how many.
 */
static int
beat_groups(const struct proc *p, pid_t *g)
{
	int	 n = 0, m = 0;

	for (int i = 0; i < BEAT_GROUPS; i++)
		if ((g[n] = atomic_load(&p->beat->groups[i])) != 0)
			n++;
	qsort(g, n, sizeof(*g), cmp_pid);
	for (int i = 0; i < n; i++)
		if (m == 0 || g[i] != g[m - 1])
			g[m++] = g[i];
	return m;
}

/*
 * The worker p is gone: SIGTERM to each process group its heartbeat
 * still names and the master finds to be one of its programs' (above).
 * A group named there is one whose last process the worker had not yet
 * seen end, so its id cannot have been taken by another group since,
 * but for the moment between that end and the worker's clearing it.
 * Returns how many groups were still there.
 */
int
orphans_adopt(struct orphan **head, struct proc *p, int64_t now)
{
	struct orphan	*o;
	struct kids	 kids = { NULL, -1 };
	pid_t		 g[BEAT_GROUPS], foreign = 0;
	int		 ng, n = 0, held = 0, nforeign = 0;

	ng = beat_groups(p, g);
	for (int i = 0; i < ng; i++) {
		if (orphan_known(*head, g[i]))
			continue;
		if (!group_ours(g[i], p->pid, &kids)) {
			if (g[i] <= 1 || group_alive(g[i])) {
				foreign = g[i];
				nforeign++;
			}
			continue;
		}
		if (kill(-g[i], SIGTERM) == -1)
			continue;
		if ((o = calloc(1, sizeof(*o))) == NULL) {
			kill(-g[i], SIGKILL);
			continue;
		}
		o->pgid = g[i];
		o->sid = p->pid;
		o->svc = p->svc;
		o->since = now;
		o->kill_at = now + ORPHAN_GRACE_MS;
		o->next = *head;
		*head = o;
		n++;
	}
	kids_free(&kids);
	if (nforeign > 0)
		log_warnx("%s: worker %ld named %d process group%s that no "
		    "program of it leads (%ld%s): not signalled", p->svc->name,
		    (long)p->pid, nforeign, nforeign == 1 ? "" : "s",
		    (long)foreign, nforeign > 1 ? ", ..." : "");
	if (n == 0)
		return 0;
	held = admission_share_hold(&p->share, n);
	log_warnx("%s: worker %ld left %d program%s running: SIGTERM to "
	    "their process groups, SIGKILL in %d s; %d max_connections "
	    "unit%s held until they end", p->svc->name, (long)p->pid, n,
	    n == 1 ? "" : "s", ORPHAN_GRACE_MS / 1000, held,
	    held == 1 ? "" : "s");
	/* The new ones lead the list; held <= n of them take the units. */
	for (o = *head; held > 0; o = o->next, held--) {
		o->limit = p->share.state->limit;
		o->cell = p->share.cell;
	}
	/* The cell is theirs now; proc_free() must not give it back. */
	p->share.cell = -1;
	return n;
}

static void
orphan_free(struct orphan *o)
{
	if (o->limit != NULL)
		limit_cell_release(o->limit, o->cell);
	free(o);
}

/*
 * Is o done with: its group ended, or no longer tcpd's (a group whose
 * last process ended may have left its id to an unrelated process
 * since), or unkillable?  If not, SIGKILL to it when its grace is past.
 */
static int
orphan_done(struct orphan *o, int64_t now, struct kids *k)
{
	int64_t	 ms = now - o->since;

	if (!group_alive(o->pgid)) {
		log_info("%s: process group %ld of a dead worker ended after "
		    "%lld.%03lld s", o->svc->name, (long)o->pgid,
		    (long long)(ms / 1000), (long long)(ms % 1000));
		return 1;
	}
	if (o->kill_at == 0 && ms >= ORPHAN_GRACE_MS + ORPHAN_GIVEUP_MS) {
		log_warnx("%s: process group %ld of a dead worker did not end "
		    "even after SIGKILL; letting it go", o->svc->name,
		    (long)o->pgid);
		return 1;
	}
	if (o->kill_at == 0 || now < o->kill_at)
		return 0;
	if (!group_ours(o->pgid, o->sid, k)) {
		log_info("%s: process group %ld of a dead worker is no longer "
		    "tcpd's: letting it go", o->svc->name, (long)o->pgid);
		return 1;
	}
	log_notice("%s: process group %ld of a dead worker still running %d s "
	    "after SIGTERM: SIGKILL", o->svc->name, (long)o->pgid,
	    ORPHAN_GRACE_MS / 1000);
	kill(-o->pgid, SIGKILL);
	o->kill_at = 0;
	return 0;
}

/*
 * Let go of the groups that ended, SIGKILL those past their grace.
 * Returns how many ended.
 */
int
orphans_check(struct orphan **head, int64_t now)
{
	struct orphan	*o, **op = head;
	struct kids	 kids = { NULL, -1 };
	int		 ended = 0;

	while ((o = *op) != NULL) {
		if (!orphan_done(o, now, &kids)) {
			op = &o->next;
			continue;
		}
		*op = o->next;
		orphan_free(o);
		ended++;
	}
	kids_free(&kids);
	return ended;
}

/* How many groups of service's dead workers are still being ended. */
int
orphans_count(const struct orphan *head, const struct svc *svc)
{
	int	 n = 0;

	for (const struct orphan *o = head; o != NULL; o = o->next)
		if (o->svc == svc)
			n++;
	return n;
}

/* When to look again (the loop's clock), or -1 for never. */
int64_t
orphans_next(const struct orphan *head, int64_t now)
{
	int64_t	 next = -1;

	for (const struct orphan *o = head; o != NULL; o = o->next) {
		int64_t	 at = now + ORPHAN_LOOK_MS;

		if (o->kill_at != 0 && o->kill_at < at)
			at = o->kill_at;
		if (next == -1 || at < next)
			next = at;
	}
	return next;
}

/* At the master's end: whatever is left is killed, and forgotten. */
void
orphans_free(struct orphan **head)
{
	struct orphan	*o;

	struct kids	 kids = { NULL, -1 };

	while ((o = *head) != NULL) {
		*head = o->next;
		if (group_ours(o->pgid, o->sid, &kids))
			kill(-o->pgid, SIGKILL);
		orphan_free(o);
	}
	kids_free(&kids);
}

/* Reap what ended, and wait up to ms for the master's last children. */
static void
strays_wait(int ms)
{
	for (int waited = 0; waited < ms; waited += 10) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (children_signal(0, NULL, NULL) == 0)
			return;
		sleep_ms(10);
	}
}

/*
 * At the master's end, every worker gone: its children now are processes
 * that dead workers' programs started and that left their process groups
 * (setsid()).  SIGTERM, then SIGKILL, as for the groups.
 */
void
orphans_strays(void)
{
	int	 n;

	if ((n = children_signal(SIGTERM, NULL, NULL)) == 0)
		return;
	log_notice("%d process%s that programs of dead workers started, out "
	    "of their process groups, still running: SIGTERM", n,
	    n == 1 ? "" : "es");
	strays_wait(ORPHAN_GRACE_MS);
	if ((n = children_signal(SIGKILL, NULL, NULL)) == 0)
		return;
	log_notice("%d of them still running %d s after SIGTERM: SIGKILL", n,
	    ORPHAN_GRACE_MS / 1000);
	strays_wait(ORPHAN_GRACE_MS);
}
