/*
 * Transactions on one partition (KIP-98): the open transactions, the aborted ones, and the
 * markers that close them.
 *
 * Model. A transactional producer's batches (attribute bit 4) open a transaction on the partition
 * at the first one's offset; the transaction coordinator (api/txn.c) closes it by appending a
 * marker: a control batch (bits 4 and 5) from the same producer holding one control record whose
 * key says COMMIT or ABORT. The last stable offset (LSO) is the smallest first offset of the open
 * transactions, else the log end offset; read_committed consumers read only below it. An aborted
 * transaction is remembered as (producer id, first offset, marker offset), Kafka's .txnindex
 * entry, so Fetch can tell read_committed consumers which records to drop.
 *
 * The state is derived from the log: appends update it (plog_append calls ptxn_on_batch for every
 * batch written) and plog_open rebuilds it by reading every batch header from the log start
 * (ptxn_rebuild; a control batch is read whole, it is 78 bytes). Nothing else is stored.
 *
 * Marker layout (Kafka: org.apache.kafka.common.record.EndTransactionMarker and
 * ControlRecordType; the protocol guide's "Control Batches"), the one record of the batch:
 *
 *   FIELD           ENCODING   VALUE
 *   length          varint     16 (the bytes after it)
 *   attributes      int8       0
 *   timestampDelta  varlong    0
 *   offsetDelta     varint     0
 *   keyLength       varint     4
 *   key.version     int16 BE   0
 *   key.type        int16 BE   0 = ABORT, 1 = COMMIT
 *   valueLength     varint     6
 *   value.version   int16 BE   0
 *   value.coordinatorEpoch int32 BE
 *   headers         varint     0
 *
 * The batch: baseSequence -1, lastOffsetDelta 0, recordsCount 1, both timestamps the append time.
 */
#include <stdlib.h>
#include <string.h>

#include "base/kbuf.h"
#include "common/clock.h"
#include "common/mem.h"
#include "log/log_int.h"
#include "tandem/error.h"

#define MARKER_RECORD_SIZE 17
#define MARKER_BATCH_SIZE  (KBATCH_HEADER_SIZE + MARKER_RECORD_SIZE)

void ptxn_cleanup(struct ptxn_state *t)
{
    free(t->open);
    free(t->aborted);
    memset(t, 0, sizeof(*t));
}

/* Reads a zigzag varint (records use them); false when malformed or past end. */
static bool read_varint(const uint8_t **p, const uint8_t *end, int64_t *v)
{
    uint64_t u = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return false;
        uint8_t c = *(*p)++;
        u |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
            return true;
        }
    }
    return false;
}

/* The control record type of a control batch's first record (0 abort, 1 commit), or -1 when it
 * is not readable (compressed, malformed) or not a transaction marker. */
static int marker_type(const uint8_t *batch, size_t size)
{
    if (size < KBATCH_HEADER_SIZE + 1 || (be16(batch + 21) & KBATCH_ATTR_CODEC_MASK))
        return -1;
    const uint8_t *p = batch + KBATCH_HEADER_SIZE, *end = batch + size;
    int64_t len, ts, od, klen;
    if (!read_varint(&p, end, &len) || p >= end)
        return -1;
    p++; /* attributes */
    if (!read_varint(&p, end, &ts) || !read_varint(&p, end, &od) || !read_varint(&p, end, &klen) ||
        klen < 4 || end - p < 4)
        return -1;
    int type = (int16_t)be16(p + 2);
    return type == 0 || type == 1 ? type : -1;
}

static int find_open(const struct ptxn_state *t, int64_t pid)
{
    for (int i = 0; i < t->nopen; i++)
        if (t->open[i].producer_id == pid)
            return i;
    return -1;
}

void ptxn_on_batch(struct ptxn_state *t, const struct kbatch *b, const uint8_t *bytes)
{
    if (!(b->attributes & KBATCH_ATTR_TRANSACTIONAL) || b->producer_id < 0)
        return;
    int i = find_open(t, b->producer_id);
    if (!(b->attributes & KBATCH_ATTR_CONTROL)) {
        if (i >= 0)
            return;
        if (t->nopen == t->open_cap) {
            t->open_cap = t->open_cap ? t->open_cap * 2 : 4;
            t->open = xrealloc(t->open, (size_t)t->open_cap * sizeof(*t->open));
        }
        t->open[t->nopen++] = (struct ptxn_open){b->producer_id, b->base_offset};
        return;
    }
    if (i < 0)
        return; /* a marker for a producer with nothing open here (re-sent at recovery) */
    if (marker_type(bytes, kbatch_size(b)) == 0) {
        if (t->naborted == t->aborted_cap) {
            t->aborted_cap = t->aborted_cap ? t->aborted_cap * 2 : 16;
            t->aborted = xrealloc(t->aborted, t->aborted_cap * sizeof(*t->aborted));
        }
        t->aborted[t->naborted++] =
            (struct log_aborted_txn){b->producer_id, t->open[i].first_offset, b->base_offset};
    }
    t->open[i] = t->open[--t->nopen];
}

