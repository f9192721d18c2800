/*
 * The offsets log (format and model in offsets_log.h).
 *
 * Concurrency: the loop thread appends and compacts; the flusher thread syncs. `mu` guards the
 * fd swap of a compaction and the counters; the fdatasync itself runs on a dup of the fd outside
 * the lock, so appends never wait for the disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "common/mem.h"
#include "group/offsets_log.h"
#include "base/crc32c.h"
#include "base/kbuf.h"
#include "tandem/error.h"

#define REC_COMMIT      1
#define REC_CLEAR       2
#define REC_CLEAR_TOPIC 3 /* the "group" field names the topic */
#define REC_GROUP       4 /* the group's protocol type */
#define REC_DELETE      5 /* one partition's offset of a group is deleted (OffsetDelete) */
#define REC_HEADER      8
#define REC_MAX_BODY    (1 << 20)
#define COMPACT_MIN     (16u << 20)

struct offsets_log {
    char *dir;
    char *path;
    int fd;
    uint64_t size;           /* bytes in the current file */
    int64_t appended;        /* bytes appended since open (all files) */
    _Atomic int64_t durable; /* of `appended`, how much is synced */
    pthread_mutex_t mu;
};

/* Encodes a record into w (header with length and CRC, then body). */
static void encode_record(struct kw *w, int type, const char *group, size_t group_len,
                          const char *topic, size_t topic_len, int32_t partition, int64_t offset,
                          int32_t leader_epoch, int64_t ts, const char *metadata, int32_t mlen)
{
    size_t start = w->len;
    kw_i32(w, 0);
    kw_i32(w, 0);
    kw_i8(w, (int8_t)type);
    kw_string(w, (struct kstr){group, (int32_t)group_len});
    if (type == REC_COMMIT) {
        kw_string(w, (struct kstr){topic, (int32_t)topic_len});
        kw_i32(w, partition);
        kw_i64(w, offset);
        kw_i32(w, leader_epoch);
        kw_i64(w, ts);
        kw_string(w, mlen >= 0 ? (struct kstr){metadata, mlen} : KSTR_NULL);
    } else if (type == REC_GROUP) {
        kw_string(w, (struct kstr){topic, (int32_t)topic_len}); /* the protocol type */
    } else if (type == REC_DELETE) {
        kw_string(w, (struct kstr){topic, (int32_t)topic_len});
        kw_i32(w, partition);
    }
    size_t body = w->len - start - REC_HEADER;
    kw_put_i32_at(w, start, (int32_t)body);
    kw_put_i32_at(w, start + 4, (int32_t)crc32c(0, w->buf + start + REC_HEADER, body));
}

/* Replays one record body into gc. Returns 0 or TANDEM_ECORRUPT. Any group id the format can
 * hold is accepted (a record with a good CRC is never dropped for its content's sake: that would
 * truncate every later commit at start-up). */
static int replay(struct gc *gc, const uint8_t *p, size_t n)
{
    struct kr r;
    kr_init(&r, p, n);
    int type = kr_i8(&r);
    struct kstr group = kr_string(&r);
    if (r.err || group.len <= 0)
        return TANDEM_ECORRUPT;
    char *gname = xstrndup(group.p, (size_t)group.len);
    int rc = TANDEM_ECORRUPT;
    if (type == REC_CLEAR || type == REC_CLEAR_TOPIC) {
        if (kr_left(&r) == 0) {
            if (type == REC_CLEAR)
                gc_offsets_clear(gc, gname);
            else
                gc_offsets_drop_topic(gc, gname);
            rc = 0;
        }
    } else if (type == REC_GROUP) {
        struct kstr ptype = kr_string(&r);
        if (!r.err && kr_left(&r) == 0 && ptype.len >= 0) {
            char *t = xstrndup(ptype.p, (size_t)ptype.len);
            gc_group_type_load(gc, gname, t);
            free(t);
            rc = 0;
        }
    } else if (type == REC_DELETE) {
        struct kstr topic = kr_string(&r);
        int32_t partition = kr_i32(&r);
        if (!r.err && kr_left(&r) == 0 && topic.len > 0) {
            char *tname = xstrndup(topic.p, (size_t)topic.len);
            gc_offset_delete(gc, group, tname, partition);
            free(tname);
            rc = 0;
        }
    } else if (type == REC_COMMIT) {
        struct kstr topic = kr_string(&r);
        int32_t partition = kr_i32(&r);
        int64_t offset = kr_i64(&r);
        int32_t epoch = kr_i32(&r);
        int64_t ts = kr_i64(&r);
        struct kstr meta = kr_string(&r);
        if (!r.err && kr_left(&r) == 0 && topic.len > 0) {
            char *tname = xstrndup(topic.p, (size_t)topic.len);
            gc_offset_load(gc, gname, tname, partition, offset, epoch, ts, meta.p, meta.len);
            free(tname);
            rc = 0;
        }
    }
    free(gname);
    return rc;
}

