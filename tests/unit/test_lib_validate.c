/*
 * Validation tests (src/lib/core/validate.c, include/tandem/validate.h): the RealWorld
 * registration and article tables against bodies that are right, missing fields, of the wrong
 * JSON types, too long or too short (counted in characters: 4-byte UTF-8 and emoji are valid and
 * count one each), blank, badly formatted; nested paths whose parent is not an object; bodies that
 * are not objects; errors added by the handler after validation; broken tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tandem/validate.h"
#include "test_realworld_fields.h"

/* Validates the JSON text body against spec; returns the compact errors document (static). */
static const char *errors_of(const char *body, const struct tandem_field *spec, int *rc)
{
    static char out[4096];
    json_error_t e;
    json_t *doc = json_loads(body, JSON_DECODE_ANY, &e);
    assert_non_null(doc);
    json_t *errors = json_object();
    *rc = tandem_validate(doc, spec, errors);
    char *s = json_dumps(errors, JSON_COMPACT);
    snprintf(out, sizeof(out), "%s", s);
    free(s);
    json_decref(errors);
    json_decref(doc);
    return out;
}

static void expect(const char *body, const struct tandem_field *spec, const char *want)
{
    int rc = 1;
    const char *got = errors_of(body, spec, &rc);
    if (strcmp(got, want) != 0) {
        fail_msg("body %s\n  got  %s\n  want %s", body, got, want);
    }
    assert_int_equal(rc, strcmp(want, "{}") == 0 ? 0 : TANDEM_EINVAL);
}

static void test_valid_bodies(void **state)
{
    expect("{\"user\":{\"username\":\"jake\",\"email\":\"jake@jake.jake\","
           "\"password\":\"jakejake\"}}",
           REGISTER, "{}");
    /* extra members are ignored; an optional null is "absent" */
    expect("{\"user\":{\"username\":\"j\",\"email\":\"a.b+c@x-y.example.org\","
           "\"password\":\"12345678\",\"image\":null,\"bio\":7},\"x\":[]}",
           REGISTER, "{}");
    /* 4-byte UTF-8: 20 emoji are 20 characters (80 bytes), within max 20 */
    expect("{\"user\":{\"username\":\"😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀\","
           "\"email\":\"ü@bücher.de\",\"password\":\"\\ud83d\\ude00pass word\","
           "\"image\":\"https://x.org/a.png\"}}",
           REGISTER, "{}");
    expect("{\"article\":{\"title\":\"T\",\"tagList\":[\"a\",\"🐉🐉🐉🐉🐉\"],\"draft\":false,"
           "\"order\":-3,\"meta\":{\"k\":1}}}",
           ARTICLE, "{}");
    expect("{\"article\":{\"title\":\"T\",\"tagList\":[]}}", ARTICLE, "{}");
}

static void test_missing_and_blank(void **state)
{
    expect("{}", REGISTER,
           "{\"user\":[\"can't be blank\"],\"username\":[\"can't be blank\"],"
           "\"email\":[\"can't be blank\"],\"password\":[\"can't be blank\"]}");
    expect("{\"user\":null}", REGISTER,
           "{\"user\":[\"can't be blank\"],\"username\":[\"can't be blank\"],"
           "\"email\":[\"can't be blank\"],\"password\":[\"can't be blank\"]}");
    /* blank: empty, ASCII white space, Unicode white space (U+3000, U+00A0) */
    expect("{\"user\":{\"username\":\"\",\"email\":\" \\t\\n\",\"password\":null}}", REGISTER,
           "{\"username\":[\"can't be blank\"],\"email\":[\"can't be blank\"],"
           "\"password\":[\"can't be blank\"]}");
    expect("{\"article\":{\"title\":\"\\u3000\\u00a0\",\"tagList\":[\"ok\",\" \"],\"meta\":{}}}",
           ARTICLE,
           "{\"title\":[\"can't be blank\"],\"tagList\":[\"can't contain blank items\"],"
           "\"meta\":[\"can't be blank\"]}");
}

