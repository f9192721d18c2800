/*
 * service.c: the fleet as a tandem service: its options, the consumer of vehicle-positions (its
 * handler and its assignment hook), the snapshots, the metrics (docs/fleet.md).
 *
 * MODEL. One consumer (group "fleet") hands every record to fleet_on_event, which decodes it and
 * applies it (table.c) or, when it is malformed, counts it and answers FAIL: libtandem writes it
 * to vehicle-positions.dlq and goes on. After a record is applied (or found malformed) its
 * partition's next_offset is published (release): what a snapshot reflects. (A malformed record
 * whose dead letter then failed to be written is not written again after a restart from a
 * snapshot taken meanwhile: the dead-letter topic is for diagnosis, the state is not affected.)
 *
 * PARTITIONS. The assignment hook (fleet_on_partitions, on the consumer's thread, never during a
 * handler call) is where the state follows the group:
 *   assigned  the partition's snapshot (snapshot.c) is loaded and consumption starts at its
 *             offset; without a snapshot, at the partition's beginning (the state is in memory:
 *             the group's committed offset means nothing to a fresh process). Then REST may
 *             apply to it (fleet_partition_hold).
 *   revoked   REST stops applying to it, its snapshot is written (every record handled is in
 *             the state), then its vehicles leave (fleet_partition_release).
 * snap_mu serializes these with the periodic snapshots (a thread, every --snapshot-interval), so
 * a snapshot never sees a partition half given up. At the stop the consumer's drain revokes
 * everything: the last snapshot of each partition is written there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fleet.h"
#include "tandem/http_client.h"
#include "tandem/service.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the consumer ------------------------------------------------------------------------- */

/* Logs msg with the record's place and what is wrong, at most once a second (the consumer's
 * thread may see a million such records a second). */
