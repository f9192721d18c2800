/*
 * The offsets log (group/offsets_log.c): commits survive a reopen, later records win, a clear
 * record drops a group, a torn tail is cut, and a group id of any length the format holds is
 * replayed (a long one once made replay stop and truncate every later commit); a group's protocol
 * type is kept beside its offsets, through a reopen and through a compaction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "group/group.h"
#include "group/offsets_log.h"
#include "tandem/error.h"

static void noop_join(void *req, const struct gc_join_result *r, void *arg)
{
}

static void noop_sync(void *req, int16_t err, const uint8_t *a, size_t len, void *arg)
{
}

static struct gc *new_gc(void)
{
    struct gc_config cfg;
    gc_config_defaults(&cfg);
    struct gc_callbacks cb = {.join_done = noop_join, .sync_done = noop_sync};
    return gc_new(&cfg, &cb);
}

static struct kstr S(const char *s) {
    return (struct kstr){s, (int32_t)strlen(s)};
}

static int64_t
offset_of(struct gc *gc, const char *group, const char *topic, int32_t p)
{
    const struct gc_offset *o = gc_offset_get(gc, S(group), S(topic), p);
    return o ? o->offset : -1;
}

static void commit(struct offsets_log *l, const char *group, int32_t p, int64_t off)
{
    int64_t end;
    assert_int_equal(
        offsets_log_commit(l, group, strlen(group), "t", 1, p, off, -1, 1000, "m", 1, &end), 0);
}

static void test_reopen_long_group_and_clear(void **state)
{
    char dir[] = "/tmp/tandem-olog-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char long_group[2001];
    memset(long_group, 'g', sizeof(long_group) - 1);
    long_group[sizeof(long_group) - 1] = '\0';

    struct gc *gc = new_gc();
    struct offsets_log *l;
    assert_int_equal(offsets_log_open(dir, gc, &l), 0);
    commit(l, "a", 0, 42);
    commit(l, long_group, 0, 7);
    commit(l, "b", 1, 99);
    commit(l, "a", 0, 43); /* later wins */
    commit(l, "gone", 0, 5);
    int64_t end;
    assert_int_equal(offsets_log_clear_group(l, "gone", &end), 0);
    int64_t e2;
    assert_int_equal(offsets_log_commit(l, "a", 1, "deleted", 7, 0, 11, -1, 1000, NULL, -1, &e2),
                     0);
    assert_int_equal(offsets_log_clear_topic(l, "deleted", &e2), 0); /* the topic was deleted */
    assert_int_equal(offsets_log_sync(l), 0);
    offsets_log_close(l);
    gc_free(gc);

    gc = new_gc();
    assert_int_equal(offsets_log_open(dir, gc, &l), 0);
    assert_int_equal(offset_of(gc, "a", "t", 0), 43);
    assert_int_equal(offset_of(gc, long_group, "t", 0), 7);
    assert_int_equal(offset_of(gc, "b", "t", 1), 99);
    assert_int_equal(offset_of(gc, "gone", "t", 0), -1);
    assert_int_equal(offset_of(gc, "a", "deleted", 0), -1);
    offsets_log_close(l);
    gc_free(gc);

    /* a torn tail (half a record) is cut; everything before it stays */
    char path[256];
    snprintf(path, sizeof(path), "%s/__consumer_offsets/offsets.log", dir);
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    fwrite("\x00\x00\x00\x40\x12\x34", 1, 6, f);
    fclose(f);
    gc = new_gc();
    assert_int_equal(offsets_log_open(dir, gc, &l), 0);
    assert_int_equal(offset_of(gc, "b", "t", 1), 99);
    assert_int_equal(offset_of(gc, long_group, "t", 0), 7);
    offsets_log_close(l);
    gc_free(gc);

    unlink(path);
    snprintf(path, sizeof(path), "%s/__consumer_offsets", dir);
    rmdir(path);
    rmdir(dir);
}

static void seen_type(const struct gc_group_info *g, void *arg)
{
    if (strcmp(g->group_id, "kg") == 0)
        snprintf(arg, 32, "%s %s", group_state_name(g->state), g->protocol_type);
}

/* The protocol type (record type 4) comes back with the offsets, also from a snapshot. */
static void test_group_type(void **state)
{
    char dir[] = "/tmp/tandem-olog-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct gc *gc = new_gc();
    struct offsets_log *l;
    int64_t end;
    assert_int_equal(offsets_log_open(dir, gc, &l), 0);
    assert_int_equal(offsets_log_group_type(l, "kg", 2, "consumer", &end), 0);
    commit(l, "kg", 0, 1);
    commit(l, "other", 0, 1); /* no type recorded: none after the reopen */
    assert_int_equal(offsets_log_sync(l), 0);
    offsets_log_close(l);
    gc_free(gc);

    gc = new_gc();
    assert_int_equal(offsets_log_open(dir, gc, &l), 0);
    assert_string_equal(gc_group_protocol_type(gc, "kg"), "consumer");
    assert_null(gc_group_protocol_type(gc, "other"));
    char seen[32] = "";
    gc_list(gc, seen_type, seen);
    assert_string_equal(seen, "Empty consumer");
    /* grow the file past the compaction threshold (16 MiB) with overwrites of one offset */
    for (int64_t i = 2; offsets_log_size(l) < (17u << 20); i++)
        commit(l, "kg", 0, i);
    offsets_log_close(l); /* the commits were only logged: the reopen reads them back */
    gc_free(gc);

    gc = new_gc();
    assert_int_equal(offsets_log_open(dir, gc, &l), 0);
    int64_t last = offset_of(gc, "kg", "t", 0);
    assert_true(last > 2);
    assert_int_equal(offsets_log_compact(l, gc), 1);
    assert_true(offsets_log_size(l) < 4096);
    offsets_log_close(l);
    gc_free(gc);

    gc = new_gc();
    assert_int_equal(offsets_log_open(dir, gc, &l), 0);
    assert_string_equal(gc_group_protocol_type(gc, "kg"), "consumer");
    assert_int_equal(offset_of(gc, "kg", "t", 0), last);
    assert_int_equal(offset_of(gc, "other", "t", 0), 1);
    offsets_log_close(l);
    gc_free(gc);

    char path[256];
    snprintf(path, sizeof(path), "%s/__consumer_offsets/offsets.log", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/__consumer_offsets", dir);
    rmdir(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reopen_long_group_and_clear),
        cmocka_unit_test(test_group_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
