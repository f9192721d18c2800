/*
 * Transactions on a partition (log/txn.c): the last stable offset, the aborted-transaction index,
 * the markers' bytes, read_committed reads (plog_read_upto), and that a reopened log rebuilds
 * the same state from its batches (after a clean close and after a crash, i.e. without one).
 * Also the transaction log's record codec and file (group/txn_log.c): round trip, replay, a torn
 * tail cut off, a rewrite.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "group/txn_log.h"
#include "log/log_int.h"
#include "test_log_util.h"

/* Appends a transactional batch of n records from pid/epoch with sequence seq; returns its
 * base offset. */
static int64_t txn_batch(struct plog *l, int64_t pid, int16_t epoch, int32_t seq, int n)
{
    size_t len;
    uint8_t *b =
        tbatch(TBATCH(.nrec = n, .pid = pid, .epoch = epoch, .seq = seq, .ts = 1000), &len);
    put_be16(b + 21, KBATCH_ATTR_TRANSACTIONAL);
    put_be32(b + 17, kbatch_compute_crc(b, len));
    struct log_append_info info;
    assert_int_equal(tappend(l, b, len, &info), 0);
    free(b);
    return info.base_offset;
}

static int64_t plain_batch(struct plog *l)
{
    size_t len;
    uint8_t *b = tbatch(TBATCH(.nrec = 2, .ts = 1000), &len);
    struct log_append_info info;
    assert_int_equal(tappend(l, b, len, &info), 0);
    free(b);
    return info.base_offset;
}

static int64_t marker(struct plog *l, int64_t pid, int16_t epoch, bool commit)
{
    int64_t off = -1;
    assert_int_equal(plog_append_marker(l, pid, epoch, commit, 7, &off), 0);
    return off;
}

/* Two producers interleaved: LSO follows the earliest open one; aborts are indexed. */
static void check_state(struct plog *l)
{
    struct log_aborted_txn v[4];
    assert_int_equal(plog_last_stable_offset(l), plog_end_offset(l));
    assert_int_equal(plog_aborted_txns(l, 0, INT64_MAX, v, 4), 1);
    assert_int_equal(v[0].producer_id, 11);
    assert_int_equal(v[0].first_offset, 3);
    assert_int_equal(v[0].last_offset, 12);
    /* ranges: entirely before the abort's first offset, entirely after its marker */
    assert_int_equal(plog_aborted_txns(l, 0, 3, v, 4), 0);
    assert_int_equal(plog_aborted_txns(l, 13, INT64_MAX, v, 4), 0);
    assert_int_equal(plog_aborted_txns(l, 12, 13, v, 4), 1);
    assert_int_equal(plog_aborted_txns(l, 0, 4, NULL, 0), 1);
}

