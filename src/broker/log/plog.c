/*
 * One partition's log: append, read, time lookup, durability, rolling and retention.
 *
 * Appends are all or nothing. One plog_append carries every batch one Produce request has for
 * the partition: they are checked first (sizes, and the idempotent producers' sequences across
 * them, producers_plan), then written to the active (last) segment with one pwrite at its tracked
 * size, rolling first when the whole append would not fit (as Kafka's maybeRoll does, once per
 * append). Only then are the new size, the segment's next offset and the partition's end offset
 * published, under plog.lock, so the flusher sees a consistent (segment list, sizes, end offset)
 * triple and no reader ever sees part of an append. A failed write is cut back with ftruncate to
 * where the append began and reported as TANDEM_EIO, leaving the log as it was.
 *
 * Durability. plog_sync (flusher thread) takes the lock only to note, for each segment with
 * bytes beyond synced_size, a reference and the size to reach, and the end offset they cover;
 * the fdatasync calls run without the lock, so appends never wait for the disk. The durable
 * offset then advances (atomic, monotonic). Rolling syncs the old segment and its indexes and
 * fsyncs the directory on the loop thread, once per segment.bytes, which is what lets recovery
 * trust every segment but the last.
 *
 * Retention (plog_maintain) removes whole segments from the front, never the active one: while
 * the partition minus the oldest segment is still >= retention.bytes, or while the oldest
 * segment's largest timestamp (its file time when no batch has one) is older than retention.ms.
 * A removed segment is unlinked at once; slices still holding it keep reading its open fd.
 */
#include <errno.h>
#include <inttypes.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "log/log_int.h"
#include "tandem/error.h"

static struct segment *active_seg(const struct plog *l)
{
    return l->segs[l->nsegs - 1];
}

int64_t plog_start_offset(const struct plog *l)
{
    return l->log_start;
}

int64_t plog_end_offset(const struct plog *l)
{
    return l->end_offset;
}

uint64_t plog_size_bytes(const struct plog *l)
{
    return l->total_bytes;
}

int64_t plog_durable_offset(struct plog *l)
{
    return atomic_load_explicit(&l->durable, memory_order_acquire);
}

void plog_prune_snapshots(const char *dir, int64_t keep_from)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (;;) {
        struct dirent *de = readdir(d);
        if (!de)
            break;
        char *end = NULL;
        long long off = strtoll(de->d_name, &end, 10);
        if (end == de->d_name + 20 && strcmp(end, ".snapshot") == 0 && off < keep_from)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
}

int plog_roll(struct plog *l)
{
    struct segment *old = active_seg(l), *s = NULL;
    seg_index_finish(old);
    if (fdatasync(old->fd) || fdatasync(old->fd_index) || fdatasync(old->fd_timeindex)) {
        log_error("sync before roll failed", "\"partition\":\"%s\",\"errno\":%d", l->name, errno);
        return TANDEM_EIO;
    }
    if (producers_snapshot_write(&l->producers, l->dir, l->end_offset))
        log_warn("producer snapshot failed", "\"partition\":\"%s\",\"errno\":%d", l->name, errno);
    int rc = seg_open(l->dir, l->end_offset, true, &s);
    if (rc)
        return rc;
    if (file_fsync_dir(l->dir)) {
        seg_unlink(s);
        seg_unref(s);
        return TANDEM_EIO;
    }
    seg_close_index_fds(old);
    pthread_mutex_lock(&l->lock);
    if (l->nsegs == l->segs_cap) {
        l->segs_cap *= 2;
        l->segs = xrealloc(l->segs, (size_t)l->segs_cap * sizeof(*l->segs));
    }
    l->segs[l->nsegs++] = s;
    if (old->synced_size < old->size)
        old->synced_size = old->size;
    pthread_mutex_unlock(&l->lock);
    plog_prune_snapshots(l->dir, l->end_offset);
    log_debug("segment rolled", "\"partition\":\"%s\",\"base_offset\":%" PRId64, l->name,
              s->base_offset);
    return 0;
}

