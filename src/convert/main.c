/*
 * tcpd-convert: print an xinetd configuration (xinetd.conf with its
 * includes, or one xinetd.d file) or an inetd.conf as tcpd services.
 * Exit 0 when converted, 1 when the input cannot be read or parsed,
 * 2 on a usage error.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"

enum { FMT_AUTO, FMT_XINETD, FMT_INETD };

static void
usage(void)
{
	fputs("usage: tcpd-convert [-f xinetd|inetd] PATH\n", stderr);
	exit(2);
}

/*
 * xinetd's files start their entries with service, defaults, include or
 * includedir; an inetd.conf has none of these first on a line.  A file
 * of comments only is read as inetd.conf (it makes no service either
 * way), but for update-inetd's "#<off>#" lines, which are inetd's.
 */
static int
detect(const char *path, int *fmt)
{
	struct cv_ctx	 x = { 0 };
	struct cv_file	*f;
	char		*w[1];

	if (cv_read(&x, path, &f) == -1) {
		fprintf(stderr, "tcpd-convert: %s\n", x.err);
		cv_free(&x);
		return -1;
	}
	*fmt = FMT_INETD;
	for (size_t i = 0; i < f->nlines; i++) {
		if (cv_blank(f->line[i]) || cv_words(f->line[i], w, 1) == 0)
			continue;
		if (strcmp(w[0], "service") == 0 ||
		    strcmp(w[0], "defaults") == 0 ||
		    strcmp(w[0], "include") == 0 ||
		    strcmp(w[0], "includedir") == 0)
			*fmt = FMT_XINETD;
		break;
	}
	cv_free(&x);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct cv_ctx	 x = { 0 };
	int		 ch, fmt = FMT_AUTO, r;

	while ((ch = getopt(argc, argv, "f:h")) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "xinetd") == 0)
				fmt = FMT_XINETD;
			else if (strcmp(optarg, "inetd") == 0)
				fmt = FMT_INETD;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1 || argv[optind][0] == '\0')
		usage();
	if (fmt == FMT_AUTO && detect(argv[optind], &fmt) == -1)
		return 1;
	if (fmt == FMT_XINETD)
		r = cv_xinetd(&x, argv[optind]);
	else
		r = cv_inetd(&x, argv[optind]);
	if (r == -1) {
		fprintf(stderr, "tcpd-convert: %s\n", x.err);
		cv_free(&x);
		return 1;
	}
	cv_check(&x);
	if (cv_emit(&x, argv[optind], fmt == FMT_XINETD ? "xinetd" :
	    "inetd") == -1) {
		perror("tcpd-convert: stdout");
		cv_free(&x);
		return 1;
	}
	cv_free(&x);
	return 0;
}
