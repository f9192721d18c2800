/*
 * routes.c: the fleet's REST API (docs/fleet.md, "REST ingest" and "Reads").
 *
 *   POST /api/fleet/positions             one position, 204 once applied
 *   POST /api/fleet/positions/batch       {"positions":[...]} (1..1000), 200 {"applied","stale"}
 *   GET  /api/fleet/vehicles/{id}         a vehicle
 *   GET  /api/fleet/vehicles/{id}/trail   its recent positions, oldest first
 *   GET  /api/fleet/vehicles?bbox=&limit= the vehicles inside a box
 *   GET  /api/fleet/stats                 this instance's counters
 *   GET  /api/fleet/stream?bbox=          server-sent events (stream.c)
 *
 * ROUTING. A vehicle lives in the partition its key hashes to (fleet_partition_of, as the
 * producers' partitioner). A request about a vehicle of a partition this instance does not hold
 * is forwarded, as it came, to the instance that holds it (members.c), with the header
 * X-Fleet-Forwarded: 1; a forwarded request is always answered locally (503 with Retry-After when
 * the partition is not held here any more either), so a request never travels twice. A batch is
 * split: its positions held here are applied here, the others sent as one batch to each owner. A
 * box is asked of every instance that holds partitions and the answers merged. Forwards run on
 * the worker's own loop (tandem_http_call in loop mode): the worker serves others meanwhile.
 *
 * REST positions go through fleet_apply_held: the same apply function as the consumer's, under
 * the partition's read lock, so that a partition is never given up (and snapshotted) in the
 * middle of a REST write.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "tandem/http_client.h"
#include "tandem/router.h"
#include "tandem/service.h"

#define BATCH_MAX    1000
#define LIMIT_MAX    1000
#define FORWARDED    "X-Fleet-Forwarded"
#define FWD_TIMEOUT  2000
#define FWD_DEADLINE 3000

/* ---- JSON text ---------------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* v / 10^digits as a decimal number, exactly, without trailing zeros ("48.85", "-0.5", "90"). */
static size_t put_fixed(char *out, size_t cap, int64_t v, int digits)
{
    uint64_t a = v < 0 ? (uint64_t)-v : (uint64_t)v, scale = 1;
    for (int i = 0; i < digits; i++) {
        scale *= 10;
    }
    uint64_t ip = a / scale, fp = a % scale;
    int n = snprintf(out, cap, "%s%" PRIu64, v < 0 ? "-" : "", ip);
    if (fp != 0 && n > 0 && (size_t)n < cap) {
        char frac[24];
        snprintf(frac, sizeof(frac), "%0*" PRIu64, digits, fp);
        size_t fl = strlen(frac);
        while (fl > 0 && frac[fl - 1] == '0') {
            frac[--fl] = '\0';
        }
        n += snprintf(out + n, cap - (size_t)n, ".%s", frac);
    }
    return n > 0 ? (size_t)n : 0;
}