/* Whether an append of len bytes ending at last_offset must go to a new segment. */
static bool need_roll(const struct plog *l, size_t len, int64_t last_offset, int64_t now)
{
    const struct segment *s = active_seg(l);
    if (s->size == 0)
        return false;
    return s->size + len > l->cfg->segment_bytes || now - s->created_ms > l->cfg->segment_ms ||
           s->size + len > UINT32_MAX || last_offset - s->base_offset > (int64_t)UINT32_MAX;
}

/* Checks what the caller promised and plans the append (offsets, duplicates). Returns 0 with
 * *wlen (bytes to write) and *last (the last offset written; end_offset - 1 when none), or the
 * error plog_append returns. */
static int plan_append(const struct plog *l, size_t len, const struct kbatch *hdr, int n,
                       struct append_step *steps, size_t *wlen, int64_t *last)
{
    size_t total = 0;
    if (n < 1)
        return TANDEM_EINVAL;
    for (int i = 0; i < n; i++) {
        if (kbatch_size(&hdr[i]) > l->cfg->max_message_bytes)
            return TANDEM_ETOOLARGE;
        total += kbatch_size(&hdr[i]);
    }
    if (total != len)
        return TANDEM_EINVAL;
    int rc = producers_plan(&l->producers, hdr, n, l->end_offset, steps);
    if (rc)
        return rc;
    *wlen = 0;
    *last = l->end_offset - 1;
    for (int i = 0; i < n; i++) {
        if (steps[i].dup)
            continue;
        *wlen += kbatch_size(&hdr[i]);
        *last = steps[i].base_offset + hdr[i].last_offset_delta;
    }
    /* Index entries hold offsets and positions relative to the segment as u32: one append must
     * fit one segment (a single batch always does). */
    if (*last - l->end_offset > (int64_t)UINT32_MAX || *wlen > UINT32_MAX)
        return TANDEM_ETOOLARGE;
    return 0;
}

/* Moves the batches to be written to the front of buf (in order, skipping duplicates) and sets
 * the fields the broker owns in each. */
static void place_batches(const struct plog *l, uint8_t *buf, const struct kbatch *hdr, int n,
                          const struct append_step *steps, int64_t now)
{
    size_t at = 0, out = 0;
    for (int i = 0; i < n; i++) {
        size_t size = kbatch_size(&hdr[i]);
        if (!steps[i].dup) {
            if (out != at)
                memmove(buf + out, buf + at, size);
            kbatch_set_base_offset(buf + out, steps[i].base_offset);
            kbatch_set_leader_epoch(buf + out, 0);
            if (l->cfg->log_append_time)
                kbatch_set_log_append_time(buf + out, size, now);
            out += size;
        }
        at += size;
    }
}

int plog_append(struct plog *l, uint8_t *buf, size_t len, const struct kbatch *hdr, int n,
                struct log_append_info *info)
{
    struct append_step local[8], *steps = n > 8 ? xmalloc((size_t)n * sizeof(*steps)) : local;
    size_t wlen = 0;
    int64_t last = -1;
    info->base_offset = -1;
    info->log_append_time = -1;
    info->log_start_offset = plog_start_offset(l);
    int rc = plan_append(l, len, hdr, n, steps, &wlen, &last);
    if (rc)
        goto out;
    info->base_offset = steps[0].base_offset;
    if (wlen == 0) { /* every batch is a retry of one already stored */
        rc = TANDEM_EDUPSEQ;
        goto out;
    }
    int64_t now = clock_wall_ms();
    if (need_roll(l, wlen, last, now)) {
        rc = plog_roll(l);
        if (rc)
            goto out;
        now = clock_wall_ms(); /* the roll synced files: the new segment's age starts now */
    }
    place_batches(l, buf, hdr, n, steps, now);
    struct segment *s = active_seg(l);
    uint64_t pos = s->size, pos0 = pos;
    rc = seg_write(s, buf, wlen); /* one write; on failure the segment is cut back to pos */
    if (rc)
        goto out;
    if (pos == 0)
        s->created_ms = now;
    pthread_mutex_lock(&l->lock);
    s->size += wlen;
    s->next_offset = last + 1;
    l->end_offset = last + 1;
    l->total_bytes += wlen;
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < n; i++) {
        if (steps[i].dup)
            continue;
        struct kbatch b = hdr[i];
        b.base_offset = steps[i].base_offset;
        if (l->cfg->log_append_time)
            b.max_timestamp = now;
        seg_index_batch(s, &b, pos, kbatch_size(&b), l->cfg->index_interval_bytes);
        producers_update(&l->producers, &b);
        ptxn_on_batch(&l->txns, &b, buf + (pos - pos0));
        pos += kbatch_size(&b);
    }
    if (l->cfg->log_append_time)
        info->log_append_time = now;
