/*
 * tandem/validate.h: declarative checks of a JSON request body, answered field by field.
 *
 * MODEL. A handler declares, once and statically, the fields it expects: a table of struct
 * tandem_field ending with an entry whose path is NULL. Each entry names a member by its path
 * from the body's root ("user.email": the member "email" of the object "user"), its JSON type,
 * whether it is required, bounds on its length, and a few formats. tandem_validate walks the
 * table and writes every problem it finds into an errors object shaped as the RealWorld API
 * wants its 422 answers:
 *
 *   {"email":["can't be blank"],"username":["is too long (maximum is 60 characters)"]}
 *
 * The key is the path's LEAF ("email", not "user.email"; two paths with the same leaf share one
 * list), each value a list of messages (a message appears once per key). The handler may add its
 * own messages to the same object (tandem_errors_add: "has already been taken" after a
 * uniqueness check) before answering. The runtime's one-call helpers (service.h:
 * tandem_json_body_valid, tandem_respond_invalid) parse, validate and answer the 422.
 *
 * RULES, in the order they are applied to one field:
 *
 *   absent, or JSON null     required: "can't be blank"; else skipped (null counts as absent,
 *                            so an optional field may be cleared with null)
 *   a parent on the path is  "must be an object" on the parent's key (once), the field skipped;
 *     not an object          a parent that is absent or null makes the field absent
 *   wrong JSON type          "must be a string", "must be an integer" (a JSON integer, no
 *                            fraction or exponent), "must be true or false",
 *                            "must be an array of strings", "must be an object"
 *   TANDEM_FIELD_NOT_BLANK   a string that is empty or only white space (Unicode's too), an empty
 *                            object: "can't be blank"; for an array of strings: each item,
 *                            "can't contain blank items"
 *   min / max                strings: characters (Unicode code points, so an emoji is one):
 *                            "is too short (minimum is 8 characters)", "is too long (maximum is
 *                            60 characters)"; arrays: items ("... (maximum is 10 items)")
 *   item_max                 arrays of strings: characters per item,
 *                            "has an item that is too long (maximum is 32 characters)"
 *   TANDEM_FIELD_EMAIL       "is invalid" unless local@domain (see below)
 *   TANDEM_FIELD_URL         "is invalid" unless http:// or https:// and a host, no white space
 *
 * A body that is not a JSON object gets {"body":["must be a JSON object"]}. Members the table
 * does not name are ignored. Strings are valid UTF-8 whatever their content (jansson checks it
 * when it parses), 4-byte sequences and emoji included.
 *
 * E-mail (a practical subset of RFC 5321 / HTML's type=email): at most 254 bytes; a local part of
 * 1..64 bytes of letters, digits, !#$%&'*+/=?^_`{|}~.- or non-ASCII characters, without a leading,
 * trailing or doubled dot; '@'; a domain of at least two dot-separated labels of 1..63 letters,
 * digits, '-' (not first nor last) or non-ASCII characters, the last one not all digits.
 *
 * Pure: no I/O, no global state; any thread.
 */
#ifndef TANDEM_VALIDATE_H
#define TANDEM_VALIDATE_H

#include <stddef.h>

#include <jansson.h>

#include "tandem/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum tandem_field_type {
    TANDEM_FIELD_STRING = 1,
    TANDEM_FIELD_INT,
    TANDEM_FIELD_BOOL,
    TANDEM_FIELD_STRINGS, /* an array whose items are all strings */
    TANDEM_FIELD_OBJECT,
};

/* tandem_field.flags */
#define TANDEM_FIELD_REQUIRED  0x1u /* absent or null: "can't be blank" */
#define TANDEM_FIELD_NOT_BLANK 0x2u /* "", white space only, {}: "can't be blank" */
#define TANDEM_FIELD_EMAIL     0x4u /* strings: an e-mail address */
#define TANDEM_FIELD_URL       0x8u /* strings: an http or https URL */

/* One expected member. A table of them ends with an entry whose path is NULL (TANDEM_FIELD_END).
 * Write entries with designated initializers ({.path = "user.email", .type = ..., .flags = ...}):
 * members left out are 0, and -Wextra stays quiet. */
struct tandem_field {
    const char *path; /* "user.email": member names from the root, separated by '.' */
    int type;         /* enum tandem_field_type */
    unsigned flags;   /* TANDEM_FIELD_* */
    size_t min, max;  /* strings: characters; arrays: items; 0: no bound */
    size_t item_max;  /* arrays of strings: characters per item; 0: no bound */
};

#define TANDEM_FIELD_END \
    {                    \
        .path = NULL     \
    }

/*
 * Checks doc against spec and adds a message to errors (a JSON object the caller owns) for each
 * problem, as described above. Returns 0 when doc passes (errors untouched), TANDEM_EINVAL when
 * messages were added or when spec has an entry with an empty path or an unknown type (a bug in
 * the table: the message "has an invalid validation rule" is added to the key "body" so it is
 * seen), TANDEM_ENOMEM.
 */
TANDEM_EXPORT int tandem_validate(const json_t *doc, const struct tandem_field *spec,
                                  json_t *errors);

/*
 * Appends message to errors[field] (creating the list), unless that exact message is already
 * there. field and message are copied (UTF-8). Returns 0, TANDEM_EINVAL (errors not an object,
 * errors[field] not a list, a NULL or non-UTF-8 string) or TANDEM_ENOMEM.
 */
TANDEM_EXPORT int tandem_errors_add(json_t *errors, const char *field, const char *message);

/* ---- in a service (tandem/service.h; these two are in libtandem's runtime) ----------------- */

struct tandem_http_request;

/*
 * The one call a handler makes for a JSON body: parses it as tandem_json_body does (415 when the
 * Content-Type is not JSON, 400 with jansson's position when it does not parse), checks it with
 * tandem_validate, and returns it (a new reference: json_decref it) when it passes. Otherwise req
 * has been answered (415, 400, or 422 as tandem_respond_invalid) and NULL is returned: the
 * handler just returns.
 *
 *   static const struct tandem_field REGISTER[] = {
 *       {.path = "user.username", .type = TANDEM_FIELD_STRING,
 *        .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_NOT_BLANK, .max = 60},
 *       {.path = "user.email", .type = TANDEM_FIELD_STRING,
 *        .flags = TANDEM_FIELD_REQUIRED | TANDEM_FIELD_EMAIL},
 *       {.path = "user.password", .type = TANDEM_FIELD_STRING, .flags = TANDEM_FIELD_REQUIRED,
 *        .min = 8, .max = 128},
 *       TANDEM_FIELD_END,
 *   };
 *   json_t *in = tandem_json_body_valid(req, REGISTER);
 *   if (in == NULL) {
 *       return;
 *   }
 */
TANDEM_EXPORT json_t *tandem_json_body_valid(struct tandem_http_request *req,
                                             const struct tandem_field *spec);

/* A 422 with the errors object is answered by tandem_respond_invalid (tandem/service.h, with the
 * rest of the answering calls). */

#ifdef __cplusplus
}
#endif
#endif
