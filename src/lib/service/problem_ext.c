/*
 * problem_ext.c: the one place where the runtime's new modules (auth, validation, the pool)
 * answer a request with an RFC 9457 problem that carries an extension member ("errors" of a 422)
 * or a header (WWW-Authenticate of a 401, Retry-After of a 503).
 *
 * It is glue over tandem/problem.h and tandem_http_respond, kept apart on purpose: the answering
 * API of service.h is being unified, and when it has a call answering a problem with extension
 * members, this file becomes a thin forward to it (or goes).
 */
#include <stdlib.h>
#include <string.h>

#include "service_int.h"
#include "tandem/problem.h"

int svc_problem_ext(struct tandem_http_request *req, int status, const char *detail,
                    const char *header, const char *header_value, const char *ext_name,
                    const json_t *ext_value)
{
    struct tandem_problem *p = NULL;
    char *ext = NULL, *body = NULL;
    size_t len = 0;
    int rc = tandem_problem_new(status, detail, &p);
    if (rc != 0) {
        goto fail;
    }
    if (ext_name != NULL) {
        ext = json_dumps(ext_value, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = ext != NULL ? tandem_problem_set_json(p, ext_name, ext) : TANDEM_ENOMEM;
        if (rc != 0) {
            goto fail;
        }
    }
    rc = tandem_problem_encode(p, &body, &len);
    if (rc != 0) {
        goto fail;
    }
    if (header != NULL) {
        tandem_http_add_header(req, header, header_value);
    }
    rc = tandem_http_respond(req, status, TANDEM_PROBLEM_CONTENT_TYPE, body, len);
    free(body);
    free(ext);
    tandem_problem_free(p);
    return rc;
fail:
    free(ext);
    tandem_problem_free(p);
    if (header != NULL) {
        tandem_http_add_header(req, header, header_value);
    }
    tandem_respond_problem(req, status, NULL); /* without the extension: req is answered anyway */
    return rc;
}
