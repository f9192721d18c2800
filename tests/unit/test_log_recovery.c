/*
 * Storage: restart and crash recovery, index rebuilds, idempotent-producer state.
 *
 * A crash is simulated by closing the data dir and then removing what only a clean shutdown
 * leaves (the .clean_shutdown marker, and in some tests the producer snapshots), then damaging
 * files the way a crash or a bad disk does: a .log cut mid-batch, a flipped byte, a deleted or
 * scribbled index.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "log/log_int.h"
#include "test_log_util.h"

static void reopen(struct log_fx *f, bool crash, bool drop_snapshots)
{
    char p[4096];
    logmgr_close(f->m);
    if (crash) {
        snprintf(p, sizeof(p), "%s/.clean_shutdown", f->dir);
        assert_int_equal(unlink(p), 0);
    }
    if (drop_snapshots) {
        snprintf(p, sizeof(p), "rm -f %s/t-0/*.snapshot", f->dir);
        assert_int_equal(system(p), 0);
    }
    struct log_config d;
    log_config_defaults(&d);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    struct topic *t = logmgr_find(f->m, "t", 1);
    assert_non_null(t);
    f->l = t->partitions[0];
}

static int append_rc(struct log_fx *f, struct tbatch_opts o, int64_t *base)
{
    size_t len;
    uint8_t *b = tbatch(o, &len);
    struct log_append_info info;
    int rc = tappend(f->l, b, len, &info);
    free(b);
    *base = info.base_offset;
    return rc;
}

static size_t append(struct log_fx *f, struct tbatch_opts o)
{
    size_t len;
    uint8_t *b = tbatch(o, &len);
    struct log_append_info info;
    assert_int_equal(tappend(f->l, b, len, &info), 0);
    free(b);
    return len;
}

static uint8_t *read_all(struct log_fx *f, uint32_t *len)
{
    struct file_slice s;
    assert_int_equal(plog_read(f->l, plog_start_offset(f->l), 1u << 30, &s), 0);
    uint8_t *b = slice_bytes(&s);
    *len = s.len;
    log_slice_release(&s);
    return b;
}

static void seg_path(struct log_fx *f, int64_t base, const char *ext, char *buf, size_t size)
{
    snprintf(buf, size, "%s/t-0/%020lld%s", f->dir, (long long)base, ext);
}

static void test_restart_restores(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"retention.ms", "segment.bytes"}, *v[] = {"123456789", "1000"};
    log_fx_make_topic(f, 2, k, v);
    assert_int_equal(logmgr_create_topic(f->m, "u", 3, NULL, NULL, 0, NULL), 0);
    for (int i = 0; i < 10; i++)
        append(f, TBATCH(.nrec = 2, .ts = tnow_ms(), .value_len = 100));
    uint32_t n1, n2;
    uint8_t *before = read_all(f, &n1);
    reopen(f, false, false);
    char p[4096];
    snprintf(p, sizeof(p), "%s/.clean_shutdown", f->dir);
    assert_int_equal(access(p, F_OK), -1); /* removed at open */
    assert_int_equal(logmgr_topic_count(f->m), 2);
    struct topic *t = logmgr_find(f->m, "t", 1), *u = logmgr_find(f->m, "u", 1);
    assert_int_equal(t->cfg.retention_ms, 123456789);
    assert_int_equal(t->cfg.segment_bytes, 1000);
    assert_int_equal(u->npartitions, 3);
    assert_int_equal(u->cfg.segment_bytes, 1073741824);
    assert_int_equal(plog_end_offset(f->l), 20);
    assert_int_equal(plog_durable_offset(f->l), 20);
    uint8_t *after = read_all(f, &n2);
    assert_int_equal(n1, n2);
    assert_memory_equal(before, after, n1);
    free(before);
    free(after);
    int64_t base;
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .ts = tnow_ms()), &base), 0);
    assert_int_equal(base, 20);
}

