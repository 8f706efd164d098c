/* Access rules: parsed from the configuration, matched against each peer. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

/* The leading bits of a and b agree, prefix of them. */
static int
prefix_equal(const uint8_t *a, const uint8_t *b, int prefix)
{
	int	 whole = prefix / 8, rest = prefix % 8;
	uint8_t	 mask;

	if (memcmp(a, b, whole) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

/* Any bit set in addr past its first prefix bits (of nbytes)? */
static int
host_bits(const uint8_t *addr, int nbytes, int prefix)
{
	uint8_t	 masked[16];

	memcpy(masked, addr, nbytes);
	for (int i = 0; i < nbytes; i++) {
		int keep = prefix - i * 8;
		masked[i] &= keep >= 8 ? 0xff :
		    keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
	}
	return memcmp(masked, addr, nbytes) != 0;
}

/* "/N" after an address of max bits: N into *prefix, -1 if malformed. */
static int
parse_prefix(const char *s, int max, int *prefix, char *err, size_t errlen)
{
	char		*end;
	long		 n;

	if (*s < '0' || *s > '9') {
		snprintf(err, errlen, "expected a prefix length after '/'");
		return -1;
	}
	errno = 0;
	n = strtol(s, &end, 10);
	if (*end != '\0') {
		snprintf(err, errlen, "bad prefix length '/%s'", s);
		return -1;
	}
	if (errno != 0 || n > max) {
		snprintf(err, errlen, "prefix /%s out of range (0-%d)", s, max);
		return -1;
	}
	*prefix = (int)n;
	return 0;
}

/*
 * The address part of a rule: "all", an address, or a CIDR.  A mapped
 * ::ffff:a.b.c.d/96+N is kept as a.b.c.d/N, since mapped peers are
 * matched as IPv4.
 */
static int
parse_target(const char *s, struct access_rule *r, char *err, size_t errlen)
{
	char		 host[INET6_ADDRSTRLEN + 1];
	const char	*slash = strchr(s, '/');
	size_t		 hlen = slash ? (size_t)(slash - s) : strlen(s);
	int		 max;

	if (strcmp(s, "all") == 0) {
		r->family = 0;
		return 0;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, r->addr) == 1)
		r->family = AF_INET, max = 32;
	else if (inet_pton(AF_INET6, host, r->addr) == 1)
		r->family = AF_INET6, max = 128;
	else
		goto bad;
	r->prefix = max;
	if (slash != NULL &&
	    parse_prefix(slash + 1, max, &r->prefix, err, errlen) == -1)
		return -1;
	if (host_bits(r->addr, max / 8, r->prefix)) {
		snprintf(err, errlen, "host bits set under /%d", r->prefix);
		return -1;
	}
	if (r->family == AF_INET6 && r->prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((struct in6_addr *)r->addr)) {
		memmove(r->addr, r->addr + 12, 4);
		r->family = AF_INET;
		r->prefix -= 96;
	}
	return 0;
bad:
	snprintf(err, errlen, "expected an IPv4 or IPv6 address, a CIDR, "
	    "or 'all' after '%s'", r->allow ? "allow" : "deny");
	return -1;
}

/*
 * One rule, "allow TARGET" or "deny TARGET", into r.  On failure, -1 and
 * why in err (the caller names the rule).
 */
int
access_parse(const char *text, struct access_rule *r, char *err,
    size_t errlen)
{
	const char	*target;

	memset(r, 0, sizeof(*r));
	if (strncmp(text, "allow ", 6) == 0)
		r->allow = 1;
	else if (strncmp(text, "deny ", 5) != 0) {
		snprintf(err, errlen, "expected 'allow' or 'deny', then an "
		    "address, a CIDR, or 'all'");
		return -1;
	}
	target = text + (r->allow ? 6 : 5);
	target += strspn(target, " \t");
	if (*target == '\0' || target[strcspn(target, " \t")] != '\0') {
		snprintf(err, errlen, "expected one address, CIDR, or 'all' "
		    "after '%s'", r->allow ? "allow" : "deny");
		return -1;
	}
	if (parse_target(target, r, err, errlen) == -1)
		return -1;
	snprintf(r->text, sizeof(r->text), "%s %s",
	    r->allow ? "allow" : "deny", target);
	return 0;
}

/*
 * The first of n rules that matches peer: its index in *index (-1 for
 * none), and whether the peer is allowed.  No rules at all: allowed;
 * rules but none matching: denied.  A mapped IPv6 peer is matched as IPv4.
 */
int
access_match(const struct access_rule *rules, int n,
    const struct sockaddr_storage *peer, int *index)
{
	const uint8_t	*addr = NULL;
	int		 family = peer->ss_family;

	*index = -1;
	if (n == 0)
		return 1;
	if (family == AF_INET) {
		addr = (const uint8_t *)
		    &((const struct sockaddr_in *)peer)->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)peer)->sin6_addr;
		addr = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			addr += 12;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct access_rule *r = &rules[i];

		if (r->family == 0 || (addr != NULL && r->family == family &&
		    prefix_equal(r->addr, addr, r->prefix))) {
			*index = i;
			return r->allow;
		}
	}
	return 0;
}
