/*
 * cache.c: the verified-token cache behind tandem_auth_verify (auth.h, "THE CACHE").
 *
 * MODEL. A token's text is hashed (FNV-1a 64 from a seed drawn at creation, then a 64-bit
 * finalizer); the top bits pick one of up to AUTH_CACHE_STRIPES stripes, each a fixed array of
 * slots under its own mutex, with a chained hash index (buckets of slot numbers, a next link per
 * slot). A stripe never holds more than its share of the entries: when full, the CLOCK hand walks
 * the slots, sparing once each slot whose "used" bit is set (clearing it) and taking the first
 * one that is not used or whose token has expired. So the memory is fixed at creation (slots and
 * buckets) plus each entry's token copy, and a hit costs one hash, one lock and one compare.
 *
 * INVARIANTS (per stripe, under its mu): slots[0..n) are in use, each in exactly one bucket chain;
 * n <= cap; an entry's until is its token's exp + leeway; claims hold one reference per entry.
 * Counters are relaxed atomics so tandem_auth_stats reads them without the locks.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth_int.h"

#define NONE UINT32_MAX

struct slot {
    uint64_t hash;
    char *token;
    size_t len;
    int64_t until;
    struct auth_claims *claims;
    uint32_t next; /* the next slot in this slot's bucket chain */
    bool used;     /* looked up since the CLOCK hand last passed */
};

struct stripe {
    pthread_mutex_t mu;
    struct slot *slots;
    uint32_t cap, n, hand;
    uint32_t *buckets; /* nbuckets heads (slot numbers or NONE) */
    uint32_t mask;     /* nbuckets - 1 */
    char pad[64];      /* stripes a cache line apart: their mutexes never share one */
};

struct auth_cache {
    uint64_t seed;
    size_t nstripes;
    struct stripe *stripes;
    _Atomic uint64_t hits, misses, evictions, entries;
};