size_t fleet_pos_json(const struct fleet_pos *p, char *buf, size_t cap)
{
    char lat[24], lon[24], speed[24], heading[24];
    put_fixed(lat, sizeof(lat), p->lat, 7);
    put_fixed(lon, sizeof(lon), p->lon, 7);
    put_fixed(speed, sizeof(speed), p->speed_mm, 3);
    put_fixed(heading, sizeof(heading), p->heading_cd, 2);
    int n = snprintf(buf, cap,
                     "{\"id\":%" PRIu64 ",\"lat\":%s,\"lon\":%s,\"speed\":%s,"
                     "\"heading\":%s,\"ts\":%" PRId64 "}",
                     p->id, lat, lon, speed, heading, p->ts);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void respond_buf(struct tandem_http_request *req, int status, struct buf *b)
{
    if (b->oom) {
        tandem_respond_problem(req, 500, "out of memory");
    } else {
        tandem_respond(req, status, "application/json", b->p, b->len);
    }
    free(b->p);
}

static void unavailable(struct tandem_http_request *req)
{
    tandem_respond_header(req, "Retry-After", "1");
    tandem_respond_problem(req, 503,
                           "no instance holds the vehicle's partition now (a rebalance?)");
}

static bool forwarded(const struct tandem_http_request *req)
{
    return tandem_http_header(req, FORWARDED) != NULL;
}

/* A vehicle id in a path: decimal 1..2^53-1. */
static bool id_of(const char *s, uint64_t *out)
{
    if (s == NULL || *s < '1' || *s > '9' || strlen(s) > 16) {
        return false;
    }
    uint64_t v = 0;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return v <= FLEET_ID_MAX;
}

/* An integer query parameter in [lo, hi], def when absent; false after answering 400. */
static bool int_param(struct tandem_http_request *req, const char *name, long def, long lo, long hi,
                      long *out)
{
    char v[32];
    int rc = tandem_query_get(req->query, name, v, sizeof(v));
    if (rc == TANDEM_ENOENT) {
        *out = def;
        return true;
    }
    char *end = NULL;
    errno = 0;
    long x = rc == 0 ? strtol(v, &end, 10) : 0;
    if (rc != 0 || v[0] == '\0' || *end != '\0' || errno != 0 || x < lo || x > hi) {
        char d[128];
        snprintf(d, sizeof(d), "%s must be an integer from %ld to %ld", name, lo, hi);
        tandem_respond_problem(req, 400, d);
        return false;
    }
    *out = x;
    return true;
}

/* ---- forwarding --------------------------------------------------------------------------- */

static void relay(const struct tandem_http_response *r, void *arg)
{
    struct tandem_http_request *req = arg;
    if (r->err != 0 || r->status < 100) {
        unavailable(req);
        return;
    }
    const char *ra = tandem_http_response_header(r, "Retry-After");
    if (ra != NULL) {
        tandem_respond_header(req, "Retry-After", ra);
    }
    tandem_respond(req, r->status, tandem_http_response_header(r, "Content-Type"), r->body,
                   r->body_len);
}

/* Calls the same route on instance at (host:port) with body (NULL: the request's own). */
static int call(struct fleet *f, struct tandem_http_request *req, const char *at, const char *path,
                const char *query, const char *body, size_t body_len, tandem_http_done_fn cb,
                void *arg)
{
    char url[2048];
    int n = snprintf(url, sizeof(url), "http://%s%s%s%s", at, path, query[0] ? "?" : "", query);
    if (n < 0 || (size_t)n >= sizeof(url)) {
        return TANDEM_EINVAL;
    }
    static const char *const HEADERS[] = {FORWARDED ": 1", "Content-Type: application/json", NULL};
    struct tandem_http_call_opts o = {.method = req->method,
                                      .url = url,
                                      .headers = HEADERS,
                                      .body = body != NULL ? body : req->body,
                                      .body_len = body != NULL ? body_len : req->body_len,
                                      .timeout_ms = FWD_TIMEOUT,
                                      .deadline_ms = FWD_DEADLINE,
                                      .traceparent = tandem_request_traceparent(req),
                                      .request_id = tandem_request_id(req)};
    return tandem_http_call(f->http, &o, cb, arg);
}

/* The request as it came to the owner of partition p; false when there is none to ask (the
 * caller answers). */
static bool forward(struct fleet *f, struct tandem_http_request *req, unsigned p)
{
    char at[64];
    if (forwarded(req) || !fleet_owner_of(f, p, at)) {
        return false;
    }
    if (call(f, req, at, req->path, req->query, NULL, 0, relay, req) != 0) {
        return false;
    }
    return true;
}

/* ---- ingest ------------------------------------------------------------------------------- */

static json_t *field_error(const char *field, const char *prefix)
{
    char name[64];
    snprintf(name, sizeof(name), "%s%s", prefix, field);
    const char *msg = strcmp(field, "body") == 0 ? "must be a JSON object"
                      : strcmp(field, "id") == 0 || strcmp(field, "ts") == 0
                          ? "is missing, not an integer or out of range"
                          : "is missing, not a number or out of range";
    return json_pack("{s:[s]}", name, msg);
}

static void post_position(struct tandem_http_request *req, void *arg)
{
    struct fleet *f = arg;
    json_t *o = tandem_json_body(req);
    if (o == NULL) {
        fleet_count_rejected(&f->t, FLEET_SRC_REST);
        return; /* answered 400 or 415 */
    }
    struct fleet_pos p;
    const char *bad = fleet_pos_from_json(o, &p);
    json_decref(o);
    if (bad != NULL) {
        fleet_count_rejected(&f->t, FLEET_SRC_REST);
        tandem_respond_invalid(req, field_error(bad, ""));
        return;
    }
    unsigned part = fleet_partition_of(p.id, f->nparts);
    enum fleet_result r = fleet_apply_held(&f->t, &p, part, FLEET_SRC_REST);
    if (r == FLEET_APPLIED || r == FLEET_STALE) {
        tandem_respond(req, 204, NULL, NULL, 0);
    } else if (r == FLEET_FULL) {
        tandem_respond_problem(req, 503, "this instance holds --max-vehicles vehicles");
    } else if (!forward(f, req, part)) {
        unavailable(req);
    }
}

/* A batch being answered: its own applies and the owners' answers. */
struct batch {
    struct tandem_http_request *req;
    long applied, stale;
    int pending;
    bool failed;
};

static void batch_answer(struct batch *b)
{
    if (b->failed) {
        unavailable(b->req);
    } else {
        char body[96];
        int n =
            snprintf(body, sizeof(body), "{\"applied\":%ld,\"stale\":%ld}", b->applied, b->stale);
        tandem_respond(b->req, 200, "application/json", body, (size_t)n);
    }
    free(b);
}

static void batch_done(const struct tandem_http_response *r, void *arg)
{
    struct batch *b = arg;
    json_t *o = r->err == 0 && r->status == 200 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *a = json_object_get(o, "applied"), *s = json_object_get(o, "stale");
    if (json_is_integer(a) && json_is_integer(s)) {
        b->applied += (long)json_integer_value(a);
        b->stale += (long)json_integer_value(s);
    } else {
        b->failed = true;
    }
    json_decref(o);
    if (--b->pending == 0) {
        batch_answer(b);
    }
}

static void post_batch(struct tandem_http_request *req, void *arg)
{
    struct fleet *f = arg;
    json_t *o = tandem_json_body(req);
    if (o == NULL) {
        fleet_count_rejected(&f->t, FLEET_SRC_BATCH);
        return;
    }
    json_t *arr = json_object_get(o, "positions");
    size_t n = json_array_size(arr);
    if (!json_is_array(arr) || n == 0 || n > BATCH_MAX) {
        json_decref(o);
        fleet_count_rejected(&f->t, FLEET_SRC_BATCH);
        tandem_respond_invalid(
            req, json_pack("{s:[s]}", "positions", "must be an array of 1 to 1000 positions"));
        return;
    }
    struct fleet_pos *ps = malloc(n * sizeof(*ps));
    unsigned *parts = malloc(n * sizeof(*parts));
    struct batch *b = calloc(1, sizeof(*b));
    if (ps == NULL || parts == NULL || b == NULL) {
        json_decref(o);
        free(ps);
        free(parts);
        free(b);
        tandem_respond_problem(req, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *bad = fleet_pos_from_json(json_array_get(arr, i), &ps[i]);
        if (bad != NULL) {
            char prefix[32];
            snprintf(prefix, sizeof(prefix), "positions[%zu].", i);
            json_decref(o);
            free(ps);
            free(parts);
            free(b);
            fleet_count_rejected(&f->t, FLEET_SRC_BATCH); /* the batch, once */
            tandem_respond_invalid(req, field_error(bad, prefix));
            return;
        }
    }
    json_decref(o);
    b->req = req;
    size_t away = 0; /* positions of partitions held elsewhere, moved to the front */
    for (size_t i = 0; i < n; i++) {
        unsigned part = fleet_partition_of(ps[i].id, f->nparts);
        enum fleet_result r = fleet_apply_held(&f->t, &ps[i], part, FLEET_SRC_BATCH);
        if (r == FLEET_APPLIED) {
            b->applied++;
        } else if (r == FLEET_STALE) {
            b->stale++;
        } else if (r == FLEET_FULL) {
            b->failed = true;
        } else {
            ps[away] = ps[i];
            parts[away++] = part;
        }
    }
    if (away > 0 && forwarded(req)) {
        b->failed = true;
    }
    /* one batch per owner of the rest: each partition's owner looked up once */
    b->pending = 1;                                /* this function's own, released below */
    int *owner = malloc((away + 1) * sizeof(int)); /* index into ats, per position */
    char(*ats)[64] = malloc((size_t)f->nparts * 64);
    int at_of[FLEET_PARTITIONS_MAX];
    size_t nats = 0;
    for (unsigned p = 0; p < f->nparts && p < FLEET_PARTITIONS_MAX; p++) {
        at_of[p] = -2; /* not looked up */
    }
    for (size_t i = 0; owner != NULL && ats != NULL && !b->failed && i < away; i++) {
        unsigned p = parts[i];
        if (at_of[p] == -2) {
            char at[64];
            at_of[p] = -1;
            if (fleet_owner_of(f, p, at)) {
                for (size_t k = 0; k < nats && at_of[p] < 0; k++) {
                    at_of[p] = strcmp(ats[k], at) == 0 ? (int)k : -1;
                }
                if (at_of[p] < 0) {
                    memcpy(ats[nats], at, 64);
                    at_of[p] = (int)nats++;
                }
            }
        }
        owner[i] = at_of[p];
        b->failed = owner[i] < 0;
    }
    for (size_t k = 0; owner != NULL && ats != NULL && !b->failed && k < nats; k++) {
        struct buf body = {0};
        buf_str(&body, "{\"positions\":[");
        bool first = true;
        for (size_t i = 0; i < away; i++) {
            if (owner[i] != (int)k) {
                continue;
            }
            char one[256];
            size_t len = fleet_pos_json(&ps[i], one, sizeof(one));
            if (!first) {
                buf_add(&body, ",", 1);
            }
            buf_add(&body, one, len);
            first = false;
        }
        buf_str(&body, "]}");
        if (body.oom || call(f, req, ats[k], req->path, "", body.p, body.len, batch_done, b) != 0) {
            b->failed = true;
        } else {
            b->pending++;
        }
        free(body.p);
    }
    if ((owner == NULL || ats == NULL) && away > 0) {
        b->failed = true;
    }
    free(owner);
    free(ats);
    free(ps);
    free(parts);
    if (--b->pending == 0) {
        batch_answer(b);
    }
}

/* ---- reads -------------------------------------------------------------------------------- */

static void get_vehicle(struct tandem_http_request *req, void *arg)
{
    struct fleet *f = arg;
    uint64_t id;
    if (!id_of(tandem_param(req, "id"), &id)) {
        tandem_respond_problem(req, 404, "no such vehicle (ids are 1 to 2^53-1)");
        return;
    }
    unsigned part = fleet_partition_of(id, f->nparts);
    struct fleet_pos p;
    if (fleet_partition_held(&f->t, part)) {
        if (fleet_get(&f->t, id, &p)) {
            char body[256];
            size_t n = fleet_pos_json(&p, body, sizeof(body));
            tandem_respond(req, 200, "application/json", body, n);
        } else {
            tandem_respond_problem(req, 404, "no such vehicle");
        }
    } else if (!forward(f, req, part)) {
        unavailable(req);
    }
}

static void get_trail(struct tandem_http_request *req, void *arg)
{
    struct fleet *f = arg;
    uint64_t id;
    long limit;
    if (!id_of(tandem_param(req, "id"), &id)) {
        tandem_respond_problem(req, 404, "no such vehicle (ids are 1 to 2^53-1)");
        return;
    }
    if (!int_param(req, "limit", 20, 1, 100, &limit)) {
        return;
    }
    unsigned part = fleet_partition_of(id, f->nparts);
    if (!fleet_partition_held(&f->t, part)) {
        if (!forward(f, req, part)) {
            unavailable(req);
        }
        return;
    }
    struct fleet_pos cur;
    if (!fleet_get(&f->t, id, &cur)) {
        tandem_respond_problem(req, 404, "no such vehicle");
        return;
    }
    struct fleet_trail_point pts[100];
    size_t n = fleet_trail_get(&f->t, id, pts, (size_t)limit);
    struct buf b = {0};
    char head[64];
    snprintf(head, sizeof(head), "{\"id\":%" PRIu64 ",\"points\":[", id);
    buf_str(&b, head);
    for (size_t i = n; i-- > 0;) { /* oldest first */
        char lat[24], lon[24], one[128];
        put_fixed(lat, sizeof(lat), pts[i].lat, 7);
        put_fixed(lon, sizeof(lon), pts[i].lon, 7);
        int len = snprintf(one, sizeof(one), "%s{\"lat\":%s,\"lon\":%s,\"ts\":%" PRId64 "}",
                           i + 1 < n ? "," : "", lat, lon, pts[i].ts);
        buf_add(&b, one, (size_t)len);
    }
    buf_str(&b, "]}");
    respond_buf(req, 200, &b);
}

bool fleet_box_parse(const char *s, struct fleet_box *out)
{
    double v[4];
    const char *p = s;
    for (int i = 0; i < 4; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(p, &end);
        if (end == p || errno != 0 || !isfinite(v[i]) || *end != (i < 3 ? ',' : '\0')) {
            return false;
        }
        p = end + 1;
    }
    if (v[0] < -180 || v[2] > 180 || v[1] < -90 || v[3] > 90 || v[0] > v[2] || v[1] > v[3]) {
        return false;
    }
    out->min_lon = (int32_t)llround(v[0] * 1e7);
    out->min_lat = (int32_t)llround(v[1] * 1e7);
    out->max_lon = (int32_t)llround(v[2] * 1e7);
    out->max_lat = (int32_t)llround(v[3] * 1e7);
    return true;
}

/* bbox and limit of req; false after answering 400. */
static bool box_params(struct tandem_http_request *req, struct fleet_box *box, long *limit)
{
    char v[256];
    if (tandem_query_get(req->query, "bbox", v, sizeof(v)) != 0 || !fleet_box_parse(v, box)) {
        tandem_respond_problem(req, 400,
                               "bbox must be minLon,minLat,maxLon,maxLat in degrees, "
                               "min <= max, inside -180..180 and -90..90");
        return false;
    }
    return int_param(req, "limit", 100, 1, LIMIT_MAX, limit);
}

/* A box being answered: this instance's vehicles and the others'. */
struct boxq {
    struct tandem_http_request *req;
    struct fleet_pos *v;
    size_t n, limit;
    bool more, has_cursor;
    int pending, missing;
    uint32_t cursor;
};

static void boxq_answer(struct boxq *q)
{
    struct buf b = {0};
    buf_str(&b, "{\"vehicles\":[");
    for (size_t i = 0; i < q->n; i++) {
        char one[256];
        size_t len = fleet_pos_json(&q->v[i], one, sizeof(one));
        if (i > 0) {
            buf_add(&b, ",", 1);
        }
        buf_add(&b, one, len);
    }
    char tail[96];
    int n = snprintf(tail, sizeof(tail), "],\"truncated\":%s", q->more ? "true" : "false");
    buf_add(&b, tail, (size_t)n);
    if (q->has_cursor) { /* for a stream of another instance (stream.c) */
        n = snprintf(tail, sizeof(tail), ",\"cursor\":%u", q->cursor);
        buf_add(&b, tail, (size_t)n);
    }
    if (q->missing > 0) { /* an instance did not answer: its vehicles are not in it */
        n = snprintf(tail, sizeof(tail), ",\"instances_missing\":%d", q->missing);
        buf_add(&b, tail, (size_t)n);
    }
    buf_add(&b, "}", 1);
    respond_buf(q->req, 200, &b);
    free(q->v);
    free(q);
}

static void boxq_done(const struct tandem_http_response *r, void *arg)
{
    struct boxq *q = arg;
    json_t *o = r->err == 0 && r->status == 200 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *vs = json_object_get(o, "vehicles");
    if (!json_is_array(vs)) {
        q->missing++;
    }
    for (size_t i = 0; i < json_array_size(vs); i++) {
        struct fleet_pos p;
        if (fleet_pos_from_json(json_array_get(vs, i), &p) != NULL) {
            continue;
        }
        if (q->n == q->limit) {
            q->more = true;
            break;
        }
        q->v[q->n++] = p;
    }
    if (json_is_true(json_object_get(o, "truncated"))) {
        q->more = true;
    }
    json_decref(o);
    if (--q->pending == 0) {
        boxq_answer(q);
    }
}

static void get_vehicles(struct tandem_http_request *req, void *arg)
{
    struct fleet *f = arg;
    struct fleet_box box;
    long limit;
    if (!box_params(req, &box, &limit)) {
        return;
    }
    struct boxq *q = calloc(1, sizeof(*q));
    struct fleet_pos *v = malloc((size_t)limit * sizeof(*v));
    if (q == NULL || v == NULL) {
        free(q);
        free(v);
        tandem_respond_problem(req, 500, "out of memory");
        return;
    }
    q->req = req;
    q->v = v;
    q->limit = (size_t)limit;
    long since = 0;
    if (forwarded(req)) { /* another instance's stream asks what changed since its cursor */
        if (!int_param(req, "since", 0, 0, UINT32_MAX, &since)) {
            free(q);
            free(v);
            return;
        }
        q->has_cursor = true;
        q->cursor = fleet_clock_ms(&f->t);
    }
    q->n = fleet_query(&f->t, &box, (uint32_t)since, v, (size_t)limit, &q->more);
    q->pending = 1;
    if (!forwarded(req)) {
        char others[FLEET_MEMBERS][64];
        size_t no = fleet_others(f, others, FLEET_MEMBERS);
        for (size_t i = 0; i < no; i++) {
            if (call(f, req, others[i], req->path, req->query, "", 0, boxq_done, q) == 0) {
                q->pending++;
            } else {
                q->missing++;
            }
        }
    }
    if (--q->pending == 0) {
        boxq_answer(q);
    }
}

static void get_stats(struct tandem_http_request *req, void *arg)
{
    struct fleet *f = arg;
    static const char *const SOURCES[FLEET_NSOURCES] = {"events", "rest", "rest-batch", "snapshot"};
    struct buf b = {0};
    char s[512];
    snprintf(s, sizeof(s), "{\"instance\":%d,\"vehicles\":%" PRIu64 ",\"partitions\":[",
             f->instance, __atomic_load_n(&f->t.held, __ATOMIC_RELAXED));
    buf_str(&b, s);
    bool first = true;
    for (unsigned p = 0; p < f->nparts; p++) {
        if (fleet_partition_held(&f->t, p)) {
            snprintf(s, sizeof(s), "%s%u", first ? "" : ",", p);
            buf_str(&b, s);
            first = false;
        }
    }
    buf_str(&b, "],\"sources\":{");
    for (int i = 0; i < FLEET_NSOURCES; i++) {
        const struct fleet_counters *c = &f->t.counters[i];
        snprintf(s, sizeof(s),
                 "%s\"%s\":{\"applied\":%" PRIu64 ",\"stale\":%" PRIu64 ",\"rejected\":%" PRIu64
                 ",\"forwarded\":%" PRIu64 "}",
                 i ? "," : "", SOURCES[i], __atomic_load_n(&c->applied, __ATOMIC_RELAXED),
                 __atomic_load_n(&c->stale, __ATOMIC_RELAXED),
                 __atomic_load_n(&c->rejected, __ATOMIC_RELAXED),
                 __atomic_load_n(&c->not_held, __ATOMIC_RELAXED));
        buf_str(&b, s);
    }
    snprintf(s, sizeof(s),
             "},\"snapshots\":{\"written\":%" PRIu64 ",\"vehicles_written\":%" PRIu64
             ",\"vehicles_loaded\":%" PRIu64 ",\"last_ms\":%lld}}",
             __atomic_load_n(&f->snapshots, __ATOMIC_RELAXED),
             __atomic_load_n(&f->snapshot_vehicles, __ATOMIC_RELAXED),
             __atomic_load_n(&f->loaded_vehicles, __ATOMIC_RELAXED),
             (long long)__atomic_load_n(&f->last_snapshot_ms, __ATOMIC_RELAXED));
    buf_str(&b, s);
    respond_buf(req, 200, &b);
}

int fleet_routes(struct fleet *f)
{
    static const struct {
        const char *method, *pattern;
        tandem_route_fn fn;
    } ROUTES[] = {
        {"POST", "/api/fleet/positions", post_position},
        {"POST", "/api/fleet/positions/batch", post_batch},
        {"GET", "/api/fleet/vehicles", get_vehicles},
        {"GET", "/api/fleet/vehicles/{id}", get_vehicle},
        {"GET", "/api/fleet/vehicles/{id}/trail", get_trail},
        {"GET", "/api/fleet/stats", get_stats},
        {"GET", "/api/fleet/stream", fleet_stream},
    };
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof(ROUTES) / sizeof(ROUTES[0]); i++) {
        rc = tandem_route(f->svc, ROUTES[i].method, ROUTES[i].pattern, ROUTES[i].fn, f);
    }
    return rc;
}
