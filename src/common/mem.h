/*
 * Allocation that never returns NULL: on failure the out-of-memory hook runs (see
 * tandem_set_oom_handler) and the process aborts. Use these for internal bookkeeping; parsers of
 * untrusted input must still bound every allocation by validated lengths.
 */
#ifndef TANDEM_COMMON_MEM_H
#define TANDEM_COMMON_MEM_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *old, size_t size);
char *xstrndup(const char *s, size_t n);

#endif
