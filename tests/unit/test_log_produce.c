/*
 * Produce into storage: one partition's batches from one request are validated once and
 * appended all or nothing (api/produce.c produce_partition over log/plog.c plog_append).
 *
 * As in Kafka, a request's batches for a partition either all become visible or none does: a
 * sequence error or a fenced epoch in a later batch, a corrupt later batch, or a write that
 * fails part way leaves the log exactly as it was (end offset, bytes on disk, producer state),
 * and the partition's answer carries the error. Idempotent sequences are checked across the
 * request's batches (a batch may continue the one before it, or repeat it), and duplicates of
 * stored batches are skipped without breaking the others' offsets.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "api/api.h"
#include "test_log_util.h"

/* A Produce partition's records: the batches back to back. */
struct records {
    uint8_t *p;
    size_t len;
    size_t at[8]; /* where each batch starts */
    int n;
};

static void records_add(struct records *r, struct tbatch_opts o)
{
    size_t len;
    uint8_t *b = tbatch(o, &len);
    r->p = realloc(r->p, r->len + len);
    memcpy(r->p + r->len, b, len);
    r->at[r->n++] = r->len;
    r->len += len;
    free(b);
}

static struct produce_resp_partition produce(struct log_fx *f, struct records *r)
{
    struct topic *t = logmgr_find(f->m, "t", 1);
    assert_non_null(t);
    struct produce_resp_partition out = {
        .base_offset = -1, .log_append_time_ms = -1, .log_start_offset = -1};
    (void)produce_partition(t, 0, (struct kbytes){r->p, (int32_t)r->len}, &out);
    return out;
}

static long log_file_size(struct log_fx *f)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/t-0/00000000000000000000.log", f->dir);
    return file_size(p);
}

/* Appends one plain batch so the log is not empty; returns the log's size after it. */
static long seed(struct log_fx *f)
{
    struct records r = {0};
    records_add(&r, TBATCH(.nrec = 3, .value_len = 20));
    struct produce_resp_partition out = produce(f, &r);
    assert_int_equal(out.error_code, KAFKA_NONE);
    assert_int_equal(out.base_offset, 0);
    free(r.p);
    return log_file_size(f);
}

/* The log is as seed() left it: end offset 3, size bytes in memory and on disk, nothing more
 * readable. */
static void assert_unchanged(struct log_fx *f, long size)
{
    assert_int_equal(plog_end_offset(f->l), 3);
    assert_int_equal(plog_size_bytes(f->l), size);
    assert_int_equal(log_file_size(f), size);
    struct file_slice s;
    assert_int_equal(plog_read(f->l, 3, 1 << 20, &s), 0);
    assert_int_equal(s.len, 0);
}

/* Produces r, which must be refused whole with err: no offset, the log unchanged. Returns the
 * partition's answer. */
static struct produce_resp_partition assert_refused(struct log_fx *f, struct records *r,
                                                    int16_t err, long size)
{
    struct produce_resp_partition out = produce(f, r);
    assert_int_equal(out.error_code, err);
    assert_int_equal(out.base_offset, -1);
    assert_unchanged(f, size);
    return out;
}

/* The second batch's sequence leaves a gap: the first, valid on its own, is not appended either,
 * and the producer state is as before (the first batch can still be sent with sequence 0). */
static void test_bad_sequence_in_second_batch(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    long size = seed(f);
    struct records r = {0};
    records_add(&r, TBATCH(.nrec = 2, .pid = 7, .seq = 0));
    records_add(&r, TBATCH(.nrec = 2, .pid = 7, .seq = 5));
    assert_refused(f, &r, KAFKA_OUT_OF_ORDER_SEQUENCE_NUMBER, size);
    free(r.p);

    struct records again = {0};
    records_add(&again, TBATCH(.nrec = 2, .pid = 7, .seq = 0));
    struct produce_resp_partition out = produce(f, &again);
    assert_int_equal(out.error_code, KAFKA_NONE);
    assert_int_equal(out.base_offset, 3);
    assert_int_equal(plog_end_offset(f->l), 5);
    free(again.p);
}

/* A lower epoch in the second batch: fenced, nothing appended. */
static void test_fenced_second_batch(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    long size = seed(f);
    struct records r = {0};
    records_add(&r, TBATCH(.nrec = 1, .pid = 9, .epoch = 2, .seq = 0));
    records_add(&r, TBATCH(.nrec = 1, .pid = 9, .epoch = 1, .seq = 1));
    assert_refused(f, &r, KAFKA_INVALID_PRODUCER_EPOCH, size);
    free(r.p);
}

/* A corrupt second batch (one flipped byte under its CRC): CORRUPT_MESSAGE, nothing appended. */
static void test_corrupt_second_batch(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    long size = seed(f);
    struct records r = {0};
    records_add(&r, TBATCH(.nrec = 2, .value_len = 10));
    records_add(&r, TBATCH(.nrec = 2, .value_len = 10));
    r.p[r.at[1] + KBATCH_HEADER_SIZE + 3] ^= 0x40;
    struct produce_resp_partition out = assert_refused(f, &r, KAFKA_CORRUPT_MESSAGE, size);
    assert_true(out.error_message.len > 0); /* says which check failed */
    free(r.p);
}

