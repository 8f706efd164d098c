/*
 * user, group and groups: looked up when the file is read, so that an
 * unknown name is a FILE:LINE error, and switched to by each worker.
 */
#include "config.h"

#include <sys/types.h>

#include <grp.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_get.h"
#include "conf_ident.h"
#include "freeze.h"

const char *const conf_ident_keys[] = { "user", "group", "groups", NULL };

/* The groups initgroups() would give user: its primary gid among them. */
static int
own_groups(const char *user, gid_t gid, gid_t **out, int *n)
{
	gid_t	*v = NULL, *nv;
	int	 cap = 32;

	for (int tries = 0; tries < 8; tries++) {
		if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
			break;
		v = nv;
		*n = cap;
		if (getgrouplist(user, gid, v, n) != -1) {
			*out = v;
			return 0;
		}
		/* Too few: glibc says in *n how many there are. */
		cap = *n > cap ? *n : cap * 2;
	}
	free(v);
	return -1;
}

/*
 * 'groups', the supplementary groups, and the primary group with them;
 * without it, the user's own.
 */
static int
load_groups(struct conf_ctx *x, const config_setting_t *g,
    struct conf_ident *id)
{
	const config_setting_t	*s = config_setting_get_member(g, "groups");
	char			**names = NULL;
	struct group		*gr;
	int			 n = 0, rc = -1;

	if (s == NULL) {
		if (own_groups(id->user, id->gid, &id->groups,
		    &id->ngroups) == -1)
			return conf_err(x, g, "cannot read the groups of user "
			    "'%s'", id->user);
		return 0;
	}
	if (conf_get_strings(x, g, "groups", -1, &names) == -1)
		goto out;
	while (names[n] != NULL)
		n++;
	if ((id->groups = calloc(n + 1, sizeof(*id->groups))) == NULL) {
		conf_err(x, s, "out of memory");
		goto out;
	}
	id->groups[id->ngroups++] = id->gid;
	for (int i = 0; i < n; i++) {
		if ((gr = getgrnam(names[i])) == NULL) {
			conf_err(x, s, "unknown group '%s' in 'groups'",
			    names[i]);
			goto out;
		}
		id->groups[id->ngroups++] = gr->gr_gid;
	}
	id->groups_given = 1;
	rc = 0;
out:
	conf_strings_free(names);
	return rc;
}

/* A copy of the global identity, for a service that sets none. */
static int
ident_copy(struct conf_ctx *x, const config_setting_t *g,
    const struct conf_ident *from, struct conf_ident *to)
{
	*to = *from;
	to->own = 0;
	to->user = to->group = to->at = NULL;
	to->groups = NULL;
	if (from->user == NULL)
		return 0;
	if ((to->user = strdup(from->user)) == NULL ||
	    (from->group != NULL &&
	    (to->group = strdup(from->group)) == NULL) ||
	    (to->groups = calloc(from->ngroups + 1,
	    sizeof(*to->groups))) == NULL)
		return conf_err(x, g, "out of memory");
	memcpy(to->groups, from->groups, from->ngroups * sizeof(*to->groups));
	return 0;
}

/* group or groups without user: say which, and what a service inherits. */
static int
needs_user(struct conf_ctx *x, const config_setting_t *g, int service)
{
	const config_setting_t	*s = config_setting_get_member(g, "group");

	if (s == NULL)
		s = config_setting_get_member(g, "groups");
	if (service)
		return conf_err(x, s, "'%s' needs 'user' in the same service "
		    "(a service without 'user' runs as the global user, "
		    "group and groups)", config_setting_name(s));
	return conf_err(x, s, "'%s' needs 'user'", config_setting_name(s));
}

/*
 * user, group, groups of g into id.  A service (inherit not NULL) that
 * sets no user takes the global identity whole; one that does takes
 * nothing from it.
 */
int
conf_ident_load(struct conf_ctx *x, const config_setting_t *g,
    const struct conf_ident *inherit, struct conf_ident *id)
{
	const char	*user = NULL, *group = NULL;
	struct passwd	*pw;
	struct group	*gr;

	if (conf_get_string(x, g, "user", &user) == -1 ||
	    conf_get_string(x, g, "group", &group) == -1)
		return -1;
	if (user == NULL) {
		if (config_setting_get_member(g, "group") != NULL ||
		    config_setting_get_member(g, "groups") != NULL)
			return needs_user(x, g, inherit != NULL);
		return inherit != NULL ? ident_copy(x, g, inherit, id) : 0;
	}
	id->own = 1;
	if ((id->at = conf_where(x, config_setting_get_member(g, "user"))) ==
	    NULL || (id->user = strdup(user)) == NULL)
		return conf_err(x, g, "out of memory");
	if ((pw = getpwnam(user)) == NULL)
		return conf_err(x, config_setting_get_member(g, "user"),
		    "unknown user '%s'", user);
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL)
			return conf_err(x, config_setting_get_member(g, "group"),
			    "unknown group '%s'", group);
		id->gid = gr->gr_gid;
		if ((id->group = strdup(group)) == NULL)
			return conf_err(x, g, "out of memory");
	}
	return load_groups(x, g, id);
}

void
conf_ident_free(struct conf_ident *id)
{
	free(id->user);
	free(id->group);
	free(id->groups);
	free(id->at);
	memset(id, 0, sizeof(*id));
}

/* Copy what id points to into f, for the conf_ident at offset at. */
void
conf_ident_freeze(struct freeze *f, size_t at, const struct conf_ident *id)
{
	freeze_str(f, at + offsetof(struct conf_ident, user), id->user);
	freeze_str(f, at + offsetof(struct conf_ident, group), id->group);
	freeze_link(f, at + offsetof(struct conf_ident, groups), id->groups,
	    id->ngroups * sizeof(*id->groups));
	freeze_str(f, at + offsetof(struct conf_ident, at), id->at);
}

/*
 * Can this process take every service's own identity?  Only root can
 * change its user, group or groups; a service that asks for another
 * identity than the one tcpd runs as is an error then, not ignored as
 * the global user is: its program would run as the wrong user.  On
 * error, *at is the "FILE:LINE" of the service's 'user'.
 */
int
conf_ident_check(const struct conf *c, const char **at, char *err,
    size_t errlen)
{
	uid_t	 uid = geteuid();
	gid_t	 gid = getegid();

	if (uid == 0)
		return 0;
	for (int i = 0; i < c->nservices; i++) {
		const struct conf_ident	*id = &c->services[i].ident;
		const char		*name = c->services[i].name;

		if (!id->own)
			continue;
		if (id->uid != uid)
			snprintf(err, errlen, "service '%s' runs as user "
			    "'%s' (uid %lu), which needs tcpd started as "
			    "root, not as uid %lu", name, id->user,
			    (unsigned long)id->uid, (unsigned long)uid);
		else if (id->gid != gid)
			snprintf(err, errlen, "service '%s' runs as group "
			    "%lu, which needs tcpd started as root, not with "
			    "gid %lu", name, (unsigned long)id->gid,
			    (unsigned long)gid);
		else if (id->groups_given)
			snprintf(err, errlen, "service '%s' sets 'groups', "
			    "which needs tcpd started as root", name);
		else
			continue;
		*at = id->at;
		return -1;
	}
	return 0;
}
