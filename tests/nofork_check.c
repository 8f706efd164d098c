/*
 * src/lib/nofork.c: blocks of every size hold what is written in them,
 * through reallocarray() growth and reuse after free; and a forked child
 * has none of them (touching one is SIGSEGV) while it has what malloc()
 * gave.  Under AddressSanitizer nofork is malloc: the fork part, and
 * the overflow (which it aborts on), are skipped.
 */
#include "config.h"

#include <sys/wait.h>

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nofork.h"

static int	failures;

static void
fail(const char *what, size_t n)
{
	printf("FAIL %s (%zu)\n", what, n);
	failures++;
}

/* Fill n bytes of p with a pattern of seed; check it back. */
static void
fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

static int
holds(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 31 + seed))
			return 0;
	return 1;
}

#if !defined(__SANITIZE_ADDRESS__)
/* In a child: touch p; its end, by signal or exit. */
static int
child_touches(volatile unsigned char *p)
{
	pid_t	 pid;
	int	 st;

	if ((pid = fork()) == 0) {
		p[0]++;
		_exit(0);
	}
	if (pid == -1 || waitpid(pid, &st, 0) == -1)
		return -1;
	return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}
#endif

int
main(void)
{
	unsigned char	*b[600], *g = NULL, *m;
	char		*s;
	size_t		 sizes[600];
	int		 sig;

	/* Every small class and some large blocks, all alive at once. */
	for (int i = 0; i < 600; i++) {
		sizes[i] = i < 520 ? (size_t)i * 8 : (size_t)(i - 519) * 9000;
		if ((b[i] = nofork_calloc(1, sizes[i])) == NULL) {
			fail("calloc", sizes[i]);
			return 1;
		}
		for (size_t k = 0; k < sizes[i]; k++)
			if (b[i][k] != 0) {
				fail("calloc not zeroed", sizes[i]);
				break;
			}
		fill(b[i], sizes[i], (unsigned)i);
	}
	for (int i = 0; i < 600; i++)
		if (!holds(b[i], sizes[i], (unsigned)i))
			fail("block overwritten", sizes[i]);
	/* Freed and taken again: zeroed, whatever it held. */
	for (int i = 0; i < 600; i += 2)
		nofork_free(b[i]);
	for (int i = 0; i < 600; i += 2) {
		b[i] = nofork_calloc(1, sizes[i]);
		for (size_t k = 0; k < sizes[i]; k++)
			if (b[i][k] != 0) {
				fail("reused block not zeroed", sizes[i]);
				break;
			}
	}
	for (int i = 1; i < 600; i += 2)
		if (!holds(b[i], sizes[i], (unsigned)i))
			fail("neighbour overwritten", sizes[i]);
	/* Growth from small to large (a mapping moved by mremap). */
	for (size_t n = 1; n <= 1 << 20; n *= 3) {
		unsigned char *q = nofork_reallocarray(g, n, 1);
		if (q == NULL) {
			fail("reallocarray", n);
			break;
		}
		if (g != NULL && !holds(q, n / 3, 7))
			fail("reallocarray lost contents", n);
		g = q;
		fill(g, n, 7);
	}
	if ((s = nofork_strdup("a string")) == NULL ||
	    strcmp(s, "a string") != 0)
		fail("strdup", 0);
	nofork_free(s);
#if !defined(__SANITIZE_ADDRESS__)
	/* (AddressSanitizer aborts on an overflowing size.) */
	if (nofork_reallocarray(NULL, SIZE_MAX / 2, 4) != NULL)
		fail("reallocarray overflow", 0);
	/* No fork copies them: the child has none of them. */
	m = malloc(64);
	if ((sig = child_touches(b[1])) != SIGSEGV)
		fail("a child touched a small block, ending with signal",
		    (size_t)sig);
	if ((sig = child_touches(g)) != SIGSEGV)
		fail("a child touched a large block, ending with signal",
		    (size_t)sig);
	if ((sig = child_touches(m)) != 0)
		fail("a child could not touch malloc() memory, signal",
		    (size_t)sig);
	free(m);
#else
	(void)m;
	(void)sig;
#endif
	for (int i = 0; i < 600; i++)
		nofork_free(b[i]);
	nofork_free(g);
	printf("%s\n", failures ? "FAIL" : "ok");
	return failures ? 1 : 0;
}
