/* The process title ps shows: "tcpd: master ...", "tcpd: worker ...". */
#ifndef TCPD_PROCTITLE_H
#define TCPD_PROCTITLE_H

void	proctitle_init(int argc, char *argv[]);
void	proctitle_set(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
