/*
 * Opening a partition: listing its segments, recovering the active one, rebuilding indexes and
 * producer state.
 *
 * What is trusted. A segment is synced (log and both indexes) before the segment after it is
 * created, so every segment but the last one was complete on stable storage before anything
 * newer existed: its batches are trusted, only its indexes are checked (and rebuilt from the
 * batch headers when missing or inconsistent). The last (active) segment is scanned in full with
 * kbatch_validate (lengths, CRC-32C, record framing) and offsets must be contiguous (each
 * baseOffset == previous lastOffset + 1, the first == the segment's base offset); the first bad
 * batch and everything after it is cut off with ftruncate, and the indexes are rebuilt from the
 * scan. After a clean shutdown the marker gives the end offset and size of the active segment;
 * when the file still has that size the scan is skipped (only the indexes are checked).
 *
 * Producer state is read from the newest snapshot at or below the recovered end offset, then
 * completed from the headers of the batches after it (normally only the active segment's);
 * without a usable snapshot every header of the partition is read.
 *
 * Leftovers of interrupted operations are removed: "*.tmp" (a snapshot being written),
 * "*.deleted", index files without their .log, snapshots above the end offset.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "log/log_int.h"
#include "base/crc32c.h"
#include "tandem/error.h"

#define RECOVER_BUF_MAX (16u << 20) /* larger batches get a streamed CRC check */

/* Parses "<20 digits><ext>" exactly. */
static bool parse_offset_name(const char *name, const char *ext, int64_t *off)
{
    size_t n = strlen(name), e = strlen(ext);
    if (n != 20 + e || strcmp(name + 20, ext) != 0)
        return false;
    int64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (name[i] - '0');
    }
    *off = v;
    return true;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcmp(name + n - s, suffix) == 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

struct offsets {
    int64_t *v;
    int n, cap;
};

static void offsets_push(struct offsets *o, int64_t v)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 16;
        o->v = xrealloc(o->v, (size_t)o->cap * sizeof(*o->v));
    }
    o->v[o->n++] = v;
}

