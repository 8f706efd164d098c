/* The master's reload (SIGHUP) and scaling (SIGTTIN, SIGTTOU). */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "conf_net.h"
#include "control.h"
#include "listener.h"
#include "log.h"
#include "master_int.h"
#include "notify.h"
#include "proc.h"
#include "reload.h"
#include "supervise.h"
#include "util.h"

/* What a reload came to, for status. */
static void
master_reloaded(struct master *m, int ok, const char *result)
{
	m->reload_at = time(NULL);
	m->reload_ok = ok;
	if (ok)
		m->reloads_ok++;
	else
		m->reloads_refused++;
	snprintf(m->reload_result, sizeof(m->reload_result), "%s", result);
}

/* A reload changed nothing: say why, in the log and to systemd. */
static void
master_refused(struct master *m, const char *why)
{
	char	 text[1100];

	snprintf(text, sizeof(text), "reload refused: %s; still running "
	    "generation %u", why, m->gen);
	log_warnx("%s", text);
	notify_refused(m->notify, text);
	master_reloaded(m, 0, why);
	snprintf(text, sizeof(text), "error: reload refused: %s; still "
	    "running generation %u\n", why, m->gen);
	control_release(m->control, m->reloads_started, m->reloads_started,
	    text);
}

/*
 * Between two waits: once an applied reload's workers all serve (or
 * their slots are being retried), tell whoever waits for it.
 */
void
master_reload_settled(struct master *m)
{
	char	 text[256];
	int	 down;

	if (m->reload_settling == 0 || m->reloading != NULL ||
	    !sup_settled(&m->sup))
		return;
	down = 0;
	for (int i = 0; i < m->sup.nslots; i++)
		down += m->sup.slots[i]->state != SLOT_SERVING;
	if (down == 0)
		snprintf(text, sizeof(text), "ok: generation %u serving\n",
		    m->gen);
	else
		snprintf(text, sizeof(text), "error: generation %u applied, "
		    "but %d slot%s not serving it: being retried (tcpd -s "
		    "status)\n", m->gen, down, down == 1 ? " is" : "s are");
	control_release(m->control, 1, m->reload_settling, text);
	m->reload_settling = 0;
}

/* At a reload: which services came and went. */
static void
master_log_changes(const struct conf *old, const struct conf *new)
{
	for (int i = 0; i < new->nservices; i++)
		if (conf_service_find(old, new->services[i].name) == NULL)
			log_info("reload: service %s added",
			    new->services[i].name);
	for (int i = 0; i < old->nservices; i++)
		if (conf_service_find(new, old->services[i].name) == NULL)
			log_info("reload: service %s removed",
			    old->services[i].name);
}

/* SIGHUP: read the file again, off the loop (reload.c). */
void
master_reload_start(struct master *m)
{
	m->reloads_started++;
	log_info("reload: reading %s", m->conf->path);
	notify_reloading(m->notify, m->conf->path);
	if ((m->reloading = reload_start(m->conf->path, m->reload_io.fd)) ==
	    NULL)
		master_refused(m, strerror(errno));
}

/*
 * After a change of sockets failed half way: back to the running file's
 * sockets, backlogs and TCP options, closing what the change bound.  If
 * even that fails, nothing is closed, lest a socket in use go.
 */
static void
master_relisten(struct master *m)
{
	char	 err[512];

	if (listeners_bind(&m->listeners, m->conf, m->counts, err,
	    sizeof(err)) == -1) {
		log_warnx("cannot restore the running sockets: %s", err);
		return;
	}
	listeners_close_unused(&m->listeners);
}

/*
 * A parsed file replaces the running configuration only if its sockets
 * bind, take their options, and its slot table can be made; otherwise
 * nothing changes.
 */
