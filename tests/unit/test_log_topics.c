/*
 * Storage: topics in the data dir (create, delete, reopen, names, configs, leftovers, locking,
 * growing a topic's partition count and what an interrupted grow leaves).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "test_log_util.h"

static struct logmgr *open_dir(const char *dir)
{
    struct log_config d;
    struct logmgr *m = NULL;
    log_config_defaults(&d);
    assert_int_equal(logmgr_open(dir, &d, &m), 0);
    return m;
}

static bool exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void collect(struct topic *t, void *arg)
{
    char *s = arg;
    size_t n = strlen(s);
    snprintf(s + n, 256 - n, "%s,", t->name);
}

static void test_create_delete_reopen(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    struct logmgr *m = open_dir(dir);
    struct topic *t;
    assert_int_equal(logmgr_create_topic(m, "orders", 3, NULL, NULL, 0, &t), 0);
    assert_int_equal(t->npartitions, 3);
    assert_int_equal(logmgr_create_topic(m, "audit.v1", 1, NULL, NULL, 0, NULL), 0);
    assert_int_equal(logmgr_create_topic(m, "a-b_c", 2, NULL, NULL, 0, NULL), 0);
    assert_int_equal(logmgr_create_topic(m, "orders", 1, NULL, NULL, 0, NULL), TANDEM_EEXIST);
    assert_int_equal(logmgr_topic_count(m), 3);
    assert_true(exists(dir, "orders.topic"));
    assert_true(exists(dir, "orders-2/00000000000000000000.log"));
    assert_true(exists(dir, "orders-2/00000000000000000000.index"));
    assert_true(exists(dir, "orders-2/00000000000000000000.timeindex"));
    char names[256] = "";
    logmgr_foreach(m, collect, names);
    assert_string_equal(names, "a-b_c,audit.v1,orders,");
    assert_non_null(logmgr_find(m, "ordersXYZ", 6));
    assert_null(logmgr_find(m, "order", 5));
    size_t len;
    uint8_t *b = tbatch(TBATCH(.nrec = 1), &len);
    struct log_append_info info;
    assert_int_equal(tappend(t->partitions[1], b, len, &info), 0);
    free(b);

    assert_int_equal(logmgr_delete_topic(m, "orders"), 0);
    assert_int_equal(logmgr_delete_topic(m, "orders"), TANDEM_ENOENT);
    assert_null(logmgr_find(m, "orders", 6));
    assert_false(exists(dir, "orders.topic"));
    assert_false(exists(dir, "orders-0"));
    assert_false(exists(dir, "orders-1"));
    assert_false(exists(dir, "orders-1.deleted"));
    logmgr_close(m);

    m = open_dir(dir);
    assert_int_equal(logmgr_topic_count(m), 2);
    assert_null(logmgr_find(m, "orders", 6));
    t = logmgr_find(m, "a-b_c", 5);
    assert_non_null(t);
    assert_int_equal(t->npartitions, 2);
    assert_int_equal(logmgr_create_topic(m, "orders", 1, NULL, NULL, 0, &t), 0);
    assert_int_equal(plog_end_offset(t->partitions[0]), 0); /* a fresh log, nothing old */
    logmgr_close(m);
    tmpdir_free(dir);
}

static void test_bad_names_and_configs(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    struct logmgr *m = open_dir(dir);
    char long_name[251];
    memset(long_name, 'x', 250);
    long_name[250] = '\0';
    const char *bad[] = {"", ".", "..", "a/b", "a b", "caf\xc3\xa9", "x\ny", long_name};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(logmgr_create_topic(m, bad[i], 1, NULL, NULL, 0, NULL), TANDEM_EINVAL);
    long_name[249] = '\0';
    assert_true(topic_name_valid(long_name, 249));
    assert_true(topic_name_valid("...", 3));
    assert_false(topic_name_valid("..", 2));
    assert_int_equal(logmgr_create_topic(m, long_name, 1, NULL, NULL, 0, NULL), 0);
    assert_int_equal(logmgr_delete_topic(m, long_name), 0);
    assert_int_equal(logmgr_create_topic(m, "p", 0, NULL, NULL, 0, NULL), TANDEM_EINVAL);
    assert_int_equal(logmgr_create_topic(m, "p", -3, NULL, NULL, 0, NULL), TANDEM_EINVAL);
    const char *k[] = {"retention.ms", "cleanup.policy"}, *v[] = {"1000", "compact"};
    assert_int_equal(logmgr_create_topic(m, "p", 2, k, v, 2, NULL), TANDEM_EINVAL);
    assert_false(exists(dir, "p.topic")); /* nothing left behind */
    assert_false(exists(dir, "p-0"));
    assert_int_equal(logmgr_topic_count(m), 0);
    logmgr_close(m);
    tmpdir_free(dir);
}