static void test_torn_tail(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    size_t len = 0;
    for (int i = 0; i < 5; i++)
        len = append(f, TBATCH(.nrec = 2, .value_len = 30));
    reopen(f, true, false);
    assert_int_equal(plog_end_offset(f->l), 10); /* intact: nothing cut */
    char p[4096];
    seg_path(f, 0, ".log", p, sizeof(p));
    assert_int_equal(truncate(p, (off_t)(5 * len - 10)), 0); /* cut inside the last batch */
    reopen(f, true, false);
    assert_int_equal(plog_end_offset(f->l), 8);
    assert_int_equal(file_size(p), 4 * len);
    assert_int_equal(truncate(p, (off_t)(3 * len + 30)), 0); /* cut inside a header */
    reopen(f, true, false);
    assert_int_equal(plog_end_offset(f->l), 6);
    assert_int_equal(file_size(p), 3 * len);
    int64_t base;
    assert_int_equal(append_rc(f, TBATCH(.nrec = 2, .value_len = 30), &base), 0);
    assert_int_equal(base, 6);
    struct file_slice s;
    assert_int_equal(plog_read(f->l, 7, 100, &s), 0);
    assert_int_equal(s.pos, 3 * len);
    log_slice_release(&s);
}

static void test_corrupt_tail(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    size_t len = 0;
    for (int i = 0; i < 5; i++)
        len = append(f, TBATCH(.nrec = 2, .value_len = 30));
    char p[4096];
    seg_path(f, 0, ".log", p, sizeof(p));
    logmgr_close(f->m);
    f->m = NULL;
    int fd = open(p, O_RDWR);
    uint8_t c;
    assert_int_equal(pread(fd, &c, 1, (off_t)(3 * len + 70)), 1);
    c ^= 0x40;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)(3 * len + 70)), 1);
    close(fd);
    struct log_config d;
    log_config_defaults(&d);
    char m[4096];
    snprintf(m, sizeof(m), "%s/.clean_shutdown", f->dir);
    unlink(m);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    f->l = logmgr_find(f->m, "t", 1)->partitions[0];
    assert_int_equal(plog_end_offset(f->l), 6); /* bad CRC: batch 3 and after are gone */
    assert_int_equal(file_size(p), 3 * len);
}

static uint8_t *slurp(const char *path, long *n)
{
    *n = file_size(path);
    uint8_t *b = malloc((size_t)*n + 1);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fread(b, 1, (size_t)*n, fp), (size_t)*n);
    fclose(fp);
    return b;
}

static void test_rebuild_index(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"segment.bytes", "index.interval.bytes"}, *v[] = {"1000", "0"};
    log_fx_make_topic(f, 2, k, v);
    for (int i = 0; i < 10; i++)
        append(f, TBATCH(.nrec = 2, .ts = 1000 * i, .value_len = 100));
    logmgr_close(f->m);
    f->m = NULL;
    char idx[4096], tidx[4096], active[4096];
    seg_path(f, 0, ".index", idx, sizeof(idx));
    seg_path(f, 6, ".timeindex", tidx, sizeof(tidx));
    seg_path(f, 18, ".index", active, sizeof(active));
    long n0, n1;
    uint8_t *orig = slurp(idx, &n0);
    assert_int_equal(n0, 16); /* batches 1 and 2 of the first segment */
    assert_int_equal(unlink(idx), 0);
    FILE *fp = fopen(tidx, "r+b"); /* scribble over the time index of the second segment */
    assert_non_null(fp);
    fputs("garbage!garbage!", fp);
    fclose(fp);
    assert_int_equal(unlink(active), 0);
    struct log_config d;
    log_config_defaults(&d);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    f->l = logmgr_find(f->m, "t", 1)->partitions[0];
    uint8_t *again = slurp(idx, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(orig, again, (size_t)n0);
    free(orig);
    free(again);
    assert_int_equal(file_size(tidx), 2 * 12); /* at batches 4 and 5 */
    for (int64_t off = 0; off < 20; off++) {
        struct file_slice s;
        assert_int_equal(plog_read(f->l, off, 1, &s), 0);
        uint8_t *b = slice_bytes(&s);
        assert_int_equal(be64(b), off / 2 * 2);
        free(b);
        log_slice_release(&s);
        int64_t o, ts;
        assert_int_equal(plog_offset_for_time(f->l, 1000 * (off / 2), &o, &ts), 0);
        assert_int_equal(o, off / 2 * 2);
    }
}

