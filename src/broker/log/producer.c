/*
 * Idempotent-producer state of one partition (KIP-98).
 *
 * For every producerId seen in the log the partition remembers its epoch and the last five
 * batches it appended (baseSequence, lastSequence, baseOffset): five because a producer has at
 * most five requests in flight (max.in.flight.requests.per.connection <= 5 with idempotence), so
 * a retry can only duplicate one of them. Sequences are int32 and wrap from INT32_MAX to 0.
 * The table is an open-addressing hash keyed by producerId; it only grows (Kafka expires idle
 * producers after producer.id.expiration.ms; tandem keeps them, one entry is 92 bytes).
 *
 * The state is derived from the log: it is rebuilt at open by reading batch headers, starting
 * from a snapshot when one is usable. A snapshot is written when a segment rolls (covering
 * everything before the new segment) and at clean shutdown (covering everything):
 *
 *   OFFSET SIZE FIELD
 *   0      4    magic        "TPS1"
 *   4      4    count        u32 BE, number of producers
 *   8      8    offset       i64 BE, the state covers every batch below this offset
 *   16     4    crc          CRC-32C of bytes 20 .. end
 *   20     92*n producers, each:
 *     0    8      producerId   i64 BE
 *     8    2      epoch        i16 BE
 *     10   1      n            batches remembered (0..5)
 *     11   1      unused       0
 *     12   16*5   batches, oldest first: baseSequence i32 BE, lastSequence i32 BE,
 *                 baseOffset i64 BE (unused slots zero)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "log/log_int.h"
#include "base/crc32c.h"
#include "base/kbuf.h"
#include "tandem/error.h"

#define SNAP_HEADER 20
#define SNAP_ENTRY  92
#define SNAP_MAGIC  0x54505331u /* "TPS1" */

void producers_init(struct producer_table *t)
{
    memset(t, 0, sizeof(*t));
}

void producers_cleanup(struct producer_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static uint32_t slot_of(const struct producer_table *t, int64_t pid)
{
    uint64_t h = (uint64_t)pid * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32) & (t->cap - 1);
}

static struct producer_entry *find(const struct producer_table *t, int64_t pid)
{
    if (t->cap == 0)
        return NULL;
    for (uint32_t i = slot_of(t, pid);; i = (i + 1) & (t->cap - 1)) {
        if (t->slots[i].producer_id == pid)
            return &t->slots[i];
        if (t->slots[i].producer_id < 0)
            return NULL;
    }
}

static struct producer_entry *insert(struct producer_table *t, int64_t pid)
{
    if ((t->count + 1) * 2 > t->cap) {
        struct producer_table bigger = {0};
        bigger.cap = t->cap ? t->cap * 2 : 16;
        bigger.slots = xmalloc(bigger.cap * sizeof(*bigger.slots));
        for (uint32_t i = 0; i < bigger.cap; i++)
            bigger.slots[i].producer_id = -1;
        for (uint32_t i = 0; i < t->cap; i++) {
            if (t->slots[i].producer_id < 0)
                continue;
            uint32_t j = slot_of(&bigger, t->slots[i].producer_id);
            while (bigger.slots[j].producer_id >= 0)
                j = (j + 1) & (bigger.cap - 1);
            bigger.slots[j] = t->slots[i];
        }
        bigger.count = t->count;
        free(t->slots);
        *t = bigger;
    }
    uint32_t i = slot_of(t, pid);
    while (t->slots[i].producer_id >= 0)
        i = (i + 1) & (t->cap - 1);
    memset(&t->slots[i], 0, sizeof(t->slots[i]));
    t->slots[i].producer_id = pid;
    t->count++;
    return &t->slots[i];
}

/* seq + delta modulo the int32 sequence space (INT32_MAX is followed by 0). */
static int32_t seq_add(int32_t seq, int32_t delta)
{
    int64_t v = (int64_t)seq + delta;
    if (v > INT32_MAX)
        v -= (int64_t)INT32_MAX + 1;
    return (int32_t)v;
}