static void warn_once_a_second(struct fleet *f, const char *msg, const struct tandem_event *ev,
                               const char *bad)
{
    int64_t now = mono_ms(), last = __atomic_load_n(&f->last_warn_ms, __ATOMIC_RELAXED);
    if (now - last >= 1000 && __atomic_compare_exchange_n(&f->last_warn_ms, &last, now, false,
                                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        tandem_log_warn(NULL, msg, "\"partition\":%d,\"offset\":%lld,\"bad\":\"%s\"",
                        (int)ev->partition, (long long)ev->offset, bad);
    }
}

int fleet_on_event(const struct tandem_event *ev, void *arg)
{
    struct fleet *f = arg;
    struct fleet_pos p;
    const char *bad = fleet_pos_decode(ev->data, ev->data_len, &p);
    if (bad == NULL && !fleet_key_matches(ev->key, ev->key_len, p.id)) {
        bad = "key";
    }
    if (bad == NULL && (ev->partition < 0 || ev->partition >= FLEET_PARTITIONS_MAX)) {
        bad = "partition";
    }
    if (bad != NULL) {
        fleet_count_rejected(&f->t, FLEET_SRC_EVENTS);
        warn_once_a_second(f, "fleet: malformed position dead-lettered", ev, bad);
        if (ev->partition >= 0 && ev->partition < FLEET_PARTITIONS_MAX) {
            /* handled, for the snapshots: a restart does not dead-letter it again */
            __atomic_store_n(&f->t.parts[ev->partition].next_offset, ev->offset + 1,
                             __ATOMIC_RELEASE);
        }
        return TANDEM_EVENT_FAIL; /* to vehicle-positions.dlq, never applied */
    }
    if (fleet_partition_of(p.id, f->nparts) != (unsigned)ev->partition) {
        warn_once_a_second(f,
                           "fleet: a position in a partition its key does not hash to (the "
                           "producer's partitioner is not murmur2, or --partitions is not the "
                           "topic's): applied, but REST finds it at the wrong instance",
                           ev, "partition");
    }
    fleet_apply(&f->t, &p, (unsigned)ev->partition, FLEET_SRC_EVENTS);
    __atomic_store_n(&f->t.parts[ev->partition].next_offset, ev->offset + 1, __ATOMIC_RELEASE);
    return TANDEM_EVENT_OK;
}

/* Writes p's snapshot (snap_mu held). */
static void snapshot_one(struct fleet *f, unsigned p)
{
    int64_t off = __atomic_load_n(&f->t.parts[p].next_offset, __ATOMIC_ACQUIRE); /* first */
    size_t n = 0;
    if (fleet_snapshot_write(&f->t, f->snap_dir, p, f->nparts, off, &n) == 0) {
        __atomic_fetch_add(&f->snapshots, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&f->snapshot_vehicles, (uint64_t)n, __ATOMIC_RELAXED);
    }
}

void fleet_on_partitions(bool assigned, struct tandem_partition *parts, size_t n, void *arg)
{
    struct fleet *f = arg;
    pthread_mutex_lock(&f->snap_mu);
    for (size_t i = 0; i < n; i++) {
        int32_t pi = parts[i].partition;
        if (pi < 0 || pi >= FLEET_PARTITIONS_MAX || strcmp(parts[i].topic, FLEET_TOPIC) != 0) {
            continue;
        }
        unsigned p = (unsigned)pi;
        if (p >= f->nparts) {
            tandem_log_error(NULL, "fleet: a partition beyond --partitions (set it to the topic's)",
                             "\"partition\":%u,\"partitions\":%u", p, f->nparts);
        }
        if (!assigned) {
            fleet_partition_close(&f->t, p); /* REST applies end here */
            int64_t t0 = mono_ms();
            snapshot_one(f, p);
            fleet_partition_release(&f->t, p);
            tandem_log_info(NULL, "fleet: partition given up", "\"partition\":%u,\"ms\":%lld", p,
                            (long long)(mono_ms() - t0));
            continue;
        }
        int64_t off = -1, t0 = mono_ms();
        size_t count = 0;
        int rc = fleet_snapshot_load(&f->t, f->snap_dir, p, f->nparts, &off, &count);
        if (rc == 0) {
            __atomic_fetch_add(&f->loaded_vehicles, (uint64_t)count, __ATOMIC_RELAXED);
        }
        if (rc != 0 || off < 0) {
            off = -1;
            parts[i].offset = TANDEM_OFFSET_BEGINNING; /* the state is rebuilt from the topic */
        } else {
            parts[i].offset = off;
        }
        __atomic_store_n(&f->t.parts[p].next_offset, off, __ATOMIC_RELEASE);
        fleet_partition_hold(&f->t, p);
        tandem_log_info(NULL, "fleet: partition held",
                        "\"partition\":%u,\"snapshot\":%s,\"vehicles\":%zu,\"offset\":%lld,"
                        "\"ms\":%lld",
                        p, rc == 0 ? "true" : "false", count, (long long)off,
                        (long long)(mono_ms() - t0));
    }
    pthread_mutex_unlock(&f->snap_mu);
    fleet_members_publish(f);
}

void fleet_snapshot_all(struct fleet *f)
{
    pthread_mutex_lock(&f->snap_mu);
    int64_t t0 = mono_ms();
    for (unsigned p = 0; p < f->nparts; p++) {
        if (fleet_partition_held(&f->t, p)) {
            snapshot_one(f, p);
        }
    }
    __atomic_store_n(&f->last_snapshot_ms, mono_ms() - t0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&f->snap_mu);
}

static void *snapshot_thread(void *arg)
{
    struct fleet *f = arg;
    pthread_mutex_lock(&f->stop_mu);
    while (!f->stopping) {
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += f->snapshot_ms / 1000;
        dl.tv_nsec += (f->snapshot_ms % 1000) * 1000000;
        if (dl.tv_nsec >= 1000000000) {
            dl.tv_sec++;
            dl.tv_nsec -= 1000000000;
        }
        while (!f->stopping && pthread_cond_timedwait(&f->stop_cv, &f->stop_mu, &dl) == 0) {
        }
        if (f->stopping) {
            break;
        }
        pthread_mutex_unlock(&f->stop_mu);
        fleet_snapshot_all(f);
        pthread_mutex_lock(&f->stop_mu);
    }
    pthread_mutex_unlock(&f->stop_mu);
    return NULL;
}

/* ---- metrics ------------------------------------------------------------------------------ */

static const char *const SOURCES[FLEET_NSOURCES] = {"events", "rest", "rest-batch", "snapshot"};

static void emit(struct tandem_metrics_writer *w, void *arg)
{
    struct fleet *f = arg;
    char labels[FLEET_NSOURCES][32];
    struct fleet_counters c[FLEET_NSOURCES];
    for (int s = 0; s < FLEET_NSOURCES; s++) {
        snprintf(labels[s], sizeof(labels[s]), "source=\"%s\"", SOURCES[s]);
        const struct fleet_counters *k = &f->t.counters[s];
        c[s].applied = __atomic_load_n(&k->applied, __ATOMIC_RELAXED);
        c[s].stale = __atomic_load_n(&k->stale, __ATOMIC_RELAXED);
        c[s].rejected = __atomic_load_n(&k->rejected, __ATOMIC_RELAXED);
        c[s].not_held = __atomic_load_n(&k->not_held, __ATOMIC_RELAXED);
        c[s].sum_us = __atomic_load_n(&k->sum_us, __ATOMIC_RELAXED);
        for (int b = 0; b <= FLEET_NBUCKETS; b++) {
            c[s].buckets[b] = __atomic_load_n(&k->buckets[b], __ATOMIC_RELAXED);
        }
    }
    for (int s = 0; s < FLEET_SRC_SNAPSHOT; s++) {
        tandem_metrics_histogram(w, "fleet_visible_latency_seconds",
                                 "From a position's ts to the moment it can be read.", labels[s],
                                 fleet_buckets, c[s].buckets, FLEET_NBUCKETS,
                                 (double)c[s].sum_us / 1e6);
    }
    for (int s = 0; s < FLEET_NSOURCES; s++) {
        tandem_metrics_counter(w, "fleet_positions_applied_total", "Positions applied.", labels[s],
                               (double)c[s].applied);
    }
    for (int s = 0; s < FLEET_SRC_SNAPSHOT; s++) {
        tandem_metrics_counter(w, "fleet_positions_stale_total",
                               "Positions not newer than the vehicle's current one.", labels[s],
                               (double)c[s].stale);
    }
    for (int s = 0; s < FLEET_SRC_SNAPSHOT; s++) {
        tandem_metrics_counter(w, "fleet_positions_rejected_total",
                               "Malformed positions (dead-lettered, or 400/422).", labels[s],
                               (double)c[s].rejected);
    }
    for (int s = FLEET_SRC_REST; s < FLEET_SRC_SNAPSHOT; s++) {
        tandem_metrics_counter(w, "fleet_positions_forwarded_total",
                               "REST positions of partitions held by another instance.", labels[s],
                               (double)c[s].not_held);
    }
    tandem_metrics_gauge(w, "fleet_vehicles", "Vehicles this instance holds.", NULL,
                         (double)__atomic_load_n(&f->t.held, __ATOMIC_RELAXED));
    double snaps = (double)__atomic_load_n(&f->snapshots, __ATOMIC_RELAXED);
    double last = (double)__atomic_load_n(&f->last_snapshot_ms, __ATOMIC_RELAXED) / 1000.0;
    tandem_metrics_counter(w, "fleet_snapshots_total", "Partition snapshots written.", NULL, snaps);
    tandem_metrics_gauge(w, "fleet_snapshot_seconds",
                         "How long the last periodic snapshot of every held partition took.", NULL,
                         last);
}

/* ---- set-up ------------------------------------------------------------------------------- */

static int option_uint(struct fleet *f, const char *key, unsigned long lo, unsigned long hi,
                       unsigned long *out)
{
    const char *v = tandem_service_config(f->svc, key);
    char *end = NULL;
    errno = 0;
    unsigned long x = v != NULL ? strtoul(v, &end, 10) : 0;
    if (v == NULL || *v == '\0' || *end != '\0' || errno != 0 || x < lo || x > hi || v[0] == '-') {
        tandem_log_error(NULL, "fleet: bad option", "\"option\":\"%s\",\"min\":%lu,\"max\":%lu",
                         key, lo, hi);
        return TANDEM_EINVAL;
    }
    *out = x;
    return 0;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s != NULL) {
        snprintf(s, n, "%s/%s", a, b);
    }
    return s;
}

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return TANDEM_EIO;
            }
            *p = '/';
        }
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? TANDEM_EIO : 0;
}

