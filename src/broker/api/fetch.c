/*
 * Fetch: serve whole record batches straight from segment files, long-polling when empty.
 *
 * Model: a fetch is evaluated by fetch_try(). For each requested partition it takes a file slice
 * (fd, position, length of whole batches, starting with the batch that holds FetchOffset, which
 * may begin before it; clients skip the earlier records). The response carries the slices as
 * splices, so the connection sends the bytes with sendfile(2) and they never pass through user
 * space. Limits: PartitionMaxBytes per partition and MaxBytes overall, except that the first
 * non-empty partition always returns at least one whole batch even if larger (KIP-74).
 *
 * If less than MinBytes is available and MaxWaitMs > 0, the request parks: it copies its frame
 * (request_keep), re-parses it, and waits on the broker's parked list (request_park) with
 * fetch_try as its re-try. Appends poke the parked list; the loop's before-sleep hook then
 * re-evaluates parked fetches, and a timer answers with whatever is there when MaxWaitMs (capped
 * by fetch.max.wait.cap.ms) runs out. On one node the high watermark is the log end offset; the
 * last stable offset is below every open transaction (log/txn.c). With IsolationLevel 1
 * (read_committed, KIP-98) no batch at or past the LSO is returned, and the partition lists the
 * aborted transactions (producer id, first offset) overlapping the range from the fetch offset
 * to the LSO, so the client drops their records; with 0 every batch is returned and the list is
 * null.
 * Fetch sessions (KIP-227) are declined by answering SessionId 0: clients keep sending full
 * fetches, which is what librdkafka 2.0.2 does anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "common/mem.h"
#include "tandem/error.h"

static void release_slices(struct fetch_resp *resp)
{
    for (int32_t i = 0; i < resp->ntopics; i++)
        for (int32_t j = 0; j < resp->topics[i].npartitions; j++) {
            struct fetch_resp_partition *p = &resp->topics[i].partitions[j];
            if (p->records_ext) {
                log_slice_release((struct file_slice *)p->records_ext);
                free((void *)p->records_ext);
                p->records_ext = NULL;
            }
        }
}

/* read_committed: the aborted transactions overlapping [from, lso), for the client to drop
 * (Kafka answers those of the fetched range; from the fetch offset to the LSO covers it). */
static void fill_aborted(struct request *req, struct plog *l, int64_t from, int64_t lso,
                         struct fetch_resp_partition *po)
{
    size_t n = plog_aborted_txns(l, from, lso, NULL, 0);
    if (n == 0)
        return;
    struct log_aborted_txn *v = arena_array(&req->arena, n, sizeof(*v));
    struct fetch_aborted_txn *out = arena_array(&req->arena, n, sizeof(*out));
    if (!v || !out)
        return;
    plog_aborted_txns(l, from, lso, v, n);
    for (size_t i = 0; i < n; i++)
        out[i] = (struct fetch_aborted_txn){v[i].producer_id, v[i].first_offset};
    po->aborted_transactions = out;
    po->naborted = (int32_t)n;
}

static void fill_partition(struct request *req, const struct fetch_req_partition *pi,
                           struct topic *t, struct fetch_resp_partition *po, int64_t *total,
                           int64_t limit, bool committed)
{
    po->partition_index = pi->partition;
    po->high_watermark = -1;
    po->last_stable_offset = -1;
    po->log_start_offset = -1;
    po->naborted = -1;
    po->preferred_read_replica = -1;
    po->records = (struct kbytes){(const uint8_t *)"", 0};
    if (!t || pi->partition < 0 || pi->partition >= t->npartitions) {
        po->error_code = KAFKA_UNKNOWN_TOPIC_OR_PARTITION;
        return;
    }
    struct plog *l = t->partitions[pi->partition];
    po->high_watermark = plog_end_offset(l);
    po->last_stable_offset = plog_last_stable_offset(l);
    po->log_start_offset = plog_start_offset(l);
    if (pi->partition_max_bytes <= 0 || (*total > 0 && *total >= limit))
        return; /* with nothing yet, even MaxBytes 0 returns one batch (KIP-74) */
    int64_t room = limit - *total;
    uint32_t max = (uint32_t)(room < pi->partition_max_bytes ? room : pi->partition_max_bytes);
    struct file_slice s;
    int64_t upto = committed ? po->last_stable_offset : INT64_MAX;
    int rc = plog_read_upto(l, pi->fetch_offset, max, upto, &s);
    if (rc == TANDEM_ERANGE) {
        po->error_code = KAFKA_OFFSET_OUT_OF_RANGE;
        return;
    }
    if (rc) {
        po->error_code = KAFKA_KAFKA_STORAGE_ERROR;
        return;
    }
    if (s.len == 0 || (*total > 0 && s.len > max)) { /* only the first may exceed (KIP-74) */
        if (s.len)
            log_slice_release(&s);
        return;
    }
    struct file_slice *heap = xmalloc(sizeof(*heap));
    *heap = s;
    po->records_ext = heap;
    po->records_ext_len = s.len;
    *total += s.len;
    if (committed) {
        po->naborted = 0;
        fill_aborted(req, l, pi->fetch_offset, po->last_stable_offset, po);
    }
}

