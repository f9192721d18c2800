/*
 * Body validation in the runtime (src/lib/service/service_validate.c) over real
 * 127.0.0.1 sockets: RealWorld's POST /api/users with tandem_json_body_valid. A valid body (emoji
 * in it) passes; another media type is 415; malformed JSON 400; a body that is not an object,
 * missing fields, wrong types, overlong strings, a bad e-mail are each 422
 * application/problem+json with type, title, status, detail and RealWorld's "errors" object; the
 * handler adds "has already been taken" to the same document after its own check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tandem/validate.h"
#include "test_realworld_fields.h"
#include "test_service_util.h"

static void register_user(struct tandem_http_request *req, void *arg)
{
    json_t *in = tandem_json_body_valid(req, REGISTER);
    if (in == NULL) {
        return; /* answered 415, 400 or 422 */
    }
    const char *name = json_string_value(json_object_get(json_object_get(in, "user"), "username"));
    if (strcmp(name, "taken") == 0) { /* the handler's own check, into the same document */
        json_t *errors = json_object();
        tandem_errors_add(errors, "username", "has already been taken");
        tandem_errors_add(errors, "email", "has already been taken");
        json_decref(in);
        tandem_respond_invalid(req, errors);
        return;
    }
    tandem_respond_json(req, 201, in);
}

static char out[65536];
static int port;

static int post(const char *ctype, const char *body)
{
    char hdr[128];
    snprintf(hdr, sizeof(hdr), "Content-Type: %s\r\n", ctype);
    char raw[8192];
    snprintf(raw, sizeof(raw),
             "POST /api/users HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%sContent-Length: "
             "%zu\r\n\r\n%s",
             hdr, strlen(body), body);
    return tsvc_raw(port, raw, out, sizeof(out), NULL);
}

/* 422 problem+json whose errors member is exactly errors. */
static void expect_422(const char *body, const char *errors)
{
    int status = post("application/json", body);
    json_t *doc = json_loads(tsvc_body(out), 0, NULL);
    char *got = doc != NULL ? json_dumps(json_object_get(doc, "errors"), JSON_COMPACT) : NULL;
    if (status != 422 || got == NULL || strcmp(got, errors) != 0) {
        fail_msg("body %s: %d\n  got  %s\n  want %s\n%s", body, status, got ? got : "-", errors,
                 out);
    }
    assert_non_null(strstr(out, "\r\nContent-Type: application/problem+json\r\n"));
    assert_string_equal(json_string_value(json_object_get(doc, "type")), "about:blank");
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "Unprocessable Content");
    assert_int_equal(json_integer_value(json_object_get(doc, "status")), 422);
    assert_non_null(strstr(json_string_value(json_object_get(doc, "detail")), "invalid fields:"));
    free(got);
    json_decref(doc);
}

static void test_register(void **state)
{
    struct tsvc t;
    tsvc_new(&t, "validate", NULL);
    port = t.port;
    assert_int_equal(tandem_route(t.s, "POST", "/api/users", register_user, NULL), 0);
    tsvc_start(&t);

    static const char ok[] = "{\"user\":{\"username\":\"jake🐉\",\"email\":\"jake@jake.jake\","
                             "\"password\":\"\\ud83d\\ude00jakejake\"}}";
    assert_int_equal(post("application/json", ok), 201);
    assert_string_equal(tsvc_body(out), "{\"user\":{\"username\":\"jake🐉\",\"email\":"
                                        "\"jake@jake.jake\",\"password\":\"😀jakejake\"}}");
    assert_int_equal(post("text/plain", ok), 415);
    assert_int_equal(post("application/json", "{\"user\":"), 400);
    assert_non_null(strstr(tsvc_body(out), "malformed JSON"));
    /* invalid UTF-8 is not JSON: 400 */
    assert_int_equal(post("application/json", "{\"user\":{\"username\":\"\xff\"}}"), 400);

    expect_422("[]", "{\"body\":[\"must be a JSON object\"]}");
    expect_422("\"jake\"", "{\"body\":[\"must be a JSON object\"]}");
    expect_422("{}", "{\"user\":[\"can't be blank\"],\"username\":[\"can't be blank\"],"
                     "\"email\":[\"can't be blank\"],\"password\":[\"can't be blank\"]}");
    expect_422("{\"user\":[]}", "{\"user\":[\"must be an object\"]}");
    expect_422("{\"user\":{\"username\":7,\"email\":null,\"password\":[\"x\"]}}",
               "{\"username\":[\"must be a string\"],\"email\":[\"can't be blank\"],"
               "\"password\":[\"must be a string\"]}");
    /* 21 emoji: 84 bytes, 21 characters, one too many */
    expect_422("{\"user\":{\"username\":\"🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉🐉\","
               "\"email\":\"jake.jake\",\"password\":\"short\"}}",
               "{\"username\":[\"is too long (maximum is 20 characters)\"],"
               "\"email\":[\"is invalid\"],"
               "\"password\":[\"is too short (minimum is 8 characters)\"]}");
    expect_422("{\"user\":{\"username\":\"taken\",\"email\":\"t@t.tt\",\"password\":\"12345678\"}}",
               "{\"username\":[\"has already been taken\"],"
               "\"email\":[\"has already been taken\"]}");
    tsvc_stop(&t);
}

int main(void)
{
    tsvc_block_signals();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_register),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
