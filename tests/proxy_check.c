/*
 * proxy_parse() on the headers HAProxy's proxy-protocol.txt describes,
 * and on every way to get one wrong: each known header whole, and every
 * prefix of it (more, never done nor bad), and each malformed one bad;
 * then random bytes and random mutations of good headers, which must
 * never read past what they are given (run under ASan with
 * --enable-sanitizers) and never call a header done that is longer
 * than the bytes given.
 *
 *	proxy_check [SEED]
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxy.h"

static int	 failures;

#define CHECK(c, ...) do {						\
	if (!(c)) {							\
		failures++;						\
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);	\
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

static const uint8_t sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* The text of an address in h. */
static const char *
addr_text(const struct sockaddr_storage *sa, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];
	int	 port;

	if (sa->ss_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    a, sizeof(a));
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
	} else {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof(a));
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	}
	snprintf(buf, len, "%s %d", a, port);
	return buf;
}

/* Every proper prefix of buf is "more"; the whole is the verdict v. */
static void
expect(const char *name, const uint8_t *buf, size_t len, unsigned versions,
    enum proxy_verdict v, struct proxy_hdr *h)
{
	const char		*why;
	enum proxy_verdict	 got;
	uint8_t			*copy;
	size_t			 hlen;

	/* A copy of exactly len bytes: ASan sees any read past them. */
	copy = malloc(len + 1);
	memcpy(copy, buf, len);
	got = proxy_parse(copy, len, versions, h, &why);
	free(copy);
	CHECK(got == v, "%s: %s, not %s (%s)", name,
	    got == PROXY_DONE ? "done" : got == PROXY_BAD ? "bad" : "more",
	    v == PROXY_DONE ? "done" : v == PROXY_BAD ? "bad" : "more", why);
	if (got != v)
		return;
	/* Every shorter prefix of a header is "more"; of a bad one, or bad. */
	hlen = v == PROXY_DONE ? h->len : len;
	for (size_t n = 0; n < hlen; n++) {
		struct proxy_hdr p;

		copy = malloc(n + 1);
		memcpy(copy, buf, n);
		got = proxy_parse(copy, n, versions, &p, &why);
		free(copy);
		if (got == PROXY_MORE || (v == PROXY_BAD && got == PROXY_BAD))
			continue;
		CHECK(0, "%s: prefix of %zu of %zu bytes: %s", name, n, hlen,
		    got == PROXY_DONE ? "done" : why);
		return;
	}
}

static void
v1_good(void)
{
	struct proxy_hdr	 h;
	char			 t[80];
	const char		*s;
	char			 buf[200];

	s = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\nGET /";
	expect("v1 tcp4", (const uint8_t *)s, strlen(s), PROXY_V1,
	    PROXY_DONE, &h);
	CHECK(h.version == 1 && !h.local && h.len == strlen(s) - 5,
	    "v1 tcp4: version %d local %d len %zu", h.version, h.local, h.len);
	CHECK(strcmp(addr_text(&h.src, t, sizeof(t)), "192.0.2.1 56324") == 0,
	    "v1 tcp4 src %s", t);
	CHECK(strcmp(addr_text(&h.dst, t, sizeof(t)), "198.51.100.7 443") ==
	    0, "v1 tcp4 dst %s", t);
	s = "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n";
	expect("v1 tcp6", (const uint8_t *)s, strlen(s), PROXY_V1 | PROXY_V2,
	    PROXY_DONE, &h);
	CHECK(strcmp(addr_text(&h.src, t, sizeof(t)), "2001:db8::1 0") == 0,
	    "v1 tcp6 src %s", t);
	s = "PROXY UNKNOWN\r\n";
	expect("v1 unknown", (const uint8_t *)s, strlen(s), PROXY_V1,
	    PROXY_DONE, &h);
	CHECK(h.local && h.len == 15, "v1 unknown: local %d len %zu", h.local,
	    h.len);
	s = "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n";
	expect("v1 unknown, anything", (const uint8_t *)s, strlen(s),
	    PROXY_V1, PROXY_DONE, &h);
	/* The longest there can be: 107 bytes. */
	snprintf(buf, sizeof(buf), "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n");
	CHECK(strlen(buf) == 104, "longest TCP6 is %zu", strlen(buf));
	expect("v1 longest tcp6", (const uint8_t *)buf, strlen(buf), PROXY_V1,
	    PROXY_DONE, &h);
	snprintf(buf, sizeof(buf), "PROXY UNKNOWN %091d\r\n", 0);
	CHECK(strlen(buf) == 107, "107: %zu", strlen(buf));
	expect("v1 107 bytes", (const uint8_t *)buf, strlen(buf), PROXY_V1,
	    PROXY_DONE, &h);
}

