/*
 * Storage under the admin APIs: logmgr_set_topic_configs (AlterConfigs: validated whole, in
 * effect at once, committed to the .topic file, read back at open), log_config_get, and
 * plog_delete_records (DeleteRecords: the log start offset moves, segments wholly below it go,
 * reads below it are out of range, the start survives a reopen and a reopen without a clean
 * shutdown); and the offsets log's record type 5 (OffsetDelete) replayed at open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "group/group.h"
#include "group/offsets_log.h"
#include "test_log_util.h"

/* Appends n batches of one 500-byte record each; with segment.bytes 1024 each one after the
 * first rolls a segment. */
static void append_n(struct plog *l, int n)
{
    for (int i = 0; i < n; i++) {
        size_t len;
        uint8_t *b = tbatch(TBATCH(.nrec = 1, .ts = tnow_ms(), .value_len = 500), &len);
        struct log_append_info info;
        assert_int_equal(tappend(l, b, len, &info), 0);
        free(b);
    }
}

static void test_set_topic_configs(void **state)
{
    struct log_fx *f = *state;
    const char *k0[] = {"retention.ms"}, *v0[] = {"1000"};
    log_fx_make_topic(f, 1, k0, v0);
    struct topic *t = logmgr_find(f->m, "t", 1);
    char buf[64];
    assert_int_equal(log_config_get(&t->cfg, "retention.ms", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1000");
    assert_int_equal(log_config_get(&t->cfg, "cleanup.policy", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "delete");
    assert_int_equal(log_config_get(&t->cfg, "compression.type", buf, sizeof(buf)), TANDEM_EINVAL);

    /* A bad entry anywhere refuses the whole set, naming it. */
    const char *k1[] = {"segment.bytes", "cleanup.policy"}, *v1[] = {"1024", "compact"};
    int bad = -1;
    assert_int_equal(logmgr_set_topic_configs(f->m, "t", k1, v1, 2, false, &bad), TANDEM_EINVAL);
    assert_int_equal(bad, 1);
    assert_int_equal(t->cfg.segment_bytes, 1073741824);
    assert_int_equal(t->cfg.retention_ms, 1000);
    assert_int_equal(logmgr_set_topic_configs(f->m, "nope", k1, v1, 2, false, &bad), TANDEM_ENOENT);
    /* validate_only changes nothing */
    assert_int_equal(logmgr_set_topic_configs(f->m, "t", k1, v1, 1, true, &bad), 0);
    assert_int_equal(t->cfg.segment_bytes, 1073741824);

    /* The set replaces the old one (retention.ms back to the default) and acts at once. */
    assert_int_equal(logmgr_set_topic_configs(f->m, "t", k1, v1, 1, false, &bad), 0);
    assert_int_equal(t->cfg.segment_bytes, 1024);
    assert_int_equal(t->cfg.retention_ms, 7LL * 24 * 3600 * 1000);
    const char *const *keys, *const *values;
    assert_int_equal(logmgr_topic_overrides(t, &keys, &values), 1);
    assert_string_equal(keys[0], "segment.bytes");
    append_n(f->l, 6);
    char pdir[4096];
    snprintf(pdir, sizeof(pdir), "%s/t-0", f->dir);
    assert_true(count_files(pdir, ".log") >= 3);

    logmgr_close(f->m);
    struct log_config d;
    log_config_defaults(&d);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    t = logmgr_find(f->m, "t", 1);
    assert_int_equal(t->cfg.segment_bytes, 1024);
    assert_int_equal(logmgr_topic_overrides(t, &keys, &values), 1);
}

static void test_delete_records(void **state)
{
    struct log_fx *f = *state;
    const char *k[] = {"segment.bytes"}, *v[] = {"1024"};
    log_fx_make_topic(f, 1, k, v);
    append_n(f->l, 10); /* offsets 0..9, one batch a segment */
    char pdir[4096];
    snprintf(pdir, sizeof(pdir), "%s/t-0", f->dir);
    int before = count_files(pdir, ".log");
    assert_true(before >= 5);
    int64_t low = -1;
    assert_int_equal(plog_delete_records(f->l, 11, &low), TANDEM_ERANGE);
    assert_int_equal(low, 0);
    assert_int_equal(plog_delete_records(f->l, 5, &low), 0);
    assert_int_equal(low, 5);
    assert_int_equal(plog_start_offset(f->l), 5);
    assert_true(count_files(pdir, ".log") < before); /* the segments below 5 are gone */
    struct file_slice s;
    assert_int_equal(plog_read(f->l, 4, 1 << 20, &s), TANDEM_ERANGE);
    assert_int_equal(plog_read(f->l, 5, 1 << 20, &s), 0);
    assert_true(s.len > 0);
    log_slice_release(&s);
    int64_t off = -1, ts = -1;
    assert_int_equal(plog_offset_for_time(f->l, 0, &off, &ts), 0);
    assert_int_equal(off, 5);                                /* never below the start */
    assert_int_equal(plog_delete_records(f->l, 3, &low), 0); /* below: nothing changes */
    assert_int_equal(low, 5);

    /* Clean reopen, then a reopen after a "crash" (no clean-shutdown marker). */
    logmgr_close(f->m);
    struct log_config d;
    log_config_defaults(&d);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    struct topic *t = logmgr_find(f->m, "t", 1);
    assert_int_equal(plog_start_offset(t->partitions[0]), 5);
    assert_int_equal(plog_delete_records(t->partitions[0], 10, &low), 0); /* the end */
    assert_int_equal(low, 10);
    assert_int_equal(count_files(pdir, ".log"), 1);
    logmgr_close(f->m);
    char marker[4096];
    snprintf(marker, sizeof(marker), "%s/.clean_shutdown", f->dir);
    unlink(marker);
    assert_int_equal(logmgr_open(f->dir, &d, &f->m), 0);
    t = logmgr_find(f->m, "t", 1);
    assert_int_equal(plog_start_offset(t->partitions[0]), 10);
    assert_int_equal(plog_end_offset(t->partitions[0]), 10);
}

static void test_offsets_delete_replay(void **state)
{
    (void)state;
    quiet_logs();
    char *dir = tmpdir_new();
    struct gc_config cfg;
    gc_config_defaults(&cfg);
    struct gc_callbacks cb = {0};
    struct gc *gc = gc_new(&cfg, &cb);
    struct offsets_log *ol;
    assert_int_equal(offsets_log_open(dir, gc, &ol), 0);
    int64_t end;
    assert_int_equal(offsets_log_commit(ol, "g", 1, "t", 1, 0, 10, -1, 1, NULL, -1, &end), 0);
    assert_int_equal(offsets_log_commit(ol, "g", 1, "t", 1, 1, 11, -1, 1, NULL, -1, &end), 0);
    gc_offset_load(gc, "g", "t", 0, 10, -1, 1, NULL, -1);
    gc_offset_load(gc, "g", "t", 1, 11, -1, 1, NULL, -1);
    assert_int_equal(offsets_log_delete_offset(ol, "g", 1, "t", 1, 0, &end), 0);
    assert_true(gc_offset_delete(gc, KSTR("g"), "t", 0));
    assert_false(gc_offset_delete(gc, KSTR("g"), "t", 0)); /* already gone */
    assert_false(gc_offset_delete(gc, KSTR("nope"), "t", 1));
    assert_null(gc_offset_get(gc, KSTR("g"), KSTR("t"), 0));
    assert_non_null(gc_offset_get(gc, KSTR("g"), KSTR("t"), 1));
    offsets_log_close(ol);
    gc_free(gc);

    gc = gc_new(&cfg, &cb); /* replay */
    assert_int_equal(offsets_log_open(dir, gc, &ol), 0);
    assert_null(gc_offset_get(gc, KSTR("g"), KSTR("t"), 0));
    const struct gc_offset *o = gc_offset_get(gc, KSTR("g"), KSTR("t"), 1);
    assert_non_null(o);
    assert_int_equal(o->offset, 11);
    assert_int_equal(gc_offset_count(gc), 1);
    offsets_log_close(ol);
    gc_free(gc);
    tmpdir_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOG_FX_TEST(test_set_topic_configs),
        LOG_FX_TEST(test_delete_records),
        cmocka_unit_test(test_offsets_delete_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
