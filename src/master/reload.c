/* A reload's parse, in a thread of its own so that supervision goes on. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "reload.h"

struct reload {
	pthread_t	 thread;
	int		 threaded;	/* 0: parsed in the caller */
	char		*path;
	struct conf	*conf;		/* the result, or NULL */
	char		 err[1024];
	int		 efd;		/* an eventfd, written when done */
};

/* Only parse: the master's loop applies the result. */
static void *
reload_main(void *arg)
{
	struct reload	*r = arg;
	uint64_t	 one = 1;
	const char	*at;
	char		 why[512];

	r->conf = conf_load(r->path, r->err, sizeof(r->err));
	/* A service's user this master cannot become: refused like an error. */
	if (r->conf != NULL &&
	    conf_ident_check(r->conf, &at, why, sizeof(why)) == -1) {
		snprintf(r->err, sizeof(r->err), "%s: %s", at, why);
		conf_free(r->conf);
		r->conf = NULL;
	}
	if (write(r->efd, &one, sizeof(one)) == -1)
		abort();	/* an eventfd write cannot fail here */
	return NULL;
}

/*
 * Read path in a thread (a large file takes seconds to parse); efd is
 * written once the result is there for reload_finish().  The thread
 * inherits the caller's signal mask, so every signal stays the caller's
 * signalfd's.  Without a thread to be had (a pids limit, say), the file
 * is read here and now.  Returns NULL, with errno, out of memory.
 */
struct reload *
reload_start(const char *path, int efd)
{
	struct reload	*r;
	int		 rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	if ((r->path = strdup(path)) == NULL) {
		free(r);
		return NULL;
	}
	r->efd = efd;
	if ((rc = pthread_create(&r->thread, NULL, reload_main, r)) == 0) {
		r->threaded = 1;
		return r;
	}
	errno = rc;
	log_warn("reload: no thread to read the file in; reading it in the "
	    "master's loop");
	reload_main(r);
	return r;
}

/*
 * After efd was written: the configuration read, or NULL with the reason
 * in err.  r is freed.
 */
struct conf *
reload_finish(struct reload *r, char *err, size_t errlen)
{
	struct conf	*c;

	if (r->threaded)
		pthread_join(r->thread, NULL);
	if ((c = r->conf) == NULL)
		snprintf(err, errlen, "%s", r->err);
	free(r->path);
	free(r);
	return c;
}