static void test_wrong_types(void **state)
{
    expect("{\"user\":{\"username\":42,\"email\":[\"a@b.c\"],\"password\":true,\"image\":{}}}",
           REGISTER,
           "{\"username\":[\"must be a string\"],\"email\":[\"must be a string\"],"
           "\"password\":[\"must be a string\"],\"image\":[\"must be a string\"]}");
    expect("{\"article\":{\"title\":\"t\",\"tagList\":\"a,b\",\"draft\":\"yes\",\"order\":1.5,"
           "\"meta\":[]}}",
           ARTICLE,
           "{\"tagList\":[\"must be an array of strings\"],\"draft\":[\"must be true or false\"],"
           "\"order\":[\"must be an integer\"],\"meta\":[\"must be an object\"]}");
    expect("{\"article\":{\"title\":\"t\",\"tagList\":[\"a\",1],\"draft\":0,\"order\":\"1\"}}",
           ARTICLE,
           "{\"tagList\":[\"must be an array of strings\"],\"draft\":[\"must be true or false\"],"
           "\"order\":[\"must be an integer\"]}");
    /* a parent that is not an object: said once, on the parent, and its fields skipped */
    expect("{\"user\":\"jake\"}", REGISTER, "{\"user\":[\"must be an object\"]}");
    expect("{\"article\":[1]}", ARTICLE, "{\"article\":[\"must be an object\"]}");
}

static void test_lengths(void **state)
{
    /* 21 characters, whatever their byte length */
    expect("{\"user\":{\"username\":\"abcdefghijklmnopqrstu\",\"email\":\"a@b.cd\","
           "\"password\":\"1234567\"}}",
           REGISTER,
           "{\"username\":[\"is too long (maximum is 20 characters)\"],"
           "\"password\":[\"is too short (minimum is 8 characters)\"]}");
    expect("{\"user\":{\"username\":\"😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀\","
           "\"email\":\"a@b.cd\",\"password\":\"ééééééé\"}}",
           REGISTER,
           "{\"username\":[\"is too long (maximum is 20 characters)\"],"
           "\"password\":[\"is too short (minimum is 8 characters)\"]}");
    expect("{\"article\":{\"title\":\"t\",\"tagList\":[\"a\",\"b\",\"c\",\"dddddd\"]}}", ARTICLE,
           "{\"tagList\":[\"has an item that is too long (maximum is 5 characters)\","
           "\"is too long (maximum is 3 items)\"]}");
    static const struct tandem_field ONE[] = {
        {.path = "a", .type = TANDEM_FIELD_STRING, .flags = 0, .min = 1, .max = 1},
        {.path = "b", .type = TANDEM_FIELD_STRINGS, .flags = 0, .min = 1},
        TANDEM_FIELD_END,
    };
    expect("{\"a\":\"xy\",\"b\":[]}", ONE,
           "{\"a\":[\"is too long (maximum is 1 character)\"],"
           "\"b\":[\"is too short (minimum is 1 item)\"]}");
}

static void test_formats(void **state)
{
    static const struct tandem_field F[] = {
        {.path = "e", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_EMAIL},
        {.path = "u", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_URL},
        TANDEM_FIELD_END,
    };
    static const char *good_email[] = {"a@b.co", "first.last+tag@sub.example.com", "x_y-z@a-b.io",
                                       "o'neil@x.ie", "ü@ü.de"};
    static const char *bad_email[] = {"plain",     "@b.co",   "a@",       "a@b",
                                      "a@b.",      "a@.b.co", ".a@b.co",  "a.@b.co",
                                      "a..b@c.co", "a@b..co", "a b@c.co", "a@b@c.co",
                                      "a@-b.co",   "a@b-.co", "a@1.23",   "a@b_c.co"};
    static const char *good_url[] = {"http://x", "https://x.org/a?b=c#d", "HTTPS://X.ORG"};
    static const char *bad_url[] = {
        "ftp://x",          "http://", "https:///p", "x.org", "http://a b", "javascript:alert(1)",
        "http://x/<script>"};
    char body[256];
    for (size_t i = 0; i < sizeof(good_email) / sizeof(*good_email); i++) {
        snprintf(body, sizeof(body), "{\"e\":\"%s\"}", good_email[i]);
        expect(body, F, "{}");
    }
    for (size_t i = 0; i < sizeof(bad_email) / sizeof(*bad_email); i++) {
        snprintf(body, sizeof(body), "{\"e\":\"%s\"}", bad_email[i]);
        expect(body, F, "{\"e\":[\"is invalid\"]}");
    }
    for (size_t i = 0; i < sizeof(good_url) / sizeof(*good_url); i++) {
        snprintf(body, sizeof(body), "{\"u\":\"%s\"}", good_url[i]);
        expect(body, F, "{}");
    }
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(*bad_url); i++) {
        snprintf(body, sizeof(body), "{\"u\":\"%s\"}", bad_url[i]);
        expect(body, F, "{\"u\":[\"is invalid\"]}");
    }
    /* 254 bytes is the most an address may have: 64 + '@' + labels of 9 letters + ".co" */
    for (size_t total = 254; total <= 255; total++) {
        char mail[300];
        memset(mail, 'a', 64);
        mail[64] = '@';
        size_t n = 65;
        while (n + 10 <= total - 10) {
            memset(mail + n, 'b', 9);
            mail[n + 9] = '.';
            n += 10;
        }
        while (n < total - 3) {
            mail[n++] = 'b';
        }
        memcpy(mail + n, ".co", 4);
        assert_int_equal(strlen(mail), total);
        char doc[400];
        snprintf(doc, sizeof(doc), "{\"e\":\"%s\"}", mail);
        expect(doc, F, total == 254 ? "{}" : "{\"e\":[\"is invalid\"]}");
    }
    /* blank beats length and format: one message */
    static const struct tandem_field G[] = {
        {.path = "e",
         .type = TANDEM_FIELD_STRING,
         .flags = TANDEM_FIELD_NOT_BLANK | TANDEM_FIELD_EMAIL,
         .min = 3},
        TANDEM_FIELD_END,
    };
    expect("{\"e\":\" \"}", G, "{\"e\":[\"can't be blank\"]}");
    expect("{\"e\":\"a@\"}", G,
           "{\"e\":[\"is too short (minimum is 3 characters)\",\"is invalid\"]}");
}

