/*
 * stream.c: GET /api/fleet/stream?bbox=minLon,minLat,maxLon,maxLat&interval=500&limit=500, the
 * vehicles of a box as they move, for maps (server-sent events, tandem_respond_sse).
 *
 * MODEL. Throttled per client: each stream has a timer on its worker's loop; every `interval` ms
 * (100..60000, default 500) it sends one event "positions" whose data is
 * {"vehicles":[...],"truncated":false}: the vehicles inside the box that changed since the last
 * event it sent (the first: all of them), at most `limit` (1..1000, default 500). Nothing is sent
 * for a tick without changes (the runtime's heartbeat keeps the connection). So a map gets at
 * most one event per interval however fast the fleet moves, and a vehicle's positions between
 * two events are folded into its latest.
 *
 * "Changed since" is each table's clock (the slots' stamps, table.c); the vehicles other
 * instances hold are asked of them at each tick (the box route, forwarded, with their own cursor:
 * routes.c), so one stream shows the whole fleet whatever instance serves it.
 *
 * A client that reads too slowly (its queue full: TANDEM_EAGAIN) misses the event; the cursors
 * are not moved, so the next event carries those vehicles again, at their newest.
 *
 * LIFETIME. Everything runs on the stream's worker: the timer, the other instances' answers
 * (loop-mode calls), on_close. The state is freed once the stream has ended and no call is in
 * flight.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "tandem/http.h"
#include "tandem/http_client.h"
#include "tandem/router.h"
#include "tandem/service.h"

#define PEERS FLEET_MEMBERS

struct peer {
    char at[64];
    uint32_t cursor, next; /* next: from the answer of the tick in progress */
    bool known, answered;
};

struct stream {
    struct fleet *f;
    struct tandem_sse *sse;
    struct tandem_loop *loop;
    struct tandem_loop_timer *timer;
    char query[256]; /* bbox=...&limit=... for the other instances */
    struct fleet_box box;
    long interval, limit;
    uint32_t since, next; /* this instance's cursor */
    bool first, closed;
    int pending;
    struct peer peers[PEERS];
    /* the tick in progress */
    struct fleet_pos *v;
    size_t n;
    bool more;
};

static void tick(void *arg);

static void stream_free(struct stream *st)
{
    free(st->v);
    free(st);
}

static void schedule(struct stream *st)
{
    if (tandem_loop_timer_add(st->loop, st->interval, tick, st, &st->timer) != 0) {
        st->timer = NULL;
    }
}

static void finish(struct stream *st)
{
    bool ok = true;
    if (st->n > 0 || st->first) {
        size_t cap = 64 + st->n * 200;
        char *body = malloc(cap);
        size_t len = 0;
        if (body != NULL) {
            len += (size_t)snprintf(body, cap, "{\"vehicles\":[");
            for (size_t i = 0; i < st->n; i++) {
                if (i > 0) {
                    body[len++] = ',';
                }
                len += fleet_pos_json(&st->v[i], body + len, cap - len);
            }
            len += (size_t)snprintf(body + len, cap - len, "],\"truncated\":%s}",
                                    st->more ? "true" : "false");
            ok = tandem_sse_send(st->sse, "positions", NULL, body, len) == 0;
            free(body);
        } else {
            ok = false;
        }
    }
    if (ok) { /* the cursors move only when the client got the event */
        st->first = false;
        st->since = st->next;
        for (int i = 0; i < PEERS; i++) {
            if (st->peers[i].answered) {
                st->peers[i].cursor = st->peers[i].next;
            }
        }
    }
    schedule(st);
}

/* A call to another instance: its stream and the peer's slot. */
struct peer_ref {
    struct stream *st;
    int index;
};

static void peer_answer(const struct tandem_http_response *r, void *arg)
{
    struct peer_ref *ref = arg;
    struct stream *st = ref->st;
    struct peer *pe = &st->peers[ref->index];
    free(ref);
    st->pending--;
    if (st->closed) {
        if (st->pending == 0) {
            stream_free(st);
        }
        return;
    }
    json_t *o = r->err == 0 && r->status == 200 ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *vs = json_object_get(o, "vehicles"), *cur = json_object_get(o, "cursor");
    if (json_is_array(vs) && json_is_integer(cur)) {
        for (size_t i = 0; i < json_array_size(vs); i++) {
            struct fleet_pos p;
            if (fleet_pos_from_json(json_array_get(vs, i), &p) != NULL) {
                continue;
            }
            if (st->n == (size_t)st->limit) {
                st->more = true;
                break;
            }
            st->v[st->n++] = p;
        }
        if (json_is_true(json_object_get(o, "truncated"))) {
            st->more = true;
        }
        pe->next = (uint32_t)json_integer_value(cur);
        pe->answered = true;
    }
    json_decref(o);
    if (st->pending == 0) {
        finish(st);
    }
}

