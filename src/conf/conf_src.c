/* The configuration's source text: its files read within bounds, by line. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_src.h"

/*
 * libconfig nests @include 10 deep; one more level is read so that every
 * file it opens was checked here first.
 */
#define INCLUDE_DEPTH	11

/* Where the lexer is: strings and comments hold no settings. */
enum { LEX_CODE, LEX_STR, LEX_ESC, LEX_BLOCK, LEX_LINE };

/* What became of a file: read, or refused and why. */
enum { SRC_OK, SRC_ERRNO, SRC_NOTREG, SRC_BIG };

/* Only a regular file of at most max bytes will do. */
static int
src_usable(const struct stat *st, size_t max)
{
	if (!S_ISREG(st->st_mode))
		return SRC_NOTREG;
	if ((unsigned long long)st->st_size > max)
		return SRC_BIG;
	return SRC_OK;
}

/*
 * Open path to read it, checked by name and again once open.  O_NONBLOCK
 * keeps a FIFO from blocking the open itself; reading waits on nothing
 * once the file is known to be a regular one.
 */
static int
src_open(const char *path, size_t max, int *fdp)
{
	struct stat	 st;
	int		 fd, r, e;

	if (stat(path, &st) == -1)
		return SRC_ERRNO;
	if ((r = src_usable(&st, max)) != SRC_OK)
		return r;
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return SRC_ERRNO;
	if (fstat(fd, &st) == -1)
		r = SRC_ERRNO;
	else if ((r = src_usable(&st, max)) == SRC_OK) {
		*fdp = fd;
		return SRC_OK;
	}
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* The whole file from fd, NUL-terminated: SRC_BIG past max bytes. */
static int
src_read(int fd, size_t max, char **bufp, size_t *lenp)
{
	char	*buf, *p;
	size_t	 len = 0;
	ssize_t	 n;

	if ((buf = malloc(max + 2)) == NULL)
		return SRC_ERRNO;
	do {
		if ((n = read(fd, buf + len, max + 1 - len)) > 0)
			len += n;
	} while ((n > 0 && len <= max) || (n == -1 && errno == EINTR));
	if (n == -1 || len > max) {
		free(buf);
		return n == -1 ? SRC_ERRNO : SRC_BIG;
	}
	buf[len] = '\0';
	if ((p = realloc(buf, len + 1)) != NULL)
		buf = p;
	*bufp = buf;
	*lenp = len;
	return SRC_OK;
}

/* One step of libconfig's lexing from p: the bytes it took, 1 or 2. */
static size_t
lex(const char *p, const char *end, unsigned char *st)
{
	int	 two = p + 1 < end;

	switch (*st) {
	case LEX_STR:
		*st = *p == '\\' ? LEX_ESC : *p == '"' ? LEX_CODE : LEX_STR;
		return 1;
	case LEX_ESC:
		*st = LEX_STR;
		return 1;
	case LEX_BLOCK:
		if (*p != '*' || !two || p[1] != '/')
			return 1;
		*st = LEX_CODE;
		return 2;
	case LEX_LINE:
		if (*p == '\n')
			*st = LEX_CODE;
		return 1;
	}
	if (*p == '"')
		*st = LEX_STR;
	else if (*p == '#')
		*st = LEX_LINE;
	else if (*p == '/' && two && (p[1] == '*' || p[1] == '/')) {
		*st = p[1] == '*' ? LEX_BLOCK : LEX_LINE;
		return 2;
	}
	return 1;
}

/* Where each line of t starts, and in which state of the lexer. */
static int
src_index(struct conf_text *t)
{
	const char	*p, *end = t->buf + t->len;
	unsigned char	 st = LEX_CODE;
	int		 n = 1, nl;

	for (p = t->buf; p < end; p++)
		n += *p == '\n';
	if ((t->line = calloc(n, sizeof(*t->line))) == NULL ||
	    (t->state = calloc(n, 1)) == NULL)
		return -1;
	t->nlines = 1;
	for (p = t->buf; p < end; ) {
		nl = *p == '\n';	/* never the second byte of a step */
		p += lex(p, end, &st);
		if (nl) {
			t->line[t->nlines] = p - t->buf;
			t->state[t->nlines++] = st;
		}
	}
	return 0;
}

/* Keep name's text (buf, len bytes) in s; its index, or -1. */
static int
src_add(struct conf_src *s, char *name, char *buf, size_t len)
{
	struct conf_text	*f, *t;

	if ((f = realloc(s->files, (s->nfiles + 1) * sizeof(*f))) == NULL) {
		free(name);
		free(buf);
		return -1;
	}
	s->files = f;
	t = &f[s->nfiles++];
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->buf = buf;
	t->len = len;
	s->total += len;
	return src_index(t) == -1 ? -1 : s->nfiles - 1;
}

/* "FILE:LINE: message" about line i of file f. */
static int __attribute__((format(printf, 6, 7)))
src_err(const struct conf_src *s, int f, int i, char *err, size_t errlen,
    const char *fmt, ...)
{
	const char	*file = s->files[f].name ? s->files[f].name : s->path;
	char		 msg[PATH_MAX + 128];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "%s:%d: %s", file, i + 1, msg);
	return -1;
}

