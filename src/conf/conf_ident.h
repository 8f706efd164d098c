/*
 * Who workers and programs run as: user, group and supplementary groups,
 * set globally and per service.
 */
#ifndef TCPD_CONF_IDENT_H
#define TCPD_CONF_IDENT_H

#include <sys/types.h>

#include <libconfig.h>
#include <stddef.h>

struct conf;
struct conf_ctx;
struct freeze;

struct conf_ident {
	char		*user;		/* NULL: the user tcpd starts as */
	char		*group;		/* NULL: the user's own */
	uid_t		 uid;
	gid_t		 gid;
	gid_t		*groups;	/* given to setgroups() as they are */
	int		 ngroups;
	int		 groups_given;	/* from 'groups', not the user's own */
	int		 own;		/* set in the service, not inherited */
	char		*at;		/* "FILE:LINE" of 'user' */
};

extern const char *const conf_ident_keys[];

int	conf_ident_load(struct conf_ctx *, const config_setting_t *,
	    const struct conf_ident *inherit, struct conf_ident *);
void	conf_ident_free(struct conf_ident *);
void	conf_ident_freeze(struct freeze *, size_t at,
	    const struct conf_ident *);
int	conf_ident_check(const struct conf *, const char **at, char *err,
	    size_t errlen);

#endif
