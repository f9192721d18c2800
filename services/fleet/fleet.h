/*
 * services/fleet: vehicle tracking at volume (docs/fleet.md, README.md beside this file).
 *
 * The service keeps the latest position of every vehicle of the partitions it holds in memory
 * (table.c: slots under seqlocks, a lock-free id table; grid.c: the spatial index; trail.c: the
 * trails), fed by the topic vehicle-positions (service.c: the consumer, its assignment hook and
 * the snapshots of snapshot.c) and by REST (routes.c), both through the one apply function. Other
 * instances of the group hold the other partitions: members.c says who holds what, and routes.c
 * forwards what is not held here. docs/fleet.md is the contract.
 */
#ifndef FLEET_H
#define FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "tandem/events.h"

/* ---- position.c: a position on the wire ------------------------------------------------- */

#define FLEET_POS_BYTES    32
#define FLEET_POS_VERSION  1
#define FLEET_ID_MAX       ((UINT64_C(1) << 53) - 1)
#define FLEET_SPEED_MAX_MM 1000000u /* 1000 m/s */

/* One position as stored: WGS84 degrees in 1e-7 units, speed in mm/s, heading in centidegrees,
 * ts the sender's unix ms of the fix. */
struct fleet_pos {
    uint64_t id;
    int64_t ts;
    int32_t lat, lon;
    uint32_t speed_mm;
    uint16_t heading_cd;
};

/* NULL when p is valid, else the name of the first field out of range ("id", "lat", "lon",
 * "speed", "heading", "ts"). */
const char *fleet_pos_check(const struct fleet_pos *p);

/* Decodes the binary payload (FLEET_POS_BYTES, position.c's table) into *out and checks it.
 * Returns NULL, or what is wrong ("length", "version", "flags", or a field's name). */
const char *fleet_pos_decode(const void *data, size_t len, struct fleet_pos *out);

/* Encodes p (valid) as the binary payload. */
void fleet_pos_encode(const struct fleet_pos *p, uint8_t out[FLEET_POS_BYTES]);

/* The record key of id (its decimal digits) into buf, NUL-terminated; returns its length. */
size_t fleet_key_of(uint64_t id, char buf[24]);

/* Whether key[0..len) is id's record key. */
bool fleet_key_matches(const char *key, size_t len, uint64_t id);

/* A position from a JSON object (the REST body): NULL, or the name of the member that is missing
 * or wrong ("body" when o is not an object). */
const char *fleet_pos_from_json(const json_t *o, struct fleet_pos *out);

/* The same from JSON text ("json" when it is not one JSON text). */
const char *fleet_pos_parse_json(const void *data, size_t len, struct fleet_pos *out);

/* ---- the vehicle table (table.c), its spatial index (grid.c) and trails (trail.c) --------- */

#define FLEET_PARTITIONS_MAX 256    /* partitions of the topic the fleet can hold */
#define FLEET_CELL_E7        156250 /* a fine cell's side: 1/64 degree in 1e-7 degrees */
#define FLEET_CELLS_X        23040  /* 360 * 64 */
#define FLEET_CELLS_Y        11520  /* 180 * 64 */
#define FLEET_STRIPES        4096   /* locks of the fine cells */

enum fleet_source {
    FLEET_SRC_EVENTS,
    FLEET_SRC_REST,
    FLEET_SRC_BATCH,
    FLEET_SRC_SNAPSHOT,
    FLEET_NSOURCES
};

/* What fleet_apply did. */
enum fleet_result { FLEET_APPLIED = 0, FLEET_STALE = 1, FLEET_NOT_HELD = 2, FLEET_FULL = 3 };

/*
 * One vehicle (48 bytes). Written only by the thread holding its seqlock (seq odd), read by anyone
 * through fleet_get's seqlock protocol; every field is accessed with relaxed atomics.
 */
struct fleet_slot {
    uint32_t seq;     /* seqlock: odd while a writer holds it */
    uint32_t cellpos; /* its entry's index in its fine cell (under that cell's stripe lock) */
    uint64_t id;      /* set before the slot is published in the id table, never changed */
    int64_t ts;       /* 0: no position (never had one, or its partition was given up) */
    int32_t lat, lon;
    uint32_t speed_mm;
    uint16_t heading_cd;
    uint8_t partition; /* the partition it came from */
    uint8_t held;      /* 1 while it is in the index */
    uint32_t trail;    /* trail.c's counter + 1 of its newest trail point; 0: none */
    uint32_t stamp;    /* fleet_clock_ms when it last changed (the streams' "changed since") */
};

