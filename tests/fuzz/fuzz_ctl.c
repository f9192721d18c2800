/*
 * libFuzzer target for the tandem supervisor's control request line (src/cli/ctl_request.c):
 * what the supervisor does with the bytes a client writes to var/tandem/ctl.sock.
 *
 * Input: the bytes received so far, in a buffer of the supervisor's size (CTL_REQUEST_MAX, so the
 * parser never sees more than the supervisor would). Invariants, checked with __builtin_trap():
 *   - every outcome is one of: a request, "need more", or a refusal with a message;
 *   - "need more" only while no '\n' and no byte outside 0x20-0x7e was seen and the buffer is
 *     not full: every finished line gets an answer;
 *   - a request consumed exactly its line, and its names are non-empty strings of printable
 *     non-space ASCII inside the buffer; scale counts are 0..999999.
 * ASan/UBSan catch out-of-bounds accesses.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cli/ctl_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char buf[CTL_REQUEST_MAX];
    size_t len = size < sizeof(buf) - 1 ? size : sizeof(buf) - 1;
    memcpy(buf, data, len);
    struct ctl_request r;
    size_t used = 0;
    char err[160];
    err[0] = '\0';
    int rc = ctl_request_parse(buf, len, &r, &used, err, sizeof(err));
    const uint8_t *nl = memchr(data, '\n', len);
    bool clean = true;
    for (size_t i = 0; i < len && &data[i] != nl; i++) {
        clean = clean && data[i] >= 0x20 && data[i] <= 0x7e;
    }
    if (rc == CTL_NEED_MORE) {
        check(nl == NULL && clean && len < CTL_REQUEST_MAX - 1);
        return 0;
    }
    if (rc != 0) {
        check(rc < 0 && err[0] != '\0' && strlen(err) < sizeof(err));
        return 0;
    }
    check(nl != NULL && clean && used == (size_t)(nl - data) + 1);
    check(r.kind <= CTL_RESTART && r.n <= CTL_MAX_ARGS);
    for (size_t i = 0; i < r.n; i++) {
        check(r.name[i] >= buf && r.name[i] < buf + used && r.name[i][0] != '\0');
        for (const char *p = r.name[i]; *p != '\0'; p++) {
            check(*p > 0x20 && *p <= 0x7e && p < buf + used);
        }
        check(r.kind != CTL_SCALE || (r.count[i] >= 0 && r.count[i] <= 999999));
    }
    check(r.kind < CTL_SCALE ? r.n == 0 : r.n >= 1);
    return 0;
}
