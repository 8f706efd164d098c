/* tcpd-convert's small tools: memory, lists, errors, files read by line. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"

/* Out of memory is the one failure a converter cannot go on from. */
static void
cv_nomem(void)
{
	fputs("tcpd-convert: out of memory\n", stderr);
	exit(1);
}

void *
cv_malloc(size_t n)
{
	void	*p;

	if ((p = calloc(1, n ? n : 1)) == NULL)
		cv_nomem();
	return p;
}

char *
cv_strdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		cv_nomem();
	return p;
}

/* A new string, printf style. */
char *
cv_printf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		cv_nomem();
	return s;
}

/* Append a string, printf style, to a list. */
void
cv_add(struct cv_list *l, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, **v;
	int	 r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r == -1)
		cv_nomem();
	if ((v = reallocarray(l->v, l->n + 2, sizeof(*v))) == NULL)
		cv_nomem();
	l->v = v;
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
}

/* Remove the i-th string of a list. */
void
cv_del(struct cv_list *l, size_t i)
{
	free(l->v[i]);
	memmove(&l->v[i], &l->v[i + 1], (l->n - i) * sizeof(*l->v));
	l->n--;
}

int
cv_has(const struct cv_list *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return 1;
	return 0;
}

void
cv_list_free(struct cv_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Replace dst with a copy of src. */
void
cv_list_copy(struct cv_list *dst, const struct cv_list *src)
{
	cv_list_free(dst);
	for (size_t i = 0; i < src->n; i++)
		cv_add(dst, "%s", src->v[i]);
}

/* Fill the run's error, "FILE:LINE: message", and return -1. */
int
cv_error(struct cv_ctx *x, const char *file, size_t line, const char *fmt,
    ...)
{
	va_list	 ap;
	int	 n = 0;

	if (file != NULL && line > 0)
		n = snprintf(x->err, sizeof(x->err), "%s:%zu: ", file, line);
	else if (file != NULL)
		n = snprintf(x->err, sizeof(x->err), "%s: ", file);
	if (n < 0 || (size_t)n >= sizeof(x->err))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(x->err + n, sizeof(x->err) - n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Split the file's text into lines, checking each byte. */
static int
cv_lines(struct cv_ctx *x, struct cv_file *f, size_t len)
{
	char	*p = f->buf, *end = f->buf + len, *nl;
	size_t	 cap = 0, n;

	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		n = nl - p;
		if (n > 0 && p[n - 1] == '\r')
			p[--n] = '\0';
		if (n > CV_LINE_MAX)
			return cv_error(x, f->path, f->nlines + 1,
			    "line longer than %d bytes", CV_LINE_MAX);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = p[i];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return cv_error(x, f->path, f->nlines + 1,
				    "control character 0x%02x: not a "
				    "configuration file?", c);
		}
		*nl = '\0';
		if (f->nlines == cap) {
			cap = cap ? cap * 2 : 64;
			if ((f->line = reallocarray(f->line, cap,
			    sizeof(*f->line))) == NULL)
				cv_nomem();
		}
		f->line[f->nlines++] = p;
		p = nl + 1;
	}
	return 0;
}

/* Read a regular file of bounded size into a new cv_file of the run. */
int
cv_read(struct cv_ctx *x, const char *path, struct cv_file **fp)
{
	struct cv_file	*f;
	struct stat	 st;
	ssize_t		 r = 0;
	size_t		 len = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		return cv_error(x, path, 0, "%s", strerror(errno));
	if (fstat(fd, &st) == -1) {
		cv_error(x, path, 0, "%s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		cv_error(x, path, 0, "not a regular file");
		goto fail;
	}
	if (st.st_size > CV_FILE_MAX ||
	    x->total + (size_t)st.st_size > CV_TOTAL_MAX) {
		cv_error(x, path, 0, "larger than %d bytes%s", CV_FILE_MAX,
		    st.st_size > CV_FILE_MAX ? "" : " with the files before");
		goto fail;
	}
	f = cv_malloc(sizeof(*f));
	f->path = cv_strdup(path);
	f->buf = cv_malloc((size_t)st.st_size + 2);
	f->next = x->files;
	x->files = f;
	/* One byte more than fstat said, to see a file that grew. */
	while (len <= (size_t)st.st_size && (r = read(fd, f->buf + len,
	    (size_t)st.st_size + 1 - len)) > 0)
		len += r;
	if (len <= (size_t)st.st_size && r == -1) {
		cv_error(x, path, 0, "%s", strerror(errno));
		goto fail;
	}
	if (len > (size_t)st.st_size) {
		cv_error(x, path, 0, "grew while it was read");
		goto fail;
	}
	close(fd);
	x->total += len;
	f->buf[len] = '\0';
	if (memchr(f->buf, '\0', len) != NULL)
		return cv_error(x, path, 0, "holds a NUL byte: not a "
		    "configuration file");
	*fp = f;
	return cv_lines(x, f, len);

fail:
	close(fd);
	return -1;
}

/* Split s in place at blanks into at most max words; how many. */
size_t
cv_words(char *s, char **w, size_t max)
{
	size_t	 n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || n == max)
			return n;
		w[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
}

/* Nothing but blanks, or a comment. */
int
cv_blank(const char *s)
{
	s += strspn(s, " \t");
	return *s == '\0' || *s == '#';
}

/* A decimal integer within lo..hi, the whole string. */
int
cv_number(const char *s, long lo, long hi, long *out)
{
	char	*end;
	long	 v;

	if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* A new service at the end of the run's list. */
struct cv_svc *
cv_svc_new(struct cv_ctx *x, const char *name, const char *title,
    const char *file, size_t line)
{
	struct cv_svc	*s = cv_malloc(sizeof(*s));

	s->name = cv_strdup(name);
	s->title = cv_strdup(title);
	s->origin = cv_printf("%s:%zu", file, line);
	s->handler = "exec";
	if (x->tail == NULL)
		x->tail = &x->svcs;
	*x->tail = s;
	x->tail = &s->next;
	return s;
}

/* The service becomes a comment; the first reason given is kept. */
void
cv_svc_off(struct cv_svc *s, const char *fmt, ...)
{
	va_list	 ap;
	char	*r;

	if (s->off != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&r, fmt, ap) == -1)
		cv_nomem();
	va_end(ap);
	s->off = r;
}

static void
cv_svc_free(struct cv_svc *s)
{
	free(s->name);
	free(s->title);
	free(s->origin);
	cv_list_free(&s->listen);
	cv_list_free(&s->exec);
	cv_list_free(&s->env);
	cv_list_free(&s->passenv);
	cv_list_free(&s->access);
	cv_list_free(&s->rlimits);
	cv_list_free(&s->notes);
	free(s->user);
	free(s->group);
	free(s->umask);
	free(s->off);
	free(s);
}

/* Everything the run holds. */
void
cv_free(struct cv_ctx *x)
{
	struct cv_svc	*s;
	struct cv_file	*f;

	while ((s = x->svcs) != NULL) {
		x->svcs = s->next;
		cv_svc_free(s);
	}
	while ((f = x->files) != NULL) {
		x->files = f->next;
		free(f->path);
		free(f->buf);
		free(f->line);
		free(f);
	}
	cv_list_free(&x->head);
	cv_list_free(&x->top);
}