/* A fine cell: the slots of its vehicles, in no order; up to FLEET_CELL_INLINE of them inside the
 * cell itself (most cells of a sparse fleet hold one or two: no allocation), more in an array. */
#define FLEET_CELL_INLINE 2
struct fleet_cell {
    uint64_t key; /* ((uint64_t)cy << 32 | cx) + 1; 0: an empty place in the stripe's table */
    union {
        uint32_t *heap; /* cap > FLEET_CELL_INLINE */
        uint32_t in[FLEET_CELL_INLINE];
    } u;
    uint32_t n, cap;
};

struct fleet_stripe {
    pthread_mutex_t mu;
    struct fleet_cell *cells; /* open addressing, linear probing, power-of-two cap */
    uint32_t ncells, cap;
    char pad[8];
};

struct fleet_trail_pt {
    uint32_t tag; /* the point's counter + 1 once written; 0 while being written */
    uint32_t slot;
    uint32_t prev; /* the vehicle's previous point's counter + 1; 0: none */
    int32_t lat, lon;
    uint32_t unused;
    int64_t ts;
};

struct fleet_partition {
    pthread_rwlock_t lock; /* REST applies read-lock it; giving the partition up write-locks it */
    bool held;             /* under lock (and read without it for statistics) */
    int64_t next_offset;   /* atomic: the offset after the last record applied; -1: none */
};

/* A latency histogram and the counters of one source. */
#define FLEET_NBUCKETS 28
struct fleet_counters {
    uint64_t applied, stale, rejected, not_held;
    uint64_t buckets[FLEET_NBUCKETS + 1]; /* the last: above every bound */
    uint64_t sum_us;
    char pad[64];
};
extern const double fleet_buckets[FLEET_NBUCKETS]; /* seconds, ascending */

struct fleet_table {
    struct fleet_slot *slots; /* max slots, mmap'd: pages are touched as vehicles come */
    uint32_t max, nslots;     /* nslots atomic: slots [0, nslots) are published */
    uint32_t *ids;            /* open addressing: slot + 1, 0 empty; mask + 1 places */
    uint32_t mask;
    pthread_mutex_t insert_mu; /* inserts into ids */
    uint64_t held;             /* atomic: vehicles in the index */
    /* grid.c */
    struct fleet_stripe *stripes; /* FLEET_STRIPES */
    uint32_t *l1;                 /* vehicles per 1/8-degree cell (2880 x 1440), mmap'd */
    uint32_t *l0;                 /* vehicles per 1-degree cell (360 x 180) */
    /* trail.c */
    struct fleet_trail_pt *trail;
    uint32_t trail_mask;
    uint32_t trail_next; /* atomic counter of points written */
    /* partitions */
    struct fleet_partition parts[FLEET_PARTITIONS_MAX];
    struct fleet_counters counters[FLEET_NSOURCES];
    int64_t start_ms; /* CLOCK_MONOTONIC at creation: fleet_clock_ms's zero */
};

/* Creates a table for at most max_vehicles vehicles (1..2^30) and trail_points trail points
 * (rounded up to a power of two; 0: none). Memory is reserved, not touched: RSS grows with the
 * vehicles. Returns 0, TANDEM_EINVAL or TANDEM_ENOMEM. */
int fleet_table_init(struct fleet_table *t, uint32_t max_vehicles, uint32_t trail_points);
void fleet_table_cleanup(struct fleet_table *t);

/* Milliseconds since t was created (CLOCK_MONOTONIC_COARSE): the entries' stamps. */
uint32_t fleet_clock_ms(const struct fleet_table *t);

/*
 * THE apply function: every position goes through it, whatever its source (the consumer's
 * handler, a REST request, a batch, a snapshot being loaded). Makes p the vehicle's position
 * unless its ts is not above the current one (FLEET_STALE), creating the vehicle when it is new
 * (FLEET_FULL when max_vehicles are known), and moves it in the index. partition is the one its
 * record came from (for REST: fleet_partition_of). Counts it in counters[src] with the visible
 * latency (now - ts) unless src is FLEET_SRC_SNAPSHOT. Any thread; one vehicle's writers exclude
 * each other (its seqlock), others' never wait for each other but on a shared index stripe.
 * Does not check that partition is held: the consumer holds what it is handed; REST goes
 * through fleet_apply_held.
 */
enum fleet_result fleet_apply(struct fleet_table *t, const struct fleet_pos *p, unsigned partition,
                              enum fleet_source src);

/* fleet_apply for REST: FLEET_NOT_HELD (and nothing changed) unless the partition is held, under
 * its read lock so that it is not given up meanwhile. */
