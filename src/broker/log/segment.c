/*
 * One segment: a .log file of record batches and its two sparse indexes.
 *
 * The .log holds batches v2 back to back, verbatim (record_batch.h has the layout). The indexes
 * follow Kafka's rule (LogSegment.append): before a batch is written, if more than
 * index.interval.bytes were appended since the last entry, that batch gets an entry; so the
 * first batch of a segment never has one (position 0 is implied) and index_interval_bytes = 0
 * indexes every batch but the first.
 *
 * .index, one entry per indexed batch (offsets are relative to the segment's base offset, as in
 * Kafka; unlike Kafka's, which keys on the batch's last offset, ours keys on its base offset):
 *
 *   OFFSET SIZE FIELD
 *   0      4    relativeOffset   u32 BE, batch baseOffset - segment base offset
 *   4      4    position         u32 BE, byte position of the batch in the .log
 *
 * .timeindex, an entry at each index point when the segment's largest timestamp grew, and a
 * final one when the segment is rolled or closed (so its last entry is the segment's largest
 * timestamp, which retention.ms uses):
 *
 *   OFFSET SIZE FIELD
 *   0      8    timestamp        i64 BE, largest batch maxTimestamp so far (strictly increasing)
 *   8      4    relativeOffset   u32 BE, base offset of the batch that carried it - base offset
 *
 * Both indexes live whole in memory (sizeof 8 and 16 bytes per ~4 KiB of log) and are written
 * with pwrite as they grow; once a segment is rolled its index files are synced and closed.
 * Index files are derived data: a missing or inconsistent one is rebuilt from the batch headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "log/log_int.h"
#include "base/kbuf.h"
#include "tandem/error.h"

static char *seg_file(const struct segment *s, const char *ext, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", s->path, ext);
    return buf;
}

int seg_open(const char *dir, int64_t base_offset, bool create, struct segment **out)
{
    char p[4096], esc[600];
    struct segment *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->base_offset = base_offset;
    s->next_offset = base_offset;
    s->fd = s->fd_index = s->fd_timeindex = -1;
    s->max_ts = INT64_MIN;
    s->max_ts_offset = -1;
    s->created_ms = clock_wall_ms();
    size_t n = strlen(dir) + 32;
    s->path = xmalloc(n);
    snprintf(s->path, n, "%s/%020" PRId64, dir, base_offset);
    int flags = O_RDWR | O_CLOEXEC | O_CREAT | (create ? O_TRUNC : 0);
    s->fd = open(seg_file(s, ".log", p, sizeof(p)), flags, 0644);
    if (s->fd < 0)
        goto fail;
    s->fd_index = open(seg_file(s, ".index", p, sizeof(p)), flags, 0644);
    if (s->fd_index < 0)
        goto fail;
    s->fd_timeindex = open(seg_file(s, ".timeindex", p, sizeof(p)), flags, 0644);
    if (s->fd_timeindex < 0)
        goto fail;
    struct stat st;
    if (fstat(s->fd, &st))
        goto fail;
    s->size = (uint64_t)st.st_size;
    s->synced_size = s->size;
    *out = s;
    return 0;
fail:
    log_error("segment open failed", "\"path\":%s,\"errno\":%d", log_json_str(esc, sizeof(esc), p),
              errno);
    seg_unref(s);
    return TANDEM_EIO;
}

void seg_ref(struct segment *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void seg_unref(struct segment *s)
{
    if (!s || atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (s->fd >= 0)
        close(s->fd);
    seg_close_index_fds(s);
    free(s->idx);
    free(s->tidx);
    free(s->path);
    free(s);
}

void seg_close_index_fds(struct segment *s)
{
    if (s->fd_index >= 0)
        close(s->fd_index);
    if (s->fd_timeindex >= 0)
        close(s->fd_timeindex);
    s->fd_index = s->fd_timeindex = -1;
}

void seg_unlink(struct segment *s)
{
    char p[4096];
    unlink(seg_file(s, ".log", p, sizeof(p)));
    unlink(seg_file(s, ".index", p, sizeof(p)));
    unlink(seg_file(s, ".timeindex", p, sizeof(p)));
}

int seg_write(struct segment *s, const void *p, size_t len)
{
    if (file_pwrite_all(s->fd, p, len, (off_t)s->size) == 0)
        return 0;
    int err = errno;
    char esc[600];
    log_json_str(esc, sizeof(esc), s->path);
    if (ftruncate(s->fd, (off_t)s->size))
        log_error("segment truncate after failed write failed", "\"path\":%s,\"errno\":%d", esc,
                  errno);
    log_error("segment write failed", "\"path\":%s,\"errno\":%d", esc, err);
    return TANDEM_EIO;
}

int seg_read_header(struct segment *s, uint64_t pos, struct kbatch *b)
{
    uint8_t h[KBATCH_HEADER_SIZE];
    if (pos + KBATCH_HEADER_SIZE > s->size)
        return TANDEM_EAGAIN;
    int rc = log_pread_all(s->fd, h, sizeof(h), (off_t)pos);
    if (rc)
        return rc;
    return kbatch_parse_header(h, sizeof(h), b);
}

static void idx_push(struct segment *s, uint32_t rel, uint32_t pos)
{
    if (s->nidx == s->idx_cap) {
        s->idx_cap = s->idx_cap ? s->idx_cap * 2 : 64;
        s->idx = xrealloc(s->idx, s->idx_cap * sizeof(*s->idx));
    }
    if (s->fd_index >= 0) {
        uint8_t e[LOG_IDX_ENTRY];
        put_be32(e, rel);
        put_be32(e + 4, pos);
        /* A failed write leaves a hole that seg_load_index rejects: the index gets rebuilt. */
        (void)file_pwrite_all(s->fd_index, e, sizeof(e), (off_t)s->nidx * LOG_IDX_ENTRY);
    }
    s->idx[s->nidx++] = (struct idx_entry){rel, pos};
}