static void
v1_bad(void)
{
	static const char *const bad[] = {
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\n",
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\rX",
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324 65536\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.7 056324 443\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.7 +1 443\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443 x\r\n",
		"PROXY TCP4 192.0.2.1  198.51.100.7 56324 443\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.7 56324 443\r\n",
		"PROXY TCP6 192.0.2.1 ::1 1 2\r\n",
		"PROXY TCP4 192.0.2.256 198.51.100.7 1 2\r\n",
		"PROXY UDP4 192.0.2.1 198.51.100.7 1 2\r\n",
		"PROXY tcp4 192.0.2.1 198.51.100.7 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n",
		"PROXY \r\n",
		"proxy TCP4 192.0.2.1 198.51.100.7 1 2\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"SSH-2.0-OpenSSH_9.2\r\n",
		"PROXYTCP4 192.0.2.1 198.51.100.7 1 2\r\n",
	};
	struct proxy_hdr	 h;
	char			 buf[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i], (const uint8_t *)bad[i], strlen(bad[i]),
		    PROXY_V1 | PROXY_V2, PROXY_BAD, &h);
	/* 108 bytes: one too many, bad once 106 are read with no CR. */
	snprintf(buf, sizeof(buf), "PROXY UNKNOWN %092d\r\n", 0);
	expect("v1 108 bytes", (const uint8_t *)buf, strlen(buf), PROXY_V1,
	    PROXY_BAD, &h);
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	expect("v1 never ending", (const uint8_t *)buf, sizeof(buf), PROXY_V1,
	    PROXY_BAD, &h);
	/* A NUL inside. */
	memcpy(buf, "PROXY UNKNOWN a\0b\r\n", 19);
	expect("v1 NUL", (const uint8_t *)buf, 19, PROXY_V1, PROXY_BAD, &h);
	/* v1 where a service takes v2 only, and the other way. */
	expect("v1 for v2 only", (const uint8_t *)"PROXY UNKNOWN\r\n", 15,
	    PROXY_V2, PROXY_BAD, &h);
}

/* A v2 header into buf: command, family byte, addresses, TLVs. */
static size_t
v2_make(uint8_t *buf, int vercmd, int fam, const uint8_t *body, size_t n)
{
	memcpy(buf, sig, 12);
	buf[12] = (uint8_t)vercmd;
	buf[13] = (uint8_t)fam;
	buf[14] = (uint8_t)(n >> 8);
	buf[15] = (uint8_t)n;
	memcpy(buf + 16, body, n);
	return 16 + n;
}

/* CRC-32C as the spec's example computes it, to check against. */
static uint32_t
crc32c_ref(const uint8_t *p, size_t len)
{
	uint32_t	 crc = 0xffffffff;

	for (size_t i = 0; i < len; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & (0u - (crc & 1)));
	}
	return ~crc;
}

