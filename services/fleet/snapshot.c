/*
 * snapshot.c: a partition's vehicles on disk, with the offset they reflect (docs/fleet.md,
 * "Snapshots").
 *
 * MODEL. The fleet's state is in memory; a restart must not replay the topic. So every partition
 * held is written, periodically and when it is given up (a rebalance, the stop), to one file in
 * the data directory shared by the instances, <data-dir>/snapshots/vehicle-positions-<p>.snap:
 * whoever holds the partition next (this instance restarted, or another) loads it and starts
 * consuming at its offset (the consumer's assignment hook, service.c).
 *
 *   OFFSET SIZE   FIELD
 *   0      8      magic "TFLEETS1"
 *   8      4      partition (u32 LE)
 *   12     4      the topic's partition count when written (u32 LE)
 *   16     8      next offset (i64 LE): the offset after the last record the state reflects;
 *                 -1: none (a replay starts at the partition's beginning)
 *   24     8      vehicles n (u64 LE)
 *   32     8      written at (i64 LE, unix ms)
 *   40     8      checksum (u64 LE): FNV-1a 64 of the n positions' bytes
 *   48     32 n   the positions, each the topic's binary position v1 (position.c)
 *
 * EXACTNESS. The offset is read before the vehicles are, so the file holds at least every record
 * below it (each applied before its offset was published, table.c) and perhaps some after it:
 * replaying those again changes nothing (a position applies only when newer: table.c "STALE").
 * A file is written to a temporary name, fsync'd, renamed over the old one and the directory
 * fsync'd: a crash leaves the old file or the new, never half of one. A file that fails any
 * check is refused whole (logged) and the partition is replayed from the beginning.
 *
 * The trail ring is not written: after a load each vehicle's trail starts at its current
 * position.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "tandem/error.h"
#include "tandem/service.h"

#define MAGIC   "TFLEETS1"
#define BUF_POS 32768 /* positions per write (1 MiB) */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

#define FNV_INIT UINT64_C(0xcbf29ce484222325)

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return TANDEM_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void path_of(char *buf, size_t cap, const char *dir, unsigned p, const char *suffix)
{
    snprintf(buf, cap, "%s/%s-%u.snap%s", dir, FLEET_TOPIC, p, suffix);
}

int fleet_snapshot_write(const struct fleet_table *t, const char *dir, unsigned p, unsigned nparts,
                         int64_t next_offset, size_t *count)
{
    char path[4096], tmp[4096];
    path_of(path, sizeof(path), dir, p, "");
    char suffix[32];
    snprintf(suffix, sizeof(suffix), ".tmp.%d", (int)getpid());
    path_of(tmp, sizeof(tmp), dir, p, suffix);
    uint8_t *buf = malloc((size_t)BUF_POS * FLEET_POS_BYTES);
    if (buf == NULL) {
        return TANDEM_ENOMEM;
    }
    int rc = TANDEM_EIO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        goto fail;
    }
    uint8_t head[FLEET_SNAP_HEADER] = {0};
    if (write_all(fd, head, sizeof(head)) != 0) { /* filled in at the end */
        goto fail;
    }
    uint64_t n = 0, sum = FNV_INIT;
    size_t inbuf = 0;
    uint32_t nslots = __atomic_load_n(&t->nslots, __ATOMIC_ACQUIRE);
    for (uint32_t s = 0; s < nslots; s++) {
        struct fleet_pos pos;
        unsigned part;
        if (!fleet_read_slot(t, s, &pos, &part, NULL) || part != p) {
            continue;
        }
        fleet_pos_encode(&pos, buf + inbuf * FLEET_POS_BYTES);
        if (++inbuf == BUF_POS) {
            sum = fnv1a(sum, buf, inbuf * FLEET_POS_BYTES);
            if (write_all(fd, buf, inbuf * FLEET_POS_BYTES) != 0) {
                goto fail;
            }
            n += inbuf;
            inbuf = 0;
        }
    }
    sum = fnv1a(sum, buf, inbuf * FLEET_POS_BYTES);
    if (write_all(fd, buf, inbuf * FLEET_POS_BYTES) != 0) {
        goto fail;
    }
    n += inbuf;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    memcpy(head, MAGIC, 8);
    put32(head + 8, p);
    put32(head + 12, nparts);
    put64(head + 16, (uint64_t)(next_offset >= 0 ? next_offset : -1));
    put64(head + 24, n);
    put64(head + 32, (uint64_t)((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
    put64(head + 40, sum);
    if (pwrite(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) || fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        goto fail;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd); /* the rename itself on disk */
        close(dfd);
    }
    if (count != NULL) {
        *count = (size_t)n;
    }
    free(buf);
    return 0;
fail:
    tandem_log_error(NULL, "fleet: snapshot not written", "\"partition\":%u,\"errno\":%d", p,
                     errno);
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    free(buf);
    return rc;
}

int fleet_snapshot_load(struct fleet_table *t, const char *dir, unsigned p, unsigned nparts,
                        int64_t *next_offset, size_t *count)
{
    char path[4096];
    path_of(path, sizeof(path), dir, p, "");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? TANDEM_ENOENT : TANDEM_EIO;
    }
    uint8_t *data = NULL;
    const char *bad = NULL;
    int rc = TANDEM_EIO;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    if (size < FLEET_SNAP_HEADER ||
        size > FLEET_SNAP_HEADER + (size_t)t->max * FLEET_POS_BYTES) { /* never more than fits */
        bad = "size";
        goto fail;
    }
    data = malloc(size);
    if (data == NULL) {
        rc = TANDEM_ENOMEM;
        goto fail;
    }
    for (size_t got = 0; got < size;) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            goto fail;
        }
        got += (size_t)r;
    }
    uint64_t n = get64(data + 24);
    if (memcmp(data, MAGIC, 8) != 0) {
        bad = "magic";
    } else if (get32(data + 8) != p || get32(data + 12) != nparts) {
        bad = "partition";
    } else if (n != (size - FLEET_SNAP_HEADER) / FLEET_POS_BYTES ||
               (size - FLEET_SNAP_HEADER) % FLEET_POS_BYTES != 0) {
        bad = "length";
    } else if (fnv1a(FNV_INIT, data + FLEET_SNAP_HEADER, size - FLEET_SNAP_HEADER) !=
               get64(data + 40)) {
        bad = "checksum";
    }
    for (uint64_t i = 0; bad == NULL && i < n; i++) {
        struct fleet_pos pos;
        if (fleet_pos_decode(data + FLEET_SNAP_HEADER + i * FLEET_POS_BYTES, FLEET_POS_BYTES,
                             &pos) != NULL) {
            bad = "position";
        }
    }
    if (bad != NULL) {
        goto fail;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct fleet_pos pos;
        (void)fleet_pos_decode(data + FLEET_SNAP_HEADER + i * FLEET_POS_BYTES, FLEET_POS_BYTES,
                               &pos);
        fleet_apply(t, &pos, p, FLEET_SRC_SNAPSHOT);
    }
    *next_offset = (int64_t)get64(data + 16);
    *count = (size_t)n;
    free(data);
    close(fd);
    return 0;
fail:
    if (bad != NULL) {
        rc = TANDEM_EINVAL;
        tandem_log_error(NULL, "fleet: snapshot refused", "\"partition\":%u,\"bad\":\"%s\"", p,
                         bad);
    }
    free(data);
    close(fd);
    return rc;
}
