/*
 * respond.c: what a handler calls: route parameters, the trace context, JSON bodies in, the
 * answering set (tandem_respond, _header, _json, _problem, _problem_ext, _cached: service.h's
 * one way to answer) and log lines carrying the request's trace id and request id.
 *
 * Every answer ends in tandem_respond, the runtime's one call into the HTTP core's primitive
 * (tandem_http_respond), so the runtime's on_done (service.c) sees each one: traceparent header,
 * metrics, access log. Problem documents come from tandem_core's one encoder
 * (core_problem_format), on the stack when they fit. A call given a status it cannot send is a
 * bug in the service: it is logged and answered 500, so no request is ever left unanswered.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "lib/core/core_int.h"
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

/* ---- the answering set ------------------------------------------------------------------- */

/* A call was given a status it cannot send (call names it): logs it, answers 500. */
static int respond_misuse(struct tandem_http_request *req, const char *call, int status)
{
    log_error("answer with an invalid status: answered 500 instead",
              "\"call\":\"%s\",\"status\":%d", call, status);
    tandem_respond_problem(req, 500, "the service answered with an invalid status");
    return TANDEM_EINVAL;
}

int tandem_respond(struct tandem_http_request *req, int status, const char *content_type,
                   const void *body, size_t len)
{
    if (status < 100 || status > 599) {
        return respond_misuse(req, "tandem_respond", status);
    }
    return tandem_http_respond(req, status, content_type, body, len);
}

int tandem_respond_header(struct tandem_http_request *req, const char *name, const char *value)
{
    return tandem_http_add_header(req, name, value);
}

int tandem_respond_json(struct tandem_http_request *req, int status, json_t *body)
{
    char *text = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        if (text == NULL) {
            tandem_respond_problem(req, 500, "cannot encode the answer");
            return TANDEM_ENOMEM;
        }
    }
    int rc =
        tandem_respond(req, status, "application/json", text ? text : "", text ? strlen(text) : 0);
    free(text);
    return rc;
}

int tandem_respond_problem(struct tandem_http_request *req, int status, const char *detail)
{
    return tandem_respond_problem_ext(req, status, detail, NULL);
}

int tandem_respond_problem_ext(struct tandem_http_request *req, int status, const char *detail,
                               json_t *members)
{
    char buf[1024], *body = NULL;
    size_t len = 0;
    int rc = 0;
    if (status < 400 || status > 599) {
        rc = respond_misuse(req, "tandem_respond_problem", status);
        goto done;
    }
    rc = core_problem_format(status, detail, members, buf, sizeof(buf), &body, &len);
    if (rc != 0) { /* a detail that is not UTF-8 is dropped (tandem_problem_new refuses it too) */
        rc = core_problem_format(status, NULL, members, buf, sizeof(buf), &body, &len);
    }
    if (rc != 0) { /* members: not an object, or a name RFC 9457 section 3.2 advises against */
        log_error("problem answer with invalid extension members: answered 500 instead",
                  "\"status\":%d", status);
        tandem_respond_problem(req, 500, "the service answered with an invalid problem document");
        goto done;
    }
    rc = tandem_respond(req, status, TANDEM_PROBLEM_CONTENT_TYPE, body, len);
done:
    if (body != buf) {
        free(body);
    }
    json_decref(members);
    return rc;
}

int tandem_respond_cached(struct tandem_http_request *req, const char *content_type,
                          const void *body, size_t len, const char *cache_control)
{
    char etag[TANDEM_ETAG_SIZE];
    tandem_etag_of(body, len, etag);
    tandem_respond_header(req, "ETag", etag);
    if (cache_control != NULL) {
        tandem_respond_header(req, "Cache-Control", cache_control);
    }
    const char *inm = tandem_http_header(req, "If-None-Match");
    int match = 0;
    if (inm != NULL && tandem_if_none_match(inm, strlen(inm), etag, strlen(etag), &match) == 0 &&
        match) {
        bool safe = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
        if (safe) { /* RFC 9110 section 13.1.2 */
            return tandem_respond(req, 304, NULL, NULL, 0);
        }
        return tandem_respond_problem(req, 412, "If-None-Match matches the current ETag");
    }
    return tandem_respond(req, 200, content_type, body, len);
}

/* The three public loggers: the request's trace and request ids, then the caller's members. */
static void log_req(enum log_level level, const struct tandem_http_request *req, const char *msg,
                    const char *fields_fmt, va_list ap)
{
    struct log_line l;
    if (!log_line_begin(&l, level, msg)) {
        return;
    }
    const struct svc_req *x = req != NULL ? svc_req_of(req) : NULL;
    if (x != NULL) {
        log_line_str(&l, "trace_id", x->trace_id);
        if (x->request_id[0] != '\0') {
            log_line_str(&l, "request_id", x->request_id);
        }
    }
    /* checked: what is not valid JSON members is kept as one string, fields_invalid */
    log_line_vmembers(&l, fields_fmt, ap);
    log_line_end(&l);
}

void tandem_log_info(const struct tandem_http_request *req, const char *msg, const char *fields_fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fields_fmt);
    log_req(LOG_INFO, req, msg, fields_fmt, ap);
    va_end(ap);
}

void tandem_log_warn(const struct tandem_http_request *req, const char *msg, const char *fields_fmt,
                     ...)
{
    va_list ap;
    va_start(ap, fields_fmt);
    log_req(LOG_WARN, req, msg, fields_fmt, ap);
    va_end(ap);
}

void tandem_log_error(const struct tandem_http_request *req, const char *msg,
                      const char *fields_fmt, ...)
{
    va_list ap;
    va_start(ap, fields_fmt);
    log_req(LOG_ERROR, req, msg, fields_fmt, ap);
    va_end(ap);
}
