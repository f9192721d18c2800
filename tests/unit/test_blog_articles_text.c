/*
 * test_blog_articles_text.c: the articles service's JSON text writer and tags
 * (services/articles/jsonw.c, tags.c, #included), against the references they must agree with:
 * jansson's own encoding of a string, blog_time_format's dates (every day of four centuries),
 * printf's integers; the tags' trimming, deduplication and order; and the UTF-8 check of a
 * request's slugs and tags (against jansson's).
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/articles/jsonw.c"
#include "../../services/articles/tags.c"

/* Takes w's text as a NUL-terminated string (freed by the caller). */
static char *text_of(struct jsonw *w)
{
    size_t len = 0;
    char *s = jsonw_take(w, &len);
    assert_non_null(s);
    assert_int_equal(strlen(s), len);
    return s;
}

static void str_is_janssons(void **state)
{
    (void)state;
    static const char *const CASES[] = {
        "",
        "plain",
        "quote \" backslash \\ slash /",
        "\x01\x02\x07\b\t\n\x0b\f\r\x1b\x1f end",
        "\x7f del",
        "<script>alert('x')</script> & ;--",
        "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x89 \xf0\x9d\x84\x9e",
        "\xe2\x80\xa8 line and paragraph separators \xe2\x80\xa9",
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct jsonw w;
        jsonw_init(&w);
        jsonw_str(&w, CASES[i]);
        char *mine = text_of(&w);
        json_t *s = json_string(CASES[i]);
        char *theirs = json_dumps(s, JSON_ENCODE_ANY);
        assert_string_equal(mine, theirs);
        json_decref(s);
        free(theirs);
        free(mine);
    }
    /* every control character, one at a time */
    for (int c = 1; c < 0x20; c++) {
        char in[2] = {(char)c, '\0'};
        struct jsonw w;
        jsonw_init(&w);
        jsonw_str(&w, in);
        char *mine = text_of(&w);
        json_t *back = json_loads(mine, JSON_DECODE_ANY, NULL);
        assert_non_null(back);
        assert_string_equal(json_string_value(back), in);
        json_decref(back);
        free(mine);
    }
}

static void int_is_printfs(void **state)
{
    (void)state;
    static const int64_t CASES[] = {0, 1, -1, 9, 10, 99, 100, 123456789, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        struct jsonw w;
        jsonw_init(&w);
        jsonw_int(&w, CASES[i]);
        char *mine = text_of(&w);
        char ref[32];
        snprintf(ref, sizeof(ref), "%" PRId64, CASES[i]);
        assert_string_equal(mine, ref);
        free(mine);
    }
}

/* jsonw_time(ms) must be "\"" blog_time_format(ms) "\"". */
static void check_time(int64_t ms)
{
    struct jsonw w;
    jsonw_init(&w);
    jsonw_time(&w, ms);
    char *mine = text_of(&w);
    char ref[BLOG_TIME_SIZE + 2];
    ref[0] = '"';
    blog_time_format(ms, ref + 1); /* 24 characters and a NUL */
    ref[BLOG_TIME_SIZE] = '"';
    ref[BLOG_TIME_SIZE + 1] = '\0';
    assert_string_equal(mine, ref);
    free(mine);
}

static void time_is_blog_time_format(void **state)
{
    (void)state;
    /* every day from 1970 to 2370 (leap years, 2000, 2100, 2200, 2300), at a moving time of
     * day, and the last millisecond of each */
    for (int64_t day = 0; day < 146097; day++) {
        check_time(day * 86400000 + (day * 7919 % 86400000));
        check_time(day * 86400000 + 86399999);
    }
    static const int64_t CASES[] = {
        -1,
        INT64_C(951782400000),
        INT64_C(951868799999),
        INT64_C(4107542399999),
        INT64_C(253402300799999), /* 9999-12-31T23:59:59.999Z */
    };
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        check_time(CASES[i]);
    }
}

