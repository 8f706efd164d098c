/* Mapping one xinetd entry: shared by xmap.c and xlimits.c. */
#ifndef TCPD_CONVERT_XMAP_H
#define TCPD_CONVERT_XMAP_H

#include "convert.h"
#include "xinetd.h"

struct xmap {
	struct cv_ctx	*x;
	struct xent	*e;
	struct xent	*def;
	struct cv_svc	*s;
	int		 internal;
	int		 unlisted;
	int		 nameinargs;
	int		 v4, v6;
	const char	*disabled;
};

const struct xslot	*xm_slot(const struct xmap *, int);
const char		*xm_value(const struct xmap *, int);
int			 xm_bool(struct xmap *, int, int *);

/* xlimits.c */
int	xm_identity(struct xmap *);
int	xm_limits(struct xmap *);
int	xm_env(struct xmap *);
int	xm_access(struct xmap *);
int	xm_notes(struct xmap *);

#endif
