/*
 * kbuf primitives. Varint vectors: the zigzag mapping of the Kafka protocol guide ("Protocol
 * Primitive Types": VARINT/VARLONG are protobuf's zigzag encoding: 0->0, -1->1, 1->2, -2->3,
 * 2147483647->4294967294, -2147483648->4294967295) and the byte sequences of Apache Kafka's
 * ByteUtilsTest (clients/src/test/java/org/apache/kafka/common/utils/ByteUtilsTest.java).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/kbuf.h"
#include "tandem/error.h"

struct vec32 {
    int64_t v; /* int32 value (or uint32 for unsigned) */
    uint8_t bytes[10];
    size_t n;
};

static const struct vec32 uvarints[] = {
    {0, {0x00}, 1},
    {1, {0x01}, 1},
    {63, {0x3f}, 1},
    {64, {0x40}, 1},
    {127, {0x7f}, 1},
    {128, {0x80, 0x01}, 2},
    {300, {0xac, 0x02}, 2}, /* protobuf's own example */
    {8191, {0xff, 0x3f}, 2},
    {8192, {0x80, 0x40}, 2},
    {1048575, {0xff, 0xff, 0x3f}, 3},
    {INT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x07}, 5},
    {0x80000000u, {0x80, 0x80, 0x80, 0x80, 0x08}, 5},
    {UINT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
};

static const struct vec32 varints[] = {
    {0, {0x00}, 1},
    {-1, {0x01}, 1},
    {1, {0x02}, 1},
    {-2, {0x03}, 1},
    {63, {0x7e}, 1},
    {-64, {0x7f}, 1},
    {64, {0x80, 0x01}, 2},
    {-65, {0x81, 0x01}, 2},
    {8191, {0xfe, 0x7f}, 2},
    {-8192, {0xff, 0x7f}, 2},
    {8192, {0x80, 0x80, 0x01}, 3},
    {-8193, {0x81, 0x80, 0x01}, 3},
    {1048575, {0xfe, 0xff, 0x7f}, 3},
    {-1048576, {0xff, 0xff, 0x7f}, 3},
    {134217727, {0xfe, 0xff, 0xff, 0x7f}, 4},
    {-134217728, {0xff, 0xff, 0xff, 0x7f}, 4},
    {134217728, {0x80, 0x80, 0x80, 0x80, 0x01}, 5},
    {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5}, /* zigzag 4294967294 */
    {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5}, /* zigzag 4294967295 */
};

