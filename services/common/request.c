/*
 * request.c: what the blog's handlers share about requests: paging, query parameters, ids,
 * the token's user, and the answers every service gives the same way (404, a refused write).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blog.h"
#include "tandem/router.h"
#include "tandem/validate.h"

#define PAGE_LIMIT_DEFAULT 20
#define PAGE_LIMIT_MAX     100 /* a larger limit is served as 100 (the spec sets no maximum) */

static void invalid(struct tandem_http_request *req, const char *field, const char *message)
{
    json_t *errors = json_object();
    tandem_errors_add(errors, field, message);
    tandem_respond_invalid(req, errors);
}

const char *blog_query(struct tandem_http_request *req, const char *name, char *buf, size_t cap,
                       bool *answered)
{
    int rc = tandem_query_get(req->query, name, buf, cap);
    if (rc == TANDEM_ENOENT) {
        return NULL;
    }
    if (rc != 0) {
        invalid(req, name, rc == TANDEM_ETOOLARGE ? "is too long" : "is invalid");
        *answered = true;
        return NULL;
    }
    return buf;
}

/* A decimal integer 0..max in s: 0 and *out, or -1. */
static int parse_uint(const char *s, int64_t max, int64_t *out)
{
    if (*s == '\0' || strlen(s) > 18) {
        return -1;
    }
    int64_t v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        v = v * 10 + (*p - '0');
    }
    *out = v < max ? v : max;
    return 0;
}

int blog_page_of(struct tandem_http_request *req, struct blog_page *out)
{
    char buf[32];
    bool answered = false;
    out->limit = PAGE_LIMIT_DEFAULT;
    out->offset = 0;
    const char *v = blog_query(req, "limit", buf, sizeof(buf), &answered);
    if (answered) {
        return -1;
    }
    if (v != NULL && (parse_uint(v, PAGE_LIMIT_MAX, &out->limit) != 0 || out->limit < 1)) {
        invalid(req, "limit", "must be an integer of at least 1");
        return -1;
    }
    v = blog_query(req, "offset", buf, sizeof(buf), &answered);
    if (answered) {
        return -1;
    }
    if (v != NULL && parse_uint(v, INT64_MAX / 2, &out->offset) != 0) {
        invalid(req, "offset", "must be an integer of at least 0");
        return -1;
    }
    return 0;
}

int blog_parse_id(const char *s, int64_t *out)
{
    if (s == NULL || (s[0] == '0' && s[1] != '\0')) {
        return -1;
    }
    return parse_uint(s, INT64_MAX, out) == 0 && *out > 0 ? 0 : -1;
}

int64_t blog_user_id(const struct tandem_claims *c)
{
    int64_t id = 0;
    return c != NULL && blog_parse_id(c->sub, &id) == 0 ? id : 0;
}

void blog_not_found(struct tandem_http_request *req, const char *what)
{
    char detail[96];
    snprintf(detail, sizeof(detail), "%s not found", what);
    tandem_respond_problem(req, 404, detail);
}

void blog_store_failed(struct tandem_http_request *req, int rc)
{
    if (rc == TANDEM_EAGAIN || rc == TANDEM_ECLOSED) {
        tandem_respond_header(req, "Retry-After", "1");
        tandem_respond_problem(req, 503, "the service is busy; try again");
        return;
    }
    tandem_log_error(req, "blog: storage failed", "\"error\":\"%s\"", tandem_strerror(rc));
    tandem_respond_problem(req, 500, "storage failed");
}
