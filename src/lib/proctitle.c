/* The process title ps shows: "tcpd: master ...", "tcpd: worker ...". */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctitle.h"

extern char	**environ;

static char	*title;		/* argv[0]'s memory, environ's after it */
static size_t	 titlelen;

/*
 * ps reads a process's title from the memory of its arguments, followed
 * by its environment.  Move the environment elsewhere, and that whole
 * span is ours to write.  Call it once the arguments are no longer
 * needed: getopt()'s optarg points into them.
 */
static char	**moved_env __attribute__((used));

void
proctitle_init(int argc, char *argv[])
{
	char	*end = argv[0] + strlen(argv[0]) + 1;
	char	**env;
	int	 n = 0;

	for (int i = 1; i < argc && argv[i] == end; i++)
		end = argv[i] + strlen(argv[i]) + 1;
	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return;
	for (int i = 0; i < n; i++) {
		if (environ[i] == end)
			end = environ[i] + strlen(environ[i]) + 1;
		if ((env[i] = strdup(environ[i])) == NULL)
			return;
	}
	/* Kept here too: a later setenv() may give environ a new array. */
	moved_env = env;
	environ = env;
	title = argv[0];
	titlelen = end - argv[0];
}

/* Set what ps shows for this process, printf style. */
void
proctitle_set(const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (title == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(title, titlelen, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < titlelen)
		memset(title + n, '\0', titlelen - n);
}
