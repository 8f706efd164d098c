/* Access rules: "allow|deny ADDRESS[/PREFIX]|all", matched against peers. */
#ifndef TCPD_ACCESS_H
#define TCPD_ACCESS_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

/* "allow " + the longest IPv6 text + "/128", with its NUL. */
#define ACCESS_TEXT_MAX	64

struct access_rule {
	int		 allow;		/* 1 allow, 0 deny */
	int		 family;	/* AF_INET, AF_INET6, or 0: all */
	int		 prefix;	/* bits that must match */
	uint8_t		 addr[16];	/* network order; v4 in the first 4 */
	char		 text[ACCESS_TEXT_MAX];	/* for logs */
};

struct access_index;
struct freeze;

int	access_parse(const char *, struct access_rule *, char *err,
	    size_t errlen);
struct access_index *
	access_index_new(const struct access_rule *, int n);
void	access_index_free(struct access_index *);
void	access_index_freeze(struct freeze *, size_t at,
	    const struct access_index *);
int	access_match(const struct access_index *, const struct access_rule *,
	    int n, const struct sockaddr_storage *, int *index);

#endif