static void test_lso_and_aborted(void **state)
{
    struct log_fx *f = *state;
    log_fx_make_topic(f, 0, NULL, NULL);
    struct plog *l = f->l;
    assert_int_equal(plain_batch(l), 0); /* 0-1 */
    assert_int_equal(plog_last_stable_offset(l), 2);
    assert_int_equal(txn_batch(l, 10, 0, 0, 1), 2); /* pid 10 opens at 2 */
    assert_int_equal(plog_last_stable_offset(l), 2);
    assert_int_equal(txn_batch(l, 11, 0, 0, 3), 3); /* pid 11 opens at 3 (3-5) */
    assert_int_equal(txn_batch(l, 10, 0, 1, 2), 6); /* 6-7 */
    assert_int_equal(plain_batch(l), 8);            /* 8-9, non-transactional */
    assert_int_equal(plog_last_stable_offset(l), 2);
    assert_int_equal(plog_txn_first_offset(l, 10), 2);
    assert_int_equal(plog_txn_first_offset(l, 11), 3);
    assert_int_equal(plog_txn_first_offset(l, 12), -1);
    int64_t pids[1];
    assert_int_equal(plog_open_txns(l, pids, 1), 2);
    assert_true(pids[0] == 10 || pids[0] == 11);
    /* a read_committed read stops before the first open transaction */
    struct file_slice s;
    assert_int_equal(plog_read_upto(l, 0, 1 << 20, plog_last_stable_offset(l), &s), 0);
    assert_true(s.len > 0);
    uint8_t *bytes = slice_bytes(&s);
    struct kbatch h;
    assert_int_equal(kbatch_parse_header(bytes, s.len, &h), 0);
    assert_int_equal(h.base_offset, 0);
    assert_int_equal(kbatch_size(&h), s.len); /* just the first batch */
    free(bytes);
    log_slice_release(&s);
    assert_int_equal(plog_read_upto(l, 2, 1 << 20, 2, &s), 0);
    assert_int_equal(s.len, 0);

    assert_int_equal(marker(l, 10, 0, true), 10); /* commit pid 10: LSO moves to pid 11's 3 */
    assert_int_equal(plog_last_stable_offset(l), 3);
    assert_int_equal(txn_batch(l, 11, 0, 3, 1), 11);
    assert_int_equal(marker(l, 11, 0, false), 12); /* abort pid 11 (3..12) */
    /* a marker for a producer with nothing open changes nothing */
    assert_int_equal(marker(l, 99, 0, false), 13);
    check_state(l);

    /* the marker's bytes are Kafka's EndTransactionMarker */
    assert_int_equal(plog_read(l, 12, 1 << 20, &s), 0);
    bytes = slice_bytes(&s);
    assert_int_equal(kbatch_validate(bytes, s.len, &h, &(size_t){0}), 0);
    assert_int_equal(h.attributes, KBATCH_ATTR_TRANSACTIONAL | KBATCH_ATTR_CONTROL);
    assert_int_equal(h.producer_id, 11);
    assert_int_equal(h.base_sequence, -1);
    assert_int_equal(h.records_count, 1);
    const uint8_t want[] = {0x20, 0, 0, 0, 0x08, 0, 0, 0, 0, 0x0c, 0, 0, 0, 0, 0, 7, 0};
    assert_memory_equal(bytes + KBATCH_HEADER_SIZE, want, sizeof(want));
    free(bytes);
    log_slice_release(&s);

    /* crash (no clean close): reopen rebuilds the same state */
    logmgr_close(f->m);
    struct log_config d;
    log_config_defaults(&d);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    struct topic *t = logmgr_find(f->m, "t", 1);
    check_state(t->partitions[0]);
    /* an open transaction survives a reopen too */
    assert_int_equal(txn_batch(t->partitions[0], 12, 0, 0, 1), 14);
    logmgr_close(f->m);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    t = logmgr_find(f->m, "t", 1);
    assert_int_equal(plog_last_stable_offset(t->partitions[0]), 14);
    assert_int_equal(marker(t->partitions[0], 12, 0, true), 15);
    assert_int_equal(plog_last_stable_offset(t->partitions[0]), 16);
}

/* ---- the transaction log ----------------------------------------------------------------- */

static struct txn_record sample(const char *id, int8_t state, int64_t pid)
{
    static struct txn_rec_partition parts[2] = {{KSTR("a"), 0, -1}, {KSTR("bb"), 3, 77}};
    static struct kstr groups[1] = {KSTR("g")};
    static struct txn_rec_offset offs[1] = {{KSTR("g"), KSTR("in"), 2, 42, 5, KSTR_NULL}};
    return (struct txn_record){
        .transactional_id = {id, (int32_t)strlen(id)},
        .producer_id = pid,
        .producer_epoch = 3,
        .state = state,
        .timeout_ms = 60000,
        .start_ms = 1234,
        .npartitions = 2,
        .partitions = parts,
        .ngroups = 1,
        .groups = groups,
        .noffsets = state == TXN_PREPARE_COMMIT ? 1 : 0,
        .offsets = offs,
    };
}

