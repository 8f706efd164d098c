/*
 * The PROXY protocol header, parsed from the bytes at the start of a
 * connection, never guessed at: v1 is "PROXY TCP4|TCP6|UNKNOWN ... \r\n"
 * within 107 bytes, v2 a 12-byte signature, version and command, family
 * and transport, a length, the addresses and TLVs.  Everything is
 * bounds-checked against what was read; nothing is read past the
 * header's own length, so the bytes that follow belong to the service.
 */
#include "config.h"

#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "proxy.h"

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* v2's TLVs that matter here. */
#define PP2_TYPE_AUTHORITY	0x02
#define PP2_TYPE_CRC32C		0x03
#define PP2_TYPE_UNIQUE_ID	0x05

/* CRC-32C (Castagnoli), bit by bit: a header is checked once. */
static uint32_t
crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len-- > 0) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
	}
	return ~crc;
}

/* A port in v1: 0 to 65535, decimal, no sign, no leading zero. */
static int
v1_port(const char *s, size_t n, uint16_t *out)
{
	unsigned long	 v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* An address of family af in v1, into sa with port. */
static int
v1_addr(int af, const char *s, size_t n, uint16_t port,
    struct sockaddr_storage *sa)
{
	char	 text[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (af == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return inet_pton(AF_INET, text, &in->sin_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1 ? 0 : -1;
}

/*
 * v1: "PROXY " proto " " src " " dst " " sport " " dport "\r\n", one
 * space between fields, within 107 bytes; "PROXY UNKNOWN" may hold
 * anything up to its CRLF, which is ignored.
 */
static enum proxy_verdict
v1_parse(const uint8_t *buf, size_t len, struct proxy_hdr *h,
    const char **why)
{
	const char	*s = (const char *)buf, *f[6], *end;
	size_t		 n, fl[6];
	int		 nf = 0, af;
	uint16_t	 sport, dport;
	const uint8_t	*cr;

	/* Its CR at byte 106 at the latest, its LF at 107. */
	n = len < PROXY_V1_MAX - 1 ? len : PROXY_V1_MAX - 1;
	if ((cr = memchr(buf, '\r', n)) != NULL)
		n = (size_t)(cr - buf);
	if (memchr(buf, '\n', n) != NULL || memchr(buf, '\0', n) != NULL) {
		*why = "PROXY v1 header: a NUL or LF before its CRLF";
		return PROXY_BAD;
	}
	if (cr == NULL) {
		*why = "PROXY v1 header longer than 107 bytes";
		return len < PROXY_V1_MAX - 1 ? PROXY_MORE : PROXY_BAD;
	}
	if ((size_t)(cr - buf) + 1 >= len)
		return PROXY_MORE;
	if (cr[1] != '\n') {
		*why = "PROXY v1 header: CR not followed by LF";
		return PROXY_BAD;
	}
	end = (const char *)cr;
	h->version = 1;
	h->len = (size_t)(cr - buf) + 2;
	/* Fields after "PROXY ", one space apart. */
	for (const char *p = s + 6; p <= end && nf < 6;) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		f[nf] = p;
		fl[nf] = (size_t)((sp != NULL ? sp : end) - p);
		nf++;
		if (sp == NULL)
			break;
		p = sp + 1;
	}
	if (nf >= 1 && fl[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0) {
		h->local = 1;
		return PROXY_DONE;
	}
	/* proto, source, destination, source port, destination port. */
	if (nf != 5 || fl[0] != 4 || (memcmp(f[0], "TCP4", 4) != 0 &&
	    memcmp(f[0], "TCP6", 4) != 0) || f[4] + fl[4] != end) {
		*why = "malformed PROXY v1 header";
		return PROXY_BAD;
	}
	af = f[0][3] == '4' ? AF_INET : AF_INET6;
	if (v1_port(f[3], fl[3], &sport) == -1 ||
	    v1_port(f[4], fl[4], &dport) == -1 ||
	    v1_addr(af, f[1], fl[1], sport, &h->src) == -1 ||
	    v1_addr(af, f[2], fl[2], dport, &h->dst) == -1) {
		*why = "malformed PROXY v1 header: bad address or port";
		return PROXY_BAD;
	}
	h->addrlen = af == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	return PROXY_DONE;
}

/* v2's TLVs, from p to end: each bounds-checked, known ones kept. */
static enum proxy_verdict
v2_tlvs(const uint8_t *hdr, const uint8_t *p, const uint8_t *end,
    struct proxy_hdr *h, const char **why)
{
	while (p < end) {
		size_t	 n;

		if (end - p < 3) {
			*why = "PROXY v2 header: a truncated TLV";
			return PROXY_BAD;
		}
		n = (size_t)p[1] << 8 | p[2];
		if ((size_t)(end - p - 3) < n) {
			*why = "PROXY v2 header: a TLV longer than the header";
			return PROXY_BAD;
		}
		switch (p[0]) {
		case PP2_TYPE_AUTHORITY:
			if (n > PROXY_AUTHORITY_MAX ||
			    memchr(p + 3, '\0', n) != NULL) {
				*why = "PROXY v2 header: a bad AUTHORITY";
				return PROXY_BAD;
			}
			memcpy(h->authority, p + 3, n);
			h->authority[n] = '\0';
			break;
		case PP2_TYPE_UNIQUE_ID:
			if (n > PROXY_UNIQUE_ID_MAX) {
				*why = "PROXY v2 header: UNIQUE_ID over 128 "
				    "bytes";
				return PROXY_BAD;
			}
			memcpy(h->unique_id, p + 3, n);
			h->unique_id[n] = '\0';
			h->unique_id_len = n;
			break;
		case PP2_TYPE_CRC32C: {
			uint8_t		 zero[4] = { 0 };
			uint32_t	 want, got;

			if (n != 4) {
				*why = "PROXY v2 header: a bad CRC32C";
				return PROXY_BAD;
			}
			want = (uint32_t)p[3] << 24 | (uint32_t)p[4] << 16 |
			    (uint32_t)p[5] << 8 | p[6];
			/* Over the whole header, this field as zeros. */
			got = crc32c(0, hdr, (size_t)(p + 3 - hdr));
			got = crc32c(got, zero, 4);
			got = crc32c(got, p + 7, (size_t)(end - p - 7));
			if (got != want) {
				*why = "PROXY v2 header: CRC32C mismatch";
				return PROXY_BAD;
			}
			break;
		}
		default:	/* ALPN, NOOP, SSL, NETNS, custom: not ours */
			break;
		}
		p += 3 + n;
	}
	return PROXY_DONE;
}

/* v2: signature, version and command, family, length, addresses, TLVs. */
static enum proxy_verdict
v2_parse(const uint8_t *buf, size_t len, struct proxy_hdr *h,
    const char **why)
{
	size_t		 body, need;
	const uint8_t	*a;
	int		 cmd, fam, proto;

	if (len < 16)
		return PROXY_MORE;
	body = (size_t)buf[14] << 8 | buf[15];
	h->version = 2;
	h->len = 16 + body;
	if ((buf[12] & 0xf0) != 0x20) {
		*why = "PROXY v2 header: unknown version";
		return PROXY_BAD;
	}
	cmd = buf[12] & 0x0f;
	fam = buf[13] >> 4;
	proto = buf[13] & 0x0f;
	if (cmd > 1) {
		*why = "PROXY v2 header: unknown command";
		return PROXY_BAD;
	}
	if (len < h->len)
		return PROXY_MORE;
	a = buf + 16;
	/*
	 * LOCAL (a balancer's own health check) ignores the family; so does
	 * UNSPEC (0x00), and the valid combinations a receiver does not
	 * implement (UDP, AF_UNIX: 0x12, 0x22, 0x31, 0x32) fall back to it,
	 * as the spec requires.  The real peer stands, the rest is skipped.
	 * Any other byte is invalid and must be rejected.
	 */
	if (cmd == 0 || buf[13] == 0x00 || ((fam >= 1 && fam <= 3) &&
	    proto == 2) || buf[13] == 0x31) {
		h->local = 1;
		return PROXY_DONE;
	}
	if (proto != 1 || (fam != 1 && fam != 2)) {
		*why = "PROXY v2 header: invalid address family or transport";
		return PROXY_BAD;
	}
	need = fam == 1 ? 12 : 36;
	if (body < need) {
		*why = "PROXY v2 header: shorter than its addresses";
		return PROXY_BAD;
	}
	memset(&h->src, 0, sizeof(h->src));
	memset(&h->dst, 0, sizeof(h->dst));
	if (fam == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&h->dst;
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		h->addrlen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&h->dst;
		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		h->addrlen = sizeof(*s);
	}
	return v2_tlvs(buf, a + need, buf + h->len, h, why);
}

/*
 * The header at buf (len bytes read so far), for a service that takes
 * versions.  PROXY_MORE: a prefix of a header, read more (within
 * proxy_need()); PROXY_DONE: *h filled, h->len bytes are it;
 * PROXY_BAD: no header this service takes, *why says what is wrong.
 */
enum proxy_verdict
proxy_parse(const uint8_t *buf, size_t len, unsigned versions,
    struct proxy_hdr *h, const char **why)
{
	size_t	 n;

	memset(h, 0, sizeof(*h));
	*why = "no PROXY header";
	n = len < sizeof(v2_sig) ? len : sizeof(v2_sig);
	if (memcmp(buf, v2_sig, n) == 0) {
		if (!(versions & PROXY_V2)) {
			if (n < sizeof(v2_sig))
				return PROXY_MORE;
			*why = "PROXY v2 header where only v1 is taken";
			return PROXY_BAD;
		}
		if (len < sizeof(v2_sig))
			return PROXY_MORE;
		return v2_parse(buf, len, h, why);
	}
	n = len < 6 ? len : 6;
	if (memcmp(buf, "PROXY ", n) == 0) {
		if (!(versions & PROXY_V1)) {
			if (n < 6)
				return PROXY_MORE;
			*why = "PROXY v1 header where only v2 is taken";
			return PROXY_BAD;
		}
		if (len < 6)
			return PROXY_MORE;
		return v1_parse(buf, len, h, why);
	}
	return len == 0 ? PROXY_MORE : PROXY_BAD;
}

/*
 * How many bytes the header at buf (len read) takes at most, as far as
 * it tells yet: what to read up to, and never past.
 */
size_t
proxy_need(const uint8_t *buf, size_t len)
{
	if (len >= 16 && memcmp(buf, v2_sig, sizeof(v2_sig)) == 0)
		return 16 + ((size_t)buf[14] << 8 | buf[15]);
	if (len > 0 && buf[0] == 'P')
		return PROXY_V1_MAX;
	return 16;
}