out:
    if (steps != local)
        free(steps);
    return rc;
}

/* The segment holding offset (start <= offset < end). */
static struct segment *find_segment(const struct plog *l, int64_t offset)
{
    int lo = 0, hi = l->nsegs; /* first segment with base > offset */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (l->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    int i = lo > 0 ? lo - 1 : 0;
    while (i + 1 < l->nsegs && l->segs[i]->next_offset <= offset) /* skips empty segments */
        i++;
    return l->segs[i];
}

/* Largest indexed position <= limit (0 when none). */
static uint64_t index_pos_floor(const struct segment *s, uint64_t limit)
{
    uint32_t lo = 0, hi = s->nidx;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->idx[mid].pos <= limit)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : s->idx[lo - 1].pos;
}

int plog_read(struct plog *l, int64_t offset, uint32_t max_bytes, struct file_slice *out)
{
    return plog_read_upto(l, offset, max_bytes, INT64_MAX, out);
}

int plog_read_upto(struct plog *l, int64_t offset, uint32_t max_bytes, int64_t upto,
                   struct file_slice *out)
{
    struct kbatch b;
    out->fd = -1;
    out->pos = 0;
    out->len = 0;
    out->ref = NULL;
    if (offset < plog_start_offset(l) || offset > l->end_offset)
        return TANDEM_ERANGE;
    if (offset == l->end_offset)
        return 0;
    struct segment *s = find_segment(l, offset);
    uint64_t pos = seg_index_lookup(s, offset);
    for (;;) { /* the batch containing offset */
        int rc = seg_read_header(s, pos, &b);
        if (rc)
            return rc == TANDEM_EIO ? rc : TANDEM_ECORRUPT;
        if (b.base_offset + b.last_offset_delta >= offset)
            break;
        pos += kbatch_size(&b);
    }
    if (b.base_offset >= upto)
        return 0;
    uint64_t start = pos, end = pos + kbatch_size(&b);
    uint64_t limit = start + max_bytes;
    if (upto >= l->end_offset) {
        uint64_t jump = index_pos_floor(s, limit); /* batches before it all fit */
        if (jump > end)
            end = jump;
    }
    while (end < s->size) {
        if (seg_read_header(s, end, &b) || end + kbatch_size(&b) > limit || b.base_offset >= upto)
            break;
        end += kbatch_size(&b);
    }
    seg_ref(s);
    out->fd = s->fd;
    out->pos = (off_t)start;
    out->len = (uint32_t)(end - start);
    out->ref = s;
    return 0;
}

void log_slice_release(struct file_slice *s)
{
    if (!s || !s->ref)
        return;
    seg_unref(s->ref);
    s->ref = NULL;
    s->fd = -1;
    s->len = 0;
}

/* The record-level answer inside a batch whose maxTimestamp >= ts. A compressed batch is not
 * decompressed: its base offset and maxTimestamp answer (the first record of the batch may be
 * earlier than ts; consumers then skip records they do not need). */
