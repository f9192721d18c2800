/*
 * grid.c: the spatial index: which vehicles are inside a box.
 *
 * MODEL. Three grids over the whole globe, in integer 1e-7 degrees (no floating point):
 *
 *   fine  1/64 degree (about 1.2 x 1.7 km at 45 degrees): a cell holds its vehicles' slots in an
 *         array (4 bytes each; a vehicle's slot keeps its place in it). Only cells with vehicles
 * exist: they live in FLEET_STRIPES hash tables (open addressing, linear probing, backward-shift
 *         deletion), a cell's stripe chosen by a hash of its key, each table under its stripe's
 *         mutex. A cell is made by its first vehicle and removed with its last, so memory follows
 *         the vehicles, not the area they ever covered.
 *   l1    1/8 degree: the number of vehicles in each (2880 x 1440 counters, 16.6 MB reserved
 *         with mmap: only the pages over places with vehicles are ever touched).
 *   l0    1 degree: the same (360 x 180 counters).
 *
 * A box is walked top-down: a 1-degree cell with no vehicle is skipped whole, so is a 1/8-degree
 * one, and only the fine cells of non-empty 1/8-degree cells are looked up. A box over an empty
 * ocean costs a few reads; a box over a dense city stops as soon as the limit is reached; the
 * worst case is a thin box along a dense area that holds few of its vehicles (docs/fleet.md,
 * "The index", has the measured figures).
 *
 * An update that leaves its vehicle in the same fine cell (most: a cell is a minute or more of
 * driving) does not touch the index at all; the position itself is in the slot (table.c).
 *
 * CONCURRENCY. A writer (apply, holding the vehicle's seqlock) that moves a vehicle to another
 * cell locks both cells' stripes (in address order); counts are atomic adds. A reader locks one
 * stripe at a time, copies a cell's slots (up to CHUNK at a time) and unlocks before it reads any
 * slot (table.c: a reader never waits for a seqlock while holding a stripe, so writers and
 * readers never deadlock); the slot, read through its seqlock, is the answer, checked against
 * the box.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fleet.h"
#include "tandem/error.h"

#define L1_X      2880
#define L1_Y      1440
#define L0_X      360
#define L0_Y      180
#define LD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define ADD(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)

static uint32_t cell_x(int32_t lon)
{
    uint32_t x = (uint32_t)((int64_t)lon + 1800000000) / FLEET_CELL_E7;
    return x < FLEET_CELLS_X ? x : FLEET_CELLS_X - 1;
}

static uint32_t cell_y(int32_t lat)
{
    uint32_t y = (uint32_t)((int64_t)lat + 900000000) / FLEET_CELL_E7;
    return y < FLEET_CELLS_Y ? y : FLEET_CELLS_Y - 1;
}

static uint64_t key_of(uint32_t x, uint32_t y)
{
    return ((uint64_t)y << 32 | x) + 1;
}

/* The cell's slots (inside it while they fit). */
static uint32_t *items(struct fleet_cell *c)
{
    return c->cap > FLEET_CELL_INLINE ? c->u.heap : c->u.in;
}

static void cell_free(struct fleet_cell *c)
{
    if (c->cap > FLEET_CELL_INLINE) {
        free(c->u.heap);
    }
}

static uint64_t hash_key(uint64_t k)
{
    k ^= k >> 31;
    k *= UINT64_C(0x9e3779b97f4a7c15);
    k ^= k >> 29;
    return k;
}

static struct fleet_stripe *stripe_of(const struct fleet_table *t, uint64_t key)
{
    return &t->stripes[hash_key(key) >> 52]; /* 4096 stripes: the top 12 bits */
}