enum fleet_result fleet_apply_held(struct fleet_table *t, const struct fleet_pos *p,
                                   unsigned partition, enum fleet_source src);

/* Counts a malformed position of source src. */
void fleet_count_rejected(struct fleet_table *t, enum fleet_source src);

/* The vehicle's position, read consistently: true and *out when it is held here. */
bool fleet_get(const struct fleet_table *t, uint64_t id, struct fleet_pos *out);

/* The same by slot (any thread); *partition its partition and *stamp when it last changed (each
 * may be NULL). false when the slot holds nothing (its partition is not held). */
bool fleet_read_slot(const struct fleet_table *t, uint32_t slot, struct fleet_pos *out,
                     unsigned *partition, uint32_t *stamp);

/* The slot of id, or UINT32_MAX. Lock-free. */
uint32_t fleet_lookup(const struct fleet_table *t, uint64_t id);

/* Marks partition p held (after its snapshot was loaded) or gives it up: every vehicle of it
 * leaves the index and forgets its position (a later holder loads them from the snapshot).
 * Giving up waits for REST applies in progress on p. Any thread (the consumer's, in practice). */
void fleet_partition_hold(struct fleet_table *t, unsigned p);
void fleet_partition_release(struct fleet_table *t, unsigned p);
/* Stops REST applies on p (they answer FLEET_NOT_HELD from here; waits for those in progress)
 * and keeps its vehicles: what a snapshot of p taken before the release needs. */
void fleet_partition_close(struct fleet_table *t, unsigned p);
bool fleet_partition_held(const struct fleet_table *t, unsigned p);

/* The partition of a vehicle id among n: murmur2 of its decimal key, as Kafka's Java client and
 * librdkafka's murmur2 partitioner place a key (toPositive(murmur2(key)) % n). */
unsigned fleet_partition_of(uint64_t id, unsigned n);
uint32_t fleet_murmur2(const void *key, size_t len);

/* ---- grid.c: the spatial index ------------------------------------------------------------ */

/* A box in 1e-7 degrees, edges included: min <= max on both axes. */
struct fleet_box {
    int32_t min_lat, min_lon, max_lat, max_lon;
};

int fleet_grid_init(struct fleet_table *t);
void fleet_grid_cleanup(struct fleet_table *t);

/* Index updates, by apply (the slot's seqlock held): a vehicle enters at (lat, lon), moves from
 * its old position to the new (nothing to do while it stays in its fine cell: the common case),
 * or leaves. */
int fleet_grid_add(struct fleet_table *t, uint32_t slot, int32_t lat, int32_t lon);
int fleet_grid_move(struct fleet_table *t, uint32_t slot, int32_t olat, int32_t olon, int32_t lat,
                    int32_t lon);
void fleet_grid_remove(struct fleet_table *t, uint32_t slot, int32_t lat, int32_t lon);

/*
 * The vehicles inside box, at most limit (>= 1), in the order of the cells (rows of 1-degree
 * cells, then 1/8, then 1/64, each west to east, south to north). Only vehicles whose stamp is
 * at least since (0: all) are taken (the streams' "changed since"). Each is read from its slot
 * and checked against the box, so every answer is inside the box; a vehicle that
 * moves during the walk may be missed (no vehicle is given twice). Fills out[0..n) and returns
 * n; *more is true when at least one more vehicle was inside. Any thread.
 */
size_t fleet_query(const struct fleet_table *t, const struct fleet_box *box, uint32_t since,
                   struct fleet_pos *out, size_t limit, bool *more);

/* ---- trail.c ------------------------------------------------------------------------------ */

struct fleet_trail_point {
    int32_t lat, lon;
    int64_t ts;
};

/* Called by apply under the slot's seqlock: adds (lat, lon, ts) to the ring and returns the
 * counter + 1 to keep in the slot's trail. */
uint32_t fleet_trail_add(struct fleet_table *t, uint32_t slot, uint32_t prev, int32_t lat,
                         int32_t lon, int64_t ts);

/* The vehicle's newest points still in the ring, newest first, at most cap: returns how many. */
size_t fleet_trail_get(const struct fleet_table *t, uint64_t id, struct fleet_trail_point *out,
                       size_t cap);

/* ---- snapshot.c: a partition's vehicles on disk ------------------------------------------- */

#define FLEET_SNAP_HEADER 48

