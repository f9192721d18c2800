/*
 * Helpers shared by the storage tests (tests/unit/test_log_*.c): a record batch v2 encoder that
 * produces valid batches (correct lengths and CRC-32C, as a producer would send them), a
 * temporary data dir, small file utilities, and a cmocka fixture (struct log_fx) of a log manager
 * open on a fresh data dir with topic "t" of one partition. Include it after <cmocka.h>.
 */
#ifndef TANDEM_TEST_LOG_UTIL_H
#define TANDEM_TEST_LOG_UTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "log/log.h"
#include "base/kbuf.h"
#include "protocol/record_batch.h"
#include "tandem/error.h"

struct tbatch_opts {
    int nrec;    /* 0 means 1 */
    int64_t ts;  /* baseTimestamp; record i has ts + i */
    int64_t pid; /* producerId; 0 means none (-1 on the wire, sequence -1) */
    int16_t epoch;
    int32_t seq;
    size_t value_len;
};

#define TBATCH(...) ((struct tbatch_opts){__VA_ARGS__})

/* Encodes a batch; the caller frees it. */
static inline uint8_t *tbatch(struct tbatch_opts o, size_t *len)
{
    struct kw w, rec;
    if (o.nrec == 0)
        o.nrec = 1;
    if (o.pid == 0) {
        o.pid = -1;
        o.seq = -1;
        o.epoch = -1;
    }
    kw_init(&w, 256);
    kw_init(&rec, 64);
    kw_i64(&w, 0);          /* baseOffset */
    kw_i32(&w, 0);          /* batchLength, patched */
    kw_i32(&w, -1);         /* partitionLeaderEpoch */
    kw_i8(&w, 2);           /* magic */
    kw_i32(&w, 0);          /* crc, patched */
    kw_i16(&w, 0);          /* attributes */
    kw_i32(&w, o.nrec - 1); /* lastOffsetDelta */
    kw_i64(&w, o.ts);
    kw_i64(&w, o.ts + o.nrec - 1);
    kw_i64(&w, o.pid);
    kw_i16(&w, o.epoch);
    kw_i32(&w, o.seq);
    kw_i32(&w, o.nrec);
    for (int i = 0; i < o.nrec; i++) {
        kw_reset(&rec);
        kw_i8(&rec, 0);
        kw_varlong(&rec, i);
        kw_varint(&rec, i);
        kw_varint(&rec, -1); /* null key */
        kw_varint(&rec, (int32_t)o.value_len);
        for (size_t k = 0; k < o.value_len; k++)
            kw_i8(&rec, (int8_t)('a' + (i + k) % 26));
        kw_varint(&rec, 0); /* headers */
        kw_varint(&w, (int32_t)rec.len);
        kw_raw(&w, rec.buf, rec.len);
    }
    kw_put_i32_at(&w, 8, (int32_t)(w.len - 12));
    put_be32(w.buf + 17, kbatch_compute_crc(w.buf, w.len));
    uint8_t *out = malloc(w.len);
    memcpy(out, w.buf, w.len);
    *len = w.len;
    kw_cleanup(&w);
    kw_cleanup(&rec);
    return out;
}

/* Appends one batch the way Produce appends a partition's only batch: its header as
 * kbatch_validate reads it, then plog_append with n = 1. Returns what either returned. */
static inline int tappend(struct plog *l, uint8_t *b, size_t len, struct log_append_info *info)
{
    struct kbatch h;
    size_t used;
    int rc = kbatch_validate(b, len, &h, &used);
    if (rc)
        return rc;
    return plog_append(l, b, len, &h, 1, info);
}

static inline int64_t tnow_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline char *tmpdir_new(void)
{
    char *d = strdup("/tmp/tandem-logtest-XXXXXX");
    if (!mkdtemp(d))
        abort();
    return d;
}

static inline int tmpdir_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static inline void tmpdir_free(char *d)
{
    nftw(d, tmpdir_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
}

static inline long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

static inline int count_files(const char *dir, const char *suffix)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "ls %s | grep -c '%s$'", dir, suffix);
    FILE *f = popen(cmd, "r");
    int n = 0;
    if (f) {
        if (fscanf(f, "%d", &n) != 1)
            n = -1;
        pclose(f);
    }
    return n;
}

/* Reads a slice's bytes into a fresh buffer. */
static inline uint8_t *slice_bytes(const struct file_slice *s)
{
    uint8_t *b = malloc(s->len ? s->len : 1);
    if (pread(s->fd, b, s->len, s->pos) != (ssize_t)s->len)
        abort();
    return b;
}

/* Only errors, unless TANDEM_TEST_LOGS is set (then everything, to see what recovery says). */
static inline void quiet_logs(void)
{
    log_setup("test", getenv("TANDEM_TEST_LOGS") ? LOG_DEBUG : LOG_ERROR);
}

/* ---- cmocka fixture: a log manager on a fresh data dir ---------------------------------------
 */

struct log_fx {
    char *dir;
    struct logmgr *m; /* NULL once a test closed it for good */
    struct plog *l;   /* partition 0 of topic "t", after log_fx_make_topic */
};

/* cmocka setup: a fresh data dir opened with the default configs; *state is the fixture. */
static inline int log_fx_setup(void **state)
{
    quiet_logs();
    struct log_fx *f = calloc(1, sizeof(*f));
    f->dir = tmpdir_new();
    struct log_config d;
    log_config_defaults(&d);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    *state = f;
    return 0;
}

static inline int log_fx_teardown(void **state)
{
    struct log_fx *f = *state;
    if (f->m)
        logmgr_close(f->m);
    tmpdir_free(f->dir);
    free(f);
    return 0;
}

/* A cmocka test run with this fixture. */
#define LOG_FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, log_fx_setup, log_fx_teardown)

/* Creates topic "t" with one partition and the n configs keys[i]=values[i]; sets f->l. */
static inline void log_fx_make_topic(struct log_fx *f, int n, const char *const *keys,
                                     const char *const *values)
{
    struct topic *t;
    assert_int_equal(logmgr_create_topic(f->m, "t", 1, keys, values, n, &t), 0);
    f->l = t->partitions[0];
}

#endif