static int batch_find_timestamp(struct segment *s, uint64_t pos, const struct kbatch *b, int64_t ts,
                                int64_t *offset, int64_t *timestamp)
{
    if ((b->attributes & KBATCH_ATTR_CODEC_MASK) != KCODEC_NONE) {
        *offset = b->base_offset;
        *timestamp = b->max_timestamp;
        return 0;
    }
    size_t size = kbatch_size(b);
    uint8_t *buf = xmalloc(size);
    int rc = log_pread_all(s->fd, buf, size, (off_t)pos);
    if (rc == 0)
        rc = kbatch_find_timestamp(buf, size, ts, offset, timestamp);
    free(buf);
    return rc;
}

static int offset_for_time(struct plog *l, int64_t ts, int64_t *offset, int64_t *timestamp);

/* Below the log start offset nothing is served: an answer there is moved up to it. */
int plog_offset_for_time(struct plog *l, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    int rc = offset_for_time(l, ts, offset, timestamp);
    if (rc == 0 && *offset < l->log_start)
        *offset = l->log_start;
    return rc;
}

static int offset_for_time(struct plog *l, int64_t ts, int64_t *offset, int64_t *timestamp)
{
    for (int i = 0; i < l->nsegs; i++) {
        struct segment *s = l->segs[i];
        if (s->size == 0 || s->max_ts == INT64_MIN || s->max_ts < ts)
            continue;
        uint64_t pos = seg_index_lookup(s, seg_time_lookup(s, ts));
        while (pos < s->size) {
            struct kbatch b;
            if (seg_read_header(s, pos, &b))
                break;
            if (b.max_timestamp >= ts) {
                int rc = batch_find_timestamp(s, pos, &b, ts, offset, timestamp);
                if (rc != TANDEM_ENOENT)
                    return rc;
            }
            pos += kbatch_size(&b);
        }
    }
    return TANDEM_ENOENT;
}

struct sync_item {
    struct segment *seg;
    uint64_t size;
};

int plog_sync(struct plog *l, int64_t *durable)
{
    struct sync_item local[8], *items = local;
    int n = 0, rc = 0;
    pthread_mutex_lock(&l->lock);
    int64_t end = l->end_offset;
    if (l->nsegs > 8)
        items = xmalloc((size_t)l->nsegs * sizeof(*items));
    for (int i = 0; i < l->nsegs; i++) {
        struct segment *s = l->segs[i];
        if (s->size > s->synced_size) {
            seg_ref(s);
            items[n++] = (struct sync_item){s, s->size};
        }
    }
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < n; i++) {
        if (fdatasync(items[i].seg->fd)) {
            log_error("fdatasync failed", "\"partition\":\"%s\",\"errno\":%d", l->name, errno);
            rc = TANDEM_EIO;
            items[i].size = 0;
        }
    }
    pthread_mutex_lock(&l->lock);
    for (int i = 0; i < n; i++) {
        if (items[i].size > items[i].seg->synced_size)
            items[i].seg->synced_size = items[i].size;
    }
    pthread_mutex_unlock(&l->lock);
    for (int i = 0; i < n; i++)
        seg_unref(items[i].seg);
    if (items != local)
        free(items);
    if (rc == 0) {
        int64_t cur = atomic_load_explicit(&l->durable, memory_order_relaxed);
        while (cur < end && !atomic_compare_exchange_weak(&l->durable, &cur, end)) {
        }
    }
    *durable = plog_durable_offset(l);
    return rc;
}

