/*
 * The seccomp filter of src/shared/shm_guard.c: with it, mremap() of any
 * address of a guarded region and remap_file_pages() anywhere are
 * refused, and an mremap() of anything else goes.  Needs root (a worker
 * of a non-root master installs none): skipped otherwise.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shm.h"
#include "shm_guard.h"

static int	failures;

/* mremap() of [at, at + len) grown by a page: refused (want EPERM) or not. */
static void
check_mremap(const char *what, char *at, size_t len, int want)
{
	void	*q = mremap(at, len, len + 4096, MREMAP_MAYMOVE);
	int	 got = q == MAP_FAILED ? errno : 0;

	if (got != want) {
		printf("FAIL %s: %s, not %s\n", what, got ? strerror(got) :
		    "moved", want ? strerror(want) : "moved");
		failures++;
	} else
		printf("ok %s: %s\n", what, got ? strerror(got) : "moved");
}

int
main(void)
{
	size_t	 pg = (size_t)sysconf(_SC_PAGESIZE);
	char	*pool, *other;
	struct shm r[3];

	if (geteuid() != 0) {
		printf("SKIP: needs root\n");
		return 77;
	}
	pool = mmap(NULL, 64 * pg, PROT_READ | PROT_WRITE, MAP_SHARED |
	    MAP_ANONYMOUS, -1, 0);
	other = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (pool == MAP_FAILED || other == MAP_FAILED) {
		perror("mmap");
		return 99;
	}
	r[0] = (struct shm){ pool + 2 * pg, 2 * pg };
	r[1] = (struct shm){ pool + 10 * pg, pg };
	r[2] = (struct shm){ NULL, 0 };
	if (shm_guard(r, 3) == -1) {
		perror("shm_guard");
		return 99;
	}
	check_mremap("a region's first page", pool + 2 * pg, 2 * pg, EPERM);
	check_mremap("a region's last page", pool + 3 * pg, pg, EPERM);
	check_mremap("another region", pool + 10 * pg, pg, EPERM);
	check_mremap("the page after a region", pool + 4 * pg, pg, 0);
	check_mremap("the page before a region", pool + pg, pg, 0);
	check_mremap("a private mapping", other, 4 * pg, 0);
	if (remap_file_pages(pool + 20 * pg, pg, 0, 3, 0) == 0 ||
	    errno != EPERM) {
		printf("FAIL remap_file_pages: not refused\n");
		failures++;
	} else
		printf("ok remap_file_pages: %s\n", strerror(errno));
	return failures ? 1 : 0;
}
