/*
 * ETag, If-None-Match and Cache-Control tests (src/lib/core/etag.c, cache_control.c).
 *
 * The hash vectors pin tandem_hash64 forever (a change would invalidate every ETag in the field);
 * they were cross-checked against an independent Python model of the definition in etag.c.
 * If-None-Match cases follow RFC 9110 §8.8.3.2's comparison table and §13.1.2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tandem/cache.h"

static void test_hash_vectors(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        uint64_t hash;
    } t[] = {
        {"", 0, 0xf490368aba8bfeacULL},
        {"a", 1, 0x80fab60da747dbb5ULL},
        {"abc", 3, 0x23463b367868950eULL},
        {"hello, world", 12, 0x5d642697af67e0c0ULL},
        {"12345678", 8, 0x18b8e24522d4c150ULL},
        {"123456789", 9, 0x792a6b5e1ac68634ULL},
        {"{\"id\":42,\"title\":\"Hello\"}", 25, 0x809baa36b016961fULL},
        {"The quick brown fox jumps over the lazy dog", 43, 0x39a82d91a679871dULL},
        {"\0", 1, 0x4723636a569a1520ULL},
        {"\0\0", 2, 0x941c9787ff4d1a9fULL},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        assert_true(tandem_hash64(t[i].in, t[i].len) == t[i].hash);

    char e[TANDEM_ETAG_SIZE];
    tandem_etag_of("abc", 3, e);
    assert_string_equal(e, "\"23463b367868950e\"");
    tandem_etag_of(NULL, 0, e);
    assert_string_equal(e, "\"f490368aba8bfeac\"");

    /* unaligned input hashes the same as aligned */
    char buf[64];
    memcpy(buf + 3, t[7].in, t[7].len);
    assert_true(tandem_hash64(buf + 3, t[7].len) == t[7].hash);
}

static void test_etag_compare(void **state)
{
    /* RFC 9110 §8.8.3.2's table: ETag 1, ETag 2, strong, weak */
    static const struct {
        const char *a, *b;
        bool strong, weak;
    } t[] = {
        {"W/\"1\"", "W/\"1\"", false, true},
        {"W/\"1\"", "W/\"2\"", false, false},
        {"W/\"1\"", "\"1\"", false, true},
        {"\"1\"", "\"1\"", true, true},
        {"\"1\"", "1", false, false},
        {"w/\"1\"", "\"1\"", false, false}, /* %s"W/" is case-sensitive */
        {"\"\"", "\"\"", true, true},
        {"\"a b\"", "\"a b\"", false, false}, /* SP is not etagc */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t al = strlen(t[i].a), bl = strlen(t[i].b);
        assert_int_equal(tandem_etag_equal(t[i].a, al, t[i].b, bl, false), t[i].strong);
        assert_int_equal(tandem_etag_equal(t[i].a, al, t[i].b, bl, true), t[i].weak);
    }
}