static bool tracked(const struct kbatch *b)
{
    return b->producer_id >= 0 && !(b->attributes & KBATCH_ATTR_CONTROL);
}

/* The rules for one batch against its producer's entry (NULL: a producer not seen yet). */
static int entry_check(const struct producer_entry *e, const struct kbatch *b, int64_t *dup_offset)
{
    if (b->base_sequence < 0)
        return TANDEM_EOUTOFORDER;
    if (!e)
        return b->base_sequence == 0 ? 0 : TANDEM_EOUTOFORDER;
    if (b->producer_epoch < e->epoch)
        return TANDEM_EFENCED;
    if (b->producer_epoch > e->epoch || e->n == 0)
        return b->base_sequence == 0 ? 0 : TANDEM_EOUTOFORDER;
    int32_t last = seq_add(b->base_sequence, b->last_offset_delta);
    for (int i = 0; i < e->n; i++) {
        if (e->b[i].base_seq == b->base_sequence && e->b[i].last_seq == last) {
            *dup_offset = e->b[i].base_offset;
            return TANDEM_EDUPSEQ;
        }
    }
    if (b->base_sequence != seq_add(e->b[e->head].last_seq, 1))
        return TANDEM_EOUTOFORDER;
    return 0;
}

int producers_check(const struct producer_table *t, const struct kbatch *b, int64_t *dup_offset)
{
    if (!tracked(b))
        return 0;
    return entry_check(find(t, b->producer_id), b, dup_offset);
}

static void push_batch(struct producer_entry *e, struct producer_batch pb)
{
    if (e->n > 0)
        e->head = (uint8_t)((e->head + 1) % LOG_PRODUCER_WINDOW);
    else
        e->head = 0;
    e->b[e->head] = pb;
    if (e->n < LOG_PRODUCER_WINDOW)
        e->n++;
}

/* Records an appended batch (b->base_offset set) in its producer's entry. */
static void entry_update(struct producer_entry *e, const struct kbatch *b)
{
    if (e->n == 0 || b->producer_epoch != e->epoch) {
        e->epoch = b->producer_epoch;
        e->n = 0;
        e->head = 0;
    }
    push_batch(e, (struct producer_batch){b->base_sequence,
                                          seq_add(b->base_sequence, b->last_offset_delta),
                                          b->base_offset});
}

void producers_update(struct producer_table *t, const struct kbatch *b)
{
    if (!tracked(b))
        return;
    struct producer_entry *e = find(t, b->producer_id);
    if (!e)
        e = insert(t, b->producer_id);
    entry_update(e, b);
}

/* The entry for pid in the overlay, copied from the table on first use. A producer the table
 * does not know gets an empty entry whose epoch no batch is below, which entry_check treats
 * exactly as an unknown producer. */
static struct producer_entry *overlay_entry(struct producer_table *overlay,
                                            const struct producer_table *t, int64_t pid)
{
    struct producer_entry *e = find(overlay, pid);
    if (e)
        return e;
    const struct producer_entry *stored = find(t, pid);
    e = insert(overlay, pid);
    if (stored) {
        *e = *stored;
    } else {
        e->epoch = INT16_MIN;
        e->n = 0;
    }
    return e;
}

int producers_plan(const struct producer_table *t, const struct kbatch *b, int n,
                   int64_t next_offset, struct append_step *steps)
{
    struct producer_table overlay; /* the entries as the batches before this one leave them */
    producers_init(&overlay);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        steps[i] = (struct append_step){.base_offset = next_offset, .dup = false};
        if (tracked(&b[i])) {
            /* one batch needs no overlay: nothing before it in this append can change its entry */
            struct producer_entry *e = n > 1 ? overlay_entry(&overlay, t, b[i].producer_id) : NULL;
            int64_t dup = -1;
            rc = e ? entry_check(e, &b[i], &dup) : producers_check(t, &b[i], &dup);
            if (rc == TANDEM_EDUPSEQ) {
                steps[i] = (struct append_step){.base_offset = dup, .dup = true};
                rc = 0;
                continue;
            }
            if (rc)
                break;
            if (e) {
                struct kbatch placed = b[i];
                placed.base_offset = next_offset;
                entry_update(e, &placed);
            }
        }
        next_offset += (int64_t)b[i].last_offset_delta + 1;
    }
    producers_cleanup(&overlay);
    return rc;
}