int fleet_grid_init(struct fleet_table *t)
{
    t->stripes = calloc(FLEET_STRIPES, sizeof(*t->stripes));
    t->l0 = calloc((size_t)L0_X * L0_Y, sizeof(uint32_t));
    void *l1 = mmap(NULL, (size_t)L1_X * L1_Y * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    t->l1 = l1 == MAP_FAILED ? NULL : l1;
    if (t->stripes == NULL || t->l0 == NULL || t->l1 == NULL) {
        return TANDEM_ENOMEM;
    }
    for (unsigned i = 0; i < FLEET_STRIPES; i++) {
        pthread_mutex_init(&t->stripes[i].mu, NULL);
    }
    return 0;
}

void fleet_grid_cleanup(struct fleet_table *t)
{
    if (t->stripes != NULL) {
        for (unsigned i = 0; i < FLEET_STRIPES; i++) {
            struct fleet_stripe *st = &t->stripes[i];
            for (uint32_t c = 0; c < st->cap; c++) {
                if (st->cells[c].key != 0) {
                    cell_free(&st->cells[c]);
                }
            }
            free(st->cells);
            pthread_mutex_destroy(&st->mu);
        }
    }
    free(t->stripes);
    free(t->l0);
    if (t->l1 != NULL) {
        munmap(t->l1, (size_t)L1_X * L1_Y * sizeof(uint32_t));
    }
    t->stripes = NULL;
    t->l0 = NULL;
    t->l1 = NULL;
}

/* The cell of key in st, or NULL (st locked). */
static struct fleet_cell *cell_find(struct fleet_stripe *st, uint64_t key)
{
    if (st->cap == 0) {
        return NULL;
    }
    uint32_t mask = st->cap - 1;
    for (uint32_t i = (uint32_t)hash_key(key) & mask;; i = (i + 1) & mask) {
        if (st->cells[i].key == key) {
            return &st->cells[i];
        }
        if (st->cells[i].key == 0) {
            return NULL;
        }
    }
}

static struct fleet_cell *slot_for(struct fleet_cell *cells, uint32_t cap, uint64_t key)
{
    uint32_t mask = cap - 1;
    uint32_t i = (uint32_t)hash_key(key) & mask;
    while (cells[i].key != 0 && cells[i].key != key) {
        i = (i + 1) & mask;
    }
    return &cells[i];
}

/* The cell of key in st, made when missing; NULL when memory runs out (st locked). */
static struct fleet_cell *cell_get(struct fleet_stripe *st, uint64_t key)
{
    struct fleet_cell *c = cell_find(st, key);
    if (c != NULL) {
        return c;
    }
    if ((st->ncells + 1) * 4 > st->cap * 3) { /* load at most 3/4 */
        uint32_t cap = st->cap ? st->cap * 2 : 8;
        struct fleet_cell *cells = calloc(cap, sizeof(*cells));
        if (cells == NULL) {
            return NULL;
        }
        for (uint32_t i = 0; i < st->cap; i++) {
            if (st->cells[i].key != 0) {
                *slot_for(cells, cap, st->cells[i].key) = st->cells[i];
            }
        }
        free(st->cells);
        st->cells = cells;
        st->cap = cap;
    }
    c = slot_for(st->cells, st->cap, key);
    memset(c, 0, sizeof(*c));
    c->key = key;
    c->cap = FLEET_CELL_INLINE;
    st->ncells++;
    return c;
}

/* Removes cell c (empty) from st, shifting back the entries of its probe run (st locked). */
static void cell_delete(struct fleet_stripe *st, struct fleet_cell *c)
{
    uint32_t mask = st->cap - 1;
    uint32_t hole = (uint32_t)(c - st->cells);
    cell_free(c);
    for (uint32_t i = (hole + 1) & mask; st->cells[i].key != 0; i = (i + 1) & mask) {
        uint32_t home = (uint32_t)hash_key(st->cells[i].key) & mask;
        /* move i into the hole when its home is not within (hole, i] cyclically */
        bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            st->cells[hole] = st->cells[i];
            hole = i;
        }
    }
    memset(&st->cells[hole], 0, sizeof(st->cells[hole]));
    st->ncells--;
}

static void counts_add(struct fleet_table *t, uint32_t x, uint32_t y, int32_t d)
{
    ADD(&t->l1[(y >> 3) * L1_X + (x >> 3)], (uint32_t)d);
    ADD(&t->l0[(y >> 6) * L0_X + (x >> 6)], (uint32_t)d);
}

/* Appends slot to c (its stripe locked). */
static int entry_add(struct fleet_table *t, struct fleet_cell *c, uint32_t slot)
{
    if (c->n == c->cap) {
        uint32_t cap = c->cap + c->cap / 2 + 1;
        uint32_t *e = c->cap > FLEET_CELL_INLINE ? realloc(c->u.heap, (size_t)cap * sizeof(*e))
                                                 : malloc((size_t)cap * sizeof(*e));
        if (e == NULL) {
            return TANDEM_ENOMEM;
        }
        if (c->cap <= FLEET_CELL_INLINE) {
            memcpy(e, c->u.in, sizeof(c->u.in));
        }
        c->u.heap = e;
        c->cap = cap;
    }
    items(c)[c->n] = slot;
    __atomic_store_n(&t->slots[slot].cellpos, c->n, __ATOMIC_RELAXED);
    c->n++;
    return 0;
}

/* Takes slot's entry out of c (its stripe locked): the last entry fills its place; an emptied
 * cell is deleted, a mostly empty array shrunk. */
