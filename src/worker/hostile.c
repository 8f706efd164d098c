/*
 * Tests only (--enable-test-hooks): a worker that writes what a
 * compromised one would, into everything the master reads of it and
 * into its configuration, and dies.  The master must signal no process
 * group it does not itself know to be a program's, stay up, and keep
 * its figures and limits true, and the worker must reach no other
 * worker's shared memory.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostile.h"
#include "admission.h"
#include "conf.h"
#include "log.h"
#include "proto.h"
#include "shm.h"
#include "worker.h"

#ifdef TCPD_TEST_HOOKS

/* Name g in the next free place of the heartbeat's groups, if any. */
static void
hostile_name(struct heartbeat *beat, int *at, int g)
{
	while (*at < BEAT_GROUPS && atomic_load(&beat->groups[*at]) != 0)
		(*at)++;
	if (*at < BEAT_GROUPS)
		atomic_store(&beat->groups[(*at)++], g);
}

/*
 * The groups to name, beside the real ones: those in the file
 * $TCPD_TEST_HOSTILE (numbers, separated by anything), then 1, -1,
 * 0x7fffffff, the master's pid and group, and this worker's own group.
 */
static void
hostile_groups(struct heartbeat *beat, pid_t master)
{
	const char	*path = getenv("TCPD_TEST_HOSTILE");
	char		 buf[4096], *s, *end;
	FILE		*f;
	size_t		 len = 0;
	int		 at = 0;
	long		 v;

	if (path != NULL && (f = fopen(path, "r")) != NULL) {
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[len] = '\0';
	for (s = buf; *s != '\0'; s = end) {
		v = strtol(s, &end, 10);
		if (end == s)
			end = s + 1;
		else
			hostile_name(beat, &at, (int)v);
	}
	hostile_name(beat, &at, 1);
	hostile_name(beat, &at, -1);
	hostile_name(beat, &at, INT_MAX);
	hostile_name(beat, &at, master);
	hostile_name(beat, &at, getpgid(master));
	hostile_name(beat, &at, getpgrp());
}

/*
 * Write over the configuration as this worker has it: every service's
 * name and limits, and the watchdog's timeout.  What the master acts on
 * and forks the next worker with must stay as the file says.  Returns
 * what it wrote.
 */
static const char *
hostile_conf(const struct conf *c)
{
	struct conf	*w = (struct conf *)(uintptr_t)c;

	/* Read-only as mapped: this worker makes it writable, as it can. */
	if (c->frozen_len != 0 && mprotect(w, c->frozen_len,
	    PROT_READ | PROT_WRITE) == -1)
		return "";
	for (int i = 0; i < c->nservices; i++) {
		struct conf_service *sv = &w->services[i];
		memset(sv->name, 'X', strlen(sv->name));
		sv->max_connections = 0;
		sv->net.per_source.max_connections = 0;
		sv->workers = 1000;
	}
	w->watchdog_timeout = 1;
	return " configuration,";
}

/*
 * Reach past each of the regions it maps of the master's (its heartbeat,
 * ledger, count, table), as a compromised worker would: point the window
 * on its mapping at another part of the file (remap_file_pages), grow
 * it over what follows (mremap).  What the kernel said, into out: the
 * first call allowed, or the refusal of the last region's.
 */
static void
hostile_reach(const struct shm *r, int n, char *out, size_t len)
{
	size_t	 page = (size_t)sysconf(_SC_PAGESIZE);
	char	 a[64] = "never tried", b[64] = "never tried";
	int	 a_ok = 0, b_ok = 0;

	for (int i = 0; i < n; i++) {
		if (!a_ok && remap_file_pages(r[i].base, page, 0,
		    r[i].size / page, 0) == -1)
			snprintf(a, sizeof(a), "refused (%s)", strerror(errno));
		else
			a_ok = 1;
		if (!b_ok && mremap(r[i].base, r[i].size, r[i].size + page,
		    MREMAP_MAYMOVE) == MAP_FAILED)
			snprintf(b, sizeof(b), "refused (%s)", strerror(errno));
		else
			b_ok = 1;
	}
	if (a_ok)
		snprintf(a, sizeof(a), "allowed");
	if (b_ok)
		snprintf(b, sizeof(b), "allowed");
	snprintf(out, len, "%d regions: remap_file_pages %s, mremap %s", n,
	    a, b);
}

/* Messages of every wrong size and kind on the control socket. */
static void
hostile_messages(int ctl)
{
	char	 big[4096];
	struct worker_msg m = { .type = WORKER_METRICS, .how = 0xff,
	    .seq = 0xffff, .timeout = UINT32_MAX };

	memset(big, 0xff, sizeof(big));
	send(ctl, big, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	send(ctl, big, sizeof(big), MSG_NOSIGNAL | MSG_DONTWAIT);
	send(ctl, big, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
	send(ctl, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
	m.type = WORKER_READY;
	send(ctl, &m, sizeof(m), MSG_NOSIGNAL | MSG_DONTWAIT);
}

void
hostile_act(const struct conf *conf, struct heartbeat *beat,
    const struct admission *adm, const struct shm *own, int nown, int ctl,
    pid_t master)
{
	const char	*wrote = hostile_conf(conf);
	char		 reach[160];

	hostile_groups(beat, master);
	atomic_store(&beat->accepted, ULLONG_MAX - 1000);
	atomic_store(&beat->finished, ULLONG_MAX);
	atomic_store(&beat->conns, UINT_MAX);
	atomic_store(&beat->bytes_in, ULLONG_MAX);
	atomic_store(&beat->bytes_out, ULLONG_MAX);
	for (int i = 0; i < REFUSED_KINDS; i++)
		atomic_store(&beat->refused[i], ULLONG_MAX);
	admission_hostile(adm);
	hostile_messages(ctl);
	/* Last: a grown heartbeat may have moved. */
	hostile_reach(own, nown, reach, sizeof(reach));
	log_warnx("test hook: wrote a compromised worker's heartbeat,%s "
	    "counts and messages; %s; dying", wrote, reach);
	raise(SIGKILL);
	abort();
}
#endif
