/*
 * arena: per-request allocations, freed all at once.
 *
 * A request's parsed arrays and the arrays of its response come from one arena, which the request
 * frees with arena_cleanup() when it is answered, so a handler never frees piece by piece. Memory
 * is carved from blocks that double in size (4 KiB up to 1 MiB; a larger allocation gets a block
 * of its own) and is zeroed and 16-byte aligned. The arena has a hard cap on the total it may hold
 * (64 MiB unless set): allocations past it return NULL, so a hostile count in a request can never
 * make the broker allocate without bound (the codecs also check every count against the bytes that
 * are left before they allocate; see protocol/messages.h).
 */
#ifndef TANDEM_BASE_ARENA_H
#define TANDEM_BASE_ARENA_H

#include <stddef.h>

struct arena_block;
struct arena {
    struct arena_block *head;
    size_t used_total;
    size_t cap; /* hard limit on total bytes; 0 = 64 MiB */
};

/* Starts an empty arena holding at most cap bytes (0: 64 MiB). Allocates nothing. */
void arena_init(struct arena *a, size_t cap);
/* Frees every block; the arena is empty and usable again (same cap). */
void arena_cleanup(struct arena *a);
/* Zeroed memory aligned to 16, valid until arena_cleanup, or NULL when the cap would be exceeded.
 * A size of 0 gets a valid (1-byte) allocation. */
void *arena_alloc(struct arena *a, size_t size);
/* Allocates n elements of size each, NULL on overflow or cap. */
void *arena_array(struct arena *a, size_t n, size_t size);

#endif
