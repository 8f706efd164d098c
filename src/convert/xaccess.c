/*
 * xinetd's only_from and no_access as one tcpd access list.  xinetd lets
 * the more specific of two matching entries decide (xinetd.conf(5));
 * tcpd lets the first matching rule decide.  So the rules go out most
 * specific first, a deny before an allow of the same prefix (xinetd
 * refuses an address both lists match equally), and the list ends with
 * what xinetd does with an address no entry matches.
 */
#include "config.h"

#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"

struct rule {
	int		 deny;
	int		 family;	/* 0 for all */
	uint8_t		 addr[16];
	int		 prefix;
	size_t		 order;
};

/* Zero the bits of addr past prefix. */
static void
mask(uint8_t *addr, int len, int prefix)
{
	for (int i = 0; i < len; i++) {
		int	 keep = prefix - 8 * i;

		if (keep <= 0)
			addr[i] = 0;
		else if (keep < 8)
			addr[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

/* Dotted octets a.b.c.d, some of them; how many, or -1. */
static int
octets(const char *s, uint8_t *o, int max)
{
	long	 v;
	int	 n = 0;
	char	 part[4], *dot;

	while (*s != '\0' && n < max) {
		size_t len = (dot = strchr(s, '.')) ? (size_t)(dot - s) :
		    strlen(s);

		if (len == 0 || len > 3)
			return -1;
		memcpy(part, s, len);
		part[len] = '\0';
		if (cv_number(part, 0, 255, &v) == -1 || part[0] == '-')
			return -1;
		o[n++] = (uint8_t)v;
		s += len;
		if (*s == '.' && *++s == '\0')
			return -1;
	}
	return *s == '\0' ? n : -1;
}

/* a.b.c.{d,e} or a.b.{c,d}: one rule per value; 0 if not that form. */
static int
factorized(const char *s, int deny, struct rule *r, size_t *nr, size_t max)
{
	uint8_t		 o[4];
	char		*copy, *brace, *list, *end, *tok, *save;
	int		 n, ok = 1;
	long		 v;

	if ((brace = strchr(s, '{')) == NULL)
		return 0;
	copy = cv_strdup(s);
	brace = copy + (brace - s);
	end = copy + strlen(copy) - 1;
	if (brace == copy || brace[-1] != '.' || *end != '}') {
		free(copy);
		return -1;
	}
	brace[-1] = '\0';
	*end = '\0';
	list = brace + 1;
	if ((n = octets(copy, o, 3)) < 1 || n > 3)
		ok = 0;
	for (tok = strtok_r(list, ",", &save); ok && tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (cv_number(tok, 0, 255, &v) == -1 || *nr == max) {
			ok = 0;
			break;
		}
		memset(&r[*nr], 0, sizeof(r[*nr]));
		memcpy(r[*nr].addr, o, n);
		r[*nr].addr[n] = (uint8_t)v;
		r[*nr].family = 4;
		r[*nr].prefix = 8 * (n + 1);
		r[*nr].deny = deny;
		(*nr)++;
	}
	free(copy);
	return ok ? 1 : -1;
}

/* One entry of xinetd's lists as a rule: 1, or 0 for a host name. */
static int
entry(const char *s, int deny, struct rule *r, size_t *nr, size_t max)
{
	struct rule	*p;
	char		 a[64], *slash;
	long		 pfx = -1;
	int		 f;

	if ((f = factorized(s, deny, r, nr, max)) != 0)
		return f;
	if (*nr == max || strlen(s) >= sizeof(a))
		return 0;
	p = &r[*nr];
	memset(p, 0, sizeof(*p));
	p->deny = deny;
	strcpy(a, s);
	if ((slash = strchr(a, '/')) != NULL) {
		*slash++ = '\0';
		if (cv_number(slash, 0, 128, &pfx) == -1)
			return 0;
	}
	if (inet_pton(AF_INET, a, p->addr) == 1) {
		p->family = 4;
		if (pfx > 32)
			return 0;
		if (pfx == -1) {
			/* Zeros on the right are wildcards: 10.1.0.0 is /16. */
			for (pfx = 32; pfx > 0 && p->addr[pfx / 8 - 1] == 0;)
				pfx -= 8;
		}
		if (pfx == 0)
			p->family = 0;
		p->prefix = (int)pfx;
		mask(p->addr, 4, p->prefix);
	} else if (inet_pton(AF_INET6, a, p->addr) == 1) {
		p->family = 6;
		p->prefix = pfx == -1 ? 128 : (int)pfx;
		mask(p->addr, 16, p->prefix);
	} else
		return 0;
	(*nr)++;
	return 1;
}

/* Most specific first; a deny first at equal prefix; else as written. */
static int
rulecmp(const void *a, const void *b)
{
	const struct rule	*x = a, *y = b;

	if (x->prefix != y->prefix)
		return y->prefix - x->prefix;
	if (x->deny != y->deny)
		return y->deny - x->deny;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void
rule_text(const struct rule *r, char *buf, size_t len)
{
	char	 a[INET6_ADDRSTRLEN];
	int	 full;

	if (r->family == 0) {
		snprintf(buf, len, "%s all", r->deny ? "deny" : "allow");
		return;
	}
	inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->addr, a, sizeof(a));
	full = r->family == 4 ? 32 : 128;
	if (r->prefix == full)
		snprintf(buf, len, "%s %s", r->deny ? "deny" : "allow", a);
	else
		snprintf(buf, len, "%s %s/%d", r->deny ? "deny" : "allow", a,
		    r->prefix);
}

/* Read one xinetd list into rules; what is not an address is noted. */
static void
read_list(struct cv_svc *s, const struct cv_list *l, int deny,
    struct rule *r, size_t *nr, size_t max)
{
	for (size_t i = 0; i < l->n; i++) {
		size_t	 before = *nr;
		int	 k = entry(l->v[i], deny, r, nr, max);

		for (size_t j = before; j < *nr; j++)
			r[j].order = j;
		if (k == 1)
			continue;
		if (deny)
			cv_svc_off(s, "no_access '%s' is not an address or a "
			    "network (a host or domain name?): tcpd's access "
			    "rules take addresses, and leaving it out would "
			    "let in whom xinetd refused", l->v[i]);
		else
			cv_add(&s->notes, "only_from '%s' is not an address "
			    "or a network (a host or domain name?): left out, "
			    "so that it is refused here", l->v[i]);
	}
}

/* The access list for a service's only_from and no_access. */
int
cv_access(struct cv_svc *s, const struct cv_list *only, int only_set,
    const struct cv_list *no, int no_set)
{
	struct rule	*r;
	size_t		 nr = 0, max = (only->n + no->n) * 256 + 1;
	char		 text[96];

	if (!only_set && !no_set)
		return 0;
	r = cv_malloc(max * sizeof(*r));
	read_list(s, no, 1, r, &nr, max);
	read_list(s, only, 0, r, &nr, max);
	qsort(r, nr, sizeof(*r), rulecmp);
	for (size_t i = 0; i < nr; i++) {
		rule_text(&r[i], text, sizeof(text));
		if (!cv_has(&s->access, text))
			cv_add(&s->access, "%s", text);
	}
	if (nr == 0 || r[nr - 1].family != 0) {
		if (only_set)
			cv_add(&s->access, "deny all");
		else if (s->access.n > 0)
			cv_add(&s->access, "allow all");
	}
	free(r);
	return 0;
}