static void entry_remove(struct fleet_table *t, struct fleet_stripe *st, struct fleet_cell *c,
                         uint32_t slot)
{
    uint32_t *e = items(c);
    uint32_t pos = LD(&t->slots[slot].cellpos);
    if (pos >= c->n || e[pos] != slot) { /* cannot happen: every move keeps cellpos */
        for (pos = 0; pos < c->n && e[pos] != slot; pos++) {
        }
        if (pos == c->n) {
            return;
        }
    }
    c->n--;
    if (pos != c->n) {
        e[pos] = e[c->n];
        __atomic_store_n(&t->slots[e[pos]].cellpos, pos, __ATOMIC_RELAXED);
    }
    if (c->n == 0) {
        cell_delete(st, c);
    } else if (c->cap > 8 && c->n < c->cap / 4) {
        uint32_t *smaller = realloc(c->u.heap, (size_t)(c->cap / 2) * sizeof(*smaller));
        if (smaller != NULL) {
            c->u.heap = smaller;
            c->cap /= 2;
        }
    }
}

int fleet_grid_add(struct fleet_table *t, uint32_t slot, int32_t lat, int32_t lon)
{
    uint32_t x = cell_x(lon), y = cell_y(lat);
    uint64_t key = key_of(x, y);
    struct fleet_stripe *st = stripe_of(t, key);
    pthread_mutex_lock(&st->mu);
    struct fleet_cell *c = cell_get(st, key);
    int rc = c != NULL ? entry_add(t, c, slot) : TANDEM_ENOMEM;
    if (c != NULL && c->n == 0) {
        cell_delete(st, c); /* made for nothing */
    }
    pthread_mutex_unlock(&st->mu);
    if (rc == 0) {
        counts_add(t, x, y, 1);
    }
    return rc;
}

void fleet_grid_remove(struct fleet_table *t, uint32_t slot, int32_t lat, int32_t lon)
{
    uint32_t x = cell_x(lon), y = cell_y(lat);
    uint64_t key = key_of(x, y);
    struct fleet_stripe *st = stripe_of(t, key);
    pthread_mutex_lock(&st->mu);
    struct fleet_cell *c = cell_find(st, key);
    if (c != NULL) {
        entry_remove(t, st, c, slot);
    }
    pthread_mutex_unlock(&st->mu);
    if (c != NULL) {
        counts_add(t, x, y, -1);
    }
}

int fleet_grid_move(struct fleet_table *t, uint32_t slot, int32_t olat, int32_t olon, int32_t lat,
                    int32_t lon)
{
    uint32_t ox = cell_x(olon), oy = cell_y(olat), x = cell_x(lon), y = cell_y(lat);
    if (ox == x && oy == y) {
        return 0; /* the common case: it stays in its cell, whose entry is just its slot */
    }
    uint64_t okey = key_of(ox, oy), key = key_of(x, y);
    struct fleet_stripe *os = stripe_of(t, okey), *st = stripe_of(t, key);
    struct fleet_stripe *first = os < st ? os : st, *second = os < st ? st : os;
    pthread_mutex_lock(&first->mu);
    if (second != first) {
        pthread_mutex_lock(&second->mu);
    }
    uint32_t opos = LD(&t->slots[slot].cellpos); /* its place in the old cell */
    struct fleet_cell *c = cell_get(st, key);    /* first: it may move the old cell in its table */
    int rc = c != NULL ? entry_add(t, c, slot) : TANDEM_ENOMEM;
    if (rc == 0) {
        uint32_t pos = LD(&t->slots[slot].cellpos); /* entry_add set the new place */
        struct fleet_cell *oc = cell_find(os, okey);
        if (oc != NULL) {
            __atomic_store_n(&t->slots[slot].cellpos, opos, __ATOMIC_RELAXED);
            entry_remove(t, os, oc, slot); /* reads the old place */
        }
        __atomic_store_n(&t->slots[slot].cellpos, pos, __ATOMIC_RELAXED);
    } else if (c != NULL && c->n == 0) {
        cell_delete(st, c);
    }
    if (second != first) {
        pthread_mutex_unlock(&second->mu);
    }
    pthread_mutex_unlock(&first->mu);
    if (rc == 0) {
        counts_add(t, ox, oy, -1);
        counts_add(t, x, y, 1);
    }
    return rc;
}

/* ---- queries ------------------------------------------------------------------------------ */

#define CHUNK 256

/* A walk's state: the box, what it found so far and the set of slots given (no vehicle twice). */
struct walk {
    const struct fleet_table *t;
    const struct fleet_box *box;
    uint32_t since;
    struct fleet_pos *out;
    size_t n, limit;
    bool more;
    uint32_t *seen; /* slot + 1, open addressing */
    uint32_t seen_mask;
};

