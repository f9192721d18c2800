/*
 * The request lifecycle. See request.h for the path a frame takes and the ways a handler ends a
 * request.
 *
 * Ownership. A request is heap-allocated in request_on_frame and freed exactly once, by
 * request_respond, request_free, request_fail or request_hold_until_durable. Until it is kept
 * (request_keep) its frame and header strings are borrowed from the connection's read buffer and
 * valid only inside on_frame; a request that outlives on_frame either copies the frame
 * (request_keep: a parked Fetch re-parses its copy) or drops what pointed into it
 * (request_hold_conn). The response slot reserved for it is filled or cancelled exactly once.
 *
 * Parking. Parked requests form one doubly linked list on the broker, each with a timer for its
 * wait. Appends only set a flag (request_poke_parked); the before-sleep hook then re-tries every
 * parked request once per loop iteration, however many appends the iteration made.
 */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "protocol/kafka.h"
#include "request.h"

/* ---- the dispatch table as data ------------------------------------------------------------ */

static const struct api_entry *api_lookup(const struct api_entry *table, int16_t api_key)
{
    if (api_key < 0 || api_key >= KAFKA_API_KEY_MAX || !table[api_key].handler)
        return NULL;
    return &table[api_key];
}

int request_api_ranges(const struct api_entry *table, struct api_version_range *out)
{
    int n = 0;
    for (int16_t k = 0; k < KAFKA_API_KEY_MAX; k++)
        if (table[k].handler && !table[k].disabled)
            out[n++] = (struct api_version_range){k, table[k].min_version, table[k].max_version};
    return n;
}

/* ---- ending a request ---------------------------------------------------------------------- */

void request_begin_response(struct request *req, struct kw *w)
{
    kw_init(w, 512);
    int hv = kafka_response_header_version(req->hdr.request_api_key, req->hdr.request_api_version);
    kafka_encode_response_header(w, hv, req->hdr.correlation_id);
}

void request_free(struct request *req)
{
    if (req->slot)
        conn_cancel(req->conn, req->slot);
    arena_cleanup(&req->arena);
    if (req->frame_owned)
        free(req->frame);
    if (req->conn_held)
        conn_unref(req->conn);
    free(req);
}

void request_respond(struct request *req, struct kw *w)
{
    conn_fill(req->conn, req->slot, w);
    req->slot = NULL;
    kw_cleanup(w);
    request_free(req);
}

void request_fail(struct request *req, const char *why)
{
    char peer[128];
    log_warn("closing connection: bad request",
             "\"peer\":%s,\"api_key\":%d,\"api_version\":%d,\"reason\":\"%s\"",
             log_json_str(peer, sizeof(peer), conn_peer(req->conn)), req->hdr.request_api_key,
             req->hdr.request_api_version, why);
    conn_close(req->conn);
    request_free(req);
}

void request_keep(struct request *req)
{
    if (req->frame_owned)
        return;
    uint8_t *copy = xmalloc(req->frame_len);
    memcpy(copy, req->frame, req->frame_len);
    req->frame = copy;
    req->frame_owned = true;
    req->hdr.client_id = KSTR_NULL; /* it pointed into the borrowed frame */
    kr_init(&req->body, copy + req->body_off, req->frame_len - req->body_off);
    request_hold_conn(req);
}

void request_hold_conn(struct request *req)
{
    if (!req->frame_owned)
        req->hdr.client_id = KSTR_NULL; /* the frame is only borrowed until on_frame returns */
    if (!req->conn_held) {
        conn_ref(req->conn);
        req->conn_held = true;
    }
}

void request_hold_until_durable(struct request *req, struct kw *w, const struct durable_need *needs,
                                int nneeds)
{
    durable_hold(&req->b->held, req->conn, req->slot, w, needs, nneeds);
    req->slot = NULL; /* the held response fills it */
    request_free(req);
}

/* ---- parking ------------------------------------------------------------------------------- */

static void unpark(struct broker *b, struct request *req)
{
    if (req->prev)
        req->prev->next = req->next;
    else
        b->parked = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->next = req->prev = NULL;
}

static void push_parked(struct broker *b, struct request *req)
{
    req->prev = NULL;
    req->next = b->parked;
    if (b->parked)
        b->parked->prev = req;
    b->parked = req;
}

static void on_park_timeout(void *arg)
{
    struct request *req = arg;
    req->timer_id = 0;
    unpark(req->b, req);
    req->retry(req, true);
}

void request_park(struct request *req, int64_t wait_ms, request_retry retry)
{
    struct broker *b = req->b;
    req->retry = retry;
    req->timer_id = loop_timer_add(b->loop, wait_ms, on_park_timeout, req);
    push_parked(b, req);
}

void request_poke_parked(struct broker *b)
{
    b->data_appended = true;
}

void request_wake_parked(struct broker *b, bool force)
{
    struct request *req = b->parked, *next;
    for (; req; req = next) {
        next = req->next;
        unpark(b, req);
        uint64_t timer = req->timer_id;
        if (req->retry(req, force || conn_is_closed(req->conn))) {
            loop_timer_cancel(b->loop, timer);
            continue;
        }
        push_parked(b, req); /* still waiting: put it back */
    }
}

void request_before_sleep(void *arg)
{
    struct broker *b = arg;
    if (b->data_appended) {
        b->data_appended = false;
        request_wake_parked(b, false);
    }
}

/* ---- a frame in ---------------------------------------------------------------------------- */

/* An unsupported ApiVersions version is answered at v0 with UNSUPPORTED_VERSION and the list of
 * what is supported (KIP-511), so the client can retry at a version it shares with us. */
static void reject_api_versions(struct request *req)
{
    struct api_version_range ranges[KAFKA_API_KEY_MAX];
    struct api_versions_resp resp = {
        .error_code = KAFKA_UNSUPPORTED_VERSION,
        .napi_keys = request_api_ranges(req->b->apis, ranges),
        .api_keys = ranges,
    };
    struct kw w;
    kw_init(&w, 256);
    kafka_encode_response_header(&w, 0, req->hdr.correlation_id);
    kafka_encode_api_versions_response(&w, 0, &resp);
    request_respond(req, &w);
}

void request_on_frame(struct conn *c, uint8_t *frame, size_t len, void *arg)
{
    struct broker *b = arg;
    struct kafka_req_header h;
    size_t used;
    b->requests_total++;
    if (kafka_parse_request_header(frame, len, &h, &used)) {
        char peer[128];
        log_warn("closing connection: malformed request header", "\"peer\":%s,\"len\":%zu",
                 log_json_str(peer, sizeof(peer), conn_peer(c)), len);
        conn_close(c);
        return;
    }
    struct request *req = xcalloc(1, sizeof(*req));
    req->b = b;
    req->conn = c;
    req->hdr = h;
    req->frame = frame;
    req->frame_len = len;
    arena_init(&req->arena, 0);
    req->body_off = used;
    kr_init(&req->body, frame + used, len - used);

    const struct api_entry *e = api_lookup(b->apis, h.request_api_key);
    if (!e) {
        request_fail(req, "unknown api key");
        return;
    }
    req->slot = conn_reserve(c);
    if (h.request_api_version < e->min_version || h.request_api_version > e->max_version) {
        if (h.request_api_key == KAFKA_API_VERSIONS)
            reject_api_versions(req);
        else
            request_fail(req, "unsupported api version");
        return;
    }
    e->handler(req);
}