static void
v2_good(void)
{
	struct proxy_hdr	 h;
	uint8_t			 body[512], buf[600];
	char			 t[80];
	size_t			 n, len;
	uint32_t		 crc;

	CHECK(crc32c_ref((const uint8_t *)"123456789", 9) == 0xe3069283,
	    "crc32c reference");
	/* INET: 192.0.2.1:56324 -> 198.51.100.7:443, AUTHORITY, UNIQUE_ID. */
	n = 0;
	memcpy(body + n, "\xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x01\xbb", 12);
	n += 12;
	memcpy(body + n, "\x02\x00\x0b" "example.org", 14);
	n += 14;
	memcpy(body + n, "\x05\x00\x04" "\x00\x01\x02\x03", 7);
	n += 7;
	memcpy(body + n, "\x04\x00\x02" "\xff\xff", 5);	/* NOOP */
	n += 5;
	len = v2_make(buf, 0x21, 0x11, body, n);
	memcpy(buf + len, "hello", 5);
	expect("v2 inet", buf, len + 5, PROXY_V2, PROXY_DONE, &h);
	CHECK(h.version == 2 && !h.local && h.len == len, "v2 inet: %d %d %zu",
	    h.version, h.local, h.len);
	CHECK(strcmp(addr_text(&h.src, t, sizeof(t)), "192.0.2.1 56324") == 0,
	    "v2 src %s", t);
	CHECK(strcmp(addr_text(&h.dst, t, sizeof(t)), "198.51.100.7 443") ==
	    0, "v2 dst %s", t);
	CHECK(strcmp(h.authority, "example.org") == 0, "authority %s",
	    h.authority);
	CHECK(h.unique_id_len == 4 && memcmp(h.unique_id, "\0\1\2\3", 4) == 0,
	    "unique id");
	/* With a CRC32C over the whole header, computed as the spec says. */
	n = 12;
	memcpy(body + n, "\x03\x00\x04\x00\x00\x00\x00", 7);
	n += 7;
	len = v2_make(buf, 0x21, 0x11, body, n);
	crc = crc32c_ref(buf, len);
	buf[len - 4] = (uint8_t)(crc >> 24);
	buf[len - 3] = (uint8_t)(crc >> 16);
	buf[len - 2] = (uint8_t)(crc >> 8);
	buf[len - 1] = (uint8_t)crc;
	expect("v2 crc32c", buf, len, PROXY_V2, PROXY_DONE, &h);
	buf[len - 1] ^= 1;
	expect("v2 crc32c wrong", buf, len, PROXY_V2, PROXY_BAD, &h);
	/* INET6. */
	memset(body, 0, 36);
	body[0] = 0x20; body[1] = 0x01; body[2] = 0x0d; body[3] = 0xb8;
	body[15] = 1; body[31] = 1;
	body[32] = 0x30; body[33] = 0x39; body[34] = 0; body[35] = 7;
	len = v2_make(buf, 0x21, 0x21, body, 36);
	expect("v2 inet6", buf, len, PROXY_V2, PROXY_DONE, &h);
	CHECK(strcmp(addr_text(&h.src, t, sizeof(t)), "2001:db8::1 12345") ==
	    0, "v2 inet6 src %s", t);
	/* LOCAL, with anything after: skipped; UNSPEC the same. */
	len = v2_make(buf, 0x20, 0x00, (const uint8_t *)"\xff\xff\xff", 3);
	expect("v2 local", buf, len, PROXY_V2, PROXY_DONE, &h);
	CHECK(h.local && h.len == 19, "v2 local: %d %zu", h.local, h.len);
	len = v2_make(buf, 0x21, 0x00, body, 0);
	expect("v2 unspec", buf, len, PROXY_V2, PROXY_DONE, &h);
	CHECK(h.local, "v2 unspec is local");
	/*
	 * Valid combinations not implemented here (UDP, AF_UNIX) fall back
	 * to UNSPEC, as the spec says a receiver must: the real peer.
	 */
	{
		static const uint8_t fams[] = { 0x12, 0x22, 0x31, 0x32 };
		static const size_t alen[] = { 12, 36, 216, 216 };

		memset(body, 0, sizeof(body));
		for (size_t i = 0; i < sizeof(fams); i++) {
			len = v2_make(buf, 0x21, fams[i], body, alen[i]);
			expect("v2 unsupported family", buf, len, PROXY_V2,
			    PROXY_DONE, &h);
			CHECK(h.local && h.len == len, "v2 family %#x: local "
			    "%d", fams[i], h.local);
		}
	}
	/* The longest: 16 + 65535 bytes. */
	{
		uint8_t	*big = calloc(1, 16 + 65535);
		memcpy(big, sig, 12);
		big[12] = 0x21; big[13] = 0x11; big[14] = 0xff; big[15] = 0xff;
		big[16 + 12] = 0x04;			/* NOOP */
		big[16 + 13] = (65535 - 12 - 3) >> 8;
		big[16 + 14] = (65535 - 12 - 3) & 0xff;
		expect("v2 longest", big, 16 + 65535, PROXY_V2, PROXY_DONE, &h);
		CHECK(proxy_need(big, 16) == 16 + 65535, "need %zu",
		    proxy_need(big, 16));
		free(big);
	}
}

