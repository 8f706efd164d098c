/*
 * A worker's heartbeat cell is one page or two of a mapping of 256 the
 * master shares with its workers (beat.c).  The worker inherits its own
 * cell alone, but a shared mapping is a window on a file, and the file
 * is the whole 256: remap_file_pages() can point the window at another
 * cell, and mremap() can grow it over the cells after.  Either would let
 * a compromised worker read and write the heartbeats of others, those
 * of other services and users included, and so make the master take a
 * sound worker for hung, or a hung one for sound.
 *
 * So, before it drops root, a worker takes both from itself with a
 * seccomp filter: remap_file_pages() not at all (deprecated since Linux
 * 3.16; nothing calls it), mremap() not on its cell.  The filter stays
 * across setuid() and execve(), so the programs it runs have it too:
 * they lose only remap_file_pages() and an mremap() of those few
 * addresses, where a program's own mapping seldom is (should one be,
 * its realloc() copies instead).  The rest of what the master shares
 * with it is mappings of files of their own size (shm.c): past them is
 * SIGBUS.
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
#include <unistd.h>

#include "shm_guard.h"

#if defined(__x86_64__)
#define GUARD_ARCH	AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define GUARD_ARCH	AUDIT_ARCH_AARCH64
#endif

/* x32's system calls on x86_64: numbers with this bit. */
#define GUARD_X32	0x40000000u

#define ARG0_LO		offsetof(struct seccomp_data, args[0])
#define ARG0_HI		(offsetof(struct seccomp_data, args[0]) + 4)

/*
 * Install the filter for the cell at [cell, cell + len).  0, or -1 with
 * errno: EACCES when not root (nothing installed), ENOSYS where there
 * is no filter to make.
 */
int
shm_guard(const void *cell, size_t len)
{
#ifdef GUARD_ARCH
	uint64_t	 lo = (uintptr_t)cell, hi = lo + len;
	uint32_t	 lo_hi = (uint32_t)(lo >> 32);
	/* A cell that straddles or ends at 4 GiB: no mremap() at all. */
	int		 whole = (uint32_t)((hi - 1) >> 32) != lo_hi ||
			    (uint32_t)hi == 0;
	struct sock_filter filter[] = {
		/*
		 * A 32-bit ABI's calls take 32-bit addresses, and the
		 * cell is above 4 GiB: they go on, whatever they are.
		 */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, GUARD_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
#if defined(__x86_64__)
		/* x32's take 64-bit ones: none at all. */
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, GUARD_X32, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
#else
		BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0),
		BPF_JUMP(BPF_JMP | BPF_JA, 0, 0, 0),
#endif
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_remap_file_pages, 6,
		    0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mremap, whole ? 5 : 0,
		    6),
		/* mremap(): is the old address in the cell? */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_HI),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, lo_hi, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)lo, 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, (uint32_t)hi, 1, 0),
		/* remap_file_pages(), or mremap() of the cell. */
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]),
	    .filter = filter };

	if (geteuid() != 0) {
		errno = EACCES;
		return -1;
	}
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#else
	(void)cell;
	(void)len;
	errno = ENOSYS;
	return -1;
#endif
}