static void tidx_push(struct segment *s, int64_t ts, uint32_t rel)
{
    if (s->ntidx == s->tidx_cap) {
        s->tidx_cap = s->tidx_cap ? s->tidx_cap * 2 : 64;
        s->tidx = xrealloc(s->tidx, s->tidx_cap * sizeof(*s->tidx));
    }
    if (s->fd_timeindex >= 0) {
        uint8_t e[LOG_TIDX_ENTRY];
        put_be64(e, (uint64_t)ts);
        put_be32(e + 8, rel);
        (void)file_pwrite_all(s->fd_timeindex, e, sizeof(e), (off_t)s->ntidx * LOG_TIDX_ENTRY);
    }
    s->tidx[s->ntidx++] = (struct tidx_entry){ts, rel};
}

static bool tidx_wants(const struct segment *s)
{
    return s->max_ts != INT64_MIN && (s->ntidx == 0 || s->max_ts > s->tidx[s->ntidx - 1].ts);
}

void seg_index_batch(struct segment *s, const struct kbatch *b, uint64_t pos, size_t size,
                     uint32_t interval)
{
    if (s->max_ts == INT64_MIN || b->max_timestamp > s->max_ts) {
        s->max_ts = b->max_timestamp;
        s->max_ts_offset = b->base_offset;
    }
    if (s->bytes_since_index > interval) {
        idx_push(s, (uint32_t)(b->base_offset - s->base_offset), (uint32_t)pos);
        if (tidx_wants(s))
            tidx_push(s, s->max_ts, (uint32_t)(s->max_ts_offset - s->base_offset));
        s->bytes_since_index = 0;
    }
    s->bytes_since_index += size;
}

void seg_index_finish(struct segment *s)
{
    if (s->size > 0 && tidx_wants(s))
        tidx_push(s, s->max_ts, (uint32_t)(s->max_ts_offset - s->base_offset));
}

uint64_t seg_index_lookup(const struct segment *s, int64_t offset)
{
    if (offset <= s->base_offset || s->nidx == 0)
        return 0;
    uint64_t rel = (uint64_t)(offset - s->base_offset);
    uint32_t lo = 0, hi = s->nidx; /* first entry with rel > target */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->idx[mid].rel <= rel)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : s->idx[lo - 1].pos;
}

