/* A growing text buffer, for answers built piece by piece. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"

/* Append, growing as needed; once out of memory, append nothing more. */
void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 cap;
	char	*p;
	int	 n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL,
		    b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->p != NULL && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		cap = b->cap ? b->cap : 1024;
		while (cap <= b->len + n)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* s as a JSON string, quotes included. */
void
buf_json_string(struct buf *b, const char *s)
{
	buf_printf(b, "\"");
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char	 c = *s;

		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else
			buf_printf(b, "%c", c);
	}
	buf_printf(b, "\"");
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
