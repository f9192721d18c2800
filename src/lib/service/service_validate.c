/*
 * service_validate.c: tandem/validate.h in a handler: parse, validate and answer in one call
 * (tandem_json_body_valid), and the 422 answer itself (tandem_respond_invalid): a problem
 * document whose "errors" member is RealWorld's field-by-field object, so a RealWorld client
 * reads errors.email[0] and any RFC 9457 client reads type, title, status and detail.
 */
#include <stdio.h>
#include <string.h>

#include "service_int.h"
#include "tandem/validate.h"

/* "invalid fields: email, username" (cut with "..." past the buffer). */
static void detail_of(const json_t *errors, char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "invalid fields:");
    const char *key;
    const json_t *v;
    bool first = true;
    json_object_foreach((json_t *)errors, key, v)
    {
        size_t klen = strlen(key);
        if (n + klen + 6 >= cap) {
            snprintf(buf + n, cap - n, " ...");
            return;
        }
        n += (size_t)snprintf(buf + n, cap - n, "%s %s", first ? "" : ",", key);
        first = false;
    }
}

int tandem_respond_invalid(struct tandem_http_request *req, json_t *errors)
{
    char detail[256];
    json_t *errs = json_is_object(errors) ? errors : NULL;
    if (errs == NULL) {
        json_decref(errors);
        errs = json_object();
    }
    detail_of(errs, detail, sizeof(detail));
    json_t *members = json_object();
    if (members == NULL || json_object_set_new(members, "errors", errs) != 0) {
        json_decref(members);
        return tandem_respond_problem(req, 422, detail); /* out of memory: without the member */
    }
    return tandem_respond_problem_ext(req, 422, detail, members);
}

json_t *tandem_json_body_valid(struct tandem_http_request *req, const struct tandem_field *spec)
{
    json_t *in = tandem_json_body(req);
    if (in == NULL) {
        return NULL; /* answered 415 or 400 */
    }
    json_t *errors = json_object();
    int rc = errors != NULL ? tandem_validate(in, spec, errors) : TANDEM_ENOMEM;
    if (rc == 0) {
        json_decref(errors);
        return in;
    }
    json_decref(in);
    if (rc == TANDEM_ENOMEM) {
        json_decref(errors);
        tandem_respond_problem(req, 500, "out of memory validating the body");
        return NULL;
    }
    tandem_respond_invalid(req, errors);
    return NULL;
}