static void
master_reload_apply(struct master *m, struct conf *c)
{
	char	 err[512] = "out of memory";
	int	*counts;

	if ((counts = master_counts(c)) == NULL)
		goto refuse;
	if (listeners_bind(&m->listeners, c, counts, err, sizeof(err)) == -1) {
		/* Kept sockets may have taken some of c's options. */
		master_relisten(m);
		goto refuse;
	}
	/* Before any worker is told to go: it drains what leaves. */
	listeners_close_unused(&m->listeners);
	if (sup_apply(&m->sup, c, counts, m->gen + 1) == -1) {
		snprintf(err, sizeof(err), "out of memory");
		master_relisten(m);
		goto refuse;
	}
	if (c->pid_file != NULL && (m->conf->pid_file == NULL ||
	    strcmp(c->pid_file, m->conf->pid_file) != 0))
		log_notice("reload: a new pid_file takes effect at restart");
	if ((c->control_socket == NULL) != (m->conf->control_socket == NULL) ||
	    (c->control_socket != NULL &&
	    strcmp(c->control_socket, m->conf->control_socket) != 0))
		log_notice("reload: a new control_socket takes effect at "
		    "restart");
	master_log_changes(m->conf, c);
	conf_access_log(c);
	conf_log_open(c, m->foreground);
	conf_free(m->conf);
	free(m->counts);
	m->conf = c;
	m->counts = counts;
	/*
	 * Give back the pages of what was freed: the configuration replaced
	 * and the parse's own, in the reload thread's arena.  Every worker
	 * forked from now on copies the master's page tables, and the
	 * master's size is what it reports: at 5,000 services, 6 MB less.
	 */
	malloc_trim(0);
	m->gen++;
	log_info("reload: generation %u started", m->gen);
	snprintf(err, sizeof(err), "generation %u started", m->gen);
	master_reloaded(m, 1, err);
	m->reload_settling = m->reloads_started;
	return;
refuse:
	master_refused(m, err);
	free(counts);
	conf_free(c);
}

/* The file is read: apply it, or say why not. */
void
master_reload_cb(struct io *io, uint32_t ev)
{
	struct master	*m = container_of(io, struct master, reload_io);
	struct conf	*c;
	char		 err[1024];
	uint64_t	 n;

	(void)ev;
	if (read(io->fd, &n, sizeof(n)) == -1 || m->reloading == NULL)
		return;
	c = reload_finish(m->reloading, err, sizeof(err));
	m->reloading = NULL;
	if (c == NULL)
		master_refused(m, err);
	else if (m->stopping == STOP_NONE)
		master_reload_apply(m, c);
	else
		conf_free(c);
	if (m->reload_again && m->stopping == STOP_NONE) {
		m->reload_again = 0;
		master_reload_start(m);
	}
}

/*
 * SIGTTIN, SIGTTOU: one worker more or fewer for every service (from 1
 * to 256), until the next reload.  A new slot gets sockets of its own; a
 * slot that goes is drained by its worker before its sockets close.
 * Signals of one kind that arrive together count once: the kernel keeps
 * one pending signal of each kind.
 */
void
master_scale(struct master *m, int by)
{
	const struct conf	*c = m->conf;
	const char		*sig = by > 0 ? "SIGTTIN" : "SIGTTOU";
	char			 err[512] = "";
	int			*counts, changed = 0;

	if ((counts = master_counts(c)) == NULL) {
		log_warn("%s: cannot change the worker count", sig);
		return;
	}
	for (int i = 0; i < c->nservices; i++) {
		counts[i] = m->counts[i] + by;
		counts[i] = counts[i] < 1 ? 1 : counts[i] > 256 ? 256 : counts[i];
		changed |= counts[i] != m->counts[i];
	}
	if (!changed) {
		log_notice("%s: no service can have %s workers", sig,
		    by > 0 ? "more" : "fewer");
		free(counts);
		return;
	}
	if (listeners_bind(&m->listeners, c, counts, err, sizeof(err)) == -1)
		goto fail;
	listeners_close_unused(&m->listeners);
	if (sup_apply(&m->sup, c, counts, m->gen) == -1)
		goto fail;
	for (int i = 0; i < c->nservices; i++)
		if (counts[i] != m->counts[i])
			log_info("%s: %s now has %d worker%s", sig,
			    c->services[i].name, counts[i],
			    counts[i] == 1 ? "" : "s");
	free(m->counts);
	m->counts = counts;
	return;
fail:
	log_warnx("%s: cannot change the worker count: %s", sig,
	    err[0] != '\0' ? err : "out of memory");
	master_relisten(m);
	free(counts);
}

