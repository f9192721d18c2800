/*
 * libFuzzer target for libtandem's body validation (src/lib/core/validate.c) over arbitrary JSON.
 *
 * The input is parsed as any JSON text (what tandem_json_body accepts); what parses is validated
 * against the tests' RealWorld tables (tests/unit/test_realworld_fields.h: every type, flag and
 * bound) and a deeper path repeating a leaf name, into one errors document.
 * Invariants checked, beyond "no crash, no sanitizer report":
 *   - the result is 0 exactly when no message was added, TANDEM_EINVAL otherwise;
 *   - the errors document is an object whose members are non-empty lists of distinct strings;
 *   - every key is a leaf of the table or "body" (and "body" only for a non-object document);
 *   - validating the same document twice into a fresh object gives the same document.
 * Seeds: tests/fuzz/corpus/validate/ (RealWorld bodies, right and wrong, emoji, non-objects).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/test_realworld_fields.h"
#include "tandem/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One more level of nesting, and a leaf name the registration's table uses too. */
static const struct tandem_field NESTED[] = {
    {.path = "article.meta.email", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_EMAIL},
    TANDEM_FIELD_END,
};

static const char *const LEAVES[] = {"user",    "username", "email", "password", "image",  "title",
                                     "tagList", "draft",    "order", "meta",     "article"};

static int leaf_known(const char *k)
{
    for (size_t i = 0; i < sizeof(LEAVES) / sizeof(LEAVES[0]); i++) {
        if (strcmp(k, LEAVES[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void check(const json_t *doc, const json_t *errors, int rc)
{
    if (!json_is_object(errors) || (rc == 0) != (json_object_size(errors) == 0) ||
        (rc != 0 && rc != TANDEM_EINVAL)) {
        abort();
    }
    const char *key;
    json_t *list;
    json_object_foreach((json_t *)errors, key, list)
    {
        if (strcmp(key, "body") == 0 ? json_is_object(doc) : !leaf_known(key)) {
            abort();
        }
        if (!json_is_array(list) || json_array_size(list) == 0) {
            abort();
        }
        for (size_t i = 0; i < json_array_size(list); i++) {
            json_t *m = json_array_get(list, i);
            if (!json_is_string(m)) {
                abort();
            }
            for (size_t j = 0; j < i; j++) {
                if (json_equal(m, json_array_get(list, j))) {
                    abort();
                }
            }
        }
    }
}

/* The three tables into one document: 0 when all pass, else TANDEM_EINVAL. */
static int validate_all(const json_t *doc, json_t *errors)
{
    int a = tandem_validate(doc, REGISTER, errors);
    int b = tandem_validate(doc, ARTICLE, errors);
    int c = tandem_validate(doc, NESTED, errors);
    return a != 0 ? a : b != 0 ? b : c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t err;
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, &err);
    if (doc == NULL) {
        return 0;
    }
    json_t *e1 = json_object(), *e2 = json_object();
    int rc = validate_all(doc, e1);
    check(doc, e1, rc);
    if (validate_all(doc, e2) != rc || !json_equal(e1, e2)) {
        abort();
    }
    json_decref(e1);
    json_decref(e2);
    json_decref(doc);
    return 0;
}