static void test_config_set(void **state)
{
    (void)state;
    struct log_config c;
    log_config_defaults(&c);
    assert_int_equal(c.segment_bytes, 1073741824);
    assert_int_equal(c.retention_bytes, -1);
    assert_int_equal(c.retention_ms, 604800000);
    assert_int_equal(c.index_interval_bytes, 4096);
    assert_int_equal(c.max_message_bytes, 1048588);
    assert_int_equal(log_config_set(&c, "retention.ms", "-1"), 0);
    assert_int_equal(c.retention_ms, -1);
    assert_int_equal(log_config_set(&c, "retention.bytes", "1048576"), 0);
    assert_int_equal(c.retention_bytes, 1048576);
    assert_int_equal(log_config_set(&c, "segment.bytes", "2048"), 0);
    assert_int_equal(c.segment_bytes, 2048);
    assert_int_equal(log_config_set(&c, "segment.ms", "60000"), 0);
    assert_int_equal(c.segment_ms, 60000);
    assert_int_equal(log_config_set(&c, "max.message.bytes", "100"), 0);
    assert_int_equal(c.max_message_bytes, 100);
    assert_int_equal(log_config_set(&c, "index.interval.bytes", "0"), 0);
    assert_int_equal(c.index_interval_bytes, 0);
    assert_int_equal(log_config_set(&c, "message.timestamp.type", "LogAppendTime"), 0);
    assert_true(c.log_append_time);
    assert_int_equal(log_config_set(&c, "message.timestamp.type", "CreateTime"), 0);
    assert_false(c.log_append_time);
    assert_int_equal(log_config_set(&c, "cleanup.policy", "delete"), 0);
    const char *bad[][2] = {{"retention.ms", "-2"},
                            {"retention.ms", "12x"},
                            {"retention.ms", ""},
                            {"segment.bytes", "13"},
                            {"segment.bytes", "3000000000"},
                            {"segment.ms", "0"},
                            {"max.message.bytes", "-1"},
                            {"message.timestamp.type", "Now"},
                            {"cleanup.policy", "compact"},
                            {"no.such.key", "1"},
                            {"retention.bytes", "99999999999999999999"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(log_config_set(&c, bad[i][0], bad[i][1]), TANDEM_EINVAL);
}

static void test_leftovers_and_lock(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    struct logmgr *m = open_dir(dir);
    assert_int_equal(logmgr_create_topic(m, "keep", 1, NULL, NULL, 0, NULL), 0);
    struct log_config d;
    log_config_defaults(&d);
    struct logmgr *second = NULL;
    assert_int_equal(logmgr_open(dir, &d, &second), TANDEM_EIO); /* locked */
    logmgr_close(m);
    char p[4096];
    const char *dirs[] = {"ghost-0", "keep-1", "gone-3.deleted", "not_a_partition"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, dirs[i]);
        assert_int_equal(mkdir(p, 0755), 0);
        snprintf(p, sizeof(p), "%s/%s/00000000000000000000.log", dir, dirs[i]);
        FILE *fp = fopen(p, "w");
        fclose(fp);
    }
    snprintf(p, sizeof(p), "%s/.topic.tmp", dir);
    fclose(fopen(p, "w"));
    m = open_dir(dir);
    assert_false(exists(dir, "ghost-0"));
    assert_false(exists(dir, "keep-1")); /* keep has one partition */
    assert_false(exists(dir, "gone-3.deleted"));
    assert_false(exists(dir, ".topic.tmp"));
    assert_true(exists(dir, "not_a_partition"));
    assert_true(exists(dir, "keep-0"));
    assert_int_equal(logmgr_topic_count(m), 1);
    logmgr_close(m);
    tmpdir_free(dir);
}

static bool file_has_line(const char *dir, const char *name, const char *line)
{
    char p[4096], buf[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    bool found = false;
    while (f && !found && fgets(buf, sizeof(buf), f)) {
        buf[strcspn(buf, "\n")] = '\0';
        found = strcmp(buf, line) == 0;
    }
    if (f)
        fclose(f);
    return found;
}

static void append_one(struct plog *l, int64_t want_offset)
{
    size_t len;
    uint8_t *b = tbatch(TBATCH(.nrec = 1), &len);
    struct log_append_info info;
    assert_int_equal(tappend(l, b, len, &info), 0);
    assert_int_equal(info.base_offset, want_offset);
    free(b);
}

/* A stale partition directory with bytes in its log, as an interrupted grow could leave. */
static void make_stale_partition(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/%s/00000000000000000000.log", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("stale bytes that are not a record batch", f);
    fclose(f);
}

static void test_add_partitions(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    struct logmgr *m = open_dir(dir);
    const char *k[] = {"retention.ms"}, *v[] = {"3600000"};
    struct topic *t;
    assert_int_equal(logmgr_create_topic(m, "g", 1, k, v, 1, &t), 0);
    append_one(t->partitions[0], 0);
    struct plog *p0 = t->partitions[0];

    assert_int_equal(logmgr_add_partitions(m, "g", 1), TANDEM_EINVAL); /* not an increase */
    assert_int_equal(logmgr_add_partitions(m, "g", 0), TANDEM_EINVAL);
    assert_int_equal(logmgr_add_partitions(m, "g", LOG_MAX_PARTITIONS + 1), TANDEM_EINVAL);
    assert_int_equal(logmgr_add_partitions(m, "nope", 3), TANDEM_ENOENT);
    assert_int_equal(t->npartitions, 1);

    assert_int_equal(logmgr_add_partitions(m, "g", 3), 0);
    assert_ptr_equal(logmgr_find(m, "g", 1), t);
    assert_int_equal(t->npartitions, 3);
    assert_ptr_equal(t->partitions[0], p0); /* existing plogs are kept, not reopened */
    assert_int_equal(plog_end_offset(t->partitions[0]), 1);
    assert_int_equal(plog_end_offset(t->partitions[2]), 0);
    assert_int_equal(t->cfg.retention_ms, 3600000);
    append_one(t->partitions[2], 0);
    append_one(t->partitions[2], 1);
    assert_true(exists(dir, "g-1/00000000000000000000.log"));
    assert_true(exists(dir, "g-2/00000000000000000000.log"));
    assert_true(file_has_line(dir, "g.topic", "partitions=3"));
    assert_true(file_has_line(dir, "g.topic", "retention.ms=3600000"));
    logmgr_close(m);

    /* Reopened: three partitions with their records. */
    m = open_dir(dir);
    t = logmgr_find(m, "g", 1);
    assert_non_null(t);
    assert_int_equal(t->npartitions, 3);
    assert_int_equal(plog_end_offset(t->partitions[0]), 1);
    assert_int_equal(plog_end_offset(t->partitions[1]), 0);
    assert_int_equal(plog_end_offset(t->partitions[2]), 2);
    assert_int_equal(t->cfg.retention_ms, 3600000);
    logmgr_close(m);

    /* A crash after the new directories were made and before the .topic file was replaced: the
     * topic opens with its old count and the directories are removed. */
    make_stale_partition(dir, "g-3");
    make_stale_partition(dir, "g-4");
    m = open_dir(dir);
    t = logmgr_find(m, "g", 1);
    assert_int_equal(t->npartitions, 3);
    assert_false(exists(dir, "g-3"));
    assert_false(exists(dir, "g-4"));
    assert_int_equal(plog_end_offset(t->partitions[2]), 2);

    /* A directory left in place while the broker runs is replaced by a fresh partition. */
    make_stale_partition(dir, "g-3");
    assert_int_equal(logmgr_add_partitions(m, "g", 5), 0);
    assert_int_equal(t->npartitions, 5);
    assert_int_equal(plog_end_offset(t->partitions[3]), 0);
    assert_int_equal(plog_end_offset(t->partitions[4]), 0);

    /* A grow that fails half-way (g-6 is a file, so partition 6 cannot open) changes nothing:
     * partition 5, already made, is removed again, and the file keeps 5. */
    char p[4096];
    snprintf(p, sizeof(p), "%s/g-6", dir);
    fclose(fopen(p, "w"));
    assert_int_not_equal(logmgr_add_partitions(m, "g", 7), 0);
    assert_int_equal(t->npartitions, 5);
    assert_false(exists(dir, "g-5"));
    assert_true(file_has_line(dir, "g.topic", "partitions=5"));
    unlink(p);
    assert_int_equal(logmgr_add_partitions(m, "g", 7), 0);
    assert_int_equal(t->npartitions, 7);
    append_one(t->partitions[6], 0);
    logmgr_close(m);

    m = open_dir(dir);
    t = logmgr_find(m, "g", 1);
    assert_int_equal(t->npartitions, 7);
    assert_int_equal(plog_end_offset(t->partitions[6]), 1);
    assert_int_equal(plog_end_offset(t->partitions[2]), 2);
    logmgr_close(m);
    tmpdir_free(dir);
}

int main(void)
{
    quiet_logs();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_delete_reopen), cmocka_unit_test(test_bad_names_and_configs),
        cmocka_unit_test(test_config_set),           cmocka_unit_test(test_leftovers_and_lock),
        cmocka_unit_test(test_add_partitions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
