/*
 * arena: per-request allocations freed at once. See arena.h for the model.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "common/mem.h"

#define ARENA_ALIGN       16
#define ARENA_DEFAULT_CAP ((size_t)64 << 20)
#define ARENA_FIRST_BLOCK 4096
#define ARENA_MAX_BLOCK   ((size_t)1 << 20)

struct arena_block {
    struct arena_block *next;
    size_t size; /* usable bytes after the (aligned) header */
    size_t used;
};

#define ARENA_HDR ((sizeof(struct arena_block) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1))

void arena_init(struct arena *a, size_t cap)
{
    a->head = NULL;
    a->used_total = 0;
    a->cap = cap ? cap : ARENA_DEFAULT_CAP;
}

void arena_cleanup(struct arena *a)
{
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

void *arena_alloc(struct arena *a, size_t size)
{
    if (a->cap == 0)
        a->cap = ARENA_DEFAULT_CAP;
    if (size == 0)
        size = 1;
    if (size > a->cap)
        return NULL;
    size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct arena_block *b = a->head;
    if (!b || b->size - b->used < size) {
        size_t bsize = b ? b->size * 2 : ARENA_FIRST_BLOCK;
        if (bsize > ARENA_MAX_BLOCK)
            bsize = ARENA_MAX_BLOCK;
        if (bsize < size)
            bsize = size;
        if (a->used_total + bsize > a->cap) {
            if (a->used_total + size > a->cap)
                return NULL;
            bsize = size;
        }
        b = xmalloc(ARENA_HDR + bsize);
        b->size = bsize;
        b->used = 0;
        b->next = a->head;
        a->head = b;
        a->used_total += bsize;
    }
    uint8_t *p = (uint8_t *)b + ARENA_HDR + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

void *arena_array(struct arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return arena_alloc(a, n * size);
}
