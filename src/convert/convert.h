/* tcpd-convert: xinetd and inetd configurations as tcpd services. */
#ifndef TCPD_CONVERT_H
#define TCPD_CONVERT_H

#include <stddef.h>

/* Bounds on what is read: a configuration is small text. */
#define CV_FILE_MAX	(1024 * 1024)	/* bytes in one file */
#define CV_TOTAL_MAX	(8 * 1024 * 1024) /* bytes in all files read */
#define CV_LINE_MAX	4096		/* bytes in one line */
#define CV_WORDS_MAX	512		/* words in one line */
#define CV_DEPTH_MAX	8		/* include nesting */

/* A growable list of strings, owned. */
struct cv_list {
	char	**v;
	size_t	  n;
};

/* One file read whole, split into lines (NUL-terminated, in place). */
struct cv_file {
	char		*path;
	char		*buf;
	char		**line;
	size_t		 nlines;
	struct cv_file	*next;
};

/* One service as tcpd will have it, or the reason it cannot. */
struct cv_svc {
	char		*name;		/* the tcpd service's name */
	char		*title;		/* what the input called it */
	char		*origin;	/* FILE:LINE of its start */
	const char	*handler;	/* "exec", "echo", ... */
	struct cv_list	 listen;
	struct cv_list	 exec;
	struct cv_list	 env;
	struct cv_list	 passenv;
	struct cv_list	 access;
	struct cv_list	 rlimits;	/* "name = value" */
	struct cv_list	 notes;		/* what was not carried, and why */
	char		*user;
	char		*group;
	int		 groups_none;	/* groups = [ ] */
	int		 has_nice;
	int		 nice;
	char		*umask;
	long		 max_conn;	/* 0: none */
	long		 ps_max;	/* per_source max_connections */
	long		 ps_rate;
	long		 ps_burst;
	int		 nodelay;
	int		 keepalive;
	char		*off;		/* why it is only a comment */
	int		 disabled;	/* off, but whole: to uncomment */
	struct cv_svc	*next;
};

/* What a run holds: the files read, the services found, the error. */
struct cv_ctx {
	struct cv_file	*files;
	size_t		 total;		/* bytes read so far */
	struct cv_svc	*svcs;
	struct cv_svc	**tail;
	struct cv_list	 head;		/* notes for the whole file */
	struct cv_list	 top;		/* top-level settings */
	char		 err[1024];
};

/* util.c */
void		*cv_malloc(size_t);
char		*cv_strdup(const char *);
char		*cv_printf(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
void		 cv_add(struct cv_list *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 cv_del(struct cv_list *, size_t);
int		 cv_has(const struct cv_list *, const char *);
void		 cv_list_free(struct cv_list *);
void		 cv_list_copy(struct cv_list *, const struct cv_list *);
int		 cv_error(struct cv_ctx *, const char *, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
int		 cv_read(struct cv_ctx *, const char *, struct cv_file **);
size_t		 cv_words(char *, char **, size_t);
int		 cv_blank(const char *);
int		 cv_number(const char *, long, long, long *);
struct cv_svc	*cv_svc_new(struct cv_ctx *, const char *, const char *,
		    const char *, size_t);
void		 cv_svc_off(struct cv_svc *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 cv_free(struct cv_ctx *);

/* access.c */
int		 cv_access(struct cv_svc *, const struct cv_list *, int,
		    const struct cv_list *, int);

/* xinetd.c, xmap.c */
int		 cv_xinetd(struct cv_ctx *, const char *);
struct xent;
int		 cv_xmap(struct cv_ctx *, struct xent *, struct xent *);

/* inetd.c */
int		 cv_inetd(struct cv_ctx *, const char *);

/* program.c: what is shared by both formats */
int		 cv_program(struct cv_svc *, const char *, char **, size_t,
		    int);
const char	*cv_builtin(const char *);
char		*cv_ident(const char *, int);
void		 cv_listen_all(struct cv_svc *, const char *, int, int);

/* emit.c */
void		 cv_check(struct cv_ctx *);
int		 cv_emit(struct cv_ctx *, const char *, const char *);

#endif
