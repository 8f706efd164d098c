/* Small helpers every module may use: array length, container_of, a nap. */
#ifndef TCPD_UTIL_H
#define TCPD_UTIL_H

#include <stddef.h>
#include <time.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* The struct that embeds member m at address p. */
#define container_of(p, type, m) \
	((type *)(void *)((char *)(p) - offsetof(type, m)))

/* Sleep ms milliseconds; a signal may cut it short, which callers allow. */
static inline void
sleep_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * Add a count a worker kept to a total, stopping at the largest: a
 * worker's word must not wrap a total round to a small one.
 */
static inline void
add_counted(unsigned long long *total, unsigned long long n)
{
	*total = n > ~0ULL - *total ? ~0ULL : *total + n;
}

/* FNV-1a: what the master's tables hash names and addresses with. */
#define FNV1A_SEED	2166136261u

static inline unsigned
fnv1a(const void *p, size_t len, unsigned h)
{
	const unsigned char	*b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

#ifndef HAVE_CLOSE_RANGE
int	close_range(unsigned, unsigned, int);	/* compat.c */
#endif

#endif
