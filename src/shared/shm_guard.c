/*
 * What the master shares with a worker (its heartbeat cell, its
 * per_source ledger, its service's max_connections count and per_source
 * table) is carved, in whole pages, from a few large shared mappings:
 * the cells from mappings of 256 (beat.c), the rest from pools (shm.c).
 * The worker inherits its own regions alone, but a shared mapping is a
 * window on a file, and the file is the whole mapping: remap_file_pages()
 * can point the window at another region, and mremap() can grow it over
 * the next ones.  Either would let a compromised worker read and write
 * other workers' heartbeats and ledgers and other services' counts,
 * those of other users included.
 *
 * So, before it drops root, a worker takes both from itself with a
 * seccomp filter: remap_file_pages() not at all (deprecated since Linux
 * 3.16; nothing calls it), mremap() not on its regions.  The filter
 * stays across setuid() and execve(), so the programs it runs have it
 * too: they lose only remap_file_pages() and an mremap() of those few
 * addresses, where a program's own mapping seldom is (should one be,
 * its realloc() copies instead).
 *
 * A worker that is not root cannot add a filter without giving up
 * setuid programs for its own (PR_SET_NO_NEW_PRIVS), and it runs as
 * the master's user, as every other worker does: there is no user
 * between them to guard, and it goes without.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/syscall.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"
#include "shm_guard.h"

/* An argument's halves are read little-endian. */
#if defined(__x86_64__)
#define GUARD_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GUARD_ARCH	AUDIT_ARCH_AARCH64
#endif

/* x32's system calls on x86_64: numbers with this bit. */
#define GUARD_X32	0x40000000u

#define ARG0_LO		offsetof(struct seccomp_data, args[0])
#define ARG0_HI		(offsetof(struct seccomp_data, args[0]) + 4)

#define GUARD_MAX	64	/* instructions */

/* A filter being made: its instructions, and jumps to patch. */
struct guard {
	struct sock_filter	 f[GUARD_MAX];
	int			 n;
	int			 deny[16];	/* jumps to the refusal */
	int			 ndeny;
};

static void
guard_add(struct guard *g, struct sock_filter in)
{
	if (g->n < GUARD_MAX)
		g->f[g->n] = in;
	g->n++;
}

/*
 * mremap() of an address in [lo, hi) is refused: with the address's
 * upper half in the accumulator, a test of its lower half.
 */
static void
guard_range(struct guard *g, uint64_t lo, uint64_t hi)
{
	uint32_t	 up = (uint32_t)(lo >> 32);

	if ((uint32_t)((hi - 1) >> 32) != up || (uint32_t)hi == 0) {
		/* Across 4 GiB, seldom as that is: no mremap() at all. */
		g->deny[g->ndeny++] = g->n;
		guard_add(g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA,
		    0, 0, 0));
		return;
	}
	/* Upper half: this range's, or on to the next. */
	guard_add(g, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    ARG0_HI));
	guard_add(g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    up, 0, 4));
	guard_add(g, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    ARG0_LO));
	guard_add(g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
	    (uint32_t)lo, 0, 2));
	guard_add(g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
	    (uint32_t)hi, 1, 0));
	g->deny[g->ndeny++] = g->n;
	guard_add(g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0));
}

/*
 * Can a worker of this process add the filter?  Not root: it need not.
 * Root needs CAP_SYS_ADMIN, or PR_SET_NO_NEW_PRIVS already set (as the
 * shipped unit's NoNewPrivileges does).  0: it cannot.
 */
int
shm_guard_possible(void)
{
#ifdef GUARD_ARCH
	char		 line[256];
	FILE		*f;
	unsigned long long eff = 0;

	if (geteuid() != 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return 1;
	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return 1;	/* cannot tell: say nothing */
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return (eff >> 21) & 1;		/* CAP_SYS_ADMIN */
#else
	return geteuid() != 0;
#endif
}

/*
 * Install the filter for the n regions (NULL or empty ones passed
 * over).  0, or -1 with errno: EACCES when not root (nothing
 * installed), ENOSYS where there is no filter to make.
 */
int
shm_guard(const struct shm *r, int n)
{
#ifdef GUARD_ARCH
	struct guard		 g = { .n = 0 };
	struct sock_fprog	 prog;
	int			 to_mremap, to_allow, at;

	if (geteuid() != 0) {
		errno = EACCES;
		return -1;
	}
	if (n > 8) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * A 32-bit ABI's calls take 32-bit addresses, and the regions are
	 * above 4 GiB: they go on, whatever they are.
	 */
	guard_add(&g, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch)));
	guard_add(&g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    GUARD_ARCH, 1, 0));
	guard_add(&g, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW));
	guard_add(&g, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr)));
#if defined(__x86_64__)
	/* x32's take 64-bit ones: none at all. */
	guard_add(&g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
	    GUARD_X32, 0, 1));
	guard_add(&g, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ERRNO | ENOSYS));
#endif
	g.deny[g.ndeny++] = g.n;
	guard_add(&g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    __NR_remap_file_pages, 0, 0));
	to_mremap = g.n;
	guard_add(&g, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
	    __NR_mremap, 0, 0));
	for (int i = 0; i < n; i++)
		if (r[i].base != NULL && r[i].size > 0)
			guard_range(&g, (uintptr_t)r[i].base,
			    (uintptr_t)r[i].base + r[i].size);
	to_allow = g.n;
	guard_add(&g, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ALLOW));
	at = g.n;
	guard_add(&g, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K,
	    SECCOMP_RET_ERRNO | EPERM));
	if (g.n > GUARD_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* Not mremap(): allowed. */
	g.f[to_mremap].jf = (uint8_t)(to_allow - to_mremap - 1);
	for (int i = 0; i < g.ndeny; i++) {
		struct sock_filter *in = &g.f[g.deny[i]];
		if (in->code == (BPF_JMP | BPF_JA))
			in->k = (uint32_t)(at - g.deny[i] - 1);
		else
			in->jt = (uint8_t)(at - g.deny[i] - 1);
	}
	memset(&prog, 0, sizeof(prog));
	prog.len = (unsigned short)g.n;
	prog.filter = g.f;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	(void)r;
	(void)n;
	errno = ENOSYS;
	return -1;
#endif
}