int64_t seg_time_lookup(const struct segment *s, int64_t ts)
{
    uint32_t lo = 0, hi = s->ntidx; /* first entry with ts_e >= ts */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->tidx[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? s->base_offset : s->base_offset + s->tidx[lo - 1].rel;
}

/* Reads a whole index file into a fresh buffer; *n is its size. */
static int read_whole(int fd, uint8_t **out, size_t *n)
{
    struct stat st;
    *out = NULL;
    *n = 0;
    if (fd < 0 || fstat(fd, &st))
        return TANDEM_EIO;
    if (st.st_size == 0)
        return 0;
    uint8_t *p = xmalloc((size_t)st.st_size);
    if (log_pread_all(fd, p, (size_t)st.st_size, 0)) {
        free(p);
        return TANDEM_EIO;
    }
    *out = p;
    *n = (size_t)st.st_size;
    return 0;
}

static int load_offset_index(struct segment *s, int fd)
{
    uint8_t *p;
    size_t n;
    if (read_whole(fd, &p, &n) || n % LOG_IDX_ENTRY)
        goto fail;
    int64_t span = s->next_offset - s->base_offset;
    for (size_t i = 0; i < n / LOG_IDX_ENTRY; i++) {
        uint32_t rel = be32(p + i * LOG_IDX_ENTRY), pos = be32(p + i * LOG_IDX_ENTRY + 4);
        bool ordered =
            s->nidx == 0 || (rel > s->idx[s->nidx - 1].rel && pos > s->idx[s->nidx - 1].pos);
        if (!ordered || rel == 0 || (int64_t)rel >= span || pos == 0 || pos >= s->size)
            goto fail;
        idx_push(s, rel, pos);
    }
    free(p);
    if (s->nidx > 0) { /* the last entry must point at the batch it names */
        struct kbatch b;
        const struct idx_entry *e = &s->idx[s->nidx - 1];
        if (seg_read_header(s, e->pos, &b) || b.base_offset != s->base_offset + e->rel)
            return TANDEM_ECORRUPT;
    }
    return 0;
fail:
    free(p);
    return TANDEM_ECORRUPT;
}

static int load_time_index(struct segment *s, int fd)
{
    uint8_t *p;
    size_t n;
    if (read_whole(fd, &p, &n) || n % LOG_TIDX_ENTRY)
        goto fail;
    int64_t span = s->next_offset - s->base_offset;
    for (size_t i = 0; i < n / LOG_TIDX_ENTRY; i++) {
        int64_t ts = (int64_t)be64(p + i * LOG_TIDX_ENTRY);
        uint32_t rel = be32(p + i * LOG_TIDX_ENTRY + 8);
        bool ordered =
            s->ntidx == 0 || (ts > s->tidx[s->ntidx - 1].ts && rel >= s->tidx[s->ntidx - 1].rel);
        if (!ordered || (int64_t)rel >= span)
            goto fail;
        tidx_push(s, ts, rel);
    }
    free(p);
    if (s->size > 0 && s->ntidx == 0) /* rolled and cleanly closed segments end with an entry */
        return TANDEM_ECORRUPT;
    if (s->ntidx > 0) {
        s->max_ts = s->tidx[s->ntidx - 1].ts;
        s->max_ts_offset = s->base_offset + s->tidx[s->ntidx - 1].rel;
    }
    return 0;
fail:
    free(p);
    return TANDEM_ECORRUPT;
}

static void index_reset(struct segment *s)
{
    s->nidx = s->ntidx = 0;
    s->max_ts = INT64_MIN;
    s->max_ts_offset = -1;
    s->bytes_since_index = 0;
}

int seg_load_index(struct segment *s)
{
    /* Pushing entries while loading must not write them back: hide the fds meanwhile. */
    int fdi = s->fd_index, fdt = s->fd_timeindex;
    s->fd_index = s->fd_timeindex = -1;
    int rc = load_offset_index(s, fdi);
    if (rc == 0)
        rc = load_time_index(s, fdt);
    s->fd_index = fdi;
    s->fd_timeindex = fdt;
    if (rc) {
        index_reset(s);
        return TANDEM_ECORRUPT;
    }
    s->bytes_since_index = s->size - (s->nidx ? s->idx[s->nidx - 1].pos : 0);
    return 0;
}

int seg_index_reset(struct segment *s)
{
    index_reset(s);
    if ((s->fd_index >= 0 && ftruncate(s->fd_index, 0)) ||
        (s->fd_timeindex >= 0 && ftruncate(s->fd_timeindex, 0)))
        return TANDEM_EIO;
    return 0;
}

int seg_rebuild_index(struct segment *s, uint32_t interval)
{
    if (seg_index_reset(s))
        return TANDEM_EIO;
    uint64_t pos = 0;
    int64_t expect = s->base_offset;
    while (pos < s->size) {
        struct kbatch b;
        int rc = seg_read_header(s, pos, &b);
        if (rc || b.base_offset != expect || pos + kbatch_size(&b) > s->size) {
            log_error("segment has a bad batch header; index stops there",
                      "\"path\":\"%s\",\"position\":%" PRIu64, s->path, pos);
            break;
        }
        seg_index_batch(s, &b, pos, kbatch_size(&b), interval);
        expect = b.base_offset + b.last_offset_delta + 1;
        pos += kbatch_size(&b);
    }
    seg_index_finish(s);
    return 0;
}
