/*
 * A configuration, once read, copied into one read-only mapping of a
 * memfd.
 *
 * Each worker is forked from the master, and a fork copies the page
 * table entries of every private page its parent has written.  The
 * configuration is the master's largest such memory, and it grows with
 * the services (0.7 kB each), so that each fork cost more the more
 * services there were.  A private mapping of a file that the master has
 * only read has no such pages: a fork passes it over, and a worker
 * faults in only what it reads of it, its own service's part.
 *
 * What a worker may write there it writes in its own copy of a page; the
 * master's copy is the file's, which no worker can change.
 */
#include "config.h"

#include <sys/mman.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_exec.h"
#include "conf_freeze.h"
#include "conf_ident.h"
#include "conf_net.h"
#include "freeze.h"

/* Copy c and all it holds into f (its own block, from its start). */
static void
conf_put(struct freeze *f, const struct conf *c)
{
	size_t	 at, svs;

	at = freeze_put(f, c, sizeof(*c));
	freeze_str(f, at + offsetof(struct conf, path), c->path);
	conf_ident_freeze(f, at + offsetof(struct conf, ident), &c->ident);
	freeze_str(f, at + offsetof(struct conf, pid_file), c->pid_file);
	freeze_str(f, at + offsetof(struct conf, pid_file_at), c->pid_file_at);
	freeze_str(f, at + offsetof(struct conf, control_socket),
	    c->control_socket);
	freeze_str(f, at + offsetof(struct conf, include_dir), c->include_dir);
	conf_net_freeze(f, at + offsetof(struct conf, net), &c->net);
	/* Only while the file is read. */
	freeze_link(f, at + offsetof(struct conf, port_head), NULL, 0);
	freeze_link(f, at + offsetof(struct conf, port_refs), NULL, 0);
	freeze_link(f, at + offsetof(struct conf, names), c->names,
	    c->names_size * sizeof(*c->names));
	svs = freeze_link(f, at + offsetof(struct conf, services), c->services,
	    c->nservices * sizeof(*c->services));
	for (int i = 0; i < c->nservices; i++) {
		const struct conf_service	*sv = &c->services[i];
		size_t				 o = svs + i * sizeof(*sv);

		freeze_str(f, o + offsetof(struct conf_service, name),
		    sv->name);
		freeze_link(f, o + offsetof(struct conf_service, listen),
		    sv->listen, sv->nlisten * sizeof(*sv->listen));
		conf_exec_freeze(f, o + offsetof(struct conf_service, exec),
		    &sv->exec);
		conf_net_freeze(f, o + offsetof(struct conf_service, net),
		    &sv->net);
		conf_ident_freeze(f, o + offsetof(struct conf_service, ident),
		    &sv->ident);
		freeze_str(f, o + offsetof(struct conf_service, at), sv->at);
	}
}

/* Write len bytes of p to fd; -1 with errno. */
static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/*
 * c copied into a mapping of its own, read-only; NULL with errno.  c is
 * left as it is, the caller's to free.
 */
struct conf *
conf_freeze(const struct conf *c)
{
	struct freeze	 f = { NULL, 0, 0 };
	struct conf	*frozen;
	size_t		 page = (size_t)sysconf(_SC_PAGESIZE), len, need;
	void		*at = MAP_FAILED;
	int		 fd = -1, saved;

	conf_put(&f, c);
	need = f.len;
	len = (need + page - 1) / page * page;
	/* Where it will be: its pointers are made for that address. */
	at = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_NORESERVE, -1, 0);
	if (at == MAP_FAILED || (f.buf = calloc(1, len)) == NULL)
		goto fail;
	f.base = (uintptr_t)at;
	f.len = 0;
	conf_put(&f, c);
	if (f.len != need) {
		errno = EINVAL;		/* the two passes differ: a bug */
		goto fail;
	}
	frozen = (struct conf *)(void *)f.buf;
	frozen->frozen_len = len;
	if ((fd = memfd_create("tcpd.conf", MFD_CLOEXEC)) == -1 ||
	    write_all(fd, f.buf, len) == -1 ||
	    mmap(at, len, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) ==
	    MAP_FAILED)
		goto fail;
	close(fd);
	free(f.buf);
	return at;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(f.buf);
	if (at != MAP_FAILED)
		munmap(at, len);
	errno = saved;
	return NULL;
}

/* Let go of what conf_freeze() made. */
void
conf_frozen_free(struct conf *c)
{
	munmap(c, c->frozen_len);
}
