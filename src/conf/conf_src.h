/* The configuration's source text: its files read within bounds, by line. */
#ifndef TCPD_CONF_SRC_H
#define TCPD_CONF_SRC_H

#include <stddef.h>

/* One file: the main one, or one that an @include names. */
struct conf_text {
	char		*name;		/* the @include string; NULL: main */
	char		*buf;		/* the text, NUL-terminated */
	size_t		 len;
	size_t		*line;		/* where line i + 1 starts */
	unsigned char	*state;		/* the lexer's state there */
	int		 nlines;
};

struct conf_src {
	const char		*path;	/* the main file, as the user gave it */
	char			*abs;	/* the same, absolute */
	char			*dir;	/* where @include paths start */
	struct conf_text	*files;
	int			 nfiles;
	size_t			 total;	/* bytes read, each inclusion counted */
};

int	conf_src_open(struct conf_src *, const char *path, char *err,
	    size_t errlen);
int	conf_src_int(const struct conf_src *, const char *file, int line,
	    const char *key, long long v, char *lit, size_t litlen);
void	conf_src_free(struct conf_src *);

#endif