static uint64_t hash_of(uint64_t seed, const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u ^ seed; /* FNV-1a 64 */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 33; /* finalizer (MurmurHash3's fmix64) */
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

int auth_cache_new(size_t entries, struct auth_cache **out)
{
    struct auth_cache *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return TANDEM_ENOMEM;
    }
    if (getrandom(&c->seed, sizeof(c->seed), 0) != (ssize_t)sizeof(c->seed)) {
        c->seed = (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15u;
    }
    if (entries > ((size_t)1 << 24)) {
        entries = (size_t)1 << 24;
    }
    c->nstripes = entries < AUTH_CACHE_STRIPES ? entries : AUTH_CACHE_STRIPES;
    c->stripes = calloc(c->nstripes, sizeof(*c->stripes));
    if (c->stripes == NULL) {
        free(c);
        return TANDEM_ENOMEM;
    }
    for (size_t i = 0; i < c->nstripes; i++) {
        struct stripe *st = &c->stripes[i];
        pthread_mutex_init(&st->mu, NULL);
        /* entries spread over the stripes, the first ones taking the remainder */
        st->cap = (uint32_t)(entries / c->nstripes + (i < entries % c->nstripes));
        uint32_t nb = 1;
        while (nb < st->cap) {
            nb <<= 1;
        }
        st->mask = nb - 1;
        st->slots = calloc(st->cap, sizeof(*st->slots));
        st->buckets = malloc(nb * sizeof(*st->buckets));
        if (st->slots == NULL || st->buckets == NULL) {
            auth_cache_free(c);
            return TANDEM_ENOMEM;
        }
        memset(st->buckets, 0xff, nb * sizeof(*st->buckets));
    }
    *out = c;
    return 0;
}

void auth_cache_free(struct auth_cache *c)
{
    if (c == NULL) {
        return;
    }
    for (size_t i = 0; i < c->nstripes; i++) {
        struct stripe *st = &c->stripes[i];
        for (uint32_t k = 0; k < st->n; k++) {
            free(st->slots[k].token);
            auth_claims_unref(st->slots[k].claims);
        }
        free(st->slots);
        free(st->buckets);
        pthread_mutex_destroy(&st->mu);
    }
    free(c->stripes);
    free(c);
}

static struct stripe *stripe_of(struct auth_cache *c, uint64_t h)
{
    return &c->stripes[(h >> 40) % c->nstripes];
}

/* Takes slot k out of its chain and frees its contents (mu held). The slot stays counted in n;
 * the caller reuses it at once. */
static void slot_drop(struct auth_cache *c, struct stripe *st, uint32_t k)
{
    struct slot *s = &st->slots[k];
    uint32_t *link = &st->buckets[s->hash & st->mask];
    while (*link != k) {
        link = &st->slots[*link].next;
    }
    *link = s->next;
    free(s->token);
    auth_claims_unref(s->claims);
    s->token = NULL;
    s->claims = NULL;
    atomic_fetch_add_explicit(&c->evictions, 1, memory_order_relaxed);
}

/* Moves the last slot into the hole k (so slots[0..n) stay the ones in use). mu held. */
static void slot_fill_hole(struct stripe *st, uint32_t k)
{
    uint32_t last = --st->n;
    if (k != last) {
        struct slot *m = &st->slots[last];
        uint32_t *link = &st->buckets[m->hash & st->mask];
        while (*link != last) {
            link = &st->slots[*link].next;
        }
        *link = k;
        st->slots[k] = *m;
    }
    memset(&st->slots[last], 0, sizeof(st->slots[last]));
    if (st->hand >= st->n) {
        st->hand = 0;
    }
}

enum auth_cache_result auth_cache_get(struct auth_cache *c, const char *token, size_t len,
                                      int64_t now, struct auth_claims **claims)
{
    uint64_t h = hash_of(c->seed, token, len);
    struct stripe *st = stripe_of(c, h);
    enum auth_cache_result r = AUTH_CACHE_MISS;
    pthread_mutex_lock(&st->mu);
    for (uint32_t k = st->buckets[h & st->mask]; k != NONE; k = st->slots[k].next) {
        struct slot *s = &st->slots[k];
        if (s->hash != h || s->len != len || memcmp(s->token, token, len) != 0) {
            continue;
        }
        if (now >= s->until) { /* never outlives its token */
            slot_drop(c, st, k);
            slot_fill_hole(st, k);
            atomic_fetch_sub_explicit(&c->entries, 1, memory_order_relaxed);
            r = AUTH_CACHE_EXPIRED;
        } else {
            s->used = true;
            auth_claims_ref(s->claims);
            *claims = s->claims;
            r = AUTH_CACHE_HIT;
        }
        break;
    }
    pthread_mutex_unlock(&st->mu);
    atomic_fetch_add_explicit(r == AUTH_CACHE_HIT ? &c->hits : &c->misses, 1, memory_order_relaxed);
    return r;
}

/* A slot for a new entry (mu held): a free one, else the CLOCK's victim (dropped). */
static uint32_t slot_take(struct auth_cache *c, struct stripe *st, int64_t now)
{
    if (st->n < st->cap) {
        return st->n++;
    }
    for (uint32_t step = 0;; step++) {
        uint32_t k = st->hand;
        st->hand = (st->hand + 1) % st->cap;
        struct slot *s = &st->slots[k];
        if (s->used && now < s->until && step < st->cap) {
            s->used = false; /* spared once */
            continue;
        }
        slot_drop(c, st, k);
        return k;
    }
}

void auth_cache_put(struct auth_cache *c, const char *token, size_t len, int64_t until, int64_t now,
                    struct auth_claims *claims)
{
    uint64_t h = hash_of(c->seed, token, len);
    struct stripe *st = stripe_of(c, h);
    char *copy = malloc(len);
    if (copy == NULL) {
        return; /* not cached: the next verification checks the signature again */
    }
    memcpy(copy, token, len);
    pthread_mutex_lock(&st->mu);
    for (uint32_t k = st->buckets[h & st->mask]; k != NONE; k = st->slots[k].next) {
        const struct slot *s = &st->slots[k];
        if (s->hash == h && s->len == len && memcmp(s->token, token, len) == 0) {
            pthread_mutex_unlock(&st->mu); /* another thread verified it meanwhile */
            free(copy);
            return;
        }
    }
    bool grew = st->n < st->cap;
    uint32_t k = slot_take(c, st, now);
    struct slot *s = &st->slots[k];
    auth_claims_ref(claims);
    *s = (struct slot){.hash = h,
                       .token = copy,
                       .len = len,
                       .until = until,
                       .claims = claims,
                       .next = st->buckets[h & st->mask]};
    st->buckets[h & st->mask] = k;
    pthread_mutex_unlock(&st->mu);
    if (grew) {
        atomic_fetch_add_explicit(&c->entries, 1, memory_order_relaxed);
    }
}

void auth_cache_stats(struct auth_cache *c, struct tandem_auth_stats *out)
{
    out->hits = atomic_load_explicit(&c->hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&c->misses, memory_order_relaxed);
    out->evictions = atomic_load_explicit(&c->evictions, memory_order_relaxed);
    out->entries = atomic_load_explicit(&c->entries, memory_order_relaxed);
}
