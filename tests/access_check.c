/*
 * access_match() against the rule of the rules, a scan in order: for
 * random rule lists (IPv4, IPv6, mapped, "all", duplicates, nested
 * prefixes) and random peers near them, both must name the same first
 * rule.  Also prints what a match costs with 1,000 rules.
 *
 *	access_check [SEED]
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"

#define LISTS	300
#define PEERS	2000

/* Does rule r take this address (bits of it, network order)? */
static int
takes(const struct access_rule *r, int family, const uint8_t *addr)
{
	if (r->family == 0)
		return 1;
	if (r->family != family)
		return 0;
	for (int i = 0; i < r->prefix; i++) {
		int	 m = 0x80 >> (i % 8);
		if ((r->addr[i / 8] & m) != (addr[i / 8] & m))
			return 0;
	}
	return 1;
}

/* The reference: the first rule that takes the peer, by a plain scan. */
static int
scan(const struct access_rule *rules, int n, const struct sockaddr_storage *ss)
{
	const uint8_t	*addr;
	int		 family = ss->ss_family;

	if (family == AF_INET) {
		addr = (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	} else {
		addr = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr)) {
			family = AF_INET;
			addr += 12;
		}
	}
	for (int i = 0; i < n; i++)
		if (takes(&rules[i], family, addr))
			return i;
	return -1;
}

/* Addresses from a small pool, so that rules and peers meet often. */
static void
pick(int family, uint8_t *a)
{
	static const uint8_t v4[][4] = {
		{ 10, 0, 0, 0 }, { 10, 1, 2, 3 }, { 192, 0, 2, 7 },
		{ 192, 0, 2, 128 }, { 127, 0, 0, 1 },
	};
	static const uint8_t v6[][16] = {
		{ 0x20, 0x01, 0x0d, 0xb8 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
		{ 0xfe, 0x80 },
		{ [15] = 1 },
	};

	if (family == AF_INET) {
		memcpy(a, v4[rand() % 5], 4);
		a[rand() % 4] ^= (uint8_t)(1 << (rand() % 8));
	} else {
		memcpy(a, v6[rand() % 4], 16);
		a[rand() % 16] ^= (uint8_t)(1 << (rand() % 8));
	}
}

/* A random rule's text: allow/deny, a CIDR of either family, or all. */
static void
rule_text(char *buf, size_t len)
{
	uint8_t		 a[16] = { 0 };
	char		 host[INET6_ADDRSTRLEN];
	int		 kind = rand() % 10, family, max, prefix;

	if (kind == 0) {
		snprintf(buf, len, "%s all", rand() % 2 ? "allow" : "deny");
		return;
	}
	family = kind < 6 ? AF_INET : AF_INET6;
	max = family == AF_INET ? 32 : 128;
	prefix = rand() % (max + 1);
	pick(family, a);
	for (int i = prefix; i < max; i++)	/* no host bits */
		a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	inet_ntop(family, a, host, sizeof(host));
	snprintf(buf, len, "%s %s/%d", rand() % 2 ? "allow" : "deny", host,
	    prefix);
}

static void
peer(struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (rand() % 3 == 0) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		pick(AF_INET, (uint8_t *)&in->sin_addr);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		if (rand() % 2) {		/* mapped IPv4 */
			in6->sin6_addr.s6_addr[10] = 0xff;
			in6->sin6_addr.s6_addr[11] = 0xff;
			pick(AF_INET, in6->sin6_addr.s6_addr + 12);
		} else
			pick(AF_INET6, in6->sin6_addr.s6_addr);
	}
}

static int
check_list(int n)
{
	struct access_rule	 rules[n > 0 ? n : 1];
	struct access_index	*x;
	struct sockaddr_storage	 ss;
	char			 text[80], err[128];
	int			 got, want, allowed;

	for (int i = 0; i < n; i++) {
		rule_text(text, sizeof(text));
		if (access_parse(text, &rules[i], err, sizeof(err)) == -1) {
			printf("not ok: '%s': %s\n", text, err);
			return -1;
		}
	}
	if ((x = access_index_new(rules, n)) == NULL)
		return -1;
	for (int p = 0; p < PEERS; p++) {
		peer(&ss);
		allowed = access_match(x, rules, n, &ss, &got);
		want = scan(rules, n, &ss);
		if (got != want || (n > 0 && allowed !=
		    (want >= 0 && rules[want].allow)) || (n == 0 && !allowed)) {
			printf("not ok: %d rules: first match %d, expected %d\n",
			    n, got, want);
			for (int i = 0; i < n; i++)
				printf("  %d: %s\n", i, rules[i].text);
			access_index_free(x);
			return -1;
		}
	}
	access_index_free(x);
	return 0;
}

/* What one match costs with 1,000 IPv4 rules, the match being the last. */
static void
cost(void)
{
	static struct access_rule	 rules[1000];
	struct access_index		*x;
	struct sockaddr_in		 in = { .sin_family = AF_INET };
	struct timespec			 t0, t1;
	char				 text[64], err[128];
	int				 i, n = 200000, sink = 0;
	double				 ns;

	for (i = 0; i < 999; i++) {
		snprintf(text, sizeof(text), "deny 10.%d.%d.0/24", i / 250,
		    i % 250);
		access_parse(text, &rules[i], err, sizeof(err));
	}
	access_parse("allow 127.0.0.0/8", &rules[999], err, sizeof(err));
	x = access_index_new(rules, 1000);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++)
		sink += access_match(x, rules, 1000,
		    (struct sockaddr_storage *)&in, &(int){ 0 });
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n;
	printf("# 1,000 rules: %.0f ns a match (%d allowed)\n", ns, sink);
	access_index_free(x);
}

int
main(int argc, char *argv[])
{
	unsigned	 seed = argc > 1 ? (unsigned)atoi(argv[1]) :
			    (unsigned)time(NULL);

	printf("# seed %u\n", seed);
	srand(seed);
	for (int l = 0; l < LISTS; l++)
		if (check_list(l % 60) == -1) {
			printf("# again with: access_check %u\n", seed);
			return 1;
		}
	printf("ok: %d lists, %d peers each, match the scan\n", LISTS, PEERS);
	cost();
	return 0;
}