/* A Fetch's parsed request and its response arrays, allocated once: a parked fetch is
 * re-evaluated on every wake, and allocating per evaluation grew its arena without bound. */
struct fetch_state {
    struct fetch_req in;
    struct fetch_resp_topic *topics;
};

/* Parses the body and allocates the response arrays. NULL when malformed or too large. */
static struct fetch_state *fetch_state_new(struct request *req)
{
    struct fetch_state *st = arena_alloc(&req->arena, sizeof(*st));
    if (!st ||
        kafka_parse_fetch_request(&req->body, req->hdr.request_api_version, &req->arena, &st->in))
        return NULL;
    st->topics = arena_array(&req->arena, (size_t)st->in.ntopics, sizeof(*st->topics));
    if (st->in.ntopics && !st->topics)
        return NULL;
    for (int32_t i = 0; i < st->in.ntopics; i++) {
        int32_t n = st->in.topics[i].npartitions;
        st->topics[i].topic = st->in.topics[i].topic;
        st->topics[i].npartitions = n;
        st->topics[i].partitions =
            arena_array(&req->arena, (size_t)n, sizeof(struct fetch_resp_partition));
        if (n && !st->topics[i].partitions)
            return NULL;
    }
    return st;
}

/* Builds the response; answers and returns true when it is time to, else releases and returns
 * false. */
static bool fetch_try(struct request *req, bool force)
{
    struct broker *b = req->b;
    struct fetch_state *st = req->state;
    const struct fetch_req *in = &st->in;
    struct fetch_resp resp = {.ntopics = in->ntopics, .topics = st->topics};
    int64_t total = 0, limit = in->max_bytes > 0 ? in->max_bytes : 0;
    bool error = false;
    for (int32_t i = 0; i < resp.ntopics; i++) {
        const struct fetch_req_topic *ti = &in->topics[i];
        struct fetch_resp_topic *to = &resp.topics[i];
        int16_t err;
        struct topic *t = api_topic(b, ti->topic, false, &err);
        memset(to->partitions, 0, (size_t)to->npartitions * sizeof(*to->partitions));
        for (int32_t j = 0; j < to->npartitions; j++) {
            fill_partition(req, &ti->partitions[j], t, &to->partitions[j], &total, limit,
                           in->isolation_level == 1);
            if (to->partitions[j].error_code)
                error = true;
        }
    }
    if (!force && !error && in->max_wait_ms > 0 && total < in->min_bytes) {
        release_slices(&resp);
        return false;
    }
    struct kw w;
    request_begin_response(req, &w);
    kafka_encode_fetch_response(&w, req->hdr.request_api_version, &resp);
    request_respond(req, &w);
    return true;
}

void handle_fetch(struct request *req)
{
    struct broker *b = req->b;
    struct fetch_state *st = fetch_state_new(req);
    if (!st) {
        request_fail(req, "malformed or oversized Fetch request");
        return;
    }
    req->state = st;
    if (fetch_try(req, b->stopping))
        return;

    /* Park: own the frame, re-parse so the request's strings point into our copy. */
    request_keep(req);
    arena_cleanup(&req->arena);
    arena_init(&req->arena, 0);
    st = fetch_state_new(req);
    if (!st) {
        request_fail(req, "malformed or oversized Fetch request");
        return;
    }
    req->state = st;
    int64_t wait = st->in.max_wait_ms;
    if (wait > b->cfg->fetch_max_wait_cap_ms)
        wait = b->cfg->fetch_max_wait_cap_ms;
    request_park(req, wait, fetch_try);
}
