/*
 * One call's life on the client: build (on the submitting thread), attempts (on its driver's
 * thread: the client thread, or the worker that issued it), the wait before a retry, completion.
 *
 * A call owns one curl easy handle for all its attempts: an attempt adds it to the multi handle,
 * its end removes it, a retry re-adds it after the backoff (the connection stays in the multi
 * handle's cache meanwhile, so the retry reuses it when the upstream kept it open). The answer is
 * captured into rbody (capped by max_response_bytes) and hbuf, which holds the last answer's
 * headers as "name\0value\0" pairs (a status line resets it, so only the final answer's headers
 * remain, as curl sends informational 1xx heads through the same callback).
 *
 * Each attempt's curl timeout is min(timeout_ms, time left to the deadline); a retry is only
 * scheduled when its wait ends before the deadline. The circuit breaker is asked before every
 * attempt and told the outcome after it (policy.c).
 */
#include "client_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/mem.h"

static int grow_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap ? *cap : 256;
        while (ncap < *len + n + 1) {
            ncap *= 2;
        }
        *buf = xrealloc(*buf, ncap);
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    struct call *k = ud;
    size_t n = size * nmemb;
    if (k->rlen + n > k->c->cfg.max_response_bytes) {
        k->too_large = true;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    grow_append(&k->rbody, &k->rlen, &k->rcap, p, n);
    return n;
}

#define MAX_HEADER_BYTES 65536

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    struct call *k = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        k->hlen = 0; /* a new answer (after a 1xx): keep only the last one's headers */
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (colon == NULL || k->hlen + n + 2 > MAX_HEADER_BYTES) {
        return n; /* the blank line, a malformed line, or past the cap: ignored */
    }
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }
    grow_append(&k->hbuf, &k->hlen, &k->hcap, p, (size_t)(colon - p) + 0);
    k->hlen++; /* keep the NUL grow_append wrote */
    grow_append(&k->hbuf, &k->hlen, &k->hcap, v, (size_t)(end - v));
    k->hlen++;
    return n;
}

const char *tandem_http_response_header(const struct tandem_http_response *r, const char *name)
{
    const struct call *k = (const struct call *)r;
    size_t off = 0;
    while (off < k->hlen) {
        const char *n = k->hbuf + off;
        const char *v = n + strlen(n) + 1;
        if (strcasecmp(n, name) == 0) {
            return v;
        }
        off = (size_t)(v + strlen(v) + 1 - k->hbuf);
    }
    return NULL;
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* scheme://host:port of url, or TANDEM_EINVAL */
static int upstream_of(const char *url, char out[256])
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = TANDEM_EINVAL;
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        goto fail;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        goto fail;
    }
    int w = snprintf(out, 256, "%s://%s:%s", scheme, host, port);
    if (w < 0 || w >= 256) {
        goto fail;
    }
    rc = 0;
fail:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void set_traceparent(struct call *k, const char *parent)
{
    struct tandem_traceparent tp;
    bool ok = parent != NULL && tandem_traceparent_parse(parent, strlen(parent), &tp) == 0 &&
              tandem_trace_child(&tp, &tp) == 0;
    if (!ok && tandem_trace_new(true, &tp) != 0) {
        k->traceparent[0] = '\0';
        return;
    }
    tandem_traceparent_format(&tp, k->traceparent);
}