int producers_snapshot_write(const struct producer_table *t, const char *dir, int64_t offset)
{
    char path[4096], tmp[4200];
    snprintf(path, sizeof(path), "%s/%020" PRId64 ".snapshot", dir, offset);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    size_t size = SNAP_HEADER + (size_t)t->count * SNAP_ENTRY;
    uint8_t *buf = xcalloc(1, size);
    uint8_t *p = buf + SNAP_HEADER;
    for (uint32_t i = 0; i < t->cap; i++) {
        const struct producer_entry *e = &t->slots[i];
        if (e->producer_id < 0)
            continue;
        put_be64(p, (uint64_t)e->producer_id);
        put_be16(p + 8, (uint16_t)e->epoch);
        p[10] = e->n;
        for (int k = 0; k < e->n; k++) { /* oldest first */
            int slot = (e->head + LOG_PRODUCER_WINDOW - e->n + 1 + k) % LOG_PRODUCER_WINDOW;
            uint8_t *q = p + 12 + k * 16;
            put_be32(q, (uint32_t)e->b[slot].base_seq);
            put_be32(q + 4, (uint32_t)e->b[slot].last_seq);
            put_be64(q + 8, (uint64_t)e->b[slot].base_offset);
        }
        p += SNAP_ENTRY;
    }
    put_be32(buf, SNAP_MAGIC);
    put_be32(buf + 4, t->count);
    put_be64(buf + 8, (uint64_t)offset);
    put_be32(buf + 16, crc32c(0, buf + SNAP_HEADER, size - SNAP_HEADER));
    int rc = TANDEM_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto out;
    if (file_pwrite_all(fd, buf, size, 0) || fdatasync(fd)) {
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    rc = rename(tmp, path) ? TANDEM_EIO : 0;
out:
    free(buf);
    return rc;
}

int producers_snapshot_read(struct producer_table *t, const char *path, int64_t *offset)
{
    uint8_t *buf = NULL;
    int rc = TANDEM_ECORRUPT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return TANDEM_EIO;
    if (fstat(fd, &st) || st.st_size < SNAP_HEADER)
        goto out;
    size_t size = (size_t)st.st_size;
    buf = xmalloc(size);
    if (log_pread_all(fd, buf, size, 0))
        goto out;
    uint32_t count = be32(buf + 4);
    if (be32(buf) != SNAP_MAGIC || (size - SNAP_HEADER) % SNAP_ENTRY ||
        (size - SNAP_HEADER) / SNAP_ENTRY != count ||
        crc32c(0, buf + SNAP_HEADER, size - SNAP_HEADER) != be32(buf + 16))
        goto out;
    producers_cleanup(t);
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = buf + SNAP_HEADER + (size_t)i * SNAP_ENTRY;
        int64_t pid = (int64_t)be64(p);
        if (pid < 0 || p[10] > LOG_PRODUCER_WINDOW || find(t, pid))
            goto out;
        struct producer_entry *e = insert(t, pid);
        e->epoch = (int16_t)be16(p + 8);
        for (int k = 0; k < p[10]; k++) {
            const uint8_t *q = p + 12 + k * 16;
            push_batch(e, (struct producer_batch){(int32_t)be32(q), (int32_t)be32(q + 4),
                                                  (int64_t)be64(q + 8)});
        }
    }
    *offset = (int64_t)be64(buf + 8);
    rc = 0;
out:
    if (rc)
        producers_cleanup(t);
    free(buf);
    close(fd);
    return rc;
}
