/*
 * Storage: the flusher thread (plog_sync in a loop) against the loop thread appending, rolling,
 * applying retention and reading. Meant for the ASan build; a TSan build finds the same races.
 * Checks: the durable offset only grows and never passes the end offset, every slice taken reads
 * back the batch it should, and after a final sync durable == end.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_log_util.h"

struct flusher {
    struct plog *l;
    atomic_bool stop;
    atomic_long syncs;
    atomic_bool bad;
};

static void *flusher_main(void *arg)
{
    struct flusher *fl = arg;
    int64_t last = 0;
    while (!atomic_load(&fl->stop)) {
        int64_t durable = -1;
        if (plog_sync(fl->l, &durable) || durable < last)
            atomic_store(&fl->bad, true);
        if (plog_durable_offset(fl->l) < durable)
            atomic_store(&fl->bad, true);
        last = durable;
        atomic_fetch_add(&fl->syncs, 1);
    }
    return NULL;
}

static void slice_release_thread(struct file_slice *s)
{
    log_slice_release(s);
}

static void *releaser_main(void *arg)
{
    slice_release_thread(arg);
    return NULL;
}

static void test_sync_while_appending(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    struct log_config d;
    log_config_defaults(&d);
    struct logmgr *m = NULL;
    assert_int_equal(logmgr_open(dir, &d, &m), 0);
    const char *k[] = {"segment.bytes", "retention.bytes", "index.interval.bytes"};
    const char *v[] = {"4000", "20000", "500"};
    struct topic *t;
    assert_int_equal(logmgr_create_topic(m, "c", 1, k, v, 3, &t), 0);
    struct flusher fl = {.l = t->partitions[0]};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, flusher_main, &fl), 0);
    int deleted = 0;
    for (int i = 0; i < 1500; i++) {
        size_t len;
        uint8_t *b = tbatch(TBATCH(.nrec = 3, .ts = tnow_ms(), .pid = 99, .seq = 3 * i,
                                   .value_len = (size_t)(i % 50)),
                            &len);
        struct log_append_info info;
        assert_int_equal(tappend(fl.l, b, len, &info), 0);
        assert_int_equal(info.base_offset, 3 * i);
        assert_true(plog_durable_offset(fl.l) <= plog_end_offset(fl.l));
        if (i % 10 == 0)
            deleted += plog_maintain(fl.l, tnow_ms());
        if (i % 7 == 0) { /* read back the batch just written, release it on another thread */
            struct file_slice *s = malloc(sizeof(*s));
            assert_int_equal(plog_read(fl.l, 3 * i + 1, 1, s), 0);
            uint8_t *got = slice_bytes(s);
            assert_memory_equal(got, b, len);
            free(got);
            pthread_t rt;
            assert_int_equal(pthread_create(&rt, NULL, releaser_main, s), 0);
            pthread_join(rt, NULL);
            free(s);
        }
        free(b);
    }
    atomic_store(&fl.stop, true);
    pthread_join(th, NULL);
    assert_false(atomic_load(&fl.bad));
    assert_true(atomic_load(&fl.syncs) > 0);
    assert_true(deleted > 10);
    int64_t durable;
    assert_int_equal(plog_sync(fl.l, &durable), 0);
    assert_int_equal(durable, 4500);
    assert_int_equal(plog_durable_offset(fl.l), 4500);
    logmgr_close(m);
    tmpdir_free(dir);
}

int main(void)
{
    quiet_logs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sync_while_appending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
