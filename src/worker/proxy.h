/*
 * The PROXY protocol, versions 1 and 2, as HAProxy's proxy-protocol.txt
 * specifies it: a header a balancer sends before the client's bytes,
 * saying who the client is.
 */
#ifndef TCPD_PROXY_H
#define TCPD_PROXY_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/* Which versions a service takes. */
#define PROXY_V1	0x1
#define PROXY_V2	0x2

/* The longest header read: v1's 107 bytes, v2's 16 and its length. */
#define PROXY_V1_MAX	107
#define PROXY_V2_MAX	(16 + 65535)

/* TLVs passed on to programs. */
#define PROXY_AUTHORITY_MAX	255
#define PROXY_UNIQUE_ID_MAX	128

/* What a header says. */
struct proxy_hdr {
	int			 version;	/* 1 or 2 */
	int			 local;		/* LOCAL, UNKNOWN, AF_UNSPEC:
						   the real peer stands */
	struct sockaddr_storage	 src;		/* the client */
	struct sockaddr_storage	 dst;		/* where it connected */
	socklen_t		 addrlen;
	size_t			 len;		/* the header's bytes */
	char			 authority[PROXY_AUTHORITY_MAX + 1];
	char			 unique_id[PROXY_UNIQUE_ID_MAX + 1];
	size_t			 unique_id_len;	/* binary: may hold NULs */
};

enum proxy_verdict {
	PROXY_MORE,	/* not all of it yet: read more, within the bound */
	PROXY_DONE,	/* *h holds it; h->len bytes are the header */
	PROXY_BAD,	/* not a header this service takes: why says so */
};

enum proxy_verdict
	proxy_parse(const uint8_t *buf, size_t len, unsigned versions,
	    struct proxy_hdr *h, const char **why);
size_t	proxy_need(const uint8_t *buf, size_t len);

#endif
