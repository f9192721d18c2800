/*
 * libFuzzer target for tandem-load's response parser (bench/load/resp.c on http-parser).
 *
 * The first input byte: bit 0 says the request was HEAD, the rest picks a read size (1..128);
 * the remaining bytes are one connection's stream of answers. They are parsed twice, as
 * tandem-load does (answers one after another, each fed in reads of that size, then an end of
 * stream), once in reads of the chosen size and once whole, and the two runs must agree.
 * Invariants checked, beyond "no crash, no sanitizer report":
 *   - load_resp_feed returns 0, TANDEM_EAGAIN (having consumed every byte) or TANDEM_EPROTO, and
 *     never consumes more than it was given;
 *   - a complete answer has a final status (200..599 here: 1xx are skipped, 101 refused) and,
 *     for HEAD, no body bytes;
 *   - how the bytes are cut into reads changes nothing: the same answers (status, body size,
 *     keep-alive) end at the same offsets, and the stream ends the same way.
 * Seeds: tests/fuzz/corpus/load_resp/ (sized, chunked, until-close, interim 1xx, 304, 503).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../bench/load/resp.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ANSWERS 64

struct outcome {
    int n; /* complete answers */
    int status[MAX_ANSWERS];
    size_t body[MAX_ANSWERS];
    bool ka[MAX_ANSWERS];
    size_t end[MAX_ANSWERS]; /* stream offset after each answer */
    int last_rc;             /* how the stream ended */
};

static void run(const char *p, size_t len, size_t step, bool head, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    size_t at = 0;
    struct load_resp r;
    load_resp_begin(&r, head);
    for (;;) {
        size_t n = len - at < step ? len - at : step; /* 0 at the end: the peer closed */
        size_t used = 0;
        int rc = load_resp_feed(&r, p + at, n, &used);
        if (used > n || (rc == TANDEM_EAGAIN && used != n)) {
            abort();
        }
        at += used;
        if (rc == 0) {
            if (r.status < 200 || r.status > 599 || (head && r.body_bytes != 0)) {
                abort();
            }
            o->status[o->n] = r.status;
            o->body[o->n] = r.body_bytes;
            o->ka[o->n] = r.keep_alive;
            o->end[o->n] = at;
            o->n++;
            if (n == 0 || !r.keep_alive || o->n == MAX_ANSWERS) {
                o->last_rc = 0;
                return;
            }
            load_resp_begin(&r, head);
            continue;
        }
        if (rc != TANDEM_EAGAIN) {
            if (rc != TANDEM_EPROTO) {
                abort();
            }
            o->last_rc = rc;
            return;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    bool head = data[0] & 1;
    size_t step = (size_t)(data[0] >> 1) + 1;
    const char *p = (const char *)data + 1;
    size_t len = size - 1;
    struct outcome cut, whole;
    run(p, len, step, head, &cut);
    run(p, len, len > 0 ? len : 1, head, &whole);
    if (cut.n != whole.n || cut.last_rc != whole.last_rc) {
        abort();
    }
    for (int i = 0; i < cut.n; i++) {
        if (cut.status[i] != whole.status[i] || cut.body[i] != whole.body[i] ||
            cut.ka[i] != whole.ka[i] || cut.end[i] != whole.end[i]) {
            abort();
        }
    }
    return 0;
}