static void grows_beyond_the_stack(void **state)
{
    (void)state;
    struct jsonw w;
    jsonw_init(&w);
    size_t n = 3 * JSONW_STACK + 17;
    char *big = malloc(n + 1);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)('a' + i % 26);
    }
    big[n] = '\0';
    jsonw_lit(&w, "[");
    jsonw_str(&w, big);
    jsonw_lit(&w, ",");
    jsonw_bool(&w, true);
    jsonw_lit(&w, "]");
    char *out = text_of(&w);
    json_t *back = json_loads(out, 0, NULL);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_array_get(back, 0)), big);
    assert_true(json_is_true(json_array_get(back, 1)));
    json_decref(back);
    free(out);
    free(big);
    /* freed without taking: nothing leaks (ASan) */
    jsonw_init(&w);
    jsonw_raw(&w, "x", 1);
    for (int i = 0; i < 5; i++) {
        jsonw_str(&w, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123");
    }
    jsonw_free(&w);
}

static void tags_trimmed_deduplicated_sorted(void **state)
{
    (void)state;
    json_t *list = json_pack("[s,s,s,s,s,s,s,s]", " dragons ", "\tangular\n", "dragons",
                             "\xc2\xa0"
                             "dragons"
                             "\xe3\x80\x80", /* NBSP, ideographic space */
                             "Zebra",
                             "\xe2\x80\xa8"
                             "caf\xc3\xa9"
                             "\xe2\x80\xa8",
                             "\xf0\x9f\x90\x89", "in ner");
    struct tags t;
    assert_int_equal(tags_of(list, &t), 0);
    static const char *const WANT[] = {"Zebra",   "angular", "caf\xc3\xa9",
                                       "dragons", "in ner",  "\xf0\x9f\x90\x89"};
    assert_int_equal(t.n, sizeof(WANT) / sizeof(WANT[0]));
    for (size_t i = 0; i < t.n; i++) {
        assert_string_equal(t.v[i], WANT[i]);
    }
    char *text = tags_json(&t);
    assert_string_equal(text, "[\"Zebra\",\"angular\",\"caf\xc3\xa9\",\"dragons\",\"in ner\","
                              "\"\xf0\x9f\x90\x89\"]");
    free(text);
    tags_free(&t);
    json_decref(list);

    json_t *blank = json_pack("[s,s]", "   ", "\xe3\x80\x80"); /* refused by the validator */
    assert_int_equal(tags_of(blank, &t), 0);
    assert_int_equal(t.n, 0);
    text = tags_json(&t);
    assert_string_equal(text, "[]");
    free(text);
    tags_free(&t);
    json_decref(blank);
}

/* blog_utf8_valid agrees with jansson's check of a string (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) on every string of one and two bytes, on every lead and
 * second byte of three and four, and on a few whole texts. */
static bool janssons_utf8(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static void utf8_valid_is_janssons(void **state)
{
    (void)state;
    static const unsigned char ENDS[] = {0x00, 0x41, 0x7f, 0x80, 0x8f,
                                         0x90, 0x9f, 0xa0, 0xbf, 0xc0};
    char s[5] = {0};
    for (unsigned a = 1; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            s[0] = (char)a;
            s[1] = (char)b;
            s[2] = s[3] = s[4] = '\0';
            assert_int_equal(blog_utf8_valid(s), janssons_utf8(s));
            for (size_t c = 0; c < sizeof(ENDS); c++) {
                s[2] = (char)ENDS[c];
                s[3] = '\0';
                assert_int_equal(blog_utf8_valid(s), janssons_utf8(s));
                for (size_t d = 0; d < sizeof(ENDS); d++) {
                    s[3] = (char)ENDS[d];
                    assert_int_equal(blog_utf8_valid(s), janssons_utf8(s));
                }
            }
        }
    }
    assert_true(blog_utf8_valid(""));
    assert_true(blog_utf8_valid("how-to-train-your-dragon-x1y2z3"));
    assert_true(
        blog_utf8_valid("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\x89 \xf4\x8f\xbf\xbf"));
    assert_false(blog_utf8_valid("caf\xc3"));             /* cut */
    assert_false(blog_utf8_valid("\xed\xa0\x80"));        /* a surrogate */
    assert_false(blog_utf8_valid("\xc0\xaf"));            /* overlong '/' */
    assert_false(blog_utf8_valid("\xf4\x90\x80\x80"));    /* above U+10FFFF */
    assert_false(blog_utf8_valid("latin-1 caf\xe9 end")); /* what %E9 in a URL gives */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(str_is_janssons),
        cmocka_unit_test(int_is_printfs),
        cmocka_unit_test(time_is_blog_time_format),
        cmocka_unit_test(grows_beyond_the_stack),
        cmocka_unit_test(tags_trimmed_deduplicated_sorted),
        cmocka_unit_test(utf8_valid_is_janssons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