/* The write fails inside the second batch (the file size limit cuts it short, EFBIG standing in
 * for ENOSPC): the whole append is cut back, KAFKA_STORAGE_ERROR, and a retry succeeds. */
static void test_write_failure_in_second_batch(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    long size = seed(f);
    struct records r = {0};
    records_add(&r, TBATCH(.nrec = 2, .value_len = 100));
    records_add(&r, TBATCH(.nrec = 2, .value_len = 100));
    size_t second = r.len - r.at[1];
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)size + r.at[1] + second / 2; /* the first fits, the second does not */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    struct produce_resp_partition out = produce(f, &r);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0); /* before any assert can jump out */
    assert_int_equal(out.error_code, KAFKA_KAFKA_STORAGE_ERROR);
    assert_int_equal(out.base_offset, -1);
    assert_unchanged(f, size);

    out = produce(f, &r);
    assert_int_equal(out.error_code, KAFKA_NONE);
    assert_int_equal(out.base_offset, 3);
    assert_int_equal(plog_end_offset(f->l), 7);
    assert_int_equal(log_file_size(f), size + (long)r.len);
    free(r.p);
}

/* Sequences continue across the request's batches, and a batch that repeats one (stored, or
 * earlier in the same request) is a duplicate: skipped, the others keep contiguous offsets. */
static void test_sequences_across_batches(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"message.timestamp.type"}, *v[] = {"LogAppendTime"};
    log_fx_make_topic(f, 1, k, v);
    struct records r = {0};
    records_add(&r, TBATCH(.nrec = 2, .pid = 7, .seq = 0));
    records_add(&r, TBATCH(.nrec = 3, .pid = 7, .seq = 2)); /* continues the first */
    records_add(&r, TBATCH(.nrec = 3, .pid = 7, .seq = 2)); /* repeats the second */
    records_add(&r, TBATCH(.nrec = 1, .pid = 8, .seq = 0)); /* another producer */
    struct produce_resp_partition out = produce(f, &r);
    assert_int_equal(out.error_code, KAFKA_NONE);
    assert_int_equal(out.base_offset, 0);
    assert_true(out.log_append_time_ms > 0);
    assert_int_equal(plog_end_offset(f->l), 6);
    free(r.p);

    /* a retry of the first batch in front of a new one: the answer is the original's offset */
    struct records retry = {0};
    records_add(&retry, TBATCH(.nrec = 2, .pid = 7, .seq = 0));
    records_add(&retry, TBATCH(.nrec = 2, .pid = 7, .seq = 5));
    out = produce(f, &retry);
    assert_int_equal(out.error_code, KAFKA_NONE);
    assert_int_equal(out.base_offset, 0);
    assert_int_equal(plog_end_offset(f->l), 8);
    free(retry.p);

    /* only retries: stored already, nothing written */
    struct records dups = {0};
    records_add(&dups, TBATCH(.nrec = 2, .pid = 7, .seq = 5));
    out = produce(f, &dups);
    assert_int_equal(out.error_code, KAFKA_NONE);
    assert_int_equal(out.base_offset, 6);
    assert_int_equal(plog_end_offset(f->l), 8);
    free(dups.p);

    /* what is stored: whole valid batches (CRCs recomputed for LogAppendTime), offsets 0 2 5 6 */
    struct file_slice s;
    assert_int_equal(plog_read(f->l, 0, 1 << 20, &s), 0);
    uint8_t *got = slice_bytes(&s);
    const int64_t bases[] = {0, 2, 5, 6};
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        struct kbatch kb;
        size_t used;
        assert_int_equal(kbatch_validate(got + at, s.len - at, &kb, &used), 0);
        assert_int_equal(kb.base_offset, bases[i]);
        assert_true(kb.attributes & KBATCH_ATTR_LOG_APPEND_TS);
        at += used;
    }
    assert_int_equal(at, s.len);
    free(got);
    log_slice_release(&s);
}

/* Compressed batches may claim up to 2^31 records each without holding them: three of them span
 * more offsets than one segment can index, which the append refuses whole. */
static void test_offset_span_refused(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    long size = seed(f);
    struct records r = {0};
    for (int i = 0; i < 3; i++) {
        records_add(&r, TBATCH(.nrec = 1, .value_len = 8));
        uint8_t *b = r.p + r.at[i];
        size_t len = (i + 1 < r.n ? r.at[i + 1] : r.len) - r.at[i];
        put_be16(b + 21, 1);             /* gzip: the records are not walked */
        put_be32(b + 23, INT32_MAX - 1); /* lastOffsetDelta */
        put_be32(b + 57, INT32_MAX);     /* recordsCount */
        put_be32(b + 17, kbatch_compute_crc(b, len));
    }
    assert_refused(f, &r, KAFKA_MESSAGE_TOO_LARGE, size);
    free(r.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOG_FX_TEST(test_bad_sequence_in_second_batch),
        LOG_FX_TEST(test_fenced_second_batch),
        LOG_FX_TEST(test_corrupt_second_batch),
        LOG_FX_TEST(test_write_failure_in_second_batch),
        LOG_FX_TEST(test_sequences_across_batches),
        LOG_FX_TEST(test_offset_span_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