static const struct vec32 varlongs[] = {
    {0, {0x00}, 1},
    {-1, {0x01}, 1},
    {1, {0x02}, 1},
    {64, {0x80, 0x01}, 2},
    {-65, {0x81, 0x01}, 2},
    {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
    {INT64_MAX, {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
    {INT64_MIN, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_uvarint(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(uvarints); i++) {
        struct kw w;
        kw_init(&w, 0);
        kw_uvarint(&w, (uint32_t)uvarints[i].v);
        assert_int_equal(w.len, uvarints[i].n);
        assert_memory_equal(w.buf, uvarints[i].bytes, uvarints[i].n);
        struct kr r;
        kr_init(&r, uvarints[i].bytes, uvarints[i].n);
        assert_int_equal(kr_uvarint(&r), (uint32_t)uvarints[i].v);
        assert_int_equal(r.err, 0);
        assert_int_equal(kr_left(&r), 0);
        kr_init(&r, uvarints[i].bytes, uvarints[i].n - 1); /* truncated */
        (void)kr_uvarint(&r);
        assert_int_equal(r.err, TANDEM_EPROTO);
        kw_cleanup(&w);
    }
}

static void test_varint_zigzag(void **state)
{
    (void)state;
    for (size_t i = 0; i < N(varints); i++) {
        struct kw w;
        kw_init(&w, 0);
        kw_varint(&w, (int32_t)varints[i].v);
        assert_int_equal(w.len, varints[i].n);
        assert_memory_equal(w.buf, varints[i].bytes, varints[i].n);
        struct kr r;
        kr_init(&r, varints[i].bytes, varints[i].n);
        assert_int_equal(kr_varint(&r), (int32_t)varints[i].v);
        assert_int_equal(r.err, 0);
        kw_cleanup(&w);
    }
    for (size_t i = 0; i < N(varlongs); i++) {
        struct kw w;
        kw_init(&w, 0);
        kw_varlong(&w, varlongs[i].v);
        assert_int_equal(w.len, varlongs[i].n);
        assert_memory_equal(w.buf, varlongs[i].bytes, varlongs[i].n);
        struct kr r;
        kr_init(&r, varlongs[i].bytes, varlongs[i].n);
        assert_true(kr_varlong(&r) == varlongs[i].v);
        assert_int_equal(r.err, 0);
        kw_cleanup(&w);
    }
}

static void test_varint_malformed(void **state)
{
    (void)state;
    struct kr r;
    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}; /* 6 bytes: too long */
    kr_init(&r, six, sizeof(six));
    (void)kr_uvarint(&r);
    assert_int_equal(r.err, TANDEM_EPROTO);
    const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0x1f}; /* 35 bits */
    kr_init(&r, big, sizeof(big));
    (void)kr_uvarint(&r);
    assert_int_equal(r.err, TANDEM_EPROTO);
    const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    kr_init(&r, eleven, sizeof(eleven));
    (void)kr_varlong(&r);
    assert_int_equal(r.err, TANDEM_EPROTO);
}

static void test_fixed_and_sticky(void **state)
{
    (void)state;
    struct kw w;
    kw_init(&w, 1);
    kw_i8(&w, -2);
    kw_i16(&w, -300);
    kw_i32(&w, 0x01020304);
    kw_i64(&w, INT64_MIN + 5);
    kw_bool(&w, true);
    const uint8_t want[] = {0xfe, 0xfe, 0xd4, 1, 2, 3, 4, 0x80, 0, 0, 0, 0, 0, 0, 5, 1};
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(w.buf, want, sizeof(want));
    struct kr r;
    kr_init(&r, w.buf, w.len);
    assert_int_equal(kr_i8(&r), -2);
    assert_int_equal(kr_i16(&r), -300);
    assert_int_equal(kr_i32(&r), 0x01020304);
    assert_true(kr_i64(&r) == INT64_MIN + 5);
    assert_true(kr_bool(&r));
    assert_int_equal(r.err, 0);
    assert_int_equal(kr_i32(&r), 0); /* past the end: 0 and a sticky error */
    assert_int_equal(r.err, TANDEM_EPROTO);
    kr_init(&r, w.buf, 3);
    (void)kr_i32(&r);
    assert_int_equal(kr_i8(&r), 0); /* still failing though a byte was there */
    assert_int_equal(r.err, TANDEM_EPROTO);
    kw_put_i32_at(&w, 3, -1);
    assert_int_equal(be32(w.buf + 3), 0xffffffffu);
    kw_cleanup(&w);
}

static void test_strings(void **state)
{
    (void)state;
    struct kw w;
    kw_init(&w, 0);
    kw_string(&w, KSTR("abc"));
    kw_string(&w, KSTR_NULL);
    kw_cstring(&w, NULL);
    kw_compact_string(&w, KSTR("abc"));
    kw_compact_string(&w, KSTR_NULL);
    kw_compact_string(&w, KSTR(""));
    kw_bytes(&w, (struct kbytes){(const uint8_t *)"xy", 2});
    kw_bytes(&w, (struct kbytes){NULL, -1});
    kw_compact_bytes(&w, (struct kbytes){(const uint8_t *)"xy", 2});
    kw_compact_array(&w, -1);
    kw_compact_array(&w, 1); /* one element: the tagged-field byte */
    kw_empty_tagged_fields(&w);
    const uint8_t want[] = {0, 3, 'a', 'b', 'c', 0xff, 0xff, 0xff, 0xff, 4, 'a', 'b', 'c', 0, 1, 0,
                            0, 0, 2,   'x', 'y', 0xff, 0xff, 0xff, 0xff, 3, 'x', 'y', 0,   2, 0};
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(w.buf, want, sizeof(want));
    struct kr r;
    kr_init(&r, w.buf, w.len);
    assert_true(kstr_eq(kr_string(&r), "abc"));
    assert_int_equal(kr_string(&r).len, -1);
    assert_int_equal(kr_string(&r).len, -1);
    assert_true(kstr_eq(kr_compact_string(&r), "abc"));
    assert_int_equal(kr_compact_string(&r).len, -1);
    assert_true(kstr_eq(kr_compact_string(&r), ""));
    struct kbytes b = kr_bytes(&r);
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.p, "xy", 2);
    assert_int_equal(kr_bytes(&r).len, -1);
    assert_int_equal(kr_compact_bytes(&r).len, 2);
    assert_int_equal(kr_compact_array(&r, 1), -1);
    assert_int_equal(kr_compact_array(&r, 1), 1);
    kr_tagged_fields(&r);
    assert_int_equal(r.err, 0);
    assert_int_equal(kr_left(&r), 0);
    kw_cleanup(&w);
}

static void test_malformed_lengths(void **state)
{
    (void)state;
    struct kr r;
    const uint8_t neg[] = {0xff, 0xfe, 'a'}; /* STRING length -2 */
    kr_init(&r, neg, sizeof(neg));
    (void)kr_string(&r);
    assert_int_equal(r.err, TANDEM_EPROTO);
    const uint8_t over[] = {0x00, 0x05, 'a', 'b'}; /* longer than the input */
    kr_init(&r, over, sizeof(over));
    (void)kr_string(&r);
    assert_int_equal(r.err, TANDEM_EPROTO);
    /* a COMPACT_STRING length of 2^32-2 is malformed, not null */
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 'x'};
    kr_init(&r, huge, sizeof(huge));
    assert_int_equal(kr_compact_string(&r).len, -1);
    assert_int_equal(r.err, TANDEM_EPROTO);
    kr_init(&r, huge, sizeof(huge));
    (void)kr_compact_bytes(&r);
    assert_int_equal(r.err, TANDEM_EPROTO);
    /* array counts beyond the bytes left, and below -1 */
    const uint8_t arr[] = {0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    kr_init(&r, arr, sizeof(arr));
    assert_int_equal(kr_array(&r, 4), 0);
    assert_int_equal(r.err, TANDEM_EPROTO);
    kr_init(&r, arr, sizeof(arr));
    assert_int_equal(kr_array(&r, 3), 3);
    const uint8_t negarr[] = {0xff, 0xff, 0xff, 0xfe};
    kr_init(&r, negarr, sizeof(negarr));
    (void)kr_array(&r, 1);
    assert_int_equal(r.err, TANDEM_EPROTO);
    /* tagged fields: a field larger than what is left */
    const uint8_t tags[] = {0x01, 0x00, 0x05, 1, 2};
    kr_init(&r, tags, sizeof(tags));
    kr_tagged_fields(&r);
    assert_int_equal(r.err, TANDEM_EPROTO);
    const uint8_t tags_ok[] = {0x02, 0x00, 0x01, 9, 0x03, 0x00};
    kr_init(&r, tags_ok, sizeof(tags_ok));
    kr_tagged_fields(&r);
    assert_int_equal(r.err, 0);
    assert_int_equal(kr_left(&r), 0);
}

static void test_splices(void **state)
{
    (void)state;
    struct kw w;
    int ext1 = 0, ext2 = 0;
    kw_init(&w, 0);
    kw_i32(&w, 100);
    kw_splice(&w, &ext1, 100);
    for (int i = 0; i < 20; i++)
        kw_splice(&w, &ext2, 7);
    assert_int_equal(w.nsplices, 21);
    assert_int_equal(w.splices[0].at, 4);
    assert_ptr_equal(w.splices[0].ext, &ext1);
    assert_int_equal(w.ext_total, 240);
    kw_reset(&w);
    assert_int_equal(w.len, 0);
    assert_int_equal(w.nsplices, 0);
    assert_int_equal(w.ext_total, 0);
    kw_cleanup(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uvarint),          cmocka_unit_test(test_varint_zigzag),
        cmocka_unit_test(test_varint_malformed), cmocka_unit_test(test_fixed_and_sticky),
        cmocka_unit_test(test_strings),          cmocka_unit_test(test_malformed_lengths),
        cmocka_unit_test(test_splices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