/* The @include string that line i of t holds, if any, into name. */
static int
src_include_at(const struct conf_text *t, int i, char *name, size_t size)
{
	const char	*p = t->buf + t->line[i], *q;

	if (t->state[i] != LEX_CODE)
		return 0;
	p += strspn(p, " \t");
	if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
		return 0;
	p += 8 + strspn(p + 8, " \t");
	if (*p++ != '"')
		return 0;
	q = p + strcspn(p, "\"\\\n");	/* escapes: left to libconfig */
	if (*q != '"' || (size_t)(q - p) >= size)
		return 0;
	memcpy(name, p, q - p);
	name[q - p] = '\0';
	return 1;
}

/*
 * The file that line i of file f includes, as libconfig will find it:
 * its index in s, -2 if it cannot be opened (libconfig says so), or -1.
 */
static int
src_include(struct conf_src *s, int f, int i, const char *name, char *err,
    size_t errlen)
{
	char	 path[PATH_MAX * 2 + 2], *buf, *copy;
	size_t	 len, left = CONF_MAX_SIZE - s->total;
	int	 fd = -1, r;

	for (int k = 1; k < s->nfiles; k++) {
		if (strcmp(s->files[k].name, name) != 0)
			continue;
		if (s->files[k].len > left)
			goto big;
		s->total += s->files[k].len;
		return k;
	}
	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	if ((r = src_open(path, left, &fd)) == SRC_OK)
		r = src_read(fd, left, &buf, &len);
	if (fd != -1)
		close(fd);
	if (r == SRC_ERRNO)
		return -2;
	if (r == SRC_NOTREG)
		return src_err(s, f, i, err, errlen, "%s: not a regular file: "
		    "refusing to read it", name);
	if (r == SRC_BIG)
		goto big;
	if ((copy = strdup(name)) == NULL) {
		free(buf);
		return src_err(s, f, i, err, errlen, "out of memory");
	}
	if ((r = src_add(s, copy, buf, len)) == -1)
		return src_err(s, f, i, err, errlen, "out of memory");
	return r;
big:
	return src_err(s, f, i, err, errlen, "%s: the configuration would be "
	    "larger than %d bytes: refusing to read it", name, CONF_MAX_SIZE);
}

/* Read what file f includes, and so on down, within the bounds. */
static int
src_walk(struct conf_src *s, int f, int depth, char *err, size_t errlen)
{
	char	 name[PATH_MAX];
	int	 k;

	if (depth >= INCLUDE_DEPTH)
		return 0;
	for (int i = 0; i < s->files[f].nlines; i++) {
		if (!src_include_at(&s->files[f], i, name, sizeof(name)))
			continue;
		if ((k = src_include(s, f, i, name, err, errlen)) == -1 ||
		    (k >= 0 && src_walk(s, k, depth + 1, err, errlen) == -1))
			return -1;
	}
	return 0;
}

/* Why path was refused, as "FILE: reason". */
static void
src_refused(char *err, size_t errlen, const char *path, int why)
{
	if (why == SRC_NOTREG)
		snprintf(err, errlen, "%s: not a regular file: refusing to "
		    "read it", path);
	else if (why == SRC_BIG)
		snprintf(err, errlen, "%s: larger than %d bytes: refusing to "
		    "read it", path, CONF_MAX_SIZE);
	else
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
}

/*
 * Open the configuration file path and read it, and every file it
 * includes, each a regular file, CONF_MAX_SIZE bytes in all.  Returns
 * the main file's descriptor, at its start, for libconfig to parse; or
 * -1 with "FILE[:LINE]: message" in err.
 */
