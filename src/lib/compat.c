/* What older C libraries lack, for the calls tcpd makes. */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "util.h"

#ifndef HAVE_CLOSE_RANGE
/* close_range() before glibc 2.34: every open fd from lo to hi. */
int
close_range(unsigned lo, unsigned hi, int flags)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;

	(void)flags;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		long fd = strtol(e->d_name, NULL, 10);
		if (e->d_name[0] != '.' && fd != dirfd(d) &&
		    fd >= (long)lo && fd <= (long)hi)
			close((int)fd);
	}
	closedir(d);
	return 0;
}
#endif
