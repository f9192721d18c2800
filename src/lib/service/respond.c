/*
 * respond.c: what a handler calls: route parameters, the trace context, JSON bodies in and out,
 * problem answers, cacheable answers (ETag, If-None-Match -> 304, Cache-Control) and log lines
 * carrying the request's trace id and request id. Every answer goes through tandem_http_respond, so
 * the runtime's on_done (service.c) sees it: traceparent header, metrics, access log.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "service_int.h"
#include "tandem/cache.h"
#include "tandem/problem.h"

const char *tandem_param(const struct tandem_http_request *req, const char *name)
{
    const struct svc_req *x = svc_req_of(req);
    return x != NULL ? tandem_route_param(&x->m, name) : NULL;
}

const char *tandem_request_traceparent(const struct tandem_http_request *req)
{
    const struct svc_req *x = svc_req_of(req);
    return x != NULL ? x->traceparent : NULL;
}

const char *tandem_request_id(const struct tandem_http_request *req)
{
    const struct svc_req *x = svc_req_of(req);
    return x != NULL && x->request_id[0] != '\0' ? x->request_id : NULL;
}

int tandem_respond_problem(struct tandem_http_request *req, int status, const char *detail)
{
    char *body = NULL;
    size_t len = 0;
    int rc = tandem_problem_body(status, detail, &body, &len);
    if (rc != 0) {
        return tandem_http_problem(req, status, NULL); /* detail was not UTF-8 */
    }
    rc = tandem_http_respond(req, status, TANDEM_PROBLEM_CONTENT_TYPE, body, len);
    free(body);
    return rc;
}

/* application/json or application/<anything>+json, parameters (";charset=utf-8") ignored. */
static bool is_json_type(const char *ct)
{
    if (ct == NULL) {
        return false;
    }
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) {
        n--;
    }
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) {
        return true;
    }
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0;
}

json_t *tandem_json_body(struct tandem_http_request *req)
{
    if (!is_json_type(tandem_http_header(req, "Content-Type"))) {
        tandem_respond_problem(req, 415, "the body must be application/json");
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(req->body, req->body_len, JSON_DECODE_ANY, &err);
    if (j == NULL) {
        char detail[300];
        snprintf(detail, sizeof(detail), "malformed JSON: %s (line %d, column %d)", err.text,
                 err.line, err.column);
        tandem_respond_problem(req, 400, detail);
        return NULL;
    }
    return j;
}

int tandem_respond_json(struct tandem_http_request *req, int status, json_t *body)
{
    char *text = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        if (text == NULL) {
            tandem_http_problem(req, 500, "cannot encode the answer");
            return TANDEM_ENOMEM;
        }
    }
    int rc = tandem_http_respond(req, status, "application/json", text ? text : "",
                                 text ? strlen(text) : 0);
    free(text);
    return rc;
}

int tandem_respond_cached(struct tandem_http_request *req, const char *content_type,
                          const void *body, size_t len, const char *cache_control)
{
    char etag[TANDEM_ETAG_SIZE];
    tandem_etag_of(body, len, etag);
    tandem_http_add_header(req, "ETag", etag);
    if (cache_control != NULL) {
        tandem_http_add_header(req, "Cache-Control", cache_control);
    }
    const char *inm = tandem_http_header(req, "If-None-Match");
    int match = 0;
    if (inm != NULL && tandem_if_none_match(inm, strlen(inm), etag, strlen(etag), &match) == 0 &&
        match) {
        bool safe = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
        if (safe) { /* RFC 9110 section 13.1.2 */
            return tandem_http_respond(req, 304, NULL, NULL, 0);
        }
        return tandem_respond_problem(req, 412, "If-None-Match matches the current ETag");
    }
    return tandem_http_respond(req, 200, content_type, body, len);
}

void tandem_log_info(const struct tandem_http_request *req, const char *msg, const char *fields_fmt,
                     ...)
{
    struct log_line l;
    if (!log_line_begin(&l, LOG_INFO, msg)) {
        return;
    }
    const struct svc_req *x = req != NULL ? svc_req_of(req) : NULL;
    if (x != NULL) {
        log_line_str(&l, "trace_id", x->trace_id);
        if (x->request_id[0] != '\0') {
            log_line_str(&l, "request_id", x->request_id);
        }
    }
    va_list ap; /* checked: what is not valid JSON members is kept as one string, fields_invalid */
    va_start(ap, fields_fmt);
    log_line_vmembers(&l, fields_fmt, ap);
    va_end(ap);
    log_line_end(&l);
}