static void test_txn_record_roundtrip(void **state)
{
    (void)state;
    struct txn_record in = sample("tx", TXN_PREPARE_COMMIT, 77), out;
    struct kw w;
    kw_init(&w, 64);
    txn_record_encode(&w, &in);
    struct arena a;
    arena_init(&a, 0);
    assert_int_equal(txn_record_decode(w.buf, w.len, &a, &out), 0);
    assert_true(kstr_eq(out.transactional_id, "tx"));
    assert_int_equal(out.producer_id, 77);
    assert_int_equal(out.producer_epoch, 3);
    assert_int_equal(out.state, TXN_PREPARE_COMMIT);
    assert_int_equal(out.timeout_ms, 60000);
    assert_int_equal(out.start_ms, 1234);
    assert_int_equal(out.npartitions, 2);
    assert_true(kstr_eq(out.partitions[1].topic, "bb"));
    assert_int_equal(out.partitions[1].partition, 3);
    assert_int_equal(out.partitions[1].end, 77);
    assert_int_equal(out.partitions[0].end, -1);
    assert_int_equal(out.ngroups, 1);
    assert_int_equal(out.noffsets, 1);
    assert_int_equal(out.offsets[0].offset, 42);
    assert_int_equal(out.offsets[0].leader_epoch, 5);
    assert_int_equal(out.offsets[0].metadata.len, -1);
    /* every truncation and an extra byte are rejected */
    for (size_t n = 0; n < w.len; n++)
        assert_int_equal(txn_record_decode(w.buf, n, &a, &out), TANDEM_ECORRUPT);
    kw_i8(&w, 0);
    assert_int_equal(txn_record_decode(w.buf, w.len, &a, &out), TANDEM_ECORRUPT);
    arena_cleanup(&a);
    kw_cleanup(&w);
}

struct replayed {
    int n;
    int64_t last_pid;
    int8_t last_state;
};

static void on_rec(const struct txn_record *r, void *arg)
{
    struct replayed *rp = arg;
    rp->n++;
    rp->last_pid = r->producer_id;
    rp->last_state = r->state;
}

static void test_txn_log_file(void **state)
{
    (void)state;
    quiet_logs();
    char *dir = tmpdir_new();
    struct txn_log *l;
    struct replayed rp = {0};
    assert_int_equal(txn_log_open(dir, on_rec, &rp, &l), 0);
    assert_int_equal(rp.n, 0);
    struct txn_record r1 = sample("tx", TXN_ONGOING, 1), r2 = sample("tx", TXN_PREPARE_COMMIT, 2);
    assert_int_equal(txn_log_append(l, &r1, true), 0);
    assert_int_equal(txn_log_append(l, &r2, false), 0);
    uint64_t size = txn_log_size(l);
    txn_log_close(l);
    /* a torn tail: half a record appended */
    char p[4096];
    snprintf(p, sizeof(p), "%s/__transaction_state/txn.log", dir);
    FILE *fp = fopen(p, "ab");
    assert_non_null(fp);
    fwrite("\0\0\0\x40garbage", 1, 11, fp);
    fclose(fp);
    assert_int_equal(txn_log_open(dir, on_rec, &rp, &l), 0);
    assert_int_equal(rp.n, 2);
    assert_int_equal(rp.last_pid, 2);
    assert_int_equal(rp.last_state, TXN_PREPARE_COMMIT);
    assert_int_equal(txn_log_size(l), size);
    assert_int_equal(file_size(p), (long)size);
    /* rewrite to one record */
    struct txn_record r3 = sample("tx", TXN_COMPLETE_COMMIT, 3);
    txn_log_rewrite_begin(l);
    txn_log_rewrite_add(l, &r3);
    assert_int_equal(txn_log_rewrite_commit(l), 0);
    assert_true(txn_log_size(l) < size);
    struct txn_record r4 = sample("ty", TXN_EMPTY, 4);
    assert_int_equal(txn_log_append(l, &r4, true), 0);
    txn_log_close(l);
    rp = (struct replayed){0};
    assert_int_equal(txn_log_open(dir, on_rec, &rp, &l), 0);
    assert_int_equal(rp.n, 2);
    assert_int_equal(rp.last_pid, 4);
    txn_log_close(l);
    tmpdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOG_FX_TEST(test_lso_and_aborted),
        cmocka_unit_test(test_txn_record_roundtrip),
        cmocka_unit_test(test_txn_log_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