static void test_idempotence(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    int64_t base;
    assert_int_equal(append_rc(f, TBATCH(.nrec = 3, .pid = 7, .seq = 0), &base), 0);
    assert_int_equal(base, 0);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 3, .pid = 7, .seq = 0), &base), TANDEM_EDUPSEQ);
    assert_int_equal(base, 0);
    assert_int_equal(plog_end_offset(f->l), 3);                  /* nothing written */
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1), &base), 0); /* not idempotent */
    assert_int_equal(append_rc(f, TBATCH(.nrec = 2, .pid = 7, .seq = 3), &base), 0);
    assert_int_equal(base, 4);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 3, .pid = 7, .seq = 0), &base), TANDEM_EDUPSEQ);
    assert_int_equal(base, 0);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 7, .seq = 10), &base),
                     TANDEM_EOUTOFORDER);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 8, .seq = 5), &base),
                     TANDEM_EOUTOFORDER);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 7, .epoch = 1, .seq = 5), &base),
                     TANDEM_EOUTOFORDER);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 7, .epoch = 1, .seq = 0), &base), 0);
    assert_int_equal(base, 6);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 7, .epoch = 0, .seq = 5), &base),
                     TANDEM_EFENCED);
    /* the window holds the last five batches */
    for (int i = 1; i <= 5; i++)
        assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 7, .epoch = 1, .seq = i), &base), 0);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 7, .epoch = 1, .seq = 1), &base),
                     TANDEM_EDUPSEQ);
    assert_int_equal(base, 7);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 1, .pid = 7, .epoch = 1, .seq = 0), &base),
                     TANDEM_EOUTOFORDER); /* fell out of the window */
    assert_int_equal(plog_end_offset(f->l), 12);
}

static void check_state_after(struct log_fx *f)
{
    int64_t base;
    assert_int_equal(append_rc(f, TBATCH(.nrec = 2, .pid = 42, .epoch = 3, .seq = 8), &base),
                     TANDEM_EDUPSEQ);
    assert_int_equal(base, 8);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 2, .pid = 42, .epoch = 2, .seq = 10), &base),
                     TANDEM_EFENCED);
    assert_int_equal(append_rc(f, TBATCH(.nrec = 2, .pid = 42, .epoch = 3, .seq = 11), &base),
                     TANDEM_EOUTOFORDER);
}

static void test_idempotence_survives_reopen(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"segment.bytes"}, *v[] = {"400"};
    log_fx_make_topic(f, 1, k, v);
    for (int i = 0; i < 5; i++) /* batch i: offsets 2i, 2i+1; spans several segments */
        append(f, TBATCH(.nrec = 2, .pid = 42, .epoch = 3, .seq = 2 * i, .value_len = 60));
    check_state_after(f);
    reopen(f, false, false); /* clean: from the shutdown snapshot */
    check_state_after(f);
    reopen(f, true, false); /* crash: roll snapshot + the active segment's headers */
    check_state_after(f);
    reopen(f, true, true); /* no snapshot at all: every header */
    check_state_after(f);
    int64_t base;
    assert_int_equal(append_rc(f, TBATCH(.nrec = 2, .pid = 42, .epoch = 3, .seq = 10), &base), 0);
    assert_int_equal(base, 10);
}

static void test_sequence_wrap(void **state)
{
    (void)state;
    struct producer_table t;
    producers_init(&t);
    struct kbatch b = {.producer_id = 5,
                       .producer_epoch = 0,
                       .base_sequence = INT32_MAX - 1,
                       .last_offset_delta = 2,
                       .base_offset = 100};
    producers_update(&t, &b); /* sequences INT32_MAX-1, INT32_MAX, 0 */
    int64_t dup = -1;
    assert_int_equal(producers_check(&t, &b, &dup), TANDEM_EDUPSEQ);
    assert_int_equal(dup, 100);
    struct kbatch next = {.producer_id = 5, .base_sequence = 1, .last_offset_delta = 0};
    assert_int_equal(producers_check(&t, &next, &dup), 0);
    next.base_sequence = 0;
    assert_int_equal(producers_check(&t, &next, &dup), TANDEM_EOUTOFORDER);
    for (int64_t pid = 1000; pid < 1100; pid++) { /* table growth keeps entries */
        struct kbatch x = {.producer_id = pid, .last_offset_delta = 0, .base_offset = pid};
        producers_update(&t, &x);
    }
    assert_int_equal(producers_check(&t, &b, &dup), TANDEM_EDUPSEQ);
    assert_int_equal(t.count, 101);
    producers_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOG_FX_TEST(test_restart_restores),   LOG_FX_TEST(test_torn_tail),
        LOG_FX_TEST(test_corrupt_tail),       LOG_FX_TEST(test_rebuild_index),
        LOG_FX_TEST(test_idempotence),        LOG_FX_TEST(test_idempotence_survives_reopen),
        cmocka_unit_test(test_sequence_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
