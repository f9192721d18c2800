/*
 * The transaction log (format and model in txn_log.h). Loop thread only: unlike the offsets
 * log, an append the coordinator depends on is synced before it returns (it answers, and writes
 * markers, only after the state change is durable); appends are few (a handful per
 * transaction), so the sync is done here rather than by the flusher thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/mem.h"
#include "group/txn_log.h"
#include "tandem/error.h"

#define REC_STATE    1
#define REC_HEADER   8
#define REC_MAX_BODY (64u << 20)

struct txn_log {
    char *dir, *path, *tmp;
    int fd;
    uint64_t size;
    struct kw rewrite; /* the snapshot being built */
};

void txn_record_encode(struct kw *w, const struct txn_record *rec)
{
    kw_i8(w, REC_STATE);
    kw_string(w, rec->transactional_id);
    kw_i64(w, rec->producer_id);
    kw_i16(w, rec->producer_epoch);
    kw_i8(w, rec->state);
    kw_i32(w, rec->timeout_ms);
    kw_i64(w, rec->start_ms);
    kw_array(w, rec->npartitions);
    for (int32_t i = 0; i < rec->npartitions; i++) {
        kw_string(w, rec->partitions[i].topic);
        kw_i32(w, rec->partitions[i].partition);
        kw_i64(w, rec->partitions[i].end);
    }
    kw_array(w, rec->ngroups);
    for (int32_t i = 0; i < rec->ngroups; i++)
        kw_string(w, rec->groups[i]);
    kw_array(w, rec->noffsets);
    for (int32_t i = 0; i < rec->noffsets; i++) {
        const struct txn_rec_offset *o = &rec->offsets[i];
        kw_string(w, o->group);
        kw_string(w, o->topic);
        kw_i32(w, o->partition);
        kw_i64(w, o->offset);
        kw_i32(w, o->leader_epoch);
        kw_string(w, o->metadata);
    }
}

int txn_record_decode(const uint8_t *p, size_t n, struct arena *a, struct txn_record *out)
{
    struct kr r;
    kr_init(&r, p, n);
    memset(out, 0, sizeof(*out));
    if (kr_i8(&r) != REC_STATE)
        return TANDEM_ECORRUPT;
    out->transactional_id = kr_string(&r);
    out->producer_id = kr_i64(&r);
    out->producer_epoch = kr_i16(&r);
    out->state = kr_i8(&r);
    out->timeout_ms = kr_i32(&r);
    out->start_ms = kr_i64(&r);
    out->npartitions = kr_array(&r, 2 + 4 + 8);
    if (r.err || out->transactional_id.len <= 0 || out->state < TXN_EMPTY ||
        out->state > TXN_COMPLETE_ABORT || out->npartitions < 0)
        return TANDEM_ECORRUPT;
    out->partitions = arena_array(a, (size_t)out->npartitions + 1, sizeof(*out->partitions));
    if (!out->partitions)
        return TANDEM_ECORRUPT;
    for (int32_t i = 0; i < out->npartitions; i++) {
        out->partitions[i].topic = kr_string(&r);
        out->partitions[i].partition = kr_i32(&r);
        out->partitions[i].end = kr_i64(&r);
        if (out->partitions[i].topic.len <= 0)
            return TANDEM_ECORRUPT;
    }
    out->ngroups = kr_array(&r, 2);
    if (r.err || out->ngroups < 0)
        return TANDEM_ECORRUPT;
    out->groups = arena_array(a, (size_t)out->ngroups + 1, sizeof(*out->groups));
    if (!out->groups)
        return TANDEM_ECORRUPT;
    for (int32_t i = 0; i < out->ngroups; i++) {
        out->groups[i] = kr_string(&r);
        if (out->groups[i].len <= 0)
            return TANDEM_ECORRUPT;
    }
    out->noffsets = kr_array(&r, 2 + 2 + 4 + 8 + 4 + 2);
    if (r.err || out->noffsets < 0)
        return TANDEM_ECORRUPT;
    out->offsets = arena_array(a, (size_t)out->noffsets + 1, sizeof(*out->offsets));
    if (!out->offsets)
        return TANDEM_ECORRUPT;
    for (int32_t i = 0; i < out->noffsets; i++) {
        struct txn_rec_offset *o = &out->offsets[i];
        o->group = kr_string(&r);
        o->topic = kr_string(&r);
        o->partition = kr_i32(&r);
        o->offset = kr_i64(&r);
        o->leader_epoch = kr_i32(&r);
        o->metadata = kr_string(&r);
        if (o->group.len <= 0 || o->topic.len <= 0)
            return TANDEM_ECORRUPT;
    }
    return r.err || kr_left(&r) ? TANDEM_ECORRUPT : 0;
}

