/*
 * Storage: appends, reads, rolling, retention, time lookups (src/broker/log/).
 *
 * Every test works in a fresh data dir under /tmp, creates topic "t" with one partition and the
 * configs it needs, and checks what the broker relies on: byte-identical reads of whole batches,
 * contiguous offsets, KIP-74's at-least-one-batch, segments rolled by size and age, retention by
 * bytes and time (a slice held across retention stays readable), ListOffsets by time.
 */
#include <setjmp.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_log_util.h"

/* Appends a batch; returns its base offset; *out (if given) receives the stored bytes. */
static int64_t append(struct log_fx *f, struct tbatch_opts o, uint8_t **out, size_t *out_len)
{
    size_t len;
    uint8_t *b = tbatch(o, &len);
    struct log_append_info info;
    assert_int_equal(tappend(f->l, b, len, &info), 0);
    if (out) {
        *out = b;
        *out_len = len;
    } else {
        free(b);
    }
    return info.base_offset;
}

static void test_append_read_identical(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    uint8_t *b[3];
    size_t len[3], total = 0;
    for (int i = 0; i < 3; i++) {
        int64_t off = append(f, TBATCH(.nrec = 5, .ts = 1000 + i, .value_len = 10), &b[i], &len[i]);
        assert_int_equal(off, i * 5);
        assert_int_equal(be64(b[i]), i * 5);           /* baseOffset set in the caller's buffer */
        assert_int_equal((int32_t)be32(b[i] + 12), 0); /* partitionLeaderEpoch */
        total += len[i];
    }
    assert_int_equal(plog_start_offset(f->l), 0);
    assert_int_equal(plog_end_offset(f->l), 15);
    assert_int_equal(plog_size_bytes(f->l), total);
    struct file_slice s;
    assert_int_equal(plog_read(f->l, 0, 1 << 20, &s), 0);
    assert_int_equal(s.len, total);
    uint8_t *got = slice_bytes(&s);
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(got + at, b[i], len[i]);
        struct kbatch kb;
        size_t used;
        assert_int_equal(kbatch_validate(got + at, len[i], &kb, &used), 0);
        at += len[i];
        free(b[i]);
    }
    free(got);
    log_slice_release(&s);
    log_slice_release(&s); /* idempotent */
}

static void test_read_positions(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"index.interval.bytes"}, *v[] = {"0"};
    log_fx_make_topic(f, 1, k, v);
    size_t len[20];
    uint8_t *b[20];
    for (int i = 0; i < 20; i++)
        append(f, TBATCH(.nrec = 4, .ts = 1, .value_len = 20), &b[i], &len[i]);
    struct file_slice s;
    /* mid-batch: offset 7 is in the batch at 4 */
    assert_int_equal(plog_read(f->l, 7, 1, &s), 0);
    assert_int_equal(s.len, len[1]); /* at least one whole batch */
    uint8_t *got = slice_bytes(&s);
    assert_memory_equal(got, b[1], len[1]);
    free(got);
    log_slice_release(&s);
    /* max_bytes exactly two batches, and one byte short of three */
    assert_int_equal(plog_read(f->l, 8, (uint32_t)(len[2] + len[3] + len[4] - 1), &s), 0);
    assert_int_equal(s.len, len[2] + len[3]);
    log_slice_release(&s);
    /* every offset finds its batch */
    for (int64_t off = 0; off < 80; off++) {
        assert_int_equal(plog_read(f->l, off, 100, &s), 0);
        got = slice_bytes(&s);
        assert_int_equal(be64(got), off / 4 * 4);
        free(got);
        log_slice_release(&s);
    }
    /* the end: empty; past it or before the start: out of range */
    assert_int_equal(plog_read(f->l, 80, 100, &s), 0);
    assert_int_equal(s.len, 0);
    log_slice_release(&s);
    assert_int_equal(plog_read(f->l, 81, 100, &s), TANDEM_ERANGE);
    assert_int_equal(plog_read(f->l, -1, 100, &s), TANDEM_ERANGE);
    for (int i = 0; i < 20; i++)
        free(b[i]);
}

static void test_too_large_and_append_time(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"max.message.bytes", "message.timestamp.type"};
    const char *v[] = {"500", "LogAppendTime"};
    log_fx_make_topic(f, 2, k, v);
    size_t len;
    uint8_t *b = tbatch(TBATCH(.nrec = 10, .value_len = 100), &len);
    struct log_append_info info;
    assert_int_equal(tappend(f->l, b, len, &info), TANDEM_ETOOLARGE);
    assert_int_equal(plog_end_offset(f->l), 0);
    free(b);
    int64_t before = tnow_ms();
    b = tbatch(TBATCH(.nrec = 2, .ts = 5), &len);
    assert_int_equal(tappend(f->l, b, len, &info), 0);
    assert_true(info.log_append_time >= before);
    struct kbatch kb;
    size_t used;
    assert_int_equal(kbatch_validate(b, len, &kb, &used), 0); /* CRC recomputed */
    assert_int_equal(kb.max_timestamp, info.log_append_time);
    assert_true(kb.attributes & KBATCH_ATTR_LOG_APPEND_TS);
    free(b);
}