/* Reads the whole file, replays good records, truncates after the last good one. */
static int load(struct offsets_log *l, struct gc *gc)
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
    while (off + REC_HEADER <= (size_t)got) {
        uint32_t n = be32(buf + off);
        uint32_t crc = be32(buf + off + 4);
        if (n == 0 || n > REC_MAX_BODY || off + REC_HEADER + n > (size_t)got ||
            crc32c(0, buf + off + REC_HEADER, n) != crc ||
            replay(gc, buf + off + REC_HEADER, n) != 0)
            break;
        off += REC_HEADER + n;
        records++;
    }
    free(buf);
    if (off != (size_t)got) {
        log_warn("offsets log: truncating a torn or corrupt tail",
                 "\"path\":\"%s\",\"good_bytes\":%zu,\"dropped_bytes\":%zu", l->path, off,
                 (size_t)got - off);
        if (ftruncate(l->fd, (off_t)off) != 0 || fdatasync(l->fd) != 0)
            return TANDEM_EIO;
    }
    l->size = off;
    log_info("offsets log loaded", "\"records\":%zu,\"bytes\":%zu,\"groups\":%d,\"offsets\":%zu",
             records, off, gc_group_count(gc), gc_offset_count(gc));
    return 0;
}

int offsets_log_open(const char *data_dir, struct gc *gc, struct offsets_log **out)
{
    struct offsets_log *l = xcalloc(1, sizeof(*l));
    size_t n = strlen(data_dir) + 64;
    l->dir = xmalloc(n);
    snprintf(l->dir, n, "%s/__consumer_offsets", data_dir);
    l->path = xmalloc(n + 32);
    snprintf(l->path, n + 32, "%s/offsets.log", l->dir);
    pthread_mutex_init(&l->mu, NULL);
    l->fd = -1;
    int rc = TANDEM_EIO;
    if (mkdir(l->dir, 0755) != 0 && errno != EEXIST)
        goto fail;
    l->fd = open(l->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (l->fd < 0)
        goto fail;
    rc = load(l, gc);
    if (rc)
        goto fail;
    *out = l;
    return 0;
fail:
    offsets_log_close(l);
    return rc;
}

void offsets_log_close(struct offsets_log *l)
{
    if (!l)
        return;
    if (l->fd >= 0) {
        fdatasync(l->fd);
        close(l->fd);
    }
    pthread_mutex_destroy(&l->mu);
    free(l->dir);
    free(l->path);
    free(l);
}

static int append(struct offsets_log *l, struct kw *w, int64_t *end)
{
    ssize_t wr = write(l->fd, w->buf, w->len);
    if (wr != (ssize_t)w->len) {
        if (wr > 0 && ftruncate(l->fd, (off_t)l->size) != 0)
            log_error("offsets log: cannot undo a partial write", NULL);
        return TANDEM_EIO;
    }
    pthread_mutex_lock(&l->mu);
    l->size += w->len;
    l->appended += (int64_t)w->len;
    *end = l->appended;
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int offsets_log_commit(struct offsets_log *l, const char *group, size_t group_len,
                       const char *topic, size_t topic_len, int32_t partition, int64_t offset,
                       int32_t leader_epoch, int64_t commit_ts, const char *metadata,
                       int32_t metadata_len, int64_t *end)
{
    struct kw w;
    kw_init(&w, 128 + group_len + topic_len + (metadata_len > 0 ? (size_t)metadata_len : 0));
    encode_record(&w, REC_COMMIT, group, group_len, topic, topic_len, partition, offset,
                  leader_epoch, commit_ts, metadata, metadata_len);
    int rc = append(l, &w, end);
    kw_cleanup(&w);
    return rc;
}

int offsets_log_group_type(struct offsets_log *l, const char *group, size_t group_len,
                           const char *protocol_type, int64_t *end)
{
    struct kw w;
    size_t tlen = strlen(protocol_type);
    kw_init(&w, 64 + group_len + tlen);
    encode_record(&w, REC_GROUP, group, group_len, protocol_type, tlen, 0, 0, 0, 0, NULL, -1);
    int rc = append(l, &w, end);
    kw_cleanup(&w);
    return rc;
}

int offsets_log_delete_offset(struct offsets_log *l, const char *group, size_t group_len,
                              const char *topic, size_t topic_len, int32_t partition, int64_t *end)
{
    struct kw w;
    kw_init(&w, 64 + group_len + topic_len);
    encode_record(&w, REC_DELETE, group, group_len, topic, topic_len, partition, 0, 0, 0, NULL, -1);
    int rc = append(l, &w, end);
    kw_cleanup(&w);
    return rc;
}

int offsets_log_clear_group(struct offsets_log *l, const char *group, int64_t *end)
{
    struct kw w;
    kw_init(&w, 64 + strlen(group));
    encode_record(&w, REC_CLEAR, group, strlen(group), NULL, 0, 0, 0, 0, 0, NULL, -1);
    int rc = append(l, &w, end);
    kw_cleanup(&w);
    return rc;
}

int offsets_log_clear_topic(struct offsets_log *l, const char *topic, int64_t *end)
{
    struct kw w;
    kw_init(&w, 64 + strlen(topic));
    encode_record(&w, REC_CLEAR_TOPIC, topic, strlen(topic), NULL, 0, 0, 0, 0, 0, NULL, -1);
    int rc = append(l, &w, end);
    kw_cleanup(&w);
    return rc;
}

int offsets_log_sync(struct offsets_log *l)
{
    pthread_mutex_lock(&l->mu);
    int64_t target = l->appended;
    int fd = dup(l->fd);
    pthread_mutex_unlock(&l->mu);
    if (fd < 0)
        return TANDEM_EIO;
    int rc = fdatasync(fd) == 0 ? 0 : TANDEM_EIO;
    close(fd);
    if (rc == 0) {
        int64_t cur = atomic_load(&l->durable);
        while (cur < target && !atomic_compare_exchange_weak(&l->durable, &cur, target))
            ;
    }
    return rc;
}

int64_t offsets_log_durable(struct offsets_log *l)
{
    return atomic_load(&l->durable);
}

uint64_t offsets_log_size(const struct offsets_log *l)
{
    return l->size;
}

struct snapshot {
    struct kw w;
    struct gc *gc;
    const char *last_group; /* offsets come group by group */
};

static void snapshot_one(const char *group, const char *topic, int32_t partition,
                         const struct gc_offset *o, void *arg)
{
    struct snapshot *sn = arg;
    if (sn->last_group != group) { /* a group's first offset: its protocol type first */
        sn->last_group = group;
        const char *ptype = gc_group_protocol_type(sn->gc, group);
        if (ptype)
            encode_record(&sn->w, REC_GROUP, group, strlen(group), ptype, strlen(ptype), 0, 0, 0, 0,
                          NULL, -1);
    }
    encode_record(&sn->w, REC_COMMIT, group, strlen(group), topic, strlen(topic), partition,
                  o->offset, o->leader_epoch, o->commit_timestamp, o->metadata,
                  o->metadata ? (int32_t)strlen(o->metadata) : -1);
}

int offsets_log_compact(struct offsets_log *l, struct gc *gc)
{
    if (l->size < COMPACT_MIN)
        return 0;
    struct snapshot sn = {.gc = gc};
    kw_init(&sn.w, 1 << 16);
    gc_offset_foreach_all(gc, snapshot_one, &sn);
    struct kw w = sn.w;
    if ((uint64_t)w.len * 4 > l->size) {
        kw_cleanup(&w);
        return 0;
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.compact", l->path);
    int rc = TANDEM_EIO;
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        goto out;
    if (write(fd, w.buf, w.len) != (ssize_t)w.len || fdatasync(fd) != 0 ||
        rename(tmp, l->path) != 0) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    file_fsync_dir(l->dir);
    pthread_mutex_lock(&l->mu);
    uint64_t before = l->size;
    close(l->fd);
    l->fd = fd;
    l->size = w.len;
    int64_t synced = l->appended; /* the snapshot holds everything and is synced */
    pthread_mutex_unlock(&l->mu);
    int64_t cur = atomic_load(&l->durable);
    while (cur < synced && !atomic_compare_exchange_weak(&l->durable, &cur, synced))
        ;
    log_info("offsets log compacted", "\"bytes_before\":%llu,\"bytes_after\":%zu",
             (unsigned long long)before, w.len);
    rc = 1;
out:
    kw_cleanup(&w);
    return rc;
}