struct call *call_build(struct tandem_http_client *c, const struct tandem_http_call_opts *opts,
                        tandem_http_done_fn cb, void *arg, int *err)
{
    *err = TANDEM_EINVAL;
    if (opts == NULL || opts->url == NULL || cb == NULL || opts->timeout_ms < 0 ||
        opts->deadline_ms < 0 || opts->max_retries < 0 ||
        (opts->body == NULL && opts->body_len > 0)) {
        return NULL;
    }
    const char *method = opts->method ? opts->method : "GET";
    if (*method == '\0' || strpbrk(method, " \r\n") != NULL) {
        return NULL;
    }
    struct call *k = xcalloc(1, sizeof *k);
    k->c = c;
    if (upstream_of(opts->url, k->upstream_key) != 0) {
        goto fail;
    }
    for (const char *const *h = opts->headers; h != NULL && *h != NULL; h++) {
        if (has_crlf(*h)) {
            goto fail;
        }
        k->headers = curl_slist_append(k->headers, *h);
    }
    set_traceparent(k, opts->traceparent);
    if (k->traceparent[0] != '\0') {
        char line[16 + TANDEM_TRACEPARENT_SIZE];
        snprintf(line, sizeof line, "traceparent: %s", k->traceparent);
        k->headers = curl_slist_append(k->headers, line);
    }
    const char *rid = opts->request_id;
    if (rid != NULL && tandem_request_id_valid(rid, strlen(rid))) {
        char line[16 + TANDEM_REQUEST_ID_MAX];
        snprintf(line, sizeof line, "X-Request-Id: %s", rid);
        k->headers = curl_slist_append(k->headers, line);
    }
    k->headers = curl_slist_append(k->headers, "Expect:"); /* no 100-continue round trip */
    k->method = xstrndup(method, strlen(method));
    k->url = xstrndup(opts->url, strlen(opts->url));
    if (opts->body_len > 0) {
        k->body = xmalloc(opts->body_len);
        memcpy(k->body, opts->body, opts->body_len);
        k->body_len = opts->body_len;
    }
    k->timeout_ms = opts->timeout_ms ? opts->timeout_ms : c->cfg.timeout_ms;
    k->deadline = opts->deadline_ms ? clock_mono_ms() + opts->deadline_ms : 0;
    k->max_retries = opts->max_retries;
    k->idempotent = method_idempotent(method);
    k->cb = cb;
    k->arg = arg;
    k->easy = curl_easy_init();
    if (k->easy == NULL) {
        *err = TANDEM_EIO;
        goto fail;
    }
    CURL *e = k->easy;
    curl_easy_setopt(e, CURLOPT_URL, k->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, k);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, k->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, k);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->cfg.connect_timeout_ms);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, k->method);
    }
    if (k->body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, k->body ? k->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)k->body_len);
    }
    k->resp.body = "";
    k->resp.traceparent = k->traceparent;
    k->resp.url = k->url;
    *err = 0;
    return k;
fail:
    call_destroy(k);
    return NULL;
}

void call_destroy(struct call *k)
{
    if (k == NULL) {
        return;
    }
    if (k->easy != NULL) {
        curl_easy_cleanup(k->easy);
    }
    curl_slist_free_all(k->headers);
    free(k->method);
    free(k->url);
    free(k->body);
    free(k->rbody);
    free(k->hbuf);
    free(k);
}

void tandem_http_response_free(struct tandem_http_response *r)
{
    call_destroy((struct call *)r);
}

/* The upstream of key, made on first use. The lookup and the insertion are one step under mu:
 * in loop mode several workers (and the client thread) may make their first call to the same
 * upstream at once, and each must find the one entry (one breaker, one set of counters). */
static struct upstream *upstream_get(struct tandem_http_client *c, const char *key)
{
    pthread_mutex_lock(&c->mu);
    struct upstream *u = c->upstreams;
    while (u != NULL && strcmp(u->key, key) != 0) {
        u = u->next;
    }
    if (u == NULL) {
        u = xcalloc(1, sizeof *u);
        memcpy(u->key, key, strlen(key) + 1);
        u->next = c->upstreams;
        c->upstreams = u;
    }
    pthread_mutex_unlock(&c->mu);
    return u;
}

static void live_unlink(struct call *k)
{
    if (k->prev != NULL) {
        k->prev->next = k->next;
    } else if (k->d->live == k) {
        k->d->live = k->next;
    }
    if (k->next != NULL) {
        k->next->prev = k->prev;
    }
    k->next = k->prev = NULL;
}

/* Ends the call: counters, callback, then the call is freed (or handed to the sync waiter). */
void call_finish(struct call *k, int err)
{
    struct tandem_http_client *c = k->c;
    if (k->st == CALL_ACTIVE) {
        curl_multi_remove_handle(k->d->multi, k->easy);
    }
    if (k->probe) { /* a probe that ends without an outcome (closed, or never sent) is a failure:
                     * otherwise the breaker would stay half-open, refusing every call */
        pthread_mutex_lock(&c->mu);
        breaker_record(&k->up->br, false, true, c->cfg.breaker_failures, c->cfg.breaker_cooldown_ms,
                       clock_mono_ms());
        pthread_mutex_unlock(&c->mu);
        k->probe = false;
    }
    live_unlink(k);
    k->resp.err = err;
    if (err != 0) {
        k->resp.status = 0;
        k->rlen = 0;
        k->hlen = 0;
        if (k->rbody != NULL) {
            k->rbody[0] = '\0'; /* body "" (a failed attempt may have left bytes) */
        }
    }
    k->resp.body = k->rbody ? k->rbody : "";
    k->resp.body_len = k->rlen;
    pthread_mutex_lock(&c->mu);
    k->up->calls++;
    if (err != 0 || k->resp.status >= 500) {
        k->up->failures++;
    }
    if (err == TANDEM_EUNSUPPORTED) {
        k->up->rejected++;
    }
    pthread_mutex_unlock(&c->mu);
    bool sync = k->sync; /* once the callback has run, a sync waiter may free k at any time */
    k->cb(&k->resp, k->arg);
    if (!sync) {
        call_destroy(k); /* a sync call belongs to its waiter now (the callback signalled it) */
    }
}