int
conf_src_open(struct conf_src *s, const char *path, char *err, size_t errlen)
{
	char	*buf = NULL, *copy;
	size_t	 len;
	int	 fd = -1, r;

	memset(s, 0, sizeof(*s));
	s->path = path;
	if ((r = src_open(path, CONF_MAX_SIZE, &fd)) == SRC_OK)
		r = src_read(fd, CONF_MAX_SIZE, &buf, &len);
	if (r == SRC_OK && (s->abs = realpath(path, NULL)) == NULL)
		r = SRC_ERRNO;
	if (r != SRC_OK) {
		src_refused(err, errlen, path, r);
		free(buf);
		goto fail;
	}
	if (src_add(s, NULL, buf, len) == -1 ||
	    (copy = strdup(s->abs)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	s->dir = strdup(dirname(copy));
	free(copy);
	if (s->dir == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if (src_walk(s, 0, 0, err, errlen) == -1)
		goto fail;
	if (lseek(fd, 0, SEEK_SET) == -1) {
		src_refused(err, errlen, path, SRC_ERRNO);
		goto fail;
	}
	return fd;
fail:
	if (fd != -1)
		close(fd);
	conf_src_free(s);
	return -1;
}

/* The text of file, as libconfig names it (NULL: the main file). */
static const struct conf_text *
src_text(const struct conf_src *s, const char *file)
{
	if (file == NULL)
		return s->nfiles > 0 ? &s->files[0] : NULL;
	for (int k = 1; k < s->nfiles; k++)
		if (strcmp(s->files[k].name, file) == 0)
			return &s->files[k];
	return NULL;
}

/* A byte of a setting's name, as libconfig spells them. */
static int
name_byte(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '*';
}

/*
 * An integer literal at p as libconfig writes them: an optional sign and
 * decimal digits, or 0x and hex digits, then an optional L or LL.  Its
 * value in *v (*range: beyond long long), its digits up to *end.
 */
static int
src_literal(const char *p, const char **end, long long *v, int *range)
{
	const char	*q = p + (*p == '+' || *p == '-');
	char		*e;
	int		 base = 10;

	if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X') &&
	    isxdigit((unsigned char)q[2]))
		base = 16;
	else if (!isdigit((unsigned char)*q))
		return -1;
	errno = 0;
	*v = strtoll(p, &e, base);
	*range = errno == ERANGE;
	*end = e;
	if (*e == 'L')
		e += e[1] == 'L' ? 2 : 1;
	return name_byte(*e) || *e == '.' ? -1 : 0;
}

/*
 * libconfig 1.5 reads an integer literal too large for an int, unless it
 * ends in L, modulo 2^32: 4294967298 as 2.  Look at what line of file
 * says for key: 1, with the literal in lit, if it holds one outside the
 * int range or beyond long long; 0 if one agrees with v, libconfig's
 * value, or if none is found there (the name on a line before the '=').
 */
int
conf_src_int(const struct conf_src *s, const char *file, int line,
    const char *key, long long v, char *lit, size_t litlen)
{
	const struct conf_text	*t = src_text(s, file);
	const char		*p, *start, *end, *q, *e;
	size_t			 klen = strlen(key);
	unsigned char		 st;
	long long		 n;
	int			 range, found = 0;

	if (t == NULL || line < 1 || line > t->nlines)
		return 0;
	start = t->buf + t->line[line - 1];
	end = line < t->nlines ? t->buf + t->line[line] : t->buf + t->len;
	st = t->state[line - 1];
	for (p = start; p < end; p += lex(p, end, &st)) {
		if (st != LEX_CODE || strncmp(p, key, klen) != 0 ||
		    name_byte(p[klen]) || (p > start && name_byte(p[-1])))
			continue;
		q = p + klen + strspn(p + klen, " \t");
		if (*q != '=' && *q != ':')
			continue;
		q += 1 + strspn(q + 1, " \t\r\n");	/* even lines below */
		if (src_literal(q, &e, &n, &range) == -1)
			continue;
		if (!range && n == v)
			return 0;
		if (!found && (range || n < INT_MIN || n > INT_MAX)) {
			snprintf(lit, litlen, "%.*s", (int)(e - q), q);
			found = 1;
		}
	}
	return found;
}

/* Free what conf_src_open read. */
void
conf_src_free(struct conf_src *s)
{
	for (int i = 0; i < s->nfiles; i++) {
		free(s->files[i].name);
		free(s->files[i].buf);
		free(s->files[i].line);
		free(s->files[i].state);
	}
	free(s->files);
	free(s->abs);
	free(s->dir);
	memset(s, 0, sizeof(*s));
}