/* Asks the instance at (peer slot i) for the box's changes since its cursor. */
static void ask_peer(struct stream *st, int i)
{
    struct peer *pe = &st->peers[i];
    char url[512];
    snprintf(url, sizeof(url), "http://%s/api/fleet/vehicles?%s&since=%" PRIu32, pe->at, st->query,
             pe->known ? pe->cursor : 0);
    static const char *const HEADERS[] = {"X-Fleet-Forwarded: 1", NULL};
    struct peer_ref *ref = malloc(sizeof(*ref));
    if (ref == NULL) {
        return;
    }
    ref->st = st;
    ref->index = i;
    struct tandem_http_call_opts o = {
        .method = "GET", .url = url, .headers = HEADERS, .timeout_ms = 2000, .deadline_ms = 3000};
    if (tandem_http_call(st->f->http, &o, peer_answer, ref) == 0) {
        st->pending++;
        pe->known = true;
    } else {
        free(ref);
    }
}

static void tick(void *arg)
{
    struct stream *st = arg;
    st->timer = NULL;
    st->next = fleet_clock_ms(&st->f->t); /* before the walk: a change during it comes again */
    st->n = fleet_query(&st->f->t, &st->box, st->first ? 0 : st->since, st->v, (size_t)st->limit,
                        &st->more);
    char others[PEERS][64];
    size_t no = fleet_others(st->f, others, PEERS);
    for (int i = 0; i < PEERS; i++) {
        st->peers[i].answered = false;
    }
    for (size_t k = 0; k < no; k++) {
        int slot = -1;
        for (int i = 0; i < PEERS && slot < 0; i++) {
            if (st->peers[i].at[0] != '\0' && strcmp(st->peers[i].at, others[k]) == 0) {
                slot = i;
            }
        }
        for (int i = 0; i < PEERS && slot < 0; i++) {
            if (st->peers[i].at[0] == '\0') {
                slot = i;
                snprintf(st->peers[i].at, sizeof(st->peers[i].at), "%s", others[k]);
                st->peers[i].known = false;
            }
        }
        if (slot >= 0) {
            ask_peer(st, slot);
        }
    }
    if (st->pending == 0) {
        finish(st);
    }
}

static void on_close(struct tandem_sse *sse, void *arg)
{
    struct stream *st = arg;
    (void)sse;
    st->closed = true;
    if (st->timer != NULL) {
        tandem_loop_timer_cancel(st->loop, st->timer);
        st->timer = NULL;
    }
    if (st->pending == 0) {
        stream_free(st);
    }
}

void fleet_stream(struct tandem_http_request *req, void *arg)
{
    struct fleet *f = arg;
    char bbox[200], v[32];
    struct stream *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        tandem_respond_problem(req, 500, "out of memory");
        return;
    }
    st->f = f;
    st->first = true;
    st->interval = 500;
    st->limit = 500;
    const char *bad = NULL;
    if (tandem_query_get(req->query, "bbox", bbox, sizeof(bbox)) != 0) {
        bad = "bbox is required: minLon,minLat,maxLon,maxLat in degrees";
    }
    if (bad == NULL && !fleet_box_parse(bbox, &st->box)) {
        bad = "bbox must be minLon,minLat,maxLon,maxLat in degrees, min <= max";
    }
    if (bad == NULL && tandem_query_get(req->query, "interval", v, sizeof(v)) == 0) {
        st->interval = strtol(v, NULL, 10);
        if (st->interval < 100 || st->interval > 60000) {
            bad = "interval must be 100 to 60000 (milliseconds)";
        }
    }
    if (bad == NULL && tandem_query_get(req->query, "limit", v, sizeof(v)) == 0) {
        st->limit = strtol(v, NULL, 10);
        if (st->limit < 1 || st->limit > 1000) {
            bad = "limit must be 1 to 1000";
        }
    }
    if (bad == NULL) {
        st->v = malloc((size_t)st->limit * sizeof(*st->v));
        bad = st->v == NULL ? "out of memory" : NULL;
    }
    if (bad != NULL) {
        stream_free(st);
        tandem_respond_problem(req, 400, bad);
        return;
    }
    snprintf(st->query, sizeof(st->query), "bbox=%.7f,%.7f,%.7f,%.7f&limit=%ld",
             st->box.min_lon / 1e7, st->box.min_lat / 1e7, st->box.max_lon / 1e7,
             st->box.max_lat / 1e7, st->limit);
    st->loop = tandem_loop_current();
    st->sse = tandem_respond_sse(req, on_close, st);
    if (st->sse == NULL) {
        stream_free(st); /* answered (HEAD, gone, draining) */
        return;
    }
    tandem_sse_retry(st->sse, 2000);
    st->timer = NULL;
    if (tandem_loop_timer_add(st->loop, 0, tick, st, &st->timer) != 0) {
        tandem_sse_close(st->sse);
        stream_free(st);
    }
}
