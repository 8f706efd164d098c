/* Access rules: parsed from the configuration, matched against each peer. */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "freeze.h"

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
 * The rules of one family as a binary trie over address bits: a rule
 * sits at the node its prefix leads to, and a node keeps the first rule
 * there.  The rules that match an address are those on its path from the
 * root, so the first of them is the least index met on the way down: 32
 * or 128 steps, however many rules there are.
 */
struct trie {
	uint32_t	(*child)[2];	/* 0: none (the root is no one's) */
	int		*rule;		/* the first rule here, or INT_MAX */
	uint32_t	 n, cap;
};

struct access_index {
	struct trie	 v4, v6;
	int		 all;		/* the first "all" rule, or INT_MAX */
};

static uint32_t
trie_node(struct trie *t)
{
	if (t->n == t->cap) {
		uint32_t	 cap = t->cap ? t->cap * 2 : 64;
		void		*c, *r;

		if ((c = realloc(t->child, cap * sizeof(*t->child))) == NULL)
			return 0;
		t->child = c;
		if ((r = realloc(t->rule, cap * sizeof(*t->rule))) == NULL)
			return 0;
		t->rule = r;
		t->cap = cap;
	}
	t->child[t->n][0] = t->child[t->n][1] = 0;
	t->rule[t->n] = INT_MAX;
	return t->n++;
}

static int
bit(const uint8_t *addr, int i)
{
	return (addr[i / 8] >> (7 - i % 8)) & 1;
}

/* Rule i into t; -1 when out of memory. */
static int
trie_add(struct trie *t, const struct access_rule *r, int i)
{
	uint32_t	 at = 0, next;

	if (t->n == 0 && trie_node(t) != 0)
		return -1;
	for (int d = 0; d < r->prefix; d++) {
		if ((next = t->child[at][bit(r->addr, d)]) == 0) {
			if ((next = trie_node(t)) == 0)
				return -1;
			t->child[at][bit(r->addr, d)] = next;
		}
		at = next;
	}
	if (i < t->rule[at])
		t->rule[at] = i;
	return 0;
}

/* The first rule of t that matches addr (of bits bits), or INT_MAX. */
static int
trie_first(const struct trie *t, const uint8_t *addr, int bits)
{
	uint32_t	 at = 0;
	int		 best = INT_MAX;

	if (t->n == 0)
		return INT_MAX;
	for (int d = 0;; d++) {
		if (t->rule[at] < best)
			best = t->rule[at];
		if (d == bits || (at = t->child[at][bit(addr, d)]) == 0)
			return best;
	}
}

void
access_index_free(struct access_index *x)
{
	if (x == NULL)
		return;
	free(x->v4.child);
	free(x->v4.rule);
	free(x->v6.child);
	free(x->v6.rule);
	free(x);
}

/* Copy x into f, for the pointer at offset at (freeze.h). */
void
access_index_freeze(struct freeze *f, size_t at, const struct access_index *x)
{
	size_t	 to;

	if ((to = freeze_link(f, at, x, sizeof(*x))) == 0)
		return;
	freeze_link(f, to + offsetof(struct access_index, v4.child),
	    x->v4.child, x->v4.n * sizeof(*x->v4.child));
	freeze_link(f, to + offsetof(struct access_index, v4.rule),
	    x->v4.rule, x->v4.n * sizeof(*x->v4.rule));
	freeze_link(f, to + offsetof(struct access_index, v6.child),
	    x->v6.child, x->v6.n * sizeof(*x->v6.child));
	freeze_link(f, to + offsetof(struct access_index, v6.rule),
	    x->v6.rule, x->v6.n * sizeof(*x->v6.rule));
}

/* The n rules, indexed for access_match(); NULL when out of memory. */
struct access_index *
access_index_new(const struct access_rule *rules, int n)
{
	struct access_index	*x;
	int			 rc = 0;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->all = INT_MAX;
	for (int i = 0; i < n && rc == 0; i++) {
		if (rules[i].family == AF_INET)
			rc = trie_add(&x->v4, &rules[i], i);
		else if (rules[i].family == AF_INET6)
			rc = trie_add(&x->v6, &rules[i], i);
		else if (i < x->all)
			x->all = i;
	}
	if (rc == -1) {
		access_index_free(x);
		return NULL;
	}
	return x;
}

/*
 * The first of n rules (indexed in x) that matches peer: its index in
 * *index (-1 for none), and whether the peer is allowed.  No rules at
 * all: allowed; rules but none matching: denied.  A mapped IPv6 peer is
 * matched as IPv4.
 */
int
access_match(const struct access_index *x, const struct access_rule *rules,
    int n, const struct sockaddr_storage *peer, int *index)
{
	int	 first = INT_MAX;

	*index = -1;
	if (n == 0)
		return 1;
	if (peer->ss_family == AF_INET) {
		first = trie_first(&x->v4, (const uint8_t *)
		    &((const struct sockaddr_in *)peer)->sin_addr, 32);
	} else if (peer->ss_family == AF_INET6) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)peer)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6))
			first = trie_first(&x->v4, a6->s6_addr + 12, 32);
		else
			first = trie_first(&x->v6, a6->s6_addr, 128);
	}
	if (x->all < first)
		first = x->all;
	if (first == INT_MAX)
		return 0;
	*index = first;
	return rules[first].allow;
}
