/*
 * Error strings and the out-of-memory hook. See include/tandem/error.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandem/error.h"
#include "common/mem.h"

const char *tandem_strerror(int err)
{
    switch (err) {
#define TANDEM_ERRNO_CASE(name, value, msg) \
    case TANDEM_##name:                     \
        return msg;
        TANDEM_ERRNO_MAP(TANDEM_ERRNO_CASE)
#undef TANDEM_ERRNO_CASE
    case 0:
        return "success";
    }
    return "unknown error";
}

static void default_oom(size_t size)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"size\":%zu}\n", size);
    abort();
}

static tandem_oom_fn oom_fn = default_oom;

void tandem_set_oom_handler(tandem_oom_fn fn)
{
    oom_fn = fn ? fn : default_oom;
}

void *xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        oom_fn(size);
        abort();
    }
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        oom_fn(n * size);
        abort();
    }
    return p;
}

void *xrealloc(void *old, size_t size)
{
    void *p = realloc(old, size ? size : 1);
    if (!p) {
        oom_fn(size);
        abort();
    }
    return p;
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