/* The time retention.ms compares: the largest timestamp, else the file's modification time. */
static int64_t seg_age_ts(const struct segment *s)
{
    struct stat st;
    if (s->max_ts >= 0)
        return s->max_ts;
    if (fstat(s->fd, &st))
        return INT64_MAX;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

/* Takes the first segment out of the array (the caller checked nsegs > 1), moves the log start
 * offset up to the next one when it was below it, unlinks the files. */
static void drop_first_segment(struct plog *l, const char *reason)
{
    struct segment *s = l->segs[0];
    pthread_mutex_lock(&l->lock);
    memmove(l->segs, l->segs + 1, (size_t)(l->nsegs - 1) * sizeof(*l->segs));
    l->nsegs--;
    l->total_bytes -= s->size;
    pthread_mutex_unlock(&l->lock);
    if (l->log_start < l->segs[0]->base_offset)
        l->log_start = l->segs[0]->base_offset;
    log_info("segment deleted",
             "\"partition\":\"%s\",\"base_offset\":%" PRId64 ",\"bytes\":%" PRIu64
             ",\"reason\":\"%s\",\"log_start_offset\":%" PRId64,
             l->name, s->base_offset, s->size, reason, l->log_start);
    seg_unlink(s);
    seg_unref(s);
}

void plog_drop_below_start(struct plog *l)
{
    while (l->nsegs > 1 && l->segs[0]->next_offset <= l->log_start)
        drop_first_segment(l, "log start offset");
}

int plog_delete_records(struct plog *l, int64_t offset, int64_t *low_watermark)
{
    char path[4096], tmp[4096], line[32];
    *low_watermark = l->log_start;
    if (offset < 0 || offset > l->end_offset)
        return TANDEM_ERANGE;
    if (offset <= l->log_start)
        return 0;
    /* The records below the new start must be durable before the start is: after a crash the
     * file must never name an offset the log lost. */
    int64_t durable = 0;
    if (plog_durable_offset(l) < offset && plog_sync(l, &durable))
        return TANDEM_EIO;
    snprintf(path, sizeof(path), "%s/%s", l->dir, LOG_START_FILE);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", l->dir, LOG_START_FILE);
    int n = snprintf(line, sizeof(line), "%" PRId64 "\n", offset);
    if (file_write_atomic(path, tmp, line, (size_t)n)) {
        log_error("log start offset not written", "\"partition\":\"%s\",\"errno\":%d", l->name,
                  errno);
        return TANDEM_EIO;
    }
    l->log_start = offset;
    log_info("records deleted", "\"partition\":\"%s\",\"log_start_offset\":%" PRId64, l->name,
             offset);
    plog_drop_below_start(l);
    *low_watermark = offset;
    return 0;
}

int plog_maintain(struct plog *l, int64_t now_ms)
{
    const struct log_config *cfg = l->cfg;
    struct segment *a = active_seg(l);
    int deleted = 0;
    if (a->size > 0 && now_ms - a->created_ms > cfg->segment_ms && plog_roll(l))
        log_warn("time-based roll failed", "\"partition\":\"%s\"", l->name);
    while (l->nsegs > 1) {
        struct segment *s = l->segs[0];
        bool by_size =
            cfg->retention_bytes >= 0 && l->total_bytes - s->size >= (uint64_t)cfg->retention_bytes;
        bool by_time = cfg->retention_ms >= 0 && now_ms - seg_age_ts(s) > cfg->retention_ms;
        if (!by_size && !by_time)
            break;
        drop_first_segment(l, by_size ? "retention.bytes" : "retention.ms");
        deleted++;
    }
    return deleted;
}

void plog_free(struct plog *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->nsegs; i++)
        seg_unref(l->segs[i]);
    free(l->segs);
    producers_cleanup(&l->producers);
    ptxn_cleanup(&l->txns);
    pthread_mutex_destroy(&l->lock);
    free(l->dir);
    free(l->name);
    free(l);
}

int plog_close(struct plog *l)
{
    struct segment *a = active_seg(l);
    int rc = 0;
    seg_index_finish(a);
    for (int i = 0; i < l->nsegs; i++) {
        struct segment *s = l->segs[i];
        if (s->synced_size < s->size && fdatasync(s->fd))
            rc = TANDEM_EIO;
    }
    if (fdatasync(a->fd_index) || fdatasync(a->fd_timeindex))
        rc = TANDEM_EIO;
    if (rc == 0 &&
        (producers_snapshot_write(&l->producers, l->dir, l->end_offset) || file_fsync_dir(l->dir)))
        rc = TANDEM_EIO;
    if (rc)
        log_error("partition close could not sync", "\"partition\":\"%s\",\"errno\":%d", l->name,
                  errno);
    plog_free(l);
    return rc;
}