/* Lists segments and snapshots, removing leftovers. */
static int list_dir(const char *dir, struct offsets *logs, struct offsets *snaps)
{
    DIR *d = opendir(dir);
    if (!d)
        return TANDEM_EIO;
    for (;;) {
        struct dirent *de = readdir(d);
        if (!de)
            break;
        int64_t off;
        if (parse_offset_name(de->d_name, ".log", &off))
            offsets_push(logs, off);
        else if (parse_offset_name(de->d_name, ".snapshot", &off))
            offsets_push(snaps, off);
        else if (has_suffix(de->d_name, ".tmp") || has_suffix(de->d_name, ".deleted"))
            unlinkat(dirfd(d), de->d_name, 0);
    }
    rewinddir(d);
    for (;;) { /* index files whose .log is gone */
        struct dirent *de = readdir(d);
        if (!de)
            break;
        int64_t off;
        char p[64];
        if (!parse_offset_name(de->d_name, ".index", &off) &&
            !parse_offset_name(de->d_name, ".timeindex", &off))
            continue;
        snprintf(p, sizeof(p), "%020" PRId64 ".log", off);
        if (faccessat(dirfd(d), p, F_OK, 0) != 0)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
    if (logs->n > 1)
        qsort(logs->v, (size_t)logs->n, sizeof(int64_t), cmp_i64);
    if (snaps->n > 1)
        qsort(snaps->v, (size_t)snaps->n, sizeof(int64_t), cmp_i64);
    return 0;
}

/* The log start offset: LOG_START_FILE's when it is above the first segment's base offset (it
 * may name an offset inside a segment), never past the end offset (records above what was
 * durable may be gone after a crash). */
static int64_t read_log_start(const struct plog *l)
{
    char path[4096], line[64];
    int64_t start = l->segs[0]->base_offset;
    snprintf(path, sizeof(path), "%s/%s", l->dir, LOG_START_FILE);
    FILE *f = fopen(path, "re");
    if (!f)
        return start;
    if (fgets(line, sizeof(line), f)) {
        char *end = NULL;
        long long v = strtoll(line, &end, 10);
        if (end != line && (*end == '\n' || *end == '\0') && v > start)
            start = v < l->end_offset ? v : l->end_offset;
    }
    fclose(f);
    return start;
}

/* Checks a batch too large for the scan buffer: header rules and a streamed CRC. */
static int validate_streamed(struct segment *s, uint64_t pos, const struct kbatch *b, uint8_t *buf)
{
    if ((int64_t)b->last_offset_delta + 1 != b->records_count)
        return TANDEM_ECORRUPT;
    uint32_t crc = 0;
    uint64_t at = pos + KBATCH_CRC_START, end = pos + kbatch_size(b);
    while (at < end) {
        size_t n = end - at > RECOVER_BUF_MAX ? RECOVER_BUF_MAX : (size_t)(end - at);
        if (log_pread_all(s->fd, buf, n, (off_t)at))
            return TANDEM_EIO;
        crc = crc32c(crc, buf, n);
        at += n;
    }
    return crc == b->crc ? 0 : TANDEM_ECORRUPT;
}

int seg_recover(struct segment *s, uint32_t interval, const char *name, int64_t *batches,
                uint64_t *truncated)
{
    uint8_t *buf = xmalloc(RECOVER_BUF_MAX);
    uint64_t pos = 0;
    int64_t expect = s->base_offset;
    const char *why = "end";
    *batches = 0;
    *truncated = 0;
    if (seg_index_reset(s))
        goto io_fail;
    while (pos < s->size) {
        struct kbatch b;
        size_t used = 0;
        int rc = seg_read_header(s, pos, &b);
        if (rc == TANDEM_EIO)
            goto io_fail;
        uint64_t size = rc ? 0 : kbatch_size(&b);
        if (rc || pos + size > s->size) {
            why = rc == TANDEM_EAGAIN || (rc == 0 && pos + size > s->size) ? "torn batch"
                                                                           : "bad header";
            break;
        }
        if (b.base_offset != expect) {
            why = "offsets not contiguous";
            break;
        }
        if (size <= RECOVER_BUF_MAX) {
            if (log_pread_all(s->fd, buf, size, (off_t)pos))
                goto io_fail;
            rc = kbatch_validate(buf, size, &b, &used);
        } else {
            rc = validate_streamed(s, pos, &b, buf);
        }
        if (rc == TANDEM_EIO)
            goto io_fail;
        if (rc) {
            why = "corrupt batch";
            break;
        }
        seg_index_batch(s, &b, pos, size, interval);
        (*batches)++;
        expect = b.base_offset + b.last_offset_delta + 1;
        pos += size;
    }
    if (pos < s->size) {
        *truncated = s->size - pos;
        log_warn("truncating log tail",
                 "\"partition\":\"%s\",\"segment\":%" PRId64 ",\"position\":%" PRIu64
                 ",\"bytes_truncated\":%" PRIu64 ",\"reason\":\"%s\"",
                 name, s->base_offset, pos, *truncated, why);
        if (ftruncate(s->fd, (off_t)pos) || fdatasync(s->fd))
            goto io_fail;
        s->size = pos;
    }
    s->next_offset = expect;
    s->synced_size = s->size;
    free(buf);
    return 0;
io_fail:
    log_error("recovery I/O error", "\"partition\":\"%s\",\"errno\":%d", name, errno);
    free(buf);
    return TANDEM_EIO;
}

/* Checked before seg_open, which creates missing index files. */
static bool index_files_exist(const char *dir, int64_t base)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof(p), "%s/%020" PRId64 ".index", dir, base);
    if (stat(p, &st))
        return false;
    snprintf(p, sizeof(p), "%s/%020" PRId64 ".timeindex", dir, base);
    return stat(p, &st) == 0;
}

/* Rolled segments: trusted batches, checked indexes. Returns 1 when an index was rebuilt. */
static int open_rolled(struct plog *l, struct segment *s, bool missing)
{
    int rebuilt = 0;
    if (missing || seg_load_index(s)) {
        log_warn("rebuilding segment index", "\"partition\":\"%s\",\"segment\":%" PRId64, l->name,
                 s->base_offset);
        if (seg_rebuild_index(s, l->cfg->index_interval_bytes))
            return TANDEM_EIO;
        if (fdatasync(s->fd_index) || fdatasync(s->fd_timeindex))
            return TANDEM_EIO;
        rebuilt = 1;
    }
    seg_close_index_fds(s);
    return rebuilt;
}

/* Reads the headers from offset `from` to the end into the producer table. */
static int64_t scan_producers(struct plog *l, int64_t from)
{
    int64_t n = 0;
    for (int i = 0; i < l->nsegs; i++) {
        struct segment *s = l->segs[i];
        if (s->next_offset <= from)
            continue;
        uint64_t pos = seg_index_lookup(s, from);
        while (pos < s->size) {
            struct kbatch b;
            if (seg_read_header(s, pos, &b))
                break;
            if (b.base_offset >= from) {
                producers_update(&l->producers, &b);
                n++;
            }
            pos += kbatch_size(&b);
        }
    }
    return n;
}