int64_t plog_txn_first_offset(const struct plog *l, int64_t pid)
{
    int i = find_open(&l->txns, pid);
    return i < 0 ? -1 : l->txns.open[i].first_offset;
}

int plog_open_txns(const struct plog *l, int64_t *pids, int cap)
{
    for (int i = 0; i < l->txns.nopen && i < cap; i++)
        pids[i] = l->txns.open[i].producer_id;
    return l->txns.nopen;
}

int64_t plog_last_stable_offset(const struct plog *l)
{
    int64_t lso = l->end_offset;
    for (int i = 0; i < l->txns.nopen; i++)
        if (l->txns.open[i].first_offset < lso)
            lso = l->txns.open[i].first_offset;
    return lso;
}

size_t plog_aborted_txns(const struct plog *l, int64_t from, int64_t to,
                         struct log_aborted_txn *out, size_t cap)
{
    const struct ptxn_state *t = &l->txns;
    size_t lo = 0, hi = t->naborted; /* first entry with last_offset >= from */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->aborted[mid].last_offset < from)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t n = 0;
    for (size_t i = lo; i < t->naborted; i++) {
        if (t->aborted[i].first_offset >= to)
            continue;
        if (n < cap)
            out[n] = t->aborted[i];
        n++;
    }
    return n;
}

int plog_append_marker(struct plog *l, int64_t pid, int16_t epoch, bool commit,
                       int32_t coordinator_epoch, int64_t *offset)
{
    uint8_t buf[MARKER_BATCH_SIZE];
    memset(buf, 0, sizeof(buf));
    int64_t now = clock_wall_ms();
    put_be32(buf + 8, (uint32_t)(MARKER_BATCH_SIZE - KBATCH_LOG_OVERHEAD));
    buf[16] = 2; /* magic */
    put_be16(buf + 21, KBATCH_ATTR_TRANSACTIONAL | KBATCH_ATTR_CONTROL);
    put_be32(buf + 23, 0); /* lastOffsetDelta */
    put_be64(buf + 27, (uint64_t)now);
    put_be64(buf + 35, (uint64_t)now);
    put_be64(buf + 43, (uint64_t)pid);
    put_be16(buf + 51, (uint16_t)epoch);
    put_be32(buf + 53, (uint32_t)-1); /* baseSequence */
    put_be32(buf + 57, 1);            /* recordsCount */
    uint8_t *r = buf + KBATCH_HEADER_SIZE;
    r[0] = 16 << 1; /* length, zigzag */
    r[1] = 0;       /* attributes */
    r[2] = 0;       /* timestampDelta */
    r[3] = 0;       /* offsetDelta */
    r[4] = 4 << 1;  /* keyLength */
    put_be16(r + 5, 0);
    put_be16(r + 7, commit ? 1 : 0);
    r[9] = 6 << 1; /* valueLength */
    put_be16(r + 10, 0);
    put_be32(r + 12, (uint32_t)coordinator_epoch);
    r[16] = 0; /* headers */
    put_be32(buf + 17, kbatch_compute_crc(buf, sizeof(buf)));
    struct kbatch kb;
    size_t used;
    int rc = kbatch_validate(buf, sizeof(buf), &kb, &used);
    if (rc)
        return rc;
    struct log_append_info info;
    rc = plog_append(l, buf, sizeof(buf), &kb, 1, &info);
    if (rc)
        return rc;
    *offset = info.base_offset;
    return 0;
}

int64_t ptxn_rebuild(struct plog *l)
{
    int64_t controls = 0;
    for (int i = 0; i < l->nsegs; i++) {
        struct segment *s = l->segs[i];
        uint64_t pos = 0;
        while (pos < s->size) {
            struct kbatch b;
            if (seg_read_header(s, pos, &b))
                break;
            if ((b.attributes & KBATCH_ATTR_TRANSACTIONAL) && b.producer_id >= 0) {
                uint8_t whole[MARKER_BATCH_SIZE + 64];
                const uint8_t *bytes = NULL;
                if ((b.attributes & KBATCH_ATTR_CONTROL) && kbatch_size(&b) <= sizeof(whole) &&
                    log_pread_all(s->fd, whole, kbatch_size(&b), (off_t)pos) == 0) {
                    bytes = whole;
                    controls++;
                }
                if (bytes || !(b.attributes & KBATCH_ATTR_CONTROL))
                    ptxn_on_batch(&l->txns, &b, bytes);
            }
            pos += kbatch_size(&b);
        }
    }
    return controls;
}