static void
v2_bad(void)
{
	struct proxy_hdr	 h;
	uint8_t			 body[300], buf[400];
	size_t			 len;

	memset(body, 0, sizeof(body));
	len = v2_make(buf, 0x11, 0x11, body, 12);
	expect("v2 version 1", buf, len, PROXY_V2, PROXY_BAD, &h);
	len = v2_make(buf, 0x22, 0x11, body, 12);
	expect("v2 command 2", buf, len, PROXY_V2, PROXY_BAD, &h);
	len = v2_make(buf, 0x21, 0x41, body, 12);
	expect("v2 family 4", buf, len, PROXY_V2, PROXY_BAD, &h);
	/* Neither UNSPEC nor a valid combination: invalid, rejected. */
	len = v2_make(buf, 0x21, 0x01, body, 12);
	expect("v2 unspec family, stream", buf, len, PROXY_V2, PROXY_BAD, &h);
	len = v2_make(buf, 0x21, 0x10, body, 12);
	expect("v2 inet, unspec transport", buf, len, PROXY_V2, PROXY_BAD,
	    &h);
	len = v2_make(buf, 0x21, 0x13, body, 12);
	expect("v2 inet, transport 3", buf, len, PROXY_V2, PROXY_BAD, &h);
	len = v2_make(buf, 0x21, 0x11, body, 11);
	expect("v2 inet short", buf, len, PROXY_V2, PROXY_BAD, &h);
	len = v2_make(buf, 0x21, 0x21, body, 35);
	expect("v2 inet6 short", buf, len, PROXY_V2, PROXY_BAD, &h);
	/* TLVs: cut short, longer than the header, bad values. */
	memcpy(body + 12, "\x04\x00", 2);
	len = v2_make(buf, 0x21, 0x11, body, 14);
	expect("v2 tlv cut", buf, len, PROXY_V2, PROXY_BAD, &h);
	memcpy(body + 12, "\x04\x00\x05\x01", 4);
	len = v2_make(buf, 0x21, 0x11, body, 16);
	expect("v2 tlv long", buf, len, PROXY_V2, PROXY_BAD, &h);
	memcpy(body + 12, "\x02\x00\x03" "a\0b", 6);
	len = v2_make(buf, 0x21, 0x11, body, 18);
	expect("v2 authority NUL", buf, len, PROXY_V2, PROXY_BAD, &h);
	memset(body + 12, 'u', 3 + 129);
	memcpy(body + 12, "\x05\x00\x81", 3);
	len = v2_make(buf, 0x21, 0x11, body, 12 + 3 + 129);
	expect("v2 unique id 129", buf, len, PROXY_V2, PROXY_BAD, &h);
	memcpy(body + 12, "\x03\x00\x02\x00\x00", 5);
	len = v2_make(buf, 0x21, 0x11, body, 17);
	expect("v2 crc32c of 2", buf, len, PROXY_V2, PROXY_BAD, &h);
	len = v2_make(buf, 0x21, 0x11, body, 12);
	expect("v2 for v1 only", buf, len, PROXY_V1, PROXY_BAD, &h);
	/* The signature, wrong in its last byte. */
	len = v2_make(buf, 0x21, 0x11, body, 12);
	buf[11] = 0;
	expect("v2 bad signature", buf, len, PROXY_V2, PROXY_BAD, &h);
}

/*
 * Random bytes, and good headers with random bytes changed or cut: no
 * crash, no read past the bytes (ASan), and done only within them.
 */
static void
random_inputs(unsigned seed)
{
	struct proxy_hdr	 h;
	const char		*why;
	uint8_t			 good[2][64], *b;
	size_t			 glen[2], len;

	srandom(seed);
	glen[0] = strlen(strcpy((char *)good[0],
	    "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"));
	glen[1] = v2_make(good[1], 0x21, 0x11,
	    (const uint8_t *)"\xc0\x00\x02\x01\xc6\x33\x64\x07\xdc\x04\x01\xbb"
	    "\x02\x00\x01x", 16);
	for (int i = 0; i < 200000; i++) {
		int g = random() % 3;

		len = g == 2 ? (size_t)(random() % 120) : glen[g];
		b = malloc(len + 1);
		for (size_t k = 0; k < len; k++)
			b[k] = g == 2 ? (uint8_t)random() : good[g][k];
		for (int m = random() % 4; g != 2 && m > 0; m--)
			b[random() % len] = (uint8_t)random();
		if (g != 2 && random() % 2)
			len = random() % (len + 1);
		if (proxy_parse(b, len, PROXY_V1 | PROXY_V2, &h, &why) ==
		    PROXY_DONE)
			CHECK(h.len <= len, "done with %zu of %zu bytes",
			    h.len, len);
		free(b);
	}
}

int
main(int argc, char *argv[])
{
	unsigned	 seed = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) :
	    (unsigned)time(NULL);

	v1_good();
	v1_bad();
	v2_good();
	v2_bad();
	random_inputs(seed);
	printf("proxy_check: seed %u: %s\n", seed, failures == 0 ? "all good" :
	    "FAILED");
	return failures == 0 ? 0 : 1;
}