static int count_segments(struct log_fx *f)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/t-0", f->dir);
    return count_files(p, ".log");
}

static void test_roll_by_size(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"segment.bytes"}, *v[] = {"1000"};
    log_fx_make_topic(f, 1, k, v);
    size_t len = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t *b;
        append(f, TBATCH(.nrec = 2, .value_len = 100), &b, &len);
        free(b);
    }
    /* ~290-byte batches, 3 per 1000-byte segment */
    assert_int_equal(count_segments(f), 4);
    assert_int_equal(plog_end_offset(f->l), 20);
    for (int64_t off = 0; off < 20; off++) {
        struct file_slice s;
        assert_int_equal(plog_read(f->l, off, 1 << 20, &s), 0);
        assert_true(s.len >= len && s.len <= 3 * len); /* one segment only */
        uint8_t *got = slice_bytes(&s);
        assert_int_equal(be64(got), off / 2 * 2);
        free(got);
        log_slice_release(&s);
    }
}

static void test_roll_by_age(void **state)
{
    struct log_fx *f = *state;
    /* 300 ms: the two appends (and the maintain right after the roll) fall well within it on a
     * loaded machine; the sleep only has to be longer */
    const char *k[] = {"segment.ms"}, *v[] = {"300"};
    log_fx_make_topic(f, 1, k, v);
    append(f, TBATCH(.nrec = 1, .ts = tnow_ms()), NULL, NULL);
    append(f, TBATCH(.nrec = 1, .ts = tnow_ms()), NULL, NULL);
    assert_int_equal(count_segments(f), 1);
    usleep(400 * 1000);
    append(f, TBATCH(.nrec = 1, .ts = tnow_ms()), NULL, NULL); /* older than segment.ms */
    assert_int_equal(count_segments(f), 2);
    assert_int_equal(plog_maintain(f->l, tnow_ms()), 0);
    assert_int_equal(count_segments(f), 2);
    assert_int_equal(plog_maintain(f->l, tnow_ms() + 1000), 0); /* rolls the aged active one */
    assert_int_equal(count_segments(f), 3);
    assert_int_equal(plog_maintain(f->l, tnow_ms() + 2000), 0); /* an empty one never rolls */
    assert_int_equal(count_segments(f), 3);
    append(f, TBATCH(.nrec = 1, .ts = tnow_ms()), NULL, NULL);
    assert_int_equal(plog_end_offset(f->l), 4);
}

static void test_retention_bytes(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"segment.bytes", "retention.bytes"}, *v[] = {"1000", "2000"};
    log_fx_make_topic(f, 2, k, v);
    size_t len = 0;
    uint8_t *first = NULL;
    for (int i = 0; i < 30; i++) {
        uint8_t *b;
        append(f, TBATCH(.nrec = 2, .ts = tnow_ms(), .value_len = 100), &b, &len);
        if (i == 0)
            first = b;
        else
            free(b);
    }
    assert_int_equal(count_segments(f), 10);
    struct file_slice held;
    assert_int_equal(plog_read(f->l, 0, 1 << 20, &held), 0);
    int deleted = plog_maintain(f->l, tnow_ms());
    assert_true(deleted >= 7);
    assert_int_equal(count_segments(f), 10 - deleted);
    assert_true(plog_size_bytes(f->l) >= 2000);
    assert_true(plog_size_bytes(f->l) - 3 * len < 2000);
    assert_int_equal(plog_start_offset(f->l), deleted * 6);
    struct file_slice s;
    assert_int_equal(plog_read(f->l, 0, 100, &s), TANDEM_ERANGE);
    assert_int_equal(plog_read(f->l, plog_start_offset(f->l), 100, &s), 0);
    log_slice_release(&s);
    /* the slice taken before retention still reads the deleted file */
    uint8_t *got = slice_bytes(&held);
    assert_memory_equal(got, first, len);
    free(got);
    free(first);
    log_slice_release(&held);
    assert_int_equal(plog_maintain(f->l, tnow_ms()), 0);
}