/* Appends a framed record (length, CRC, body) to w. */
static void frame_record(struct kw *w, const struct txn_record *rec)
{
    size_t start = w->len;
    kw_i32(w, 0);
    kw_i32(w, 0);
    txn_record_encode(w, rec);
    size_t body = w->len - start - REC_HEADER;
    kw_put_i32_at(w, start, (int32_t)body);
    kw_put_i32_at(w, start + 4, (int32_t)crc32c(0, w->buf + start + REC_HEADER, body));
}

static int load(struct txn_log *l, txn_log_replay_fn fn, void *arg)
{
    struct stat st;
    if (fstat(l->fd, &st) != 0)
        return TANDEM_EIO;
    uint8_t *buf = xmalloc((size_t)st.st_size + 1);
    ssize_t got = pread(l->fd, buf, (size_t)st.st_size, 0);
    if (got != st.st_size) {
        free(buf);
        return TANDEM_EIO;
    }
    size_t off = 0, records = 0;
    struct arena a;
    arena_init(&a, 0);
    while (off + REC_HEADER <= (size_t)got) {
        uint32_t n = be32(buf + off);
        struct txn_record rec;
        if (n == 0 || n > REC_MAX_BODY || off + REC_HEADER + n > (size_t)got ||
            crc32c(0, buf + off + REC_HEADER, n) != be32(buf + off + 4) ||
            txn_record_decode(buf + off + REC_HEADER, n, &a, &rec) != 0)
            break;
        fn(&rec, arg);
        arena_cleanup(&a);
        off += REC_HEADER + n;
        records++;
    }
    arena_cleanup(&a);
    free(buf);
    if (off != (size_t)got) {
        log_warn("transaction log: truncating a torn or corrupt tail",
                 "\"path\":\"%s\",\"good_bytes\":%zu,\"dropped_bytes\":%zu", l->path, off,
                 (size_t)got - off);
        if (ftruncate(l->fd, (off_t)off) != 0 || fdatasync(l->fd) != 0)
            return TANDEM_EIO;
    }
    l->size = off;
    log_info("transaction log loaded", "\"records\":%zu,\"bytes\":%zu", records, off);
    return 0;
}

int txn_log_open(const char *data_dir, txn_log_replay_fn fn, void *arg, struct txn_log **out)
{
    struct txn_log *l = xcalloc(1, sizeof(*l));
    size_t n = strlen(data_dir) + 64;
    l->dir = xmalloc(n);
    snprintf(l->dir, n, "%s/__transaction_state", data_dir);
    l->path = xmalloc(n + 32);
    snprintf(l->path, n + 32, "%s/txn.log", l->dir);
    l->tmp = xmalloc(n + 32);
    snprintf(l->tmp, n + 32, "%s/txn.log.tmp", l->dir);
    l->fd = -1;
    kw_init(&l->rewrite, 0);
    int rc = TANDEM_EIO;
    if (mkdir(l->dir, 0755) != 0 && errno != EEXIST)
        goto fail;
    l->fd = open(l->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (l->fd < 0)
        goto fail;
    rc = load(l, fn, arg);
    if (rc)
        goto fail;
    *out = l;
    return 0;
fail:
    txn_log_close(l);
    return rc;
}

void txn_log_close(struct txn_log *l)
{
    if (!l)
        return;
    if (l->fd >= 0) {
        fdatasync(l->fd);
        close(l->fd);
    }
    kw_cleanup(&l->rewrite);
    free(l->dir);
    free(l->path);
    free(l->tmp);
    free(l);
}

int txn_log_append(struct txn_log *l, const struct txn_record *rec, bool sync)
{
    struct kw w;
    kw_init(&w, 256);
    frame_record(&w, rec);
    int rc = 0;
    ssize_t wr = write(l->fd, w.buf, w.len);
    if (wr != (ssize_t)w.len || (sync && fdatasync(l->fd) != 0)) {
        if (wr > 0 && ftruncate(l->fd, (off_t)l->size) != 0)
            log_error("transaction log: cannot undo a partial write", NULL);
        rc = TANDEM_EIO;
    } else {
        l->size += w.len;
    }
    kw_cleanup(&w);
    return rc;
}

uint64_t txn_log_size(const struct txn_log *l)
{
    return l->size;
}

void txn_log_rewrite_begin(struct txn_log *l)
{
    kw_reset(&l->rewrite);
}

void txn_log_rewrite_add(struct txn_log *l, const struct txn_record *rec)
{
    frame_record(&l->rewrite, rec);
}

int txn_log_rewrite_commit(struct txn_log *l)
{
    int rc = file_write_atomic(l->path, l->tmp, l->rewrite.buf, l->rewrite.len);
    if (rc == 0) {
        int fd = open(l->path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0) {
            rc = TANDEM_EIO;
        } else {
            close(l->fd);
            l->fd = fd;
            l->size = l->rewrite.len;
        }
    }
    kw_reset(&l->rewrite);
    return rc ? TANDEM_EIO : 0;
}
