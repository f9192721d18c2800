/*
 * body.c: what tandem-ingest's REST sender writes, pure (tests/unit/test_ingest_codec.c reads it
 * back with jansson): the route of each mode and the request bodies.
 *
 *   fleet, one position      {"id":7,"lat":48.8566000,"lon":2.3522000,"speed":8.300,
 *                             "heading":90.00,"ts":1796500000000}           (codec.c)
 *   fleet, a batch           {"positions":[{...},{...}]}
 *   activity                 {"anonymousId":"v7","events":[{"type":"page_view",
 *                             "path":"/article/a12","slug":"a12"},...]}
 *
 * A beacon is one page view of visitor v<id> (the vehicle's id: the same simulator drives both
 * workloads), of one of 64 articles chosen by the fix, so the activity service counts reads of a
 * few slugs as a blog's readers would.
 */
#include <string.h>

#include "ingest_io.h"

const char *rest_path(enum workload wl, enum mode m)
{
    bool batch = m == M_REST_BATCH || m == M_REST_BATCH_DIRECT;
    if (wl == WL_ACTIVITY) {
        return m == M_EVENTS || m == M_EVENTS_BATCH ? ACTIVITY_POST : ACTIVITY_POST_SYNC;
    }
    return batch ? FLEET_POST_BATCH : FLEET_POST;
}

static size_t put(char *out, size_t at, const char *s)
{
    size_t n = strlen(s);
    memcpy(out + at, s, n);
    return at + n;
}

/* One page view of visitor p->id: an article among 64, chosen by the fix. */
static size_t beacon(const struct pos *p, char *out, size_t at)
{
    char slug[32] = "a";
    size_t sl = 1 + fmt_u64((uint64_t)(p->ts + (int64_t)p->id) % 64, slug + 1);
    slug[sl] = '\0';
    at = put(out, at, "{\"type\":\"page_view\",\"path\":\"/article/");
    at = put(out, at, slug);
    at = put(out, at, "\",\"slug\":\"");
    at = put(out, at, slug);
    return put(out, at, "\"}");
}

size_t rest_body(enum workload wl, bool batch, const struct item *items, int n, char *out,
                 size_t cap)
{
    if (n <= 0 || cap < (size_t)n * POS_JSON_MAX + 64) {
        return 0;
    }
    size_t at = 0;
    if (wl == WL_ACTIVITY) {
        at = put(out, at, "{\"anonymousId\":\"v");
        at += fmt_u64(items[0].p.id, out + at);
        at = put(out, at, "\",\"events\":[");
        for (int i = 0; i < n; i++) {
            at = beacon(&items[i].p, out, i > 0 ? put(out, at, ",") : at);
        }
        return put(out, at, "]}");
    }
    if (!batch) {
        return pos_encode_json(&items[0].p, out, cap);
    }
    at = put(out, at, "{\"positions\":[");
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            out[at++] = ',';
        }
        at += pos_encode_json(&items[i].p, out + at, cap - at);
    }
    return put(out, at, "]}");
}
