/*
 * Where a running master is, read from a configuration file that does
 * not load as a whole: a typo elsewhere, a program gone missing.  The
 * control commands (tcpd -s) must still find the master to stop it or
 * ask it, so this looks only for the top-level pid_file and
 * control_socket settings, as tcpd reads them: relative to the file's
 * directory, the control socket beside the pid file unless set.
 */
#include "config.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_peek.h"

/* The control socket a master with pid_file and no control_socket has. */
char *
conf_socket_beside(const char *pid_file)
{
	size_t	 len = strlen(pid_file);
	char	*s;

	if (len > 4 && strcmp(pid_file + len - 4, ".pid") == 0)
		len -= 4;
	if ((s = malloc(len + 6)) != NULL)
		snprintf(s, len + 6, "%.*s.sock", (int)len, pid_file);
	return s;
}

/* The whole file, NUL-terminated, if it is not too large. */
static char *
slurp(const char *path)
{
	FILE	*fp;
	char	*buf;
	size_t	 n;

	if ((fp = fopen(path, "re")) == NULL)
		return NULL;
	if ((buf = malloc(CONF_MAX_SIZE + 1)) != NULL) {
		n = fread(buf, 1, CONF_MAX_SIZE, fp);
		buf[n] = '\0';
	}
	fclose(fp);
	return buf;
}

/* Past a comment or white space at s, if any. */
static const char *
skip_space(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		if (*s == '#' || (s[0] == '/' && s[1] == '/'))
			s += strcspn(s, "\n");
		else if (s[0] == '/' && s[1] == '*') {
			const char *e = strstr(s + 2, "*/");
			s = e != NULL ? e + 2 : s + strlen(s);
		} else
			return s;
	}
}

/* Past the string literal at s (on its opening quote), into out if set. */
static const char *
string_at(const char *s, char *out, size_t outlen)
{
	size_t	 n = 0;

	for (s++; *s != '\0' && *s != '"'; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		if (out != NULL && n + 1 < outlen)
			out[n++] = *s;
	}
	if (out != NULL)
		out[n] = '\0';
	return *s == '"' ? s + 1 : s;
}

/* value as tcpd takes a path: as written, or from the file's directory. */
static char *
from_dir(const char *file, const char *value)
{
	char	*copy, *dir, *out = NULL;

	if (value[0] == '/')
		return strdup(value);
	if ((copy = strdup(file)) == NULL)
		return NULL;
	dir = dirname(copy);
	if (asprintf(&out, "%s/%s", dir, value) == -1)
		out = NULL;
	free(copy);
	return out;
}

/*
 * Look for NAME = "value" (or NAME : "value") at the top level of text:
 * outside any group, list or array.
 */
static void
peek_text(const char *text, const char *file, char **pid_file,
    char **control_socket)
{
	const char	*s = text, *name;
	char		 value[4096];
	size_t		 len;
	int		 depth = 0;

	while (*(s = skip_space(s)) != '\0') {
		if (*s == '"') {
			s = string_at(s, NULL, 0);
			continue;
		}
		if (strchr("{([", *s) != NULL || strchr("})]", *s) != NULL) {
			depth += strchr("{([", *s) != NULL ? 1 : -1;
			s++;
			continue;
		}
		name = s;
		len = strspn(s, "abcdefghijklmnopqrstuvwxyz_");
		s += len > 0 ? len : 1;
		if (depth != 0 || len == 0)
			continue;
		s = skip_space(s);
		if (*s != '=' && *s != ':')
			continue;
		s = skip_space(s + 1);
		if (*s != '"')
			continue;
		s = string_at(s, value, sizeof(value));
		if (len == 8 && strncmp(name, "pid_file", 8) == 0) {
			free(*pid_file);
			*pid_file = from_dir(file, value);
		} else if (len == 14 && strncmp(name, "control_socket", 14) ==
		    0) {
			free(*control_socket);
			*control_socket = from_dir(file, value);
		}
	}
}

/*
 * The pid file and control socket path names as the master would have
 * them, into *pid_file and *control_socket (malloc'd, NULL when not
 * found).  -1 with errno when the file cannot be read.
 */
int
conf_peek(const char *path, char **pid_file, char **control_socket)
{
	char	*text, *abs;

	*pid_file = *control_socket = NULL;
	if ((text = slurp(path)) == NULL)
		return -1;
	if ((abs = realpath(path, NULL)) == NULL)
		abs = strdup(path);
	if (abs != NULL)
		peek_text(text, abs, pid_file, control_socket);
	free(abs);
	free(text);
	if (*control_socket == NULL && *pid_file != NULL)
		*control_socket = conf_socket_beside(*pid_file);
	return 0;
}