void call_adopt(struct call *k)
{
    if (k->up != NULL) {
        return;
    }
    k->up = upstream_get(k->c, k->upstream_key);
    k->prev = NULL;
    k->next = k->d->live;
    if (k->d->live != NULL) {
        k->d->live->prev = k;
    }
    k->d->live = k;
}

void call_start_attempt(struct call *k)
{
    struct tandem_http_client *c = k->c;
    int64_t now = clock_mono_ms();
    call_adopt(k);
    int64_t t = k->timeout_ms;
    if (k->deadline != 0) {
        if (now >= k->deadline) {
            call_finish(k, TANDEM_ETIMEDOUT);
            return;
        }
        if (k->deadline - now < t) {
            t = k->deadline - now;
        }
    }
    pthread_mutex_lock(&c->mu);
    int rc = breaker_admit(&k->up->br, now, &k->probe);
    pthread_mutex_unlock(&c->mu);
    if (rc != 0) {
        k->st = CALL_WAITING;
        call_finish(k, rc);
        return;
    }
    k->rlen = 0;
    k->hlen = 0;
    k->too_large = false;
    k->resp.status = 0;
    k->resp.attempts++;
    if (k->resp.attempts > 1) {
        pthread_mutex_lock(&c->mu);
        k->up->retries++;
        pthread_mutex_unlock(&c->mu);
    }
    curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS, (long)t);
    k->st = CALL_ACTIVE;
    if (curl_multi_add_handle(k->d->multi, k->easy) != CURLM_OK) {
        k->st = CALL_WAITING;
        call_finish(k, TANDEM_EIO);
    }
}

static int map_curl(CURLcode code, bool too_large)
{
    switch (code) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return TANDEM_ETIMEDOUT;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return TANDEM_EINVAL;
    case CURLE_WRITE_ERROR:
        return too_large ? TANDEM_ETOOLARGE : TANDEM_EIO;
    case CURLE_OUT_OF_MEMORY:
        return TANDEM_ENOMEM;
    default:
        return TANDEM_EIO; /* refused, reset, resolve failure, nothing received, TLS */
    }
}

/* Called when curl reports the attempt's transfer done (the handle is still in the multi). */
void call_attempt_done(struct call *k, CURLcode code)
{
    struct tandem_http_client *c = k->c;
    int64_t now = clock_mono_ms();
    curl_multi_remove_handle(k->d->multi, k->easy);
    k->st = CALL_WAITING;
    int err = map_curl(code, k->too_large);
    long status = 0;
    if (err == 0) {
        curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, &status);
    }
    k->resp.status = (int)status;
    pthread_mutex_lock(&c->mu);
    breaker_record(&k->up->br, err == 0 && status < 500, k->probe, c->cfg.breaker_failures,
                   c->cfg.breaker_cooldown_ms, now);
    pthread_mutex_unlock(&c->mu);
    k->probe = false;
    int retry = k->resp.attempts - 1;
    if (!k->idempotent || retry >= k->max_retries || !outcome_retryable(err, (int)status)) {
        call_finish(k, err);
        return;
    }
    int64_t wait = -1;
    if (status == 429) {
        wait = retry_after_ms(tandem_http_response_header(&k->resp, "Retry-After"),
                              (int64_t)time(NULL));
        if (wait > c->cfg.backoff_max_ms) { /* an upstream may not park a call for a day */
            call_finish(k, err);
            return;
        }
    }
    if (wait < 0) {
        wait = backoff_delay(c->cfg.backoff_base_ms, c->cfg.backoff_max_ms, retry, &k->d->rng);
    }
    if (k->deadline != 0 && now + wait >= k->deadline) {
        call_finish(k, err); /* the retry could not start before the deadline */
        return;
    }
    k->retry_at = now + wait;
    driver_arm_retry(k->d);
}