static bool inside(const struct fleet_box *b, int32_t lat, int32_t lon)
{
    return lat >= b->min_lat && lat <= b->max_lat && lon >= b->min_lon && lon <= b->max_lon;
}

/* Records slot as given; false when it was already. */
static bool seen_add(struct walk *w, uint32_t slot)
{
    for (uint32_t i = (uint32_t)hash_key(slot) & w->seen_mask;; i = (i + 1) & w->seen_mask) {
        if (w->seen[i] == slot + 1) {
            return false;
        }
        if (w->seen[i] == 0) {
            w->seen[i] = slot + 1;
            return true;
        }
    }
}

/* Takes the candidates of one fine cell; false once the walk is over (limit reached and one more
 * found). */
static bool walk_cell(struct walk *w, uint32_t x, uint32_t y)
{
    uint64_t key = key_of(x, y);
    struct fleet_stripe *st = stripe_of(w->t, key);
    uint32_t cand[CHUNK];
    for (uint32_t from = 0;;) {
        size_t nc = 0;
        pthread_mutex_lock(&st->mu);
        struct fleet_cell *c = cell_find(st, key);
        uint32_t n = c != NULL ? c->n : 0;
        uint32_t i = from;
        for (; i < n && nc < CHUNK; i++) {
            cand[nc++] = items(c)[i];
        }
        pthread_mutex_unlock(&st->mu);
        for (size_t k = 0; k < nc; k++) {
            struct fleet_pos p;
            uint32_t stamp;
            if (!fleet_read_slot(w->t, cand[k], &p, NULL, &stamp) ||
                !inside(w->box, p.lat, p.lon) ||
                (w->since != 0 && (int32_t)(stamp - w->since) < 0)) {
                continue; /* outside, unchanged, moved away or given up since the copy */
            }
            if (w->n == w->limit) {
                w->more = true;
                return false;
            }
            if (seen_add(w, cand[k])) {
                w->out[w->n++] = p;
            }
        }
        if (i >= n) {
            return true;
        }
        from = i;
    }
}

static uint32_t lo_of(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static uint32_t hi_of(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

size_t fleet_query(const struct fleet_table *t, const struct fleet_box *box, uint32_t since,
                   struct fleet_pos *out, size_t limit, bool *more)
{
    *more = false;
    if (limit == 0 || box->min_lat > box->max_lat || box->min_lon > box->max_lon) {
        return 0;
    }
    uint32_t seen_stack[2048];
    uint32_t cap = 16;
    while (cap < limit * 2 + 2) {
        cap <<= 1;
    }
    uint32_t *seen = cap <= 2048 ? seen_stack : calloc(cap, sizeof(uint32_t));
    if (seen == NULL) {
        return 0;
    }
    memset(seen, 0, (size_t)cap * sizeof(uint32_t));
    struct walk w = {.t = t,
                     .box = box,
                     .since = since,
                     .out = out,
                     .limit = limit,
                     .seen = seen,
                     .seen_mask = cap - 1};
    uint32_t x0 = cell_x(box->min_lon), x1 = cell_x(box->max_lon);
    uint32_t y0 = cell_y(box->min_lat), y1 = cell_y(box->max_lat);
    bool go = true;
    for (uint32_t gy = y0 >> 6; go && gy <= y1 >> 6; gy++) {
        for (uint32_t gx = x0 >> 6; go && gx <= x1 >> 6; gx++) {
            if (LD(&t->l0[gy * L0_X + gx]) == 0) {
                continue;
            }
            for (uint32_t ly = lo_of(y0 >> 3, gy * 8); go && ly <= hi_of(y1 >> 3, gy * 8 + 7);
                 ly++) {
                for (uint32_t lx = lo_of(x0 >> 3, gx * 8); go && lx <= hi_of(x1 >> 3, gx * 8 + 7);
                     lx++) {
                    if (LD(&t->l1[ly * L1_X + lx]) == 0) {
                        continue;
                    }
                    for (uint32_t y = lo_of(y0, ly * 8); go && y <= hi_of(y1, ly * 8 + 7); y++) {
                        for (uint32_t x = lo_of(x0, lx * 8); go && x <= hi_of(x1, lx * 8 + 7);
                             x++) {
                            go = walk_cell(&w, x, y);
                        }
                    }
                }
            }
        }
    }
    if (seen != seen_stack) {
        free(seen);
    }
    *more = w.more;
    return w.n;
}