static void test_not_objects(void **state)
{
    static const char *bodies[] = {"[]", "[{\"user\":{}}]", "\"user\"", "42", "true", "null"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(*bodies); i++) {
        expect(bodies[i], REGISTER, "{\"body\":[\"must be a JSON object\"]}");
    }
}

static void test_handler_errors(void **state)
{
    json_t *errors = json_object();
    json_t *doc = json_pack("{s:{s:s,s:s,s:s}}", "user", "username", "jake", "email",
                            "not-an-email", "password", "12345678");
    assert_int_equal(tandem_validate(doc, REGISTER, errors), TANDEM_EINVAL);
    /* the handler's own findings join the same document; duplicates are kept once */
    assert_int_equal(tandem_errors_add(errors, "email", "has already been taken"), 0);
    assert_int_equal(tandem_errors_add(errors, "username", "has already been taken"), 0);
    assert_int_equal(tandem_errors_add(errors, "username", "has already been taken"), 0);
    char *s = json_dumps(errors, JSON_COMPACT);
    assert_string_equal(s, "{\"email\":[\"is invalid\",\"has already been taken\"],"
                           "\"username\":[\"has already been taken\"]}");
    free(s);
    assert_int_equal(tandem_errors_add(errors, "x", "\xff\xfe"), TANDEM_EINVAL);
    assert_int_equal(tandem_errors_add(errors, "\xc3", "m"), TANDEM_EINVAL);
    assert_int_equal(tandem_errors_add(NULL, "x", "m"), TANDEM_EINVAL);
    json_object_set_new(errors, "scalar", json_integer(1));
    assert_int_equal(tandem_errors_add(errors, "scalar", "m"), TANDEM_EINVAL);
    /* a valid document leaves errors untouched */
    json_t *empty = json_object();
    json_t *ok = json_pack("{s:{s:s,s:s,s:s}}", "user", "username", "jake", "email", "jake@x.org",
                           "password", "12345678");
    assert_int_equal(tandem_validate(ok, REGISTER, empty), 0);
    assert_int_equal(json_object_size(empty), 0);
    json_decref(ok);
    json_decref(empty);
    json_decref(doc);
    json_decref(errors);
}

static void test_bad_tables(void **state)
{
    static const struct tandem_field EMPTY_SEGMENT[] = {
        {.path = "user..email", .type = TANDEM_FIELD_STRING},
        TANDEM_FIELD_END,
    };
    static const struct tandem_field BAD_TYPE[] = {
        {.path = "x", .type = 99},
        TANDEM_FIELD_END,
    };
    expect("{\"user\":{}}", EMPTY_SEGMENT, "{\"body\":[\"has an invalid validation rule\"]}");
    expect("{}", EMPTY_SEGMENT, "{\"body\":[\"has an invalid validation rule\"]}");
    expect("{\"x\":1}", BAD_TYPE, "{\"body\":[\"has an invalid validation rule\"]}");
    json_t *doc = json_object();
    assert_int_equal(tandem_validate(doc, REGISTER, NULL), TANDEM_EINVAL);
    assert_int_equal(tandem_validate(doc, NULL, doc), TANDEM_EINVAL);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_bodies),   cmocka_unit_test(test_missing_and_blank),
        cmocka_unit_test(test_wrong_types),    cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_formats),        cmocka_unit_test(test_not_objects),
        cmocka_unit_test(test_handler_errors), cmocka_unit_test(test_bad_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