/*
 * Writes the vehicles of partition p held in t, with next_offset (the offset after the last
 * record they reflect; < 0: none, a replay starts at the beginning), to
 * <dir>/vehicle-positions-<p>.snap atomically (a temporary file, fsync, rename, fsync of dir).
 * *count (may be NULL) gets the number of vehicles written. The caller keeps p's vehicles from
 * changing source under it (snapshot and release are serialized by the service). Returns 0,
 * TANDEM_EIO (logged) or TANDEM_ENOMEM.
 */
int fleet_snapshot_write(const struct fleet_table *t, const char *dir, unsigned p, unsigned nparts,
                         int64_t next_offset, size_t *count);

/*
 * Loads <dir>/vehicle-positions-<p>.snap into t: every position applied (FLEET_SRC_SNAPSHOT,
 * partition p) once the whole file was read and checked (magic, partition, partition count,
 * length, checksum, every position valid): a bad file applies nothing. *next_offset gets its
 * offset (< 0: from the beginning), *count its vehicles. Returns 0, TANDEM_ENOENT (no file),
 * TANDEM_EINVAL (a bad file, logged), TANDEM_EIO or TANDEM_ENOMEM.
 */
int fleet_snapshot_load(struct fleet_table *t, const char *dir, unsigned p, unsigned nparts,
                        int64_t *next_offset, size_t *count);

/* ---- the service (service.c, members.c, routes.c, stream.c) -------------------------------- */

#define FLEET_TOPIC   "vehicle-positions"
#define FLEET_GROUP   "fleet"
#define FLEET_MEMBERS 16

struct tandem_service;
struct tandem_http_client;
struct tandem_http_request;

/* Another instance, as its member file says (members.c). */
struct fleet_member {
    int instance;
    char listen[64];
    int64_t at_ms; /* when it wrote the file (unix ms): the newest claim of a partition wins */
    uint8_t parts[FLEET_PARTITIONS_MAX / 8];
};

struct fleet {
    struct tandem_service *svc;
    struct fleet_table t;
    unsigned nparts;
    int instance;
    char listen[64];
    char *snap_dir;    /* <data-dir>/snapshots */
    char *members_dir; /* <data-dir>/members */
    int64_t snapshot_ms;
    pthread_mutex_t snap_mu; /* snapshots, loads, holds and releases of partitions */
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping, snap_started;
    pthread_t snap_thread;
    uint64_t snapshots, snapshot_vehicles; /* atomic */
    int64_t last_snapshot_ms;              /* atomic: the last periodic round's duration */
    uint64_t loaded_vehicles;              /* atomic */
    int64_t last_warn_ms;                  /* atomic: rate of the rejected-record warnings */
    struct tandem_http_client *http;       /* forwarding to the other instances */
    pthread_mutex_t mem_mu;
    struct fleet_member members[FLEET_MEMBERS]; /* under mem_mu: the others, as last read */
    size_t nmembers;
    int64_t members_read_ms;
};

/* Declares the options, creates the table and registers the consumer, routes, metrics and hooks
 * on svc (before tandem_service_run). Returns 0 or a TANDEM_E* (logged). */
int fleet_setup(struct fleet *f, struct tandem_service *svc);
/* Stops the snapshot thread (a last snapshot of what is still held) and frees f's parts (after
 * tandem_service_run returned, or instead of it). */
void fleet_cleanup(struct fleet *f);

/* The consumer's handler and assignment hook (service.c). */
int fleet_on_event(const struct tandem_event *ev, void *arg);
void fleet_on_partitions(bool assigned, struct tandem_partition *parts, size_t n, void *arg);
/* Writes a snapshot of every partition held (snap_mu taken here). */
void fleet_snapshot_all(struct fleet *f);

/* members.c: this instance's member file (which partitions it holds, where it listens) and the
 * others'. */
void fleet_members_publish(struct fleet *f);
void fleet_members_remove(struct fleet *f);
/* The address ("127.0.0.1:8162") of the instance that holds p, into out; false when none is
 * known. */
bool fleet_owner_of(struct fleet *f, unsigned p, char out[64]);
/* The addresses of the other instances that hold partitions: returns how many (at most cap). */
size_t fleet_others(struct fleet *f, char (*out)[64], size_t cap);

/* routes.c */
int fleet_routes(struct fleet *f);
/* "minLon,minLat,maxLon,maxLat" in degrees (min <= max, inside the globe) into *out; false when it
 * is not such a box. */
bool fleet_box_parse(const char *s, struct fleet_box *out);
/* Writes a position as the JSON object of the REST API into buf (at least 200 bytes); returns its
 * length. */
size_t fleet_pos_json(const struct fleet_pos *p, char *buf, size_t cap);

/* stream.c: GET /api/fleet/stream */
void fleet_stream(struct tandem_http_request *req, void *arg);

#endif
