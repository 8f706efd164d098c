/* Programs of dead workers: ended, and counted until they are gone. */
#ifndef TCPD_ORPHAN_H
#define TCPD_ORPHAN_H

#include <stdint.h>

struct orphan;
struct proc;
struct svc;

int	orphans_adopt(struct orphan **, struct proc *, int64_t now);
int	orphans_check(struct orphan **, int64_t now);
int	orphans_count(const struct orphan *, const struct svc *);
int64_t	orphans_next(const struct orphan *, int64_t now);
void	orphans_free(struct orphan **);
void	orphans_strays(void);

#endif