static void http_stop(void *arg)
{
    struct fleet *f = arg;
    /* after HTTP has stopped (loop-mode forwards have ended) and the consumer's drain: every
     * partition was given up and written there; the periodic snapshots stop */
    pthread_mutex_lock(&f->stop_mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->stop_cv);
    pthread_mutex_unlock(&f->stop_mu);
    if (f->snap_started) {
        pthread_join(f->snap_thread, NULL);
        f->snap_started = false;
    }
    fleet_members_remove(f);
    tandem_http_client_free(f->http);
    f->http = NULL;
}

int fleet_setup(struct fleet *f, struct tandem_service *svc)
{
    memset(f, 0, sizeof(*f));
    f->svc = svc;
    pthread_mutex_init(&f->snap_mu, NULL);
    pthread_mutex_init(&f->stop_mu, NULL);
    pthread_cond_init(&f->stop_cv, NULL);
    pthread_mutex_init(&f->mem_mu, NULL);
    static const char *const OPTS[][3] = {
        {"partitions", "4", "partitions of vehicle-positions (must be the topic's)"},
        {"max-vehicles", "2000000",
         "vehicles this instance can hold (memory is taken as they come)"},
        {"trail-points", "1048576", "points of the trail ring shared by the vehicles (32 B each)"},
        {"snapshot-interval", "10",
         "seconds between snapshots of the partitions held (0: only "
         "when a partition is given up and at the stop)"},
        {"queued-records", "500000",
         "records the consumer fetches ahead (its prefetch: "
         "docs/fleet.md, the consumer path)"},
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(OPTS) / sizeof(OPTS[0]); i++) {
        rc = tandem_service_option(svc, OPTS[i][0], OPTS[i][1], OPTS[i][2]);
    }
    unsigned long parts = 0, maxv = 0, trail = 0, snap = 0, queued = 0, inst = 0;
    if (rc == 0) {
        rc = option_uint(f, "partitions", 1, FLEET_PARTITIONS_MAX, &parts);
    }
    if (rc == 0) {
        rc = option_uint(f, "max-vehicles", 1, UINT32_C(1) << 30, &maxv);
    }
    if (rc == 0) {
        rc = option_uint(f, "trail-points", 0, UINT32_C(1) << 30, &trail);
    }
    if (rc == 0) {
        rc = option_uint(f, "snapshot-interval", 0, 86400, &snap);
    }
    if (rc == 0) {
        rc = option_uint(f, "queued-records", 1, 100000000, &queued);
    }
    if (rc == 0) {
        rc = option_uint(f, "instance", 0, 1000000, &inst);
    }
    if (rc != 0) {
        return rc;
    }
    f->nparts = (unsigned)parts;
    f->instance = (int)inst;
    f->snapshot_ms = (int64_t)snap * 1000;
    const char *data = tandem_service_config(svc, "data-dir");
    f->snap_dir = join(data, "snapshots");
    f->members_dir = join(data, "members");
    if (f->snap_dir == NULL || f->members_dir == NULL) {
        return TANDEM_ENOMEM;
    }
    if (mkdirs(f->snap_dir) != 0 || mkdirs(f->members_dir) != 0) {
        tandem_log_error(NULL, "fleet: cannot make the data directories", "\"errno\":%d", errno);
        return TANDEM_EIO;
    }
    rc = fleet_table_init(&f->t, (uint32_t)maxv, (uint32_t)trail);
    if (rc != 0) {
        tandem_log_error(NULL, "fleet: cannot reserve the table", NULL);
        return rc;
    }
    struct tandem_http_client_config hc = {.connect_timeout_ms = 1000, .timeout_ms = 3000};
    rc = tandem_http_client_new(&hc, &f->http);
    if (rc == 0) {
        rc = fleet_routes(f);
    }
    if (rc != 0) {
        return rc;
    }
    tandem_service_metrics_source(svc, emit, f);
    tandem_service_on_stop(svc, http_stop, f);
    const char *topics[] = {FLEET_TOPIC};
    struct tandem_consumer_config cc = {.group_id = FLEET_GROUP,
                                        .topics = topics,
                                        .ntopics = 1,
                                        .handler = fleet_on_event,
                                        .arg = f,
                                        .on_partitions = fleet_on_partitions,
                                        .queued_records = (int)queued};
    rc = tandem_service_subscribe_config(svc, &cc);
    if (rc != 0) {
        return rc;
    }
    if (f->snapshot_ms > 0) {
        if (pthread_create(&f->snap_thread, NULL, snapshot_thread, f) != 0) {
            return TANDEM_EIO;
        }
        f->snap_started = true;
    }
    return 0;
}

void fleet_cleanup(struct fleet *f)
{
    http_stop(f); /* when the run did not reach its drain; else a no-op */
    fleet_table_cleanup(&f->t);
    free(f->snap_dir);
    free(f->members_dir);
    pthread_mutex_destroy(&f->snap_mu);
    pthread_mutex_destroy(&f->stop_mu);
    pthread_cond_destroy(&f->stop_cv);
    pthread_mutex_destroy(&f->mem_mu);
}