static int64_t load_producers(struct plog *l, const struct offsets *snaps)
{
    char p[4096];
    int64_t from = l->segs[0]->base_offset;
    for (int i = snaps->n - 1; i >= 0; i--) {
        int64_t off = -1;
        snprintf(p, sizeof(p), "%s/%020" PRId64 ".snapshot", l->dir, snaps->v[i]);
        if (snaps->v[i] <= l->end_offset && producers_snapshot_read(&l->producers, p, &off) == 0 &&
            off == snaps->v[i]) {
            from = off > from ? off : from;
            break;
        }
        producers_cleanup(&l->producers);
        unlink(p); /* above the end (truncated data) or unreadable */
    }
    return scan_producers(l, from);
}

static int open_segments(struct plog *l, const struct offsets *logs, const struct plog_hint *hint,
                         int64_t *scanned, uint64_t *truncated, int *rebuilt)
{
    for (int i = 0; i < logs->n; i++) {
        struct segment *s = NULL;
        bool missing = !index_files_exist(l->dir, logs->v[i]);
        int rc = seg_open(l->dir, logs->v[i], false, &s);
        if (rc)
            return rc;
        l->segs[l->nsegs++] = s;
        if (i + 1 < logs->n) {
            s->next_offset = logs->v[i + 1];
            rc = open_rolled(l, s, missing);
            if (rc < 0)
                return rc;
            *rebuilt += rc;
        } else {
            /* After a clean shutdown, a file of the size it was left with needs no scan. */
            bool trusted = false;
            if (hint && hint->clean && hint->active_size == s->size &&
                hint->end_offset >= s->base_offset && !missing) {
                s->next_offset = hint->end_offset;
                trusted = seg_load_index(s) == 0;
            }
            if (!trusted) {
                s->next_offset = s->base_offset;
                rc = seg_recover(s, l->cfg->index_interval_bytes, l->name, scanned, truncated);
                if (rc)
                    return rc;
            }
        }
        l->total_bytes += s->size;
    }
    return 0;
}

int plog_open(const char *dir, const char *name, const struct log_config *cfg,
              const struct plog_hint *hint, struct plog **out)
{
    int64_t t0 = clock_wall_ms(), scanned = 0;
    uint64_t truncated = 0;
    int rebuilt = 0, rc;
    struct offsets logs = {0}, snaps = {0};
    struct plog *l = xcalloc(1, sizeof(*l));
    l->dir = xstrndup(dir, strlen(dir));
    l->name = xstrndup(name, strlen(name));
    l->cfg = cfg;
    pthread_mutex_init(&l->lock, NULL);
    producers_init(&l->producers);
    if (mkdir(dir, 0755) && errno != EEXIST) {
        rc = TANDEM_EIO;
        goto fail;
    }
    rc = list_dir(dir, &logs, &snaps);
    if (rc)
        goto fail;
    if (logs.n == 0) { /* a new partition */
        offsets_push(&logs, 0);
        struct segment *s = NULL;
        rc = seg_open(dir, 0, true, &s);
        if (rc)
            goto fail;
        seg_unref(s);
        if (file_fsync_dir(dir)) {
            rc = TANDEM_EIO;
            goto fail;
        }
    }
    l->segs_cap = logs.n + 4;
    l->segs = xcalloc((size_t)l->segs_cap, sizeof(*l->segs));
    rc = open_segments(l, &logs, hint, &scanned, &truncated, &rebuilt);
    if (rc)
        goto fail;
    struct segment *active = l->segs[l->nsegs - 1];
    l->end_offset = active->next_offset;
    if (fdatasync(active->fd)) { /* what a crashed process left in the page cache */
        rc = TANDEM_EIO;
        goto fail;
    }
    atomic_init(&l->durable, l->end_offset);
    int64_t pscanned = load_producers(l, &snaps);
    l->log_start = read_log_start(l);
    plog_drop_below_start(l);
    int64_t markers = ptxn_rebuild(l);
    log_info("partition opened",
             "\"partition\":\"%s\",\"segments\":%d,\"log_start_offset\":%" PRId64
             ",\"log_end_offset\":%" PRId64 ",\"clean\":%s,\"batches_scanned\":%" PRId64
             ",\"bytes_truncated\":%" PRIu64
             ",\"indexes_rebuilt\":%d,\"producer_headers_read\":%" PRId64
             ",\"producers\":%u,\"txn_markers\":%" PRId64 ",\"open_txns\":%d"
             ",\"aborted_txns\":%zu,\"duration_ms\":%" PRId64,
             name, l->nsegs, l->log_start, l->end_offset, hint && hint->clean ? "true" : "false",
             scanned, truncated, rebuilt, pscanned, l->producers.count, markers, l->txns.nopen,
             l->txns.naborted, clock_wall_ms() - t0);
    free(logs.v);
    free(snaps.v);
    *out = l;
    return 0;
fail:
    log_error("partition open failed", "\"partition\":\"%s\",\"error\":\"%s\"", name,
              tandem_strerror(rc));
    free(logs.v);
    free(snaps.v);
    plog_free(l);
    return rc;
}