static void test_retention_ms(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"segment.bytes", "retention.ms"}, *v[] = {"1000", "60000"};
    log_fx_make_topic(f, 2, k, v);
    int64_t now = tnow_ms();
    for (int i = 0; i < 9; i++) /* 3 segments of old data */
        append(f, TBATCH(.nrec = 2, .ts = now - 3600000, .value_len = 100), NULL, NULL);
    for (int i = 0; i < 4; i++) /* then new data */
        append(f, TBATCH(.nrec = 2, .ts = now, .value_len = 100), NULL, NULL);
    assert_int_equal(count_segments(f), 5);
    assert_int_equal(plog_maintain(f->l, now), 3);
    assert_int_equal(plog_start_offset(f->l), 18);
    assert_int_equal(plog_maintain(f->l, now), 0);
    /* everything old: all but the active segment go */
    assert_int_equal(plog_maintain(f->l, now + 3600000), 1);
    assert_int_equal(count_segments(f), 1);
    assert_int_equal(plog_end_offset(f->l), 26);
}

static void test_offset_for_time(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"segment.bytes", "index.interval.bytes"}, *v[] = {"2000", "300"};
    log_fx_make_topic(f, 2, k, v);
    int64_t off, ts;
    assert_int_equal(plog_offset_for_time(f->l, 0, &off, &ts), TANDEM_ENOENT);
    for (int i = 0; i < 40; i++) /* batch i: offsets 3i..3i+2, timestamps 1000i..1000i+2 */
        append(f, TBATCH(.nrec = 3, .ts = 1000 * i, .value_len = 50), NULL, NULL);
    assert_true(count_segments(f) > 3);
    /* Kafka's answer is the first RECORD with timestamp >= ts (FileRecords.searchForTimestamp),
     * which may sit inside a batch: librdkafka's test 0054 checks exactly that. */
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < 3; j++) {
            assert_int_equal(plog_offset_for_time(f->l, 1000 * i + j, &off, &ts), 0);
            assert_int_equal(off, 3 * i + j);
            assert_int_equal(ts, 1000 * i + j);
        }
        assert_int_equal(plog_offset_for_time(f->l, 1000 * i + 3, &off, &ts),
                         i == 39 ? TANDEM_ENOENT : 0);
        if (i < 39) {
            assert_int_equal(off, 3 * (i + 1));
            assert_int_equal(ts, 1000 * (i + 1));
        }
    }
    assert_int_equal(plog_offset_for_time(f->l, -5, &off, &ts), 0);
    assert_int_equal(off, 0);
}

static void test_non_monotonic_time(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"index.interval.bytes"}, *v[] = {"0"};
    log_fx_make_topic(f, 1, k, v);
    int64_t tss[] = {500, 100, 900, 300, 1200, 50};
    for (int i = 0; i < 6; i++)
        append(f, TBATCH(.nrec = 1, .ts = tss[i]), NULL, NULL);
    int64_t off, ts;
    assert_int_equal(plog_offset_for_time(f->l, 600, &off, &ts), 0);
    assert_int_equal(off, 2);
    assert_int_equal(ts, 900);
    assert_int_equal(plog_offset_for_time(f->l, 1000, &off, &ts), 0);
    assert_int_equal(off, 4);
    assert_int_equal(plog_offset_for_time(f->l, 100, &off, &ts), 0);
    assert_int_equal(off, 0);
}

/* A write that fails part way (here: the file size limit, EFBIG after a short write, standing in
 * for ENOSPC) is cut back and reported; the log is unchanged and the next append succeeds. */
static void test_write_failure(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    uint8_t *first;
    size_t len;
    append(f, TBATCH(.nrec = 2, .value_len = 100), &first, &len);
    free(first);
    char p[4096];
    snprintf(p, sizeof(p), "%s/t-0/00000000000000000000.log", f->dir);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)(len + len / 2);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    size_t blen;
    uint8_t *b = tbatch(TBATCH(.nrec = 2, .value_len = 100), &blen);
    struct log_append_info info;
    int rc = tappend(f->l, b, blen, &info);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(rc, TANDEM_EIO);
    assert_int_equal(file_size(p), len);
    assert_int_equal(plog_end_offset(f->l), 2);
    assert_int_equal(plog_size_bytes(f->l), len);
    assert_int_equal(tappend(f->l, b, blen, &info), 0);
    assert_int_equal(info.base_offset, 2);
    assert_int_equal(file_size(p), len + blen);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOG_FX_TEST(test_append_read_identical),
        LOG_FX_TEST(test_read_positions),
        LOG_FX_TEST(test_too_large_and_append_time),
        LOG_FX_TEST(test_roll_by_size),
        LOG_FX_TEST(test_roll_by_age),
        LOG_FX_TEST(test_retention_bytes),
        LOG_FX_TEST(test_retention_ms),
        LOG_FX_TEST(test_offset_for_time),
        LOG_FX_TEST(test_non_monotonic_time),
        LOG_FX_TEST(test_write_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
