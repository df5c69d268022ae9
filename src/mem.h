/*
 * Allocation wrappers.  A daemon that runs out of memory cannot keep its
 * promises anyway; data-path memory is capped by explicit byte accounting
 * (buffer_size), so hitting OOM here means a broken invariant: abort.
 */
#ifndef RELAYD_MEM_H
#define RELAYD_MEM_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/*
 * Gives freed heap memory back to the system (malloc_trim where glibc
 * has it): after a backlog drains, RSS returns near its idle figure.
 */
void	 mem_release(void);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

#endif
