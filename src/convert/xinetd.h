/* xinetd's attributes, as read from its files before they are mapped. */
#ifndef TCPD_CONVERT_XINETD_H
#define TCPD_CONVERT_XINETD_H

#include "convert.h"

enum xattr {
	XA_ID, XA_TYPE, XA_FLAGS, XA_DISABLE, XA_SOCKET_TYPE, XA_PROTOCOL,
	XA_WAIT, XA_USER, XA_GROUP, XA_INSTANCES, XA_NICE, XA_SERVER,
	XA_SERVER_ARGS, XA_LIBWRAP, XA_ONLY_FROM, XA_NO_ACCESS,
	XA_ACCESS_TIMES, XA_LOG_TYPE, XA_LOG_ON_SUCCESS, XA_LOG_ON_FAILURE,
	XA_RPC_VERSION, XA_RPC_NUMBER, XA_ENV, XA_PASSENV, XA_PORT,
	XA_REDIRECT, XA_BIND, XA_BANNER, XA_BANNER_SUCCESS, XA_BANNER_FAIL,
	XA_PER_SOURCE, XA_CPS, XA_MAX_LOAD, XA_GROUPS, XA_MDNS, XA_UMASK,
	XA_ENABLED, XA_DISABLED, XA_RLIMIT_AS, XA_RLIMIT_FILES, XA_RLIMIT_CPU,
	XA_RLIMIT_DATA, XA_RLIMIT_RSS, XA_RLIMIT_STACK, XA_DENY_TIME,
	XA_V6ONLY,
	XA_N
};

/* One attribute's values in one entry, and where they were last set. */
struct xslot {
	int		 set;
	const char	*file;
	size_t		 line;
	struct cv_list	 v;
};

/* A service entry, or the defaults entry. */
struct xent {
	char		*name;
	const char	*file;
	size_t		 line;
	int		 got_defaults;	/* a defaults entry came before it */
	struct xslot	 a[XA_N];
	struct xent	*next;
};

const char	*x_attr_name(int);

#endif