static void test_if_none_match(void **state)
{
    static const struct {
        const char *field, *etag; /* etag NULL: no current representation */
        int rc, match;
    } t[] = {
        {"\"xyzzy\"", "\"xyzzy\"", 0, 1},
        {"\"xyzzy\"", "\"other\"", 0, 0},
        {"W/\"xyzzy\"", "\"xyzzy\"", 0, 1}, /* weak comparison */
        {"\"xyzzy\"", "W/\"xyzzy\"", 0, 1},
        {"\"xyzzy\", \"r2d2xxxx\", \"c3piozzzz\"", "\"r2d2xxxx\"", 0, 1}, /* §13.1.2 examples */
        {"W/\"xyzzy\", W/\"r2d2xxxx\", W/\"c3piozzzz\"", "\"c3piozzzz\"", 0, 1},
        {"\"a\",\"b\"", "\"c\"", 0, 0},
        {" , \"a\" ,, \"b\" ,", "\"b\"", 0, 1}, /* empty elements and OWS */
        {"*", "\"a\"", 0, 1},
        {" * ", "\"a\"", 0, 1},
        {"*", NULL, 0, 0},
        {"\"a\"", NULL, 0, 0},
        {"", "\"a\"", 0, 0},
        {"\"a\" \"b\"", "\"a\"", TANDEM_EINVAL, 0}, /* missing comma */
        {"a", "\"a\"", TANDEM_EINVAL, 0},
        {"\"a", "\"a\"", TANDEM_EINVAL, 0},
        {"*, \"a\"", "\"a\"", TANDEM_EINVAL, 0},
        {"W/ \"a\"", "\"a\"", TANDEM_EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int match = -1;
        print_message("If-None-Match %zu: %s\n", i, t[i].field);
        int rc = tandem_if_none_match(t[i].field, strlen(t[i].field), t[i].etag,
                                      t[i].etag ? strlen(t[i].etag) : 0, &match);
        assert_int_equal(rc, t[i].rc);
        assert_int_equal(match, t[i].match);
    }
    /* with a computed tag */
    char e[TANDEM_ETAG_SIZE];
    tandem_etag_of("abc", 3, e);
    int match = 0;
    const char *f = "W/\"23463b367868950e\"";
    assert_int_equal(tandem_if_none_match(f, strlen(f), e, strlen(e), &match), 0);
    assert_int_equal(match, 1);
}

static void test_cache_control_format(void **state)
{
    struct tandem_cache_control cc;
    char buf[128];
    size_t n = 0;
    tandem_cache_control_init(&cc);
    assert_int_equal(tandem_cache_control_format(&cc, buf, sizeof(buf), &n), 0);
    assert_string_equal(buf, "");
    assert_int_equal(n, 0);

    cc.is_public = true;
    cc.max_age = 60;
    assert_int_equal(tandem_cache_control_format(&cc, buf, sizeof(buf), &n), 0);
    assert_string_equal(buf, "public, max-age=60");
    assert_int_equal(n, 18);

    tandem_cache_control_init(&cc);
    cc.is_private = true;
    cc.no_cache = true;
    cc.max_age = 0;
    cc.must_revalidate = true;
    assert_int_equal(tandem_cache_control_format(&cc, buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "no-cache, private, max-age=0, must-revalidate");

    tandem_cache_control_init(&cc);
    cc.no_store = true;
    assert_int_equal(tandem_cache_control_format(&cc, buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "no-store");

    memset(&cc, 1, sizeof(cc)); /* everything set... */
    cc.is_private = false;
    cc.max_age = 31536000;
    cc.s_maxage = 2147483648LL;
    assert_int_equal(tandem_cache_control_format(&cc, buf, sizeof(buf), NULL), 0);
    assert_string_equal(buf, "no-store, no-cache, public, max-age=31536000, s-maxage=2147483648, "
                             "must-revalidate, no-transform, immutable");
    assert_int_equal(tandem_cache_control_format(&cc, buf, 20, NULL), TANDEM_ETOOLARGE);
    assert_string_equal(buf, "");
    cc.is_private = true;
    assert_int_equal(tandem_cache_control_format(&cc, buf, sizeof(buf), NULL), TANDEM_EINVAL);
    tandem_cache_control_init(&cc);
    cc.max_age = -2;
    assert_int_equal(tandem_cache_control_format(&cc, buf, sizeof(buf), NULL), TANDEM_EINVAL);
}

static void test_cache_control_parse(void **state)
{
    static const struct {
        const char *field;
        int rc;
        int64_t max_age, s_maxage;
        const char *flags; /* letters: S no-store, C no-cache, P private, U public,
                              M must-revalidate, T no-transform, I immutable */
    } t[] = {
        {"max-age=60", 0, 60, -1, ""},
        {"public, max-age=60", 0, 60, -1, "U"},
        {"Max-Age=\"120\", PRIVATE", 0, 120, -1, "P"},
        {"no-store", 0, -1, -1, "S"},
        {"no-cache=\"Set-Cookie, Foo\", s-maxage=10", 0, -1, 10, "C"},
        {"private=\"x\\\"y\"", 0, -1, -1, "P"},
        {"max-age=10, max-age=20", 0, 10, -1, ""}, /* first counts */
        {"max-age=abc", 0, 0, -1, ""},             /* invalid: stale */
        {"max-age", 0, 0, -1, ""},
        {"max-age=99999999999999999999", 0, 2147483648LL, -1, ""},
        {"must-revalidate,no-transform,immutable,x-ext=1,community=\"UCI\"", 0, -1, -1, "MTI"},
        {" , ,", 0, -1, -1, ""},
        {"", 0, -1, -1, ""},
        {"max-age=60 public", TANDEM_EINVAL, -1, -1, ""},
        {"=60", TANDEM_EINVAL, -1, -1, ""},
        {"max-age=", TANDEM_EINVAL, -1, -1, ""},
        {"private=\"unterminated", TANDEM_EINVAL, -1, -1, ""},
        {"no-store;", TANDEM_EINVAL, -1, -1, ""},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tandem_cache_control cc;
        print_message("Cache-Control %zu: %s\n", i, t[i].field);
        assert_int_equal(tandem_cache_control_parse(t[i].field, strlen(t[i].field), &cc), t[i].rc);
        assert_true(cc.max_age == t[i].max_age);
        assert_true(cc.s_maxage == t[i].s_maxage);
        assert_int_equal(cc.no_store, strchr(t[i].flags, 'S') != NULL);
        assert_int_equal(cc.no_cache, strchr(t[i].flags, 'C') != NULL);
        assert_int_equal(cc.is_private, strchr(t[i].flags, 'P') != NULL);
        assert_int_equal(cc.is_public, strchr(t[i].flags, 'U') != NULL);
        assert_int_equal(cc.must_revalidate, strchr(t[i].flags, 'M') != NULL);
        assert_int_equal(cc.no_transform, strchr(t[i].flags, 'T') != NULL);
        assert_int_equal(cc.immutable, strchr(t[i].flags, 'I') != NULL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_vectors),        cmocka_unit_test(test_etag_compare),
        cmocka_unit_test(test_if_none_match),       cmocka_unit_test(test_cache_control_format),
        cmocka_unit_test(test_cache_control_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
